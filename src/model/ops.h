/* The transformer's operations as forward/backward pairs (llm.c style).
 *
 * Shapes are in comments; N is the number of rows (B*T). Backward functions
 * ADD into parameter gradients (so micro-batches accumulate) and say for each
 * input gradient whether it is set or added. Every op has a finite-difference
 * gradient check in tests/test_ops.c. Matmuls go through BLAS sgemm; the rest
 * is OpenMP with static schedules, so a fixed thread count gives fixed bits. */
#ifndef OB_OPS_H
#define OB_OPS_H

#include <stdint.h>
#include <string.h>

/* The precision of a matmul: fp32 (sgemm), or bf16 inputs with fp32
 * accumulation (model/gemm_bf16.h); everything else, the weights, gradients
 * and optimizer state stay fp32. A model carries its own (Llama.prec). */
typedef enum { OB_PREC_FP32, OB_PREC_BF16 } ObPrecision;
/* What this CPU runs of `want`: fp32 when bf16 is asked for on a CPU without
 * AVX512_BF16. */
ObPrecision ops_precision_supported(ObPrecision want);

/* out (N, OC) = inp (N, C) @ w (OC, C)^T, plus beta * out. */
void matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC, float beta,
                    ObPrecision prec);
/* dinp (N, C) = dout (N, OC) @ w + beta * dinp; dw (OC, C) += dout^T @ inp.
 * Either gradient may be NULL to skip it. */
void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                     int N, int C, int OC, float beta, ObPrecision prec);

/* out (N, C) = table[tok[n]] with table (V, C). */
void embedding_forward(float *out, const int32_t *tok, const float *table, int N, int C);
/* dtable (V, C) += scatter of dout (N, C) by tok. */
void embedding_backward(float *dtable, const float *dout, const int32_t *tok, int N, int C);

/* out (N, C) = inp * rstd * w, rstd (N) = 1 / sqrt(mean(inp^2) + eps). */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                     float eps);
/* dinp (N, C) += ...; dw (C) += ... (dw may be NULL: a frozen scale) */
void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                      const float *rstd, int N, int C);

/* cos/sin tables (T, hd/2) for positions pos0 .. pos0+T-1. */
void rope_tables(float *cos_t, float *sin_t, int T, int hd, float base, int pos0);
/* x (B, T, nh, hd) rotated in place: adjacent pairs (x[2i], x[2i+1]). */
void rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd);
/* dx (B, T, nh, hd) rotated back in place (the transpose of the rotation). */
void rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd);

/* Causal attention. q (B, T, H*hd), k and v (B, T, KV*hd); query head h reads
 * kv head h / (H / KV). att (B, H, T, T) keeps the probabilities (zero above
 * the diagonal); out (B, T, H*hd). */
void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                       int B, int T, int H, int KV, int hd);
/* Sets dq, dk, dv; datt (B, H, T, T) is scratch. */
void attention_backward(float *dq, float *dk, float *dv, float *datt, const float *dout,
                        const float *q, const float *k, const float *v, const float *att, int B,
                        int T, int H, int KV, int hd);

/* out (n) = silu(gate) * up. */
void swiglu_forward(float *out, const float *gate, const float *up, long n);
/* Sets dgate and dup (n). */
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                     const float *up, long n);

/* lse (N) = log sum exp of each logits (N, V) row; losses (N) = lse - logit of
 * the target, 0 where target < 0. */
void crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets,
                          int N, int V);
/* dlogits (N, V) = scale * w[n] * (softmax - onehot(target)) for rows with a
 * target, 0 elsewhere; row_scale w (N) may be NULL (all 1) and negative (a
 * row whose loss is ascended, weighted per sequence: unlearn/objective.h).
 * dlogits may alias logits. */
void crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                           const int32_t *targets, float scale, const float *row_scale, int N,
                           int V);

/* Soft targets: per row, k token ids with target probabilities q (ids < 0
 * ignored) and `rest`, the target mass of every other token taken together.
 * The loss is -sum_j q_j log p_j - rest * log P_rest, with P_rest the model's
 * probability of all tokens outside the listed ones: a distribution kept as
 * its top-k plus one bucket. */
#define SOFT_K_MAX 256

typedef struct {
    int k;              /* 1..SOFT_K_MAX */
    const int32_t *ids; /* (N, k) */
    const float *probs; /* (N, k) */
    const float *rest;  /* (N) */
} SoftTargets;

/* Like crossentropy_forward for rows with targets[n] >= 0 (the mask), with
 * the soft-target loss; prest (N) keeps P_rest for the backward pass. */
void crossentropy_soft_forward(float *losses, float *lse, float *prest, const float *logits,
                               const int32_t *targets, const SoftTargets *st, int N, int V);
/* dlogits = s * (p - q) on listed tokens and s * p * (1 - rest / P_rest)
 * elsewhere, s = scale * row_scale[n] (row_scale NULL: all 1); 0 on masked
 * rows. dlogits may alias logits. */
void crossentropy_soft_backward(float *dlogits, const float *logits, const float *lse,
                                const float *prest, const int32_t *targets, const SoftTargets *st,
                                float scale, const float *row_scale, int N, int V);

/* Inserts (id, pj) into ids/p, the n (<= k) most probable tokens so far,
 * sorted by probability, ties keeping the earlier (lower) id first. */
void topk_insert(int32_t *ids, float *p, int *n, int k, int32_t id, float pj);

/* A soft target from logits z (V): the softmax of z with z[lower] reduced by
 * `by` (lower < 0: none), kept as its k most probable tokens (ids, p) and
 * the mass of all others (*rest). A reference model's own distribution
 * (by 0) is the target of KL(p_ref || p_theta); UNDIAL lowers the true next
 * token's logit. */
void softmax_topk(const float *z, int V, int32_t lower, float by, int k, int32_t *ids, float *p,
                  float *rest);

/* exp with ~2 ulp error that vectorises in loops (glibc's expf does not
 * without -ffast-math). Inputs below -87 give ~1e-38, above 88 give ~1e38. */
static inline float ob_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    /* Round x / ln2 to the nearest integer by adding and removing 1.5 * 2^23
     * (floorf would block vectorisation without -ffast-math). */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f; /* ln2 split hi/lo */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* NaN passes the clamp above and gives NaN through p; only the exponent
     * is taken from a number (casting NaN to an integer is undefined). */
    int32_t bits = ((int32_t)(n == n ? n : 0.0f) + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale); /* 2^n; memcpy keeps the loop vectorisable */
    return p * scale;
}

#endif
