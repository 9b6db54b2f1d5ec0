/* import-hf and export-hf: Hugging Face Llama folders <-> GGUF (model/hf.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/hf.h"
#include "text/tokenizer.h"
#include "util/progress.h"

static void report(const char *from, const char *to, const HFInfo *in, double seconds) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "from", from);
    cJSON_AddStringToObject(j, "to", to);
    cJSON_AddNumberToObject(j, "tensors", in->n_tensors);
    cJSON_AddNumberToObject(j, "safetensors_files", in->n_shards);
    cJSON_AddNumberToObject(j, "bytes", (double)in->bytes);
    cJSON_AddNumberToObject(j, "dim", in->cfg.dim);
    cJSON_AddNumberToObject(j, "layers", in->cfg.n_layers);
    cJSON_AddNumberToObject(j, "vocab", in->n_vocab);
    cJSON_AddStringToObject(j, "tokenizer", in->tok_kind == TOK_SPM ? "llama" : "gpt2");
    cJSON_AddBoolToObject(j, "tied", in->cfg.tied);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    print_json(j);
}

/* The options checked, then the conversion (model/hf.h). */
static int convert(const Command *cmd, int is_import, const char *in, const char *out,
                   const char *dtype, uint64_t shard) {
    if (!out) return cli_fail(cmd->name, "--out is required");
    HFOptions o = {.dtype = -1, .max_shard = shard};
    uint32_t type;
    if (dtype && parse_dtype(dtype, &type))
        return cli_fail(cmd->name, "--dtype must be f32, f16 or bf16");
    if (dtype) o.dtype = (int)type;
    HFInfo info;
    ObErr err;
    double t0 = ob_now();
    int rc = is_import ? hf_import(in, out, &o, &info, &err) : hf_export(in, out, &o, &info, &err);
    if (rc) return cli_fail(cmd->name, err.msg);
    report(in, out, &info, ob_now() - t0);
    fprintf(stderr, "%s: %d tensors, %.1f MB -> %s\n", cmd->name, info.n_tensors,
            (double)info.bytes / 1e6, out);
    return 0;
}

static int run(int is_import, int argc, char **argv) {
    const char *out = NULL, *dtype = NULL;
    uint64_t shard = 0;
    Opt imp[] = {
        {"--out|-o", OPT_STR, &out, "output GGUF file, required"},
        {"--dtype", OPT_STR, &dtype, "f32 | f16 | bf16 matrices (default: keep the folder's)"},
        {"--threads", OPT_INT, &g_threads, "unused; accepted for uniformity"},
        {NULL, 0, NULL, NULL},
    };
    Opt exp[] = {
        {"--out|-o", OPT_STR, &out, "output folder (new, or empty), required"},
        {"--dtype", OPT_STR, &dtype, "f32 | f16 | bf16 tensors (default: keep the file's)"},
        {"--max-shard-bytes", OPT_U64, &shard,
         "split the weights into files of at most this size (default 5e9)"},
        {NULL, 0, NULL, NULL},
    };
    Command ci = {"import-hf",
                  "[options] DIR",
                  "Converts a Hugging Face Llama folder (config.json, tokenizer.json, "
                  "model.safetensors or sharded safetensors with model.safetensors.index.json; "
                  "F32, F16 or BF16) into a llama GGUF file that obliviate and llama.cpp load. "
                  "Llama, TinyLlama, Mistral-style and SmolLM-style models; rope_scaling, "
                  "biases, mixtures of experts and sliding windows shorter than the context are "
                  "refused.",
                  "obliviate import-hf ./TinyLlama-1.1B -o tinyllama.gguf",
                  imp,
                  1,
                  1};
    Command ce = {"export-hf",
                  "[options] MODEL.gguf",
                  "Writes a llama GGUF model as a Hugging Face folder (config.json, "
                  "tokenizer.json, safetensors) that transformers loads with "
                  "LlamaForCausalLM. The folder is built next to DIR and renamed into place.",
                  "obliviate export-hf unlearned.gguf -o ./unlearned-hf",
                  exp,
                  1,
                  1};
    const Command *cmd = is_import ? &ci : &ce;
    char **pos;
    int n_pos, rc = args_parse(cmd, argc, argv, &pos, &n_pos);
    if (rc != ARGS_RUN) return rc;
    rc = convert(cmd, is_import, pos[0], out, dtype, shard);
    free(pos);
    return rc;
}

int cmd_import_hf(int argc, char **argv) {
    return run(1, argc, argv);
}

int cmd_export_hf(int argc, char **argv) {
    return run(0, argc, argv);
}
