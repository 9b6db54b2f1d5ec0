/* The bf16 GEMM (model/gemm_bf16.h) and the bf16 matmul precision of ops:
 * every backend this machine has (the own AVX512_BF16 kernel; oneDNN, on AMX
 * where the CPU has it) against double-precision references on odd shapes
 * for the three layouts a linear layer uses, and a tiny training run in bf16
 * next to fp32. Skipped, with the reason printed, on a CPU without
 * AVX512_BF16. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "helpers.h"
#include "model/gemm_bf16.h"
#include "model/gemm_onednn.h"
#include "model/llama.h"
#include "model/ops.h"
#include "tiny.h"
#include "train/trainer.h"
#include "util/cpu.h"
#include "util/rng.h"

static ObRng rng;

static double rb(float x) { /* x rounded to bf16, as a double */
    uint16_t h;
    bf16_from_f32(&h, &x, 1);
    return bf16_to_f32(h);
}

/* Checks c (M, N) against A @ B (+ beta * c0) with A(i, k) = a[i*rsa + k*csa]
 * and B(k, j) = b[k*rsb + j*csb]:
 * - against the product of the bf16-rounded inputs, summed in double, c may
 *   differ only by fp32 accumulation: (K + 2) 2^-24 sum_k |a_ik b_kj|;
 * - against the exact product of the fp32 inputs, by the rounding of both
 *   inputs to bf16 (relative 2^-8 each, so 2^-7 + 2^-16 per product) plus
 *   that accumulation error;
 * and the second error must be far above the first on the whole (the inputs
 * really were rounded). */
static void check_product(const char *what, const float *c, const float *c0, float beta, int M,
                          int N, int K, const float *a, long rsa, long csa, const float *b,
                          long rsb, long csb) {
    double worst_b = 0, worst_x = 0, sum_eb = 0, sum_ex = 0;
    int bad_b = 0, bad_x = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sb = 0, sx = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double x = a[i * rsa + k * csa], y = b[k * rsb + j * csb];
                sb += rb((float)x) * rb((float)y);
                sx += x * y;
                mag += fabs(x * y);
            }
            if (c0) {
                sb += (double)beta * c0[(size_t)i * N + j];
                sx += (double)beta * c0[(size_t)i * N + j];
                mag += fabs((double)beta * c0[(size_t)i * N + j]);
            }
            double got = c[(size_t)i * N + j], acc = (K + 2) * ldexp(1.0, -24) * mag + 1e-30;
            double eb = fabs(got - sb), ex = fabs(got - sx);
            if (eb > acc) bad_b++;
            if (ex > (ldexp(1.0, -7) + ldexp(1.0, -16)) * mag + acc) bad_x++;
            worst_b = fmax(worst_b, eb / (mag + 1e-30));
            worst_x = fmax(worst_x, ex / (mag + 1e-30));
            sum_eb += eb, sum_ex += ex;
        }
    CHECK(!bad_b, "%s %dx%dx%d: %d entries off the bf16-input product (worst %.3g of sum|ab|)",
          what, M, N, K, bad_b, worst_b);
    CHECK(!bad_x, "%s %dx%dx%d: %d entries beyond the bf16 rounding bound (worst %.3g)", what, M, N,
          K, bad_x, worst_x);
    CHECK(K < 4 || sum_ex > 20 * sum_eb, "%s %dx%dx%d: inputs seem not rounded to bf16 (%g vs %g)",
          what, M, N, K, sum_ex, sum_eb);
}

static const int shapes[][3] = {{1, 1, 1},     {13, 37, 29},    {12, 32, 2},
                                {25, 33, 257}, {131, 300, 515}, {97, 257, 256}};

/* out (N, OC) = inp (N, C) @ w (OC, C)^T + beta * out, through ops. */
static void test_forward_layout(void) {
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], OC = shapes[s][1], C = shapes[s][2];
        float *inp = test_randn(&rng, (size_t)N * C, 1.0f),
              *w = test_randn(&rng, (size_t)OC * C, 1.0f);
        float *out = test_randn(&rng, (size_t)N * OC, 1.0f), *c0 = malloc(sizeof(float) * N * OC);
        memcpy(c0, out, sizeof(float) * N * OC);
        float beta = s & 1 ? 1.0f : 0.0f;
        if (!beta) out[0] = NAN; /* beta = 0 must ignore the old contents */
        matmul_forward(out, inp, w, N, C, OC, beta, OB_PREC_BF16);
        check_product("forward", out, beta ? c0 : NULL, beta, N, OC, C, inp, C, 1, w, 1, C);
        free(inp), free(w), free(out), free(c0);
    }
}

