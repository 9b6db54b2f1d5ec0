#include "train/bench.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "model/checkpoint.h"
#include "model/gemm_bf16.h"
#include "train/trainer.h"
#include "util/blas.h"
#include "util/cpu.h"
#include "util/log.h"
#include "util/progress.h"
#ifdef _OPENMP
#include <omp.h>
#endif

char *openblas_get_config(void);

void bench_config_defaults(BenchConfig *c) {
    memset(c, 0, sizeof *c);
    c->shape = (LlamaConfig){.dim = 288,
                             .n_layers = 6,
                             .n_heads = 6,
                             .n_kv_heads = 0,
                             .ffn_dim = 768,
                             .vocab = 32000,
                             .norm_eps = 1e-5f,
                             .rope_base = 10000.0f,
                             .tied = 1};
    c->batch = 8;
    c->seq = 256;
    c->steps = 6;
    c->precision = OB_PREC_FP32;
}

static int threads_in_use(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static double load_average(void) {
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) load = -1;
        fclose(f);
    }
    return load;
}

void bench_machine(cJSON *j, int peaks) {
    const CpuInfo *cpu = cpu_info();
    const BlasInfo *blas = blas_init();
    const GemmBf16Choice *ch = gemm_bf16_choice();
    char isa[256], cfg[128];
    cpu_isa_string(cpu->isa, isa, sizeof isa);
    snprintf(cfg, sizeof cfg, "%s", openblas_get_config());
    char *sp = strchr(cfg, ' ');
    if (sp && (sp = strchr(sp + 1, ' '))) *sp = 0; /* "OpenBLAS 0.3.21" */
    int threads = threads_in_use();
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
    cJSON_AddNumberToObject(j, "load1", load_average());
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
        TokSpec ts = tok_spec_llama(V, (const char *const *)names, scores, types);
        if (!rc) rc = tok_build(tok, &ts, err);
    } else {
        ob_errf(err, "out of memory building a %d-token vocabulary", V);
    }
    for (int i = 0; names && i < V; i++) free(names[i]);
    free(names), free(scores), free(types);
    return rc;
}

/* The model timed: the GGUF (forward only) or a random one of the shape. */
static int bench_model(const BenchConfig *bc, Llama *m, ObErr *err) {
    LlamaConfig c = bc->shape;
    if (!c.n_kv_heads) c.n_kv_heads = c.n_heads;
    c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    c.ctx_len = bc->seq;
    if (bc->model_path && bc->forward_only) {
        if (llama_load(m, NULL, bc->model_path, err)) return -1;
    } else {
        if (llama_create(m, &c, err)) return -1;
        llama_init_random(m, 1);
    }
    m->prec = ops_precision_supported(bc->precision);
    return 0;
}

static int bench_save(const Llama *m, const char *path, ObErr *err) {
    Tokenizer tok;
    int rc = filler_tokenizer(&tok, m->cfg.vocab, err);
    if (!rc) {
        rc = llama_save(m, &tok, "bench", GGML_TYPE_F32, path, err);
        tok_free(&tok);
    }
    return rc;
}

/* Times steps + 1 steps on random tokens; returns the median step time
 * (step 0 is warm-up), or -1. */
static double time_steps(const BenchConfig *bc, Llama *m, AdamW *opt, ObErr *err) {
    int B = bc->batch, T = bc->seq, steps = bc->steps < 1 ? 1 : bc->steps, V = m->cfg.vocab;
    int32_t *inp = ob_malloc(sizeof(int32_t) * B * T, "bench inputs", err);
    int32_t *tgt = ob_malloc(sizeof(int32_t) * B * T, "bench targets", err);
    double *times = ob_malloc(sizeof(double) * (steps + 1), "bench times", err), med = -1;
    ObRng rng;
    ob_rng_seed(&rng, 1);
    for (int i = 0; inp && tgt && i < B * T; i++)
        inp[i] = (int32_t)ob_rng_below(&rng, V), tgt[i] = (int32_t)ob_rng_below(&rng, V);
    ParamSegment segs[12];
    int ns = llama_param_segments(m, segs);
    AdamWConfig ac = {0.9f, 0.95f, 1e-8f, 0.1f};
    for (int s = 0; inp && tgt && times && s <= steps; s++) {
        double t0 = ob_now();
        int nv;
        llama_forward(m, inp, bc->forward_only ? NULL : tgt, T, &nv);
        if (!bc->forward_only) {
            llama_zero_grads(m);
            llama_backward(m, 1.0f / nv);
            adamw_step(opt, &ac, 1e-4f, m->params, m->grads, segs, ns);
        }
        times[s] = ob_now() - t0;
        ob_logf("bench: step %d/%d %.3f s\n", s, steps, times[s]);
    }
    if (inp && tgt && times) {
        qsort(times + 1, steps, sizeof(double), cmp_double);
        med = times[1 + steps / 2];
    }
    free(times), free(inp), free(tgt);
    return med;
}

