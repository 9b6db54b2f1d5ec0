/* Finite-difference gradient checks for every op in model/ops.h and for the
 * whole model: the analytic gradient of L = sum(out * R) (R random) must match
 * the central difference of L to float precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "model/llama.h"
#include "model/ops.h"
#include "tiny.h"
#include "util/rng.h"

static ObRng rng;

#define TOL 2e-2

/* ---- matmul ---- */
typedef struct {
    int N, C, OC;
    float *inp, *w, *out, *R;
} MatmulCtx;

static double matmul_loss(void *p) {
    MatmulCtx *c = p;
    matmul_forward(c->out, c->inp, c->w, c->N, c->C, c->OC, 0.0f, OB_PREC_FP32);
    return test_dot(c->out, c->R, (size_t)c->N * c->OC);
}

static void test_matmul(void) {
    MatmulCtx c = {5, 7, 6, NULL, NULL, NULL, NULL};
    c.inp = test_randn(&rng, 35, 1), c.w = test_randn(&rng, 42, 1), c.out = test_randn(&rng, 30, 1),
    c.R = test_randn(&rng, 30, 1);
    float *dinp = test_randn(&rng, 35, 1), *dw = calloc(42, 4), *dinp0 = malloc(35 * 4);
    memcpy(dinp0, dinp, 35 * 4);
    matmul_backward(dinp, dw, c.R, c.inp, c.w, c.N, c.C, c.OC, 1.0f, OB_PREC_FP32);
    for (int i = 0; i < 35; i++) dinp[i] -= dinp0[i]; /* beta = 1 accumulates */
    CHECK(grad_check(matmul_loss, &c, c.inp, dinp, 35, 100, 1e-2f) < TOL, "dinp");
    CHECK(grad_check(matmul_loss, &c, c.w, dw, 42, 100, 1e-2f) < TOL, "dw");
    free(c.inp), free(c.w), free(c.out), free(c.R), free(dinp), free(dw), free(dinp0);
}

/* A tall weight (the vocabulary head) has its dw computed in blocks of rows; OC = 5000 makes
 * two full blocks and a ragged one. dw accumulates into what it holds (beta 1), checked
 * element by element against a double-precision sum. */
static void test_matmul_tall_dw(void) {
    int N = 9, C = 5, OC = 5000;
    float *inp = test_randn(&rng, (size_t)N * C, 1), *dout = test_randn(&rng, (size_t)N * OC, 1);
    float *dw = test_randn(&rng, (size_t)OC * C, 1), *dw0 = malloc(sizeof(float) * OC * C);
    memcpy(dw0, dw, sizeof(float) * OC * C);
    matmul_backward(NULL, dw, dout, inp, NULL, N, C, OC, 0.0f, OB_PREC_FP32);
    double worst = 0;
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            double want = dw0[(size_t)o * C + c];
            for (int n = 0; n < N; n++) want += (double)dout[(size_t)n * OC + o] * inp[n * C + c];
            worst = fmax(worst, fabs(want - dw[(size_t)o * C + c]));
        }
    CHECK(worst < 1e-4, "tall dw differs from the direct sum by %g", worst);
    free(inp), free(dout), free(dw), free(dw0);
}

/* ---- embedding ---- */
static void test_embedding(void) {
    int N = 6, C = 4, V = 5;
    int32_t tok[6] = {1, 3, 1, 0, 4, 1};
    float *table = test_randn(&rng, V * C, 1), *out = malloc(sizeof(float) * N * C),
          *R = test_randn(&rng, N * C, 1);
    float *dt = calloc(V * C, 4);
    embedding_forward(out, tok, table, N, C);
    embedding_backward(dt, R, tok, N, C);
    int ok = 1;
    for (int v = 0; v < V; v++)
        for (int c = 0; c < C; c++) {
            double want = 0;
            for (int n = 0; n < N; n++)
                if (tok[n] == v) want += R[n * C + c];
            if (fabs(want - dt[v * C + c]) > 1e-6) ok = 0;
        }
    for (int n = 0; n < N; n++)
        if (memcmp(out + n * C, table + tok[n] * C, C * 4)) ok = 0;
    CHECK(ok, "embedding forward/backward mismatch");
    free(table), free(out), free(R), free(dt);
}