/* dinp (N, C) = dout (N, OC) @ w + beta * dinp; dw (OC, C) += dout^T inp. */
static void test_backward_layouts(void) {
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][2], OC = shapes[s][1], C = shapes[s][0];
        float *inp = test_randn(&rng, (size_t)N * C, 1.0f),
              *w = test_randn(&rng, (size_t)OC * C, 1.0f),
              *dout = test_randn(&rng, (size_t)N * OC, 1.0f);
        float *dinp = test_randn(&rng, (size_t)N * C, 1.0f),
              *dw = test_randn(&rng, (size_t)OC * C, 1.0f);
        float *dinp0 = malloc(sizeof(float) * N * C), *dw0 = malloc(sizeof(float) * OC * C);
        memcpy(dinp0, dinp, sizeof(float) * N * C);
        memcpy(dw0, dw, sizeof(float) * OC * C);
        float beta = s & 1 ? 0.0f : 1.0f;
        matmul_backward(dinp, dw, dout, inp, w, N, C, OC, beta, OB_PREC_BF16);
        check_product("dinp", dinp, beta ? dinp0 : NULL, beta, N, C, OC, dout, OC, 1, w, C, 1);
        check_product("dw", dw, dw0, 1.0f, OC, C, N, dout, 1, OC, inp, C, 1);
        free(inp), free(w), free(dout), free(dinp), free(dw), free(dinp0), free(dw0);
    }
}

/* Strides that are neither 1 (every other column of A, every third of B)
 * take the element-by-element packing. */
static void test_general_strides(void) {
    int M = 19, N = 35, K = 41;
    float *a = test_randn(&rng, (size_t)M * 2 * K, 1.0f),
          *b = test_randn(&rng, (size_t)K * 3 * N, 1.0f);
    float *c = calloc((size_t)M * N, sizeof(float));
    gemm_bf16(M, N, K, a, 2L * K, 2, b, 3L * N, 3, 0.0f, c, N);
    check_product("strided", c, NULL, 0.0f, M, N, K, a, 2L * K, 2, b, 3L * N, 3);
    free(a), free(b), free(c);
}

/* Every output is summed in the same order whatever the thread count. */
static void test_thread_count_same_bits(void) {
#ifdef _OPENMP
    int M = 200, N = 300, K = 777, saved = omp_get_max_threads();
    float *a = test_randn(&rng, (size_t)M * K, 1.0f), *b = test_randn(&rng, (size_t)K * N, 1.0f);
    float *c1 = malloc(sizeof(float) * M * N), *c3 = malloc(sizeof(float) * M * N);
    omp_set_num_threads(1);
    gemm_bf16(M, N, K, a, K, 1, b, N, 1, 0.0f, c1, N);
    omp_set_num_threads(3);
    gemm_bf16(M, N, K, a, K, 1, b, N, 1, 0.0f, c3, N);
    omp_set_num_threads(saved);
    CHECK(!memcmp(c1, c3, sizeof(float) * M * N), "1 and 3 threads give different bits");
    free(a), free(b), free(c1), free(c3);
#endif
}

/* Weights given in bf16 give the very bits of the same weights in fp32. */
static void test_bf16_weights(void) {
    int N = 37, C = 131, OC = 45;
    float *inp = test_randn(&rng, (size_t)N * C, 1.0f), *w = test_randn(&rng, (size_t)OC * C, 1.0f),
          *dout = test_randn(&rng, (size_t)N * OC, 1.0f);
    uint16_t *wb = malloc(sizeof(uint16_t) * OC * C);
    bf16_from_f32(wb, w, (long)OC * C);
    float *o1 = calloc((size_t)N * OC, sizeof(float)), *o2 = calloc((size_t)N * OC, sizeof(float));
    float *d1 = calloc((size_t)N * C, sizeof(float)), *d2 = calloc((size_t)N * C, sizeof(float));
    matmul_forward(o1, inp, w, N, C, OC, 0.0f, OB_PREC_BF16);
    matmul_forward_wb(o2, inp, wb, N, C, OC, 0.0f);
    CHECK(!memcmp(o1, o2, sizeof(float) * N * OC), "forward with bf16 weights differs");
    matmul_backward(d1, NULL, dout, inp, w, N, C, OC, 0.0f, OB_PREC_BF16);
    matmul_backward_wb(d2, dout, wb, N, C, OC, 0.0f);
    CHECK(!memcmp(d1, d2, sizeof(float) * N * C), "backward with bf16 weights differs");
    /* Round to nearest even: 1 + 2^-8 is halfway between bf16 neighbours. */
    float x[4] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -1.0f - 0x1p-9f, 1e30f};
    uint16_t h[4];
    bf16_from_f32(h, x, 4);
    CHECK(h[0] == 0x3f80 && h[1] == 0x3f82 && h[2] == 0xbf80 && h[3] == 0x714a,
          "rounding: %04x %04x %04x %04x", h[0], h[1], h[2], h[3]);
    free(inp), free(w), free(dout), free(wb), free(o1), free(o2), free(d1), free(d2);
}