/* After training: the head's matmuls alone, and training's share of them
 * and of the chip (the peak of the unit this precision's products run on). */
static void add_fractions(cJSON *j, const LlamaConfig *c, int N, double gf, int bf16) {
    double sg = head_gemm_gflops(N, c->dim, c->vocab, OB_PREC_FP32);
    double bg = gemm_bf16_supported() ? head_gemm_gflops(N, c->dim, c->vocab, OB_PREC_BF16) : -1;
    cJSON_AddNumberToObject(j, "sgemm_gflops", sg);
    cJSON_AddNumberToObject(j, "bf16_gemm_gflops", bg);
    /* training's GFLOP/s as a fraction of its own precision's matmul rate */
    cJSON_AddNumberToObject(j, "gemm_fraction", gf / (bf16 ? bg : sg));
    bench_machine(j, 1);
    const char *unit = !bf16 ? "peak_fp32_gflops"
                       : gemm_bf16_choice()->backend == GEMM_BF16_ONEDNN &&
                               strstr(gemm_bf16_choice()->onednn_impl, "amx")
                           ? "peak_amx_gflops"
                           : "peak_bf16_gflops";
    double pk = cJSON_GetNumberValue(cJSON_GetObjectItem(j, unit));
    cJSON_AddStringToObject(j, "peak_unit", unit);
    cJSON_AddNumberToObject(j, "peak_fraction", pk > 0 ? gf / pk : -1);
    cJSON_AddNumberToObject(j, "fp32_peak_fraction",
                            gf / cJSON_GetNumberValue(cJSON_GetObjectItem(j, "peak_fp32_gflops")));
}

static cJSON *bench_json(const BenchConfig *bc, const Llama *m, double med) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* before the matmul timing below allocates */
    int bf16 = m->prec == OB_PREC_BF16, fwd = bc->forward_only;
    double toks = (double)bc->batch * bc->seq;
    double gf = (fwd ? 2.0 : 6.0) * m->n_params * toks / med / 1e9;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "impl", "obliviate");
    cJSON_AddStringToObject(j, "mode", fwd ? "forward" : bf16 ? "bf16" : "fp32");
    cJSON_AddStringToObject(j, "precision", bf16 ? "bf16" : "fp32");
    cJSON_AddNumberToObject(j, "dim", m->cfg.dim);
    cJSON_AddNumberToObject(j, "layers", m->cfg.n_layers);
    cJSON_AddNumberToObject(j, "heads", m->cfg.n_heads);
    cJSON_AddNumberToObject(j, "ffn", m->cfg.ffn_dim);
    cJSON_AddNumberToObject(j, "vocab", m->cfg.vocab);
    cJSON_AddNumberToObject(j, "batch", bc->batch);
    cJSON_AddNumberToObject(j, "seq", bc->seq);
    cJSON_AddNumberToObject(j, "params", (double)m->n_params);
    cJSON_AddNumberToObject(j, "step_s_median", med);
    cJSON_AddNumberToObject(j, "tok_s", toks / med);
    cJSON_AddNumberToObject(j, "gflops", gf);
    cJSON_AddNumberToObject(j, "peak_rss_mb", ru.ru_maxrss / 1024.0);
    cJSON_AddNumberToObject(j, "weights_grads_adam_mb", m->n_params * 16.0 / 1048576.0);
    cJSON_AddNumberToObject(j, "activations_mb", m->acts.n_floats * 4.0 / 1048576.0);
    if (fwd)
        bench_machine(j, 0);
    else
        add_fractions(j, &m->cfg, bc->batch * bc->seq, gf, bf16);
    return j;
}

/* The model made, then saved or timed. */
static int bench_with(const BenchConfig *bc, Llama *m, BenchResult *res, ObErr *err) {
    if (bench_model(bc, m, err)) return -1;
    if (bc->save_path) return bench_save(m, bc->save_path, err);
    AdamW opt = {0};
    int train = !bc->forward_only, rc = -1;
    if ((!train || (!llama_alloc_grads(m, err) && !adamw_init(&opt, m->n_params, err))) &&
        !llama_alloc_batch(m, bc->batch, bc->seq, err)) {
        double med = time_steps(bc, m, &opt, err);
        if (med >= 0) res->json = bench_json(bc, m, med), rc = 0;
    }
    if (train) adamw_free(&opt);
    return rc;
}

int bench_run(const BenchConfig *bc, BenchResult *res, ObErr *err) {
    res->json = NULL;
    Llama m = {0};
    int rc = bench_with(bc, &m, res, err);
    llama_free(&m);
    return rc;
}
