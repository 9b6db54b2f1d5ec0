/* obliviate quantize: model/quantize.h's call and a summary of what it wrote. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/gguf.h"
#include "model/quantize.h"

/* The summary: one line, or one JSON object. */
static void print_summary(const QuantStats *st, const char *out, const char *type, int json) {
    double bits = st->n_weights ? 8.0 * (double)st->out_bytes / (double)st->n_weights : 0.0;
    if (json) {
        cJSON *o = cJSON_CreateObject(), *by = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "out", out);
        cJSON_AddStringToObject(o, "type", type);
        cJSON_AddNumberToObject(o, "tensors", (double)st->n_tensors);
        for (int t = 0; t < 32; t++)
            if (st->n_by_type[t])
                cJSON_AddNumberToObject(by, ggml_type_name((uint32_t)t), (double)st->n_by_type[t]);
        cJSON_AddItemToObject(o, "by_type", by);
        cJSON_AddNumberToObject(o, "in_bytes", (double)st->in_bytes);
        cJSON_AddNumberToObject(o, "out_bytes", (double)st->out_bytes);
        cJSON_AddNumberToObject(o, "bits_per_weight", bits);
        print_json(o);
        return;
    }
    printf("%s: %s, %llu tensors (", out, type, (unsigned long long)st->n_tensors);
    const char *sep = "";
    for (int t = 0; t < 32; t++)
        if (st->n_by_type[t])
            printf("%s%s %llu", sep, ggml_type_name((uint32_t)t),
                   (unsigned long long)st->n_by_type[t]),
                sep = ", ";
    printf("), %.2f MB -> %.2f MB, %.2f bits per weight\n", st->in_bytes / 1e6, st->out_bytes / 1e6,
           bits);
}

int cmd_quantize(int argc, char **argv) {
    const char *out = NULL, *type = NULL;
    int json = 0;
    Opt opts[] = {{"--out|-o", OPT_STR, &out, "quantised GGUF to write, required"},
                  {"--json", OPT_FLAG, &json, "print the summary as one JSON object"},
                  {"--type", OPT_STR, &type,
                   "q8_0, q4_0, q5_0, q5_1, q4_k_m, q5_k_m or q6_k (llama.cpp's file types "
                   "and their per-tensor rules), required"},
                  {NULL, 0, NULL, NULL}};
    Command cmd = {"quantize",
                   "IN.gguf -o OUT.gguf --type q4_k_m",
                   "Writes a model with its matrices quantised as llama.cpp's quantize tool "
                   "does for that file type (the K mixes give attn_v and ffn_down of some "
                   "layers and the output matrix Q6_K; rows not a multiple of 256 fall back "
                   "to Q5_0 / Q5_1 / Q8_0); every metadata key and the norms are kept. The "
                   "file loads in llama.cpp and in every obliviate command.",
                   "obliviate quantize unlearned.gguf -o unlearned.q4_k_m.gguf --type q4_k_m",
                   opts,
                   1,
                   1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc != ARGS_RUN) return rc;
    const char *in = pos[0];
    free(pos);
    if (!out) return cli_usage(cmd.name, "--out is required");
    if (!type) return cli_usage(cmd.name, "--type is required");
    if (!quant_scheme_known(type)) {
        char msg[160];
        snprintf(msg, sizeof msg, "--type '%s' is not one of %s", type, QUANT_SCHEMES);
        return cli_usage(cmd.name, msg);
    }
    QuantStats st;
    ObErr err;
    if (model_quantize(in, out, type, &st, &err)) return cli_fail(cmd.name, err.msg);
    print_summary(&st, out, type, json);
    return 0;
}