/* ---- rmsnorm ---- */
typedef struct {
    int N, C;
    float *inp, *w, *out, *rstd, *R;
} NormCtx;

static double norm_loss(void *p) {
    NormCtx *c = p;
    rmsnorm_forward(c->out, c->rstd, c->inp, c->w, c->N, c->C, 1e-5f);
    return test_dot(c->out, c->R, (size_t)c->N * c->C);
}

static void test_rmsnorm(void) {
    NormCtx c = {4, 9, NULL, NULL, NULL, NULL, NULL};
    c.inp = test_randn(&rng, 36, 1), c.w = test_randn(&rng, 9, 1), c.out = malloc(36 * 4),
    c.rstd = malloc(16);
    c.R = test_randn(&rng, 36, 1);
    float *dinp = calloc(36, 4), *dw = calloc(9, 4);
    norm_loss(&c);
    rmsnorm_backward(dinp, dw, c.R, c.inp, c.w, c.rstd, c.N, c.C);
    CHECK(grad_check(norm_loss, &c, c.inp, dinp, 36, 100, 1e-2f) < TOL, "dinp");
    CHECK(grad_check(norm_loss, &c, c.w, dw, 9, 100, 1e-2f) < TOL, "dw");
    free(c.inp), free(c.w), free(c.out), free(c.rstd), free(c.R), free(dinp), free(dw);
}

/* ---- rope ---- */
typedef struct {
    int B, T, nh, hd;
    float *x, *work, *cs, *sn, *R;
} RopeCtx;

static double rope_loss(void *p) {
    RopeCtx *c = p;
    size_t n = (size_t)c->B * c->T * c->nh * c->hd;
    memcpy(c->work, c->x, n * 4);
    rope_forward(c->work, c->cs, c->sn, c->B, c->T, c->nh, c->hd);
    return test_dot(c->work, c->R, n);
}

static void test_rope(void) {
    RopeCtx c = {2, 5, 3, 6, NULL, NULL, NULL, NULL, NULL};
    size_t n = 2 * 5 * 3 * 6;
    c.x = test_randn(&rng, n, 1), c.work = malloc(n * 4), c.R = test_randn(&rng, n, 1);
    c.cs = malloc(5 * 3 * 4), c.sn = malloc(5 * 3 * 4);
    rope_tables(c.cs, c.sn, 5, 6, 10000.0f, 0);
    float *dx = malloc(n * 4);
    memcpy(dx, c.R, n * 4);
    rope_backward(dx, c.cs, c.sn, 2, 5, 3, 6);
    CHECK(grad_check(rope_loss, &c, c.x, dx, n, 200, 1e-2f) < TOL, "rope dx");
    /* Position 0 is the identity; position 1 rotates pair 0 by exactly 1 rad. */
    float v[6] = {1, 0, 0, 0, 0, 0};
    rope_forward(v, c.cs + 3, c.sn + 3, 1, 1, 1, 6);
    CHECK(fabsf(v[0] - cosf(1)) < 1e-6 && fabsf(v[1] - sinf(1)) < 1e-6, "pair layout");
    free(c.x), free(c.work), free(c.R), free(c.cs), free(c.sn), free(dx);
}

/* ---- attention ---- */
typedef struct {
    int B, T, H, KV, hd;
    float *q, *k, *v, *out, *att, *R;
} AttCtx;

static double att_loss(void *p) {
    AttCtx *c = p;
    attention_forward(c->out, c->att, c->q, c->k, c->v, c->B, c->T, c->H, c->KV, c->hd);
    return test_dot(c->out, c->R, (size_t)c->B * c->T * c->H * c->hd);
}

