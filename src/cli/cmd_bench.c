#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/gemm_bf16.h"
#include "model/gemm_onednn.h"
#include "model/llama.h"
#include "model/ops.h"
#include "train/trainer.h"
#include "util/blas.h"
#include "util/cpu.h"
#include "util/progress.h"
#ifdef _OPENMP
#include <omp.h>
#endif

char *openblas_get_config(void);

static int threads_in_use(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* What every figure needs beside it: the CPU, its extensions, the BLAS and
 * the core it runs, the bf16 backend and why, the thread count and the load;
 * with peaks, the register-only peak of each unit for that thread count. */
static void add_machine(cJSON *j, int peaks) {
    const CpuInfo *cpu = cpu_info();
    const BlasInfo *blas = blas_init();
    const GemmBf16Choice *ch = gemm_bf16_choice();
    char isa[256], cfg[128];
    cpu_isa_string(cpu->isa, isa, sizeof isa);
    snprintf(cfg, sizeof cfg, "%s", openblas_get_config());
    char *sp = strchr(cfg, ' ');
    if (sp && (sp = strchr(sp + 1, ' '))) *sp = 0; /* "OpenBLAS 0.3.21" */
    int threads = threads_in_use();
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) load = -1;
        fclose(f);
    }
    cJSON_AddStringToObject(j, "cpu", cpu->model_name);
    cJSON_AddStringToObject(j, "cpu_vendor", cpu->vendor);
    cJSON_AddNumberToObject(j, "cpu_family", cpu->family);
    cJSON_AddNumberToObject(j, "cpu_model", cpu->model);
    cJSON_AddStringToObject(j, "isa", isa);
    cJSON_AddStringToObject(j, "blas", cfg);
    cJSON_AddStringToObject(j, "blas_core", blas->core);
    cJSON_AddStringToObject(j, "blas_core_detected", blas->detected);
    if (blas->note[0]) cJSON_AddStringToObject(j, "blas_note", blas->note);
    cJSON_AddStringToObject(j, "bf16_backend", gemm_bf16_backend_name(ch->backend));
    cJSON_AddStringToObject(j, "bf16_backend_reason", ch->reason);
    cJSON_AddStringToObject(j, "onednn_impl", ch->onednn_impl);
    cJSON_AddNumberToObject(j, "bf16_own_gflops", ch->own_gflops);
    cJSON_AddNumberToObject(j, "bf16_onednn_gflops", ch->onednn_gflops);
    cJSON_AddNumberToObject(j, "threads", threads);
    cJSON_AddNumberToObject(j, "load1", load);
    if (!peaks) return;
    cJSON_AddNumberToObject(j, "peak_fp32_gflops", cpu_peak_fp32(threads));
    cJSON_AddNumberToObject(j, "peak_bf16_gflops", cpu_peak_bf16(threads));
    cJSON_AddNumberToObject(j, "peak_amx_gflops", cpu_peak_amx(threads));
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* GFLOP/s of the three products of the output head, the model's largest
 * matmuls (forward, input gradient, weight gradient at N = B*T rows), through
 * the same calls training makes, in precision prec: the yardstick training's
 * own GFLOP/s is measured against. Median of 5 after a warm-up; -1 if out of
 * memory. */
static double head_gemm_gflops(int N, int C, int V, ObPrecision prec) {
    size_t nx = (size_t)N * C, nw = (size_t)V * C, ny = (size_t)N * V;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
    float *y = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    float *dw = calloc(nw, sizeof(float));
    double t[6], gf = -1.0;
    if (x && w && y && dx && dw) {
        ObRng rng;
        ob_rng_seed(&rng, 2);
        for (size_t i = 0; i < nx; i++) x[i] = ob_rng_normal(&rng);
        for (size_t i = 0; i < nw; i++) w[i] = 0.02f * ob_rng_normal(&rng);
        for (int r = 0; r < 6; r++) {
            double t0 = ob_now();
            matmul_forward(y, x, w, N, C, V, 0.0f, prec);
            matmul_backward(dx, dw, y, x, w, N, C, V, 0.0f, prec);
            t[r] = ob_now() - t0;
        }
        qsort(t + 1, 5, sizeof(double), cmp_double);
        gf = 3 * 2.0 * N * C * V / t[3] / 1e9;
    }
    free(x), free(w), free(y), free(dx), free(dw);
    return gf;
}

