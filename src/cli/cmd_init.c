/* obliviate init: a new model with random weights (model/init.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/gguf.h"
#include "model/init.h"

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

static void print_init(const char *out, const InitResult *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", out);
    cJSON_AddNumberToObject(j, "params", (double)r->n_params);
    llama_config_json(&r->cfg, j);
    print_json(j);
}

int cmd_init(int argc, char **argv) {
    InitConfig ic;
    init_config_defaults(&ic);
    LlamaConfig *s = &ic.shape, preset;
    const char *dtype = "f32";
    Opt opts[] = {
        {"--preset", OPT_STR, &ic.preset,
         "tiny | d128 | d288 | d512 | d768 (flags below override)"},
        {"--dim", OPT_INT, &s->dim, "embedding width"},
        {"--layers", OPT_INT, &s->n_layers, "transformer blocks"},
        {"--heads", OPT_INT, &s->n_heads, "attention heads"},
        {"--kv-heads", OPT_INT, &s->n_kv_heads,
         "key/value heads (divides --heads; default = heads)"},
        {"--head-dim", OPT_INT, &s->head_dim, "per-head width (default dim / heads)"},
        {"--ffn", OPT_INT, &s->ffn_dim, "feed-forward width"},
        {"--ctx", OPT_INT, &s->ctx_len, "context length (default 256)"},
        {"--rope-base", OPT_FLOAT, &s->rope_base, "RoPE base frequency (default 10000)"},
        {"--norm-eps", OPT_FLOAT, &s->norm_eps, "RMSNorm epsilon (default 1e-5)"},
        {"--untied", OPT_FLAG, &ic.untied, "separate output head (default: tied to the embedding)"},
        {"--tokenizer", OPT_STR, &ic.tokenizer_path,
         "tokenizer GGUF (sets the vocabulary), required"},
        {"--seed", OPT_U64, &ic.seed, "initialisation seed (default 1)"},
        {"--dtype", OPT_STR, &dtype, "f32 | f16 | bf16 matrices (default f32)"},
        {"--out|-o", OPT_STR, &ic.out_path, "output model (GGUF), required"},
        {"--stream", OPT_FLAG, &ic.stream,
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
    int rc = args_options(&cmd, NULL, argc, argv);
    if (rc != ARGS_RUN) return rc;
    if (!ic.out_path || !ic.tokenizer_path)
        return cli_fail(cmd.name, "--tokenizer and --out are required");
    if (ic.preset && llama_preset(ic.preset, &preset))
        return cli_fail(cmd.name, "unknown --preset (tiny, d128, d288, d512, d768)");
    if (parse_dtype(dtype, &ic.type)) return cli_fail(cmd.name, "--dtype must be f32, f16 or bf16");
    InitResult res;
    ObErr err;
    if (init_run(&ic, &res, &err)) return cli_fail(cmd.name, err.msg);
    print_init(ic.out_path, &res);
    return 0;
}