static void test_attention_case(int B, int T, int H, int KV, int hd) {
    AttCtx c = {B, T, H, KV, hd, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t nq = (size_t)B * T * H * hd, nk = (size_t)B * T * KV * hd, na = (size_t)B * H * T * T;
    c.q = test_randn(&rng, nq, 1), c.k = test_randn(&rng, nk, 1), c.v = test_randn(&rng, nk, 1),
    c.R = test_randn(&rng, nq, 1);
    c.out = malloc(nq * 4), c.att = calloc(na, 4);
    float *dq = malloc(nq * 4), *dk = malloc(nk * 4), *dv = malloc(nk * 4);
    float *datt = calloc(na, 4);
    att_loss(&c);
    attention_backward(dq, dk, dv, datt, c.R, c.q, c.k, c.v, c.att, B, T, H, KV, hd);
    CHECK(grad_check(att_loss, &c, c.q, dq, nq, 300, 1e-2f) < TOL, "dq (H %d KV %d)", H, KV);
    CHECK(grad_check(att_loss, &c, c.k, dk, nk, 300, 1e-2f) < TOL, "dk (H %d KV %d)", H, KV);
    CHECK(grad_check(att_loss, &c, c.v, dv, nk, 300, 1e-2f) < TOL, "dv (H %d KV %d)", H, KV);
    /* The output against softmax(q k / sqrt(hd)) v written out in double. */
    att_loss(&c); /* grad_check left out computed from a perturbed input */
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const float *qv = c.q + ((size_t)b * T + t) * H * hd + (size_t)h * hd;
                int g = h / (H / KV);
                double s[512], mx = -1e300, sum = 0;
                for (int u = 0; u <= t; u++) {
                    const float *kv = c.k + ((size_t)b * T + u) * KV * hd + (size_t)g * hd;
                    s[u] = test_dot(qv, kv, hd) / sqrt((double)hd);
                    mx = fmax(mx, s[u]);
                }
                for (int u = 0; u <= t; u++) sum += (s[u] = exp(s[u] - mx));
                for (int i = 0; i < hd; i++) {
                    double o = 0;
                    for (int u = 0; u <= t; u++)
                        o += s[u] / sum * c.v[((size_t)b * T + u) * KV * hd + (size_t)g * hd + i];
                    float got = c.out[((size_t)b * T + t) * H * hd + (size_t)h * hd + i];
                    worst = fmax(worst, fabs(got - o));
                }
            }
    CHECK(worst < 1e-5, "output off the double reference by %g (T %d)", worst, T);
    /* Causality: the first output row depends only on the first key/value. */
    float *out0 = malloc(nq * 4);
    memcpy(out0, c.out, nq * 4);
    c.k[(size_t)(T - 1) * KV * hd] += 5.0f;
    att_loss(&c);
    CHECK(memcmp(out0, c.out, (size_t)H * hd * 4) == 0, "first position saw the future");
    free(out0), free(c.q), free(c.k), free(c.v), free(c.R), free(c.out), free(c.att);
    free(dq), free(dk), free(dv), free(datt);
}

static void test_attention(void) {
    test_attention_case(2, 5, 4, 4, 4);   /* multi-head */
    test_attention_case(2, 6, 4, 2, 4);   /* grouped-query */
    test_attention_case(1, 4, 3, 1, 6);   /* multi-query */
    test_attention_case(1, 150, 2, 1, 4); /* several row blocks, the last one partial */
}

/* ---- swiglu ---- */
typedef struct {
    long n;
    float *g, *u, *out, *R;
} SwiCtx;

static double swi_loss(void *p) {
    SwiCtx *c = p;
    swiglu_forward(c->out, c->g, c->u, c->n);
    return test_dot(c->out, c->R, c->n);
}

static void test_swiglu(void) {
    SwiCtx c = {40, NULL, NULL, NULL, NULL};
    c.g = test_randn(&rng, 40, 2), c.u = test_randn(&rng, 40, 1), c.out = malloc(160),
    c.R = test_randn(&rng, 40, 1);
    float *dg = malloc(160), *du = malloc(160);
    swiglu_backward(dg, du, c.R, c.g, c.u, c.n);
    CHECK(grad_check(swi_loss, &c, c.g, dg, 40, 40, 1e-2f) < TOL, "dgate");
    CHECK(grad_check(swi_loss, &c, c.u, du, 40, 40, 1e-2f) < TOL, "dup");
    free(c.g), free(c.u), free(c.out), free(c.R), free(dg), free(du);
}

/* ---- cross-entropy ---- */
typedef struct {
    int N, V;
    float *logits, *losses, *lse;
    int32_t *tgt;
    const float *w; /* per-row weights, or NULL */
} CeCtx;

static double ce_loss(void *p) {
    CeCtx *c = p;
    crossentropy_forward(c->losses, c->lse, c->logits, c->tgt, c->N, c->V);
    double s = 0;
    for (int n = 0; n < c->N; n++) s += c->losses[n] * 0.5 * (c->w ? c->w[n] : 1); /* scale 0.5 */
    return s;
}