/* A SentencePiece-style vocabulary of V made-up tokens (unk, bos, eos, the
 * 256 byte tokens, then "▁t<id>"), so a random model can be written as a
 * GGUF llama.cpp loads. */
static int filler_tokenizer(Tokenizer *tok, int V, ObErr *err) {
    if (V < 260) return ob_errf(err, "--save needs a vocabulary of at least 260 tokens");
    char **names = calloc((size_t)V, sizeof(char *));
    float *scores = malloc(sizeof(float) * V);
    int32_t *types = malloc(sizeof(int32_t) * V);
    int rc = -1;
    if (names && scores && types) {
        rc = 0;
        for (int i = 0; i < V && !rc; i++) {
            char buf[32];
            if (i < 3)
                snprintf(buf, sizeof buf, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
            else if (i < 259)
                snprintf(buf, sizeof buf, "<0x%02X>", i - 3);
            else
                snprintf(buf, sizeof buf, "\xe2\x96\x81t%d", i);
            names[i] = strdup(buf);
            scores[i] = i < 259 ? 0.0f : -(float)i;
            types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
            if (!names[i]) rc = -1;
        }
        TokSpec ts = {.kind = TOK_SPM,
                      .n_vocab = V,
                      .tokens = (const char *const *)names,
                      .scores = scores,
                      .types = types,
                      .bos_id = 1,
                      .eos_id = 2,
                      .unk_id = 0,
                      .pad_id = -1,
                      .add_bos = 1,
                      .add_space_prefix = 1};
        if (!rc) rc = tok_build(tok, &ts, err);
    } else {
        ob_errf(err, "out of memory building a %d-token vocabulary", V);
    }
    for (int i = 0; names && i < V; i++) free(names[i]);
    free(names), free(scores), free(types);
    return rc;
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
    int B = 8, T = 256, steps = 6, forward_only = 0, machine_only = 0;
    const char *model_path = NULL, *save_path = NULL;
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
        {"--model|-m", OPT_STR, &model_path,
         "with --forward: time this GGUF model instead of a random one (shape flags ignored)"},
        {"--save", OPT_STR, &save_path,
         "write the random model (context --seq) with a filler vocabulary to this GGUF and stop, "
         "for timing llama.cpp on the same file"},
        {"--machine", OPT_FLAG, &machine_only,
         "print the machine (CPU, extensions, BLAS core, bf16 backend, threads) and its measured "
         "fp32, bf16 and AMX peaks as one JSON line, and stop"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"bench",
                   "[options]",
                   "Times training steps (forward + backward + AdamW) or the batched forward of a "
                   "random tied model on random tokens; prints one JSON line with the median "
                   "step time, tokens/s, GFLOP/s (6 x params x tokens for training) and peak RSS, "
                   "and after training the GFLOP/s of the output head's matmuls alone in fp32 "
                   "(sgemm) and bf16, and the machine's register-only peaks: training GFLOP/s "
                   "as a share of the chip, not only of a library. Every line names the machine "
                   "(CPU, extensions, BLAS core, bf16 backend, threads, load).",
                   "obliviate bench --dim 128 --layers 4 --heads 4 --ffn 352 --vocab 4096 "
                   "--threads 2",
                   opts,
                   0,
                   0};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    free(pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (machine_only) {
        cJSON *j = cJSON_CreateObject();
        add_machine(j, 1);
        print_json(j);
        return 0;
    }
    if (!c.n_kv_heads) c.n_kv_heads = c.n_heads;
    c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    c.ctx_len = T;
    if (steps < 1) steps = 1;
    Llama m;
    AdamW opt;
    ObErr err;
    if (model_path && forward_only) {
        if (llama_load(&m, NULL, model_path, &err)) return cli_fail(cmd.name, err.msg);
        c = m.cfg;
    } else {
        if (llama_create(&m, &c, &err)) return cli_fail(cmd.name, err.msg);
        llama_init_random(&m, 1);
    }
    m.prec = cli_precision();
    if (save_path) {
        Tokenizer tok;
        int rc = filler_tokenizer(&tok, c.vocab, &err);
        if (!rc) {
            rc = llama_save(&m, &tok, "bench", GGML_TYPE_F32, save_path, &err);
            tok_free(&tok);
        }
        llama_free(&m);
        return rc ? cli_fail(cmd.name, err.msg) : 0;
    }
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
    getrusage(RUSAGE_SELF, &ru); /* before the matmul timing below allocates */
    int bf16 = m.prec == OB_PREC_BF16;
    double gf = (forward_only ? 2.0 : 6.0) * m.n_params * toks / med / 1e9;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "impl", "obliviate");
    cJSON_AddStringToObject(j, "mode", forward_only ? "forward" : bf16 ? "bf16" : "fp32");
    cJSON_AddStringToObject(j, "precision", bf16 ? "bf16" : "fp32");
    cJSON_AddNumberToObject(j, "dim", c.dim);
    cJSON_AddNumberToObject(j, "layers", c.n_layers);
    cJSON_AddNumberToObject(j, "heads", c.n_heads);
    cJSON_AddNumberToObject(j, "ffn", c.ffn_dim);
    cJSON_AddNumberToObject(j, "vocab", c.vocab);
    cJSON_AddNumberToObject(j, "batch", B);
    cJSON_AddNumberToObject(j, "seq", T);
    cJSON_AddNumberToObject(j, "params", (double)m.n_params);
    cJSON_AddNumberToObject(j, "step_s_median", med);
    cJSON_AddNumberToObject(j, "tok_s", toks / med);
    cJSON_AddNumberToObject(j, "gflops", gf);
    cJSON_AddNumberToObject(j, "peak_rss_mb", ru.ru_maxrss / 1024.0);
    cJSON_AddNumberToObject(j, "weights_grads_adam_mb", m.n_params * 16.0 / 1048576.0);
    cJSON_AddNumberToObject(j, "activations_mb", m.acts.n_floats * 4.0 / 1048576.0);
    if (!forward_only) {
        int N = B * T;
        double sg = head_gemm_gflops(N, c.dim, c.vocab, OB_PREC_FP32);
        double bg = gemm_bf16_supported() ? head_gemm_gflops(N, c.dim, c.vocab, OB_PREC_BF16) : -1;
        cJSON_AddNumberToObject(j, "sgemm_gflops", sg);
        cJSON_AddNumberToObject(j, "bf16_gemm_gflops", bg);
        /* training's GFLOP/s as a fraction of its own precision's matmul rate */
        cJSON_AddNumberToObject(j, "gemm_fraction", gf / (bf16 ? bg : sg));
    }
    /* and of the chip: the peak of the unit this precision's products run on */
    add_machine(j, !forward_only);
    if (!forward_only) {
        const char *unit = !bf16 ? "peak_fp32_gflops"
                           : gemm_bf16_choice()->backend == GEMM_BF16_ONEDNN &&
                                   strstr(gemm_bf16_choice()->onednn_impl, "amx")
                               ? "peak_amx_gflops"
                               : "peak_bf16_gflops";
        double pk = cJSON_GetNumberValue(cJSON_GetObjectItem(j, unit));
        cJSON_AddStringToObject(j, "peak_unit", unit);
        cJSON_AddNumberToObject(j, "peak_fraction", pk > 0 ? gf / pk : -1);
        cJSON_AddNumberToObject(
            j, "fp32_peak_fraction",
            gf / cJSON_GetNumberValue(cJSON_GetObjectItem(j, "peak_fp32_gflops")));
    }
    print_json(j);
    free(times), free(inp), free(tgt);
    if (!forward_only) adamw_free(&opt);
    llama_free(&m);
    return 0;
}
