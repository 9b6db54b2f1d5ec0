#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/llama.h"
#include "train/trainer.h"
#include "util/progress.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv) {
    LlamaConfig c = {.dim = 288,
                     .n_layers = 6,
                     .n_heads = 6,
                     .n_kv_heads = 0,
                     .ffn_dim = 768,
                     .vocab = 32000,
                     .norm_eps = 1e-5f,
                     .rope_base = 10000.0f,
                     .tied = 1};
    int B = 8, T = 256, steps = 6, forward_only = 0;
    Opt opts[] = {
        {"--dim", OPT_INT, &c.dim, "embedding width (default 288)"},
        {"--layers", OPT_INT, &c.n_layers, "blocks (default 6)"},
        {"--heads", OPT_INT, &c.n_heads, "heads (default 6)"},
        {"--kv-heads", OPT_INT, &c.n_kv_heads, "kv heads (default = heads)"},
        {"--ffn", OPT_INT, &c.ffn_dim, "feed-forward width (default 768)"},
        {"--vocab", OPT_INT, &c.vocab, "vocabulary (default 32000)"},
        {"--batch", OPT_INT, &B, "batch (default 8)"},
        {"--seq", OPT_INT, &T, "sequence length (default 256)"},
        {"--steps", OPT_INT, &steps, "timed steps after one warm-up step (default 6)"},
        {"--forward", OPT_FLAG, &forward_only, "time the batched forward only (prompt processing)"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"bench",
                   "[options]",
                   "Times training steps (forward + backward + AdamW) or the batched forward of a "
                   "random tied model on random tokens; prints one JSON line with the median "
                   "step time, tokens/s, GFLOP/s (6 x params x tokens for training) and peak RSS.",
                   "obliviate bench --dim 128 --layers 4 --heads 4 --ffn 352 --vocab 4096 "
                   "--threads 2",
                   opts,
                   0,
                   0};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    free(pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (!c.n_kv_heads) c.n_kv_heads = c.n_heads;
    c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    c.ctx_len = T;
    if (steps < 1) steps = 1;
    Llama m;
    AdamW opt;
    ObErr err;
    if (llama_create(&m, &c, &err)) return cli_fail(cmd.name, err.msg);
    llama_init_random(&m, 1);
    if ((!forward_only && (llama_alloc_grads(&m, &err) || adamw_init(&opt, m.n_params, &err))) ||
        llama_alloc_batch(&m, B, T, &err))
        return llama_free(&m), cli_fail(cmd.name, err.msg);
    ObRng rng;
    ob_rng_seed(&rng, 1);
    int32_t *inp = malloc(sizeof(int32_t) * B * T), *tgt = malloc(sizeof(int32_t) * B * T);
    for (int i = 0; i < B * T; i++)
        inp[i] = (int32_t)ob_rng_below(&rng, c.vocab),
        tgt[i] = (int32_t)ob_rng_below(&rng, c.vocab);
    ParamSegment segs[12];
    int ns = llama_param_segments(&m, segs);
    AdamWConfig ac = {0.9f, 0.95f, 1e-8f, 0.1f};
    double *times = malloc(sizeof(double) * (steps + 1));
    for (int s = 0; s <= steps; s++) {
        double t0 = ob_now();
        int nv;
        llama_forward(&m, inp, forward_only ? NULL : tgt, T, &nv);
        if (!forward_only) {
            llama_zero_grads(&m);
            llama_backward(&m, 1.0f / nv);
            adamw_step(&opt, &ac, 1e-4f, m.params, m.grads, segs, ns);
        }
        times[s] = ob_now() - t0;
        fprintf(stderr, "bench: step %d/%d %.3f s\n", s, steps, times[s]);
    }
    qsort(times + 1, steps, sizeof(double), cmp_double); /* step 0 is warm-up */
    double med = times[1 + steps / 2], toks = (double)B * T;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "impl", "obliviate");
    cJSON_AddStringToObject(j, "mode", forward_only ? "forward" : "fp32");
    cJSON_AddNumberToObject(j, "dim", c.dim);
    cJSON_AddNumberToObject(j, "layers", c.n_layers);
    cJSON_AddNumberToObject(j, "heads", c.n_heads);
    cJSON_AddNumberToObject(j, "ffn", c.ffn_dim);
    cJSON_AddNumberToObject(j, "vocab", c.vocab);
    cJSON_AddNumberToObject(j, "batch", B);
    cJSON_AddNumberToObject(j, "seq", T);
    cJSON_AddNumberToObject(j, "threads", g_threads);
    cJSON_AddNumberToObject(j, "params", (double)m.n_params);
    cJSON_AddNumberToObject(j, "step_s_median", med);
    cJSON_AddNumberToObject(j, "tok_s", toks / med);
    cJSON_AddNumberToObject(j, "gflops",
                            (forward_only ? 2.0 : 6.0) * m.n_params * toks / med / 1e9);
    cJSON_AddNumberToObject(j, "peak_rss_mb", ru.ru_maxrss / 1024.0);
    cJSON_AddNumberToObject(j, "weights_grads_adam_mb", m.n_params * 16.0 / 1048576.0);
    cJSON_AddNumberToObject(j, "activations_mb", m.acts.n_floats * 4.0 / 1048576.0);
    print_json(j);
    free(times), free(inp), free(tgt);
    if (!forward_only) adamw_free(&opt);
    llama_free(&m);
    return 0;
}