static void test_crossentropy(void) {
    int32_t tgt[5] = {3, -1, 0, 10, 3};
    CeCtx c = {5, 11, NULL, NULL, NULL, tgt, NULL};
    c.logits = test_randn(&rng, 55, 3), c.losses = malloc(20), c.lse = malloc(20);
    float *d = malloc(55 * 4);
    ce_loss(&c);
    crossentropy_backward(d, c.logits, c.lse, tgt, 0.5f, NULL, 5, 11);
    CHECK(grad_check(ce_loss, &c, c.logits, d, 55, 55, 1e-2f) < TOL, "dlogits");
    /* per-row weights, one negative (an ascended row) */
    const float w[5] = {2.0f, 7.0f, -1.5f, 0.25f, -3.0f};
    c.w = w;
    ce_loss(&c);
    crossentropy_backward(d, c.logits, c.lse, tgt, 0.5f, w, 5, 11);
    CHECK(grad_check(ce_loss, &c, c.logits, d, 55, 55, 1e-2f) < TOL, "dlogits, weighted rows");
    c.w = NULL;
    CHECK(c.losses[1] == 0.0f, "masked row has loss");
    /* exact value on a hand-computed row: logits (0, ln 3) target 0 -> ln 4 */
    float z[2] = {0.0f, logf(3.0f)}, l, s;
    int32_t t0 = 0;
    crossentropy_forward(&l, &s, z, &t0, 1, 2);
    CHECK(fabsf(l - logf(4.0f)) < 1e-6f, "CE value %g", l);
    /* ob_expf accuracy over the range softmax uses */
    double worst = 0;
    for (float x = -80.0f; x < 80.0f; x += 0.01f)
        worst = fmax(worst, fabs(ob_expf(x) / exp(x) - 1));
    CHECK(worst < 1e-6, "ob_expf relative error %g", worst);
    free(c.logits), free(c.losses), free(c.lse), free(d);
}

/* softmax_topk: the k largest of softmax(z) with z[lower] - by, in order,
 * and the rest of the mass, against a softmax in double. */
static void test_softmax_topk(void) {
    enum { V = 50, K = 5 };
    float *z = test_randn(&rng, V, 2);
    int32_t ids[K];
    float p[K], rest;
    for (int lower = -1; lower < 3; lower += 3) { /* none, then token 2 lowered by 4 */
        double q[V], sum = 0;
        for (int i = 0; i < V; i++) sum += q[i] = exp(z[i] - (i == lower ? 4.0 : 0.0));
        for (int i = 0; i < V; i++) q[i] /= sum;
        softmax_topk(z, V, lower, 4.0f, K, ids, p, &rest);
        double kept = 0;
        for (int j = 0; j < K; j++) {
            int larger = 0; /* tokens more probable than the j-th: exactly j */
            for (int i = 0; i < V; i++) larger += q[i] > q[ids[j]];
            CHECK(larger == j, "lower %d: rank %d holds token %d, rank %d in fact", lower, j,
                  ids[j], larger);
            CHECK(fabs(p[j] - q[ids[j]]) < 1e-6, "lower %d: p %g, want %g", lower, p[j], q[ids[j]]);
            kept += q[ids[j]];
        }
        CHECK(fabs(rest - (1 - kept)) < 1e-6, "rest %g, want %g", rest, 1 - kept);
    }
    free(z);
}

/* ---- soft-target cross-entropy ---- */
typedef struct {
    int N, V;
    float *logits, *losses, *lse, *prest;
    int32_t *mask;
    SoftTargets st;
} SoftCtx;

static double soft_loss(void *p) {
    SoftCtx *c = p;
    crossentropy_soft_forward(c->losses, c->lse, c->prest, c->logits, c->mask, &c->st, c->N, c->V);
    double s = 0;
    for (int n = 0; n < c->N; n++) s += c->losses[n] * 0.25;
    return s;
}