/* Trains the tiny model for `steps` AdamW steps on a fixed batch of a
 * learnable sequence (token t+1 = 3 t + 1 mod V) and records the losses. */
static void train_tiny(ObPrecision prec, float *losses, int steps) {
    CHECK(ops_precision_supported(prec) == prec, "precision not available");
    LlamaConfig c = tiny_config(64);
    Llama m;
    AdamW opt;
    ObErr err;
    int B = 4, T = 32;
    if (llama_create(&m, &c, &err) || llama_alloc_grads(&m, &err) ||
        llama_alloc_batch(&m, B, T, &err) || adamw_init(&opt, m.n_params, &err)) {
        CHECK(0, "setup: %s", err.msg);
        return;
    }
    llama_init_random(&m, 7);
    m.prec = prec;
    int32_t inp[4 * 32], tgt[4 * 32];
    for (int b = 0; b < B; b++) {
        int t0 = (b * 17 + 5) % 64;
        for (int t = 0; t < T; t++) {
            inp[b * T + t] = t0;
            tgt[b * T + t] = t0 = (3 * t0 + 1) % 64;
        }
    }
    ParamSegment segs[12];
    int ns = llama_param_segments(&m, segs);
    AdamWConfig ac = {0.9f, 0.95f, 1e-8f, 0.0f};
    for (int s = 0; s < steps; s++) {
        int nv;
        losses[s] = llama_forward(&m, inp, tgt, T, &nv);
        llama_zero_grads(&m);
        llama_backward(&m, 1.0f / nv);
        adamw_step(&opt, &ac, 3e-3f, m.params, m.grads, segs, ns);
    }
    adamw_free(&opt);
    llama_free(&m);
}

/* bf16 follows fp32's loss curve: at the start both compute the same loss to
 * bf16 accuracy (ln 64 = 4.16, each logit off by ~2^-8 relative), and after
 * 40 steps both have learnt the sequence, the curves within 0.02 of each
 * other (measured: 0.0016 at worst; rounding by truncation gives 0.007). */
static void test_tiny_training(void) {
    enum { STEPS = 40 };
    float l32[STEPS], l16[STEPS];
    train_tiny(OB_PREC_FP32, l32, STEPS);
    train_tiny(OB_PREC_BF16, l16, STEPS);
    double worst = 0;
    for (int s = 0; s < STEPS; s++) worst = fmax(worst, fabs(l32[s] - l16[s]));
    fprintf(stderr,
            "  tiny training: loss %.4f -> %.4f (fp32), %.4f -> %.4f (bf16), worst gap %.4f\n",
            l32[0], l32[STEPS - 1], l16[0], l16[STEPS - 1], worst);
    CHECK(fabs(l32[0] - l16[0]) < 0.01, "first loss %g (fp32) vs %g (bf16)", l32[0], l16[0]);
    CHECK(worst < 0.02, "loss curves apart by %g", worst);
    CHECK(l16[STEPS - 1] < 0.5 * l16[0], "bf16 did not learn: %g -> %g", l16[0], l16[STEPS - 1]);
    CHECK(l32[0] != l16[0], "bf16 run gave fp32's exact loss: was bf16 used?");
}

/* Without the kernels (a CPU without AVX512_BF16, or OBLIVIATE_NO_BF16=1):
 * bf16 cannot be selected, and the entry points compute in fp32. */
