#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "text/tokenizer_gguf.h"

/* Size presets: the two benchmark shapes and a few around them. */
static const struct {
    const char *name;
    int dim, layers, heads, kv_heads, ffn;
} presets[] = {
    {"tiny", 64, 2, 4, 2, 176},   {"d128", 128, 4, 4, 4, 352},    {"d288", 288, 6, 6, 6, 768},
    {"d512", 512, 8, 8, 8, 1376}, {"d768", 768, 12, 12, 4, 2048},
};

int parse_dtype(const char *s, uint32_t *type) {
    if (!strcmp(s, "f32"))
        *type = GGML_TYPE_F32;
    else if (!strcmp(s, "f16"))
        *type = GGML_TYPE_F16;
    else if (!strcmp(s, "bf16"))
        *type = GGML_TYPE_BF16;
    else
        return -1;
    return 0;
}

int cmd_init(int argc, char **argv) {
    const char *preset = NULL, *tok_path = NULL, *out = NULL, *dtype = "f32";
    int dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, head_dim = 0;
    int ctx = 256, untied = 0, stream = 0;
    float rope_base = 10000.0f, eps = 1e-5f;
    uint64_t seed = 1;
    Opt opts[] = {
        {"--preset", OPT_STR, &preset, "tiny | d128 | d288 | d512 | d768 (flags below override)"},
        {"--dim", OPT_INT, &dim, "embedding width"},
        {"--layers", OPT_INT, &layers, "transformer blocks"},
        {"--heads", OPT_INT, &heads, "attention heads"},
        {"--kv-heads", OPT_INT, &kv_heads, "key/value heads (divides --heads; default = heads)"},
        {"--head-dim", OPT_INT, &head_dim, "per-head width (default dim / heads)"},
        {"--ffn", OPT_INT, &ffn, "feed-forward width"},
        {"--ctx", OPT_INT, &ctx, "context length (default 256)"},
        {"--rope-base", OPT_FLOAT, &rope_base, "RoPE base frequency (default 10000)"},
        {"--norm-eps", OPT_FLOAT, &eps, "RMSNorm epsilon (default 1e-5)"},
        {"--untied", OPT_FLAG, &untied, "separate output head (default: tied to the embedding)"},
        {"--tokenizer", OPT_STR, &tok_path, "tokenizer GGUF (sets the vocabulary), required"},
        {"--seed", OPT_U64, &seed, "initialisation seed (default 1)"},
        {"--dtype", OPT_STR, &dtype, "f32 | f16 | bf16 matrices (default f32)"},
        {"--out|-o", OPT_STR, &out, "output model (GGUF), required"},
        {"--stream", OPT_FLAG, &stream,
         "write the random weights tensor by tensor, never holding the model (for models "
         "larger than memory, e.g. a 7B-shaped test model; uniform values, other numbers than "
         "the default)"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"init",
                   "[options]",
                   "Creates a Llama model with random weights (N(0, 0.02); residual projections "
                   "scaled by 1/sqrt(2 layers)) and the given tokenizer, ready for `train`.",
                   "obliviate init --preset d288 --tokenizer tok.gguf -o base0.gguf",
                   opts,
                   0,
                   0};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    free(pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (!out || !tok_path) return cli_fail(cmd.name, "--tokenizer and --out are required");
    LlamaConfig c = {0};
    if (preset) {
        size_t i = 0, n = sizeof presets / sizeof presets[0];
        while (i < n && strcmp(presets[i].name, preset)) i++;
        if (i == n) return cli_fail(cmd.name, "unknown --preset (tiny, d128, d288, d512, d768)");
        c.dim = presets[i].dim, c.n_layers = presets[i].layers, c.n_heads = presets[i].heads;
        c.n_kv_heads = presets[i].kv_heads, c.ffn_dim = presets[i].ffn;
    }
    if (dim) c.dim = dim;
    if (layers) c.n_layers = layers;
    if (heads) c.n_heads = heads;
    if (kv_heads) c.n_kv_heads = kv_heads;
    if (ffn) c.ffn_dim = ffn;
    if (!c.n_kv_heads) c.n_kv_heads = c.n_heads;
    c.head_dim = head_dim ? head_dim : (c.n_heads ? c.dim / c.n_heads : 0);
    c.ctx_len = ctx, c.rope_base = rope_base, c.norm_eps = eps, c.tied = !untied;
    uint32_t type;
    if (parse_dtype(dtype, &type)) return cli_fail(cmd.name, "--dtype must be f32, f16 or bf16");
    Tokenizer tok;
    ObErr err;
    if (tokenizer_load(&tok, tok_path, &err)) return cli_fail(cmd.name, err.msg);
    c.vocab = tok.n_vocab;
    Llama m = {0};
    if (stream) {
        rc = llama_save_random(&c, &tok, type, seed, out, &err);
        m.n_params = rc ? 0 : llama_param_count(&c);
    } else if (llama_create(&m, &c, &err)) {
        tok_free(&tok);
        return cli_fail(cmd.name, err.msg);
    } else {
        llama_init_random(&m, seed);
        rc = llama_save(&m, &tok, "obliviate model", type, out, &err);
    }
    if (!rc) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", out);
        cJSON_AddNumberToObject(j, "params", (double)m.n_params);
        cJSON_AddNumberToObject(j, "dim", c.dim);
        cJSON_AddNumberToObject(j, "layers", c.n_layers);
        cJSON_AddNumberToObject(j, "heads", c.n_heads);
        cJSON_AddNumberToObject(j, "kv_heads", c.n_kv_heads);
        cJSON_AddNumberToObject(j, "ffn", c.ffn_dim);
        cJSON_AddNumberToObject(j, "vocab", c.vocab);
        cJSON_AddBoolToObject(j, "tied", c.tied);
        print_json(j);
    }
    llama_free(&m);
    tok_free(&tok);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}