static void test_soft_crossentropy(void) {
    enum { N = 4, V = 13, K = 3 };
    int32_t mask[N] = {0, -1, 5, 1};
    int32_t ids[N * K] = {2, 7, 0, 1, 2, 3, 5, -1, 9, 12, 11, 10};
    float probs[N * K] = {0.5f, 0.2f, 0.1f, 0.3f, 0.3f, 0.3f, 0.6f, 0.0f, 0.1f, 0.1f, 0.1f, 0.1f};
    float rest[N] = {0.2f, 0.1f, 0.3f, 0.7f};
    SoftCtx c = {N,
                 V,
                 test_randn(&rng, N * V, 2),
                 malloc(4 * N),
                 malloc(4 * N),
                 malloc(4 * N),
                 mask,
                 {K, ids, probs, rest}};
    float *d = malloc(4 * N * V), *z0 = malloc(4 * N * V);
    soft_loss(&c);
    memcpy(z0, c.logits, 4 * N * V);
    crossentropy_soft_backward(d, c.logits, c.lse, c.prest, mask, &c.st, 0.25f, NULL, N, V);
    CHECK(grad_check(soft_loss, &c, c.logits, d, N * V, N * V, 1e-2f) < TOL, "soft dlogits");
    /* In place (dlogits aliasing logits) gives the same gradient. */
    soft_loss(&c);
    crossentropy_soft_backward(c.logits, c.logits, c.lse, c.prest, mask, &c.st, 0.25f, NULL, N, V);
    CHECK(memcmp(c.logits, d, 4 * N * V) == 0, "in-place soft backward differs");
    memcpy(c.logits, z0, 4 * N * V);
    /* One listed token with probability 1 and no rest is the hard loss. */
    int32_t one_id[N] = {4, 0, 5, 1};
    float one_p[N] = {1, 1, 1, 1}, no_rest[N] = {0, 0, 0, 0};
    SoftTargets hard = {1, one_id, one_p, no_rest};
    float hl[N], hlse[N], hp[N], sl[N];
    crossentropy_forward(hl, hlse, c.logits, one_id, N, V);
    crossentropy_soft_forward(sl, c.lse, hp, c.logits, one_id, &hard, N, V);
    int same = 1;
    for (int n = 0; n < N; n++) same &= fabsf(hl[n] - sl[n]) < 1e-5f;
    CHECK(same, "soft loss with a one-hot target differs from the hard loss");
    free(c.logits), free(c.losses), free(c.lse), free(c.prest), free(d), free(z0);
}

/* ---- whole model ---- */
static void test_model_grads(int tied) {
    LlamaConfig cfg = tiny_shape(16, 2, 4, 2, 24, 23, 8, tied);
    Llama m;
    ObErr err;
    CHECK(llama_create(&m, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(&m, 7);
    /* Larger weights than the default init so every path carries signal. */
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 3.0f;
    CHECK(llama_alloc_grads(&m, &err) == 0 && llama_alloc_batch(&m, 2, 6, &err) == 0, "alloc");
    int32_t inp[12], tgt[12];
    for (int i = 0; i < 12; i++) inp[i] = (int32_t)ob_rng_below(&rng, 23);
    for (int i = 0; i < 12; i++) tgt[i] = i % 4 == 1 ? -1 : (int32_t)ob_rng_below(&rng, 23);
    ModelLossCtx c = {&m, inp, tgt, 6};
    int nv;
    llama_forward(&m, inp, tgt, 6, &nv);
    llama_zero_grads(&m);
    llama_backward(&m, 1.0f / nv);
    float *grads = malloc(m.n_params * 4);
    memcpy(grads, m.grads, m.n_params * 4);
    double worst = grad_check(model_loss, &c, m.params, grads, m.n_params, 1500, 3e-3f);
    CHECK(worst < 3e-2, "whole-model gradient (tied %d): worst %g", tied, worst);
    free(grads);
    llama_free(&m);
}

static void test_model_untied(void) {
    test_model_grads(0);
}
static void test_model_tied(void) {
    test_model_grads(1);
}

int main(void) {
    ob_rng_seed(&rng, 1234);
    RUN(test_matmul);
    RUN(test_matmul_tall_dw);
    RUN(test_embedding);
    RUN(test_rmsnorm);
    RUN(test_rope);
    RUN(test_attention);
    RUN(test_swiglu);
    RUN(test_crossentropy);
    RUN(test_softmax_topk);
    RUN(test_soft_crossentropy);
    RUN(test_model_untied);
    RUN(test_model_tied);
    return check_main_end("ops");
}