static void test_fallback(void) {
    CHECK(ops_precision_supported(OB_PREC_BF16) == OB_PREC_FP32,
          "bf16 selected without the kernels");
    int M = 13, N = 37, K = 29;
    float *a = test_randn(&rng, (size_t)M * K, 1.0f), *b = test_randn(&rng, (size_t)K * N, 1.0f),
          *c = malloc(sizeof(float) * M * N);
    uint16_t *bh = malloc(sizeof(uint16_t) * K * N);
    bf16_from_f32(bh, b, (long)K * N);
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            gemm_bf16_wb(M, N, K, a, K, 1, bh, N, 1, 0.0f, c, N);
        else
            gemm_bf16(M, N, K, a, K, 1, b, N, 1, 0.0f, c, N);
        double worst = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double r = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double y = pass ? bf16_to_f32(bh[k * N + j]) : b[k * N + j];
                    r += a[i * K + k] * y, mag += fabs(a[i * K + k] * y);
                }
                worst = fmax(worst, fabs(c[i * N + j] - r) / mag);
            }
        CHECK(worst < 1e-5, "fp32 fallback (%s B) off by %g", pass ? "bf16" : "fp32", worst);
    }
    free(a), free(b), free(c), free(bh);
}

/* oneDNN's result is the same for the same thread count, run after run. */
static void test_onednn_repeatable(void) {
    int M = 300, N = 200, K = 1000;
    float *a = test_randn(&rng, (size_t)M * K, 1.0f), *b = test_randn(&rng, (size_t)K * N, 1.0f);
    float *c1 = malloc(sizeof(float) * M * N), *c2 = malloc(sizeof(float) * M * N);
    gemm_bf16(M, N, K, a, K, 1, b, N, 1, 0.0f, c1, N);
    gemm_bf16(M, N, K, a, K, 1, b, N, 1, 0.0f, c2, N);
    CHECK(!memcmp(c1, c2, sizeof(float) * M * N), "two runs give different bits");
    free(a), free(b), free(c1), free(c2);
}

/* The process's choice: both backends timed, the faster by 1.5x chosen. */
static void test_choice(void) {
    const GemmBf16Choice *ch = gemm_bf16_choice();
    fprintf(stderr, "  chosen: %s (%s); own %.0f GFLOP/s, oneDNN %.0f GFLOP/s [%s], %d threads\n",
            gemm_bf16_backend_name(ch->backend), ch->reason, ch->own_gflops, ch->onednn_gflops,
            ch->onednn_impl, ch->threads);
    CHECK(ch->backend != GEMM_BF16_NONE && ch->reason, "no backend chosen");
    if (getenv("OBLIVIATE_BF16_GEMM")) return; /* set by hand: nothing was timed */
    if (ch->onednn_impl[0]) {
        CHECK(ch->own_gflops > 0 && ch->onednn_gflops > 0, "the choice did not time both");
        CHECK((ch->backend == GEMM_BF16_ONEDNN) == (ch->onednn_gflops > 1.5 * ch->own_gflops),
              "chose %s with own %.0f, oneDNN %.0f", gemm_bf16_backend_name(ch->backend),
              ch->own_gflops, ch->onednn_gflops);
    }
}

static void run_backend(GemmBf16Backend be) {
    fprintf(stderr, "backend %s\n", gemm_bf16_backend_name(be));
    if (gemm_bf16_use(be)) {
        CHECK(0, "backend %s refused", gemm_bf16_backend_name(be));
        return;
    }
    RUN(test_forward_layout);
    RUN(test_backward_layouts);
    RUN(test_general_strides);
    RUN(test_bf16_weights);
    if (be == GEMM_BF16_OWN) RUN(test_thread_count_same_bits);
    if (be == GEMM_BF16_ONEDNN) RUN(test_onednn_repeatable);
}

int main(void) {
    ob_rng_seed(&rng, 42);
    if (!gemm_bf16_supported()) {
        printf("gemm: bf16 kernel tests skipped: AVX512_BF16 is missing or OBLIVIATE_NO_BF16 is "
               "set; testing the fp32 fallback only\n");
        RUN(test_fallback);
        return check_main_end("gemm");
    }
    CHECK(ops_precision_supported(OB_PREC_BF16) == OB_PREC_BF16, "bf16 not available");
    run_backend(GEMM_BF16_OWN);
    char impl[64];
    unsigned amx = CPU_AMX_TILE | CPU_AMX_BF16;
    if (gemm_onednn_available(impl, sizeof impl))
        run_backend(GEMM_BF16_ONEDNN);
    else
        fprintf(stderr, "  oneDNN backend skipped: oneDNN has no CPU engine here\n");
    if ((cpu_info()->isa & amx) != amx)
        fprintf(stderr, "  AMX path skipped: this CPU lacks AMX-BF16 (oneDNN runs '%s')\n", impl);
    else
        CHECK(strstr(impl, "amx"), "an AMX CPU, but oneDNN runs '%s'", impl);
    RUN(test_choice);
    gemm_bf16_use(gemm_bf16_choice()->backend);
    RUN(test_tiny_training);
    return check_main_end("gemm");
}
