#include "model/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/gemm_bf16.h"
#include "util/blas.h"

ObPrecision ops_precision_supported(ObPrecision want) {
    return want == OB_PREC_BF16 && gemm_bf16_supported() ? OB_PREC_BF16 : OB_PREC_FP32;
}

void matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC, float beta,
                    ObPrecision prec) {
    blas_init(); /* the right kernels before the first product (util/blas.h) */
    if (prec == OB_PREC_BF16) {
        gemm_bf16(N, OC, C, inp, C, 1, w, 1, C, beta, out, OC);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C, beta, out,
                OC);
}

enum { MATMUL_DW_ROWS = 2048 };

void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                     int N, int C, int OC, float beta, ObPrecision prec) {
    blas_init();
    if (prec == OB_PREC_BF16) {
        matmul_backward_bf16(dinp, dw, dout, inp, w, N, C, OC, beta);
        return;
    }
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C, beta,
                    dinp, C);
    /* dw in blocks of output rows: for a tall dw (the vocabulary head) OpenBLAS 0.3.21's threaded
     * transposed product takes a work copy the size of dw (37 MB at V 32000, C 288 on two
     * threads); blocks of 2048 rows keep that under 3 MB (sums then differ only in rounding). */
    for (int r = 0; dw && r < OC; r += MATMUL_DW_ROWS) {
        int n = OC - r < MATMUL_DW_ROWS ? OC - r : MATMUL_DW_ROWS;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, C, N, 1.0f, dout + r, OC, inp, C,
                    1.0f, dw + (size_t)r * C, C);
    }
}

void embedding_forward(float *out, const int32_t *tok, const float *table, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, table + (size_t)tok[n] * C, sizeof(float) * C);
}

void embedding_backward(float *dtable, const float *dout, const int32_t *tok, int N, int C) {
    /* Rows may repeat a token, so split the work over columns: each thread
     * owns a slice of every row and adds rows in order (deterministic). */
#pragma omp parallel
    {
#ifdef _OPENMP
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
        int nt = 1, id = 0;
#endif
        int lo = (int)((long)C * id / nt), hi = (int)((long)C * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            float *d = dtable + (size_t)tok[n] * C;
            const float *g = dout + (size_t)n * C;
            for (int c = lo; c < hi; c++) d[c] += g[c];
        }
    }
}

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                     float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / C + eps);
        rstd[n] = r;
        for (int c = 0; c < C; c++) o[c] = x[c] * r * w[c];
    }
}

void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                      const float *rstd, int N, int C) {
    /* y = x r w, r = (mean x^2 + eps)^-1/2:
     * dx = r w dy - x r^3 / C * sum(dy w x); dw += dy x r. */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float r = rstd[n], dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; c++) dot += dy[c] * w[c] * x[c];
        float k = dot * r * r * r / C;
        for (int c = 0; c < C; c++) dx[c] += r * w[c] * dy[c] - k * x[c];
    }
    /* The weight gradient sums over rows; serial over rows keeps the order
     * fixed, and it is only N x C multiply-adds. */
    if (!dw) return; /* a frozen scale */
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float r = rstd[n];
        for (int c = 0; c < C; c++) dw[c] += dy[c] * x[c] * r;
    }
}

void rope_tables(float *cos_t, float *sin_t, int T, int hd, float base, int pos0) {
    int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double theta = pow((double)base, -2.0 * i / hd) * (double)(pos0 + t);
            cos_t[t * half + i] = (float)cos(theta);
            sin_t[t * half + i] = (float)sin(theta);
        }
}

/* Rotates every head vector of x (B, T, nh, hd) by +angle (dir = 1) or by
 * -angle (dir = -1, the backward pass). */
static void rope_apply(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh,
                       int hd, float dir) {
    int half = hd / 2;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *cs = cos_t + (size_t)t * half, *sn = sin_t + (size_t)t * half;
            for (int h = 0; h < nh; h++) {
                float *v = x + (((size_t)b * T + t) * nh + h) * hd;
                for (int i = 0; i < half; i++) {
                    float a = v[2 * i], c = v[2 * i + 1], s = dir * sn[i];
                    v[2 * i] = a * cs[i] - c * s;
                    v[2 * i + 1] = a * s + c * cs[i];
                }
            }
        }
}

void rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int nh, int hd) {
    rope_apply(x, cos_t, sin_t, B, T, nh, hd, 1.0f);
}

void rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int nh,
                   int hd) {
    rope_apply(dx, cos_t, sin_t, B, T, nh, hd, -1.0f);
}

/* Attention per (batch, head) as small sgemms. Inside an OpenMP region
 * OpenBLAS runs single-threaded, so the (batch, head) loop is what runs in
 * parallel. The rows go in blocks of ATT_ROWS: a block's queries see only the
 * keys up to its last row, so each product stops there, and of the T x T
 * square only the blocks on or below the diagonal are computed (10 of 16 at
 * T = 256; a full-square sgemm wasted the rest, a triangle of dot products is
 * far slower than either). Inside a diagonal block the masked entries are
 * computed and then zeroed after the softmax. */
#define ATT_ROWS 64

/* Causal softmax of rows t0 .. t1-1 of the (T, T) scores, in place; entries
 * above the diagonal are set to 0 up to column `cols`. */
static void causal_softmax(float *p, int T, int t0, int t1, int cols) {
    for (int t = t0; t < t1; t++) {
        float *row = p + (size_t)t * T, mx = -INFINITY, sum = 0.0f;
#pragma omp simd reduction(max : mx)
        for (int u = 0; u <= t; u++) mx = row[u] > mx ? row[u] : mx;
#pragma omp simd reduction(+ : sum)
        for (int u = 0; u <= t; u++) sum += (row[u] = ob_expf(row[u] - mx));
        float inv = 1.0f / sum;
        for (int u = 0; u <= t; u++) row[u] *= inv;
        for (int u = t + 1; u < cols; u++) row[u] = 0.0f;
    }
}

void attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                       int B, int T, int H, int KV, int hd) {
    int QD = H * hd, KD = KV * hd, rep = H / KV;
    float scale = 1.0f / sqrtf((float)hd);
    blas_init();
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *qh = q + (size_t)b * T * QD + (size_t)h * hd;
            const float *kg = k + (size_t)b * T * KD + (size_t)(h / rep) * hd;
            const float *vg = v + (size_t)b * T * KD + (size_t)(h / rep) * hd;
            float *p = att + ((size_t)b * H + h) * T * T;
            float *oh = out + (size_t)b * T * QD + (size_t)h * hd;
            for (int t0 = 0; t0 < T; t0 += ATT_ROWS) {
                int t1 = t0 + ATT_ROWS < T ? t0 + ATT_ROWS : T, nr = t1 - t0;
                float *pb = p + (size_t)t0 * T;
                /* S (rows, t1) = scale * Qh Kg^T; P = softmax(S); Oh (rows, hd) = P Vg */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, t1, hd, scale,
                            qh + (size_t)t0 * QD, QD, kg, KD, 0.0f, pb, T);
                causal_softmax(p, T, t0, t1, T);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, t1, 1.0f, pb, T, vg,
                            KD, 0.0f, oh + (size_t)t0 * QD, QD);
            }
        }
}

void attention_backward(float *dq, float *dk, float *dv, float *datt, const float *dout,
                        const float *q, const float *k, const float *v, const float *att, int B,
                        int T, int H, int KV, int hd) {
    int QD = H * hd, KD = KV * hd, rep = H / KV;
    float scale = 1.0f / sqrtf((float)hd);
    int nblk = (T + ATT_ROWS - 1) / ATT_ROWS;
    blas_init();
    /* One task per (batch, kv head): the query heads sharing a kv head all add
     * into its dk/dv, so they run in a fixed order inside the task. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < KV; g++) {
            const float *kg = k + (size_t)b * T * KD + (size_t)g * hd;
            const float *vg = v + (size_t)b * T * KD + (size_t)g * hd;
            float *dkg = dk + (size_t)b * T * KD + (size_t)g * hd;
            float *dvg = dv + (size_t)b * T * KD + (size_t)g * hd;
            for (int h = g * rep; h < (g + 1) * rep; h++) {
                const float *p = att + ((size_t)b * H + h) * T * T;
                float *dp = datt + ((size_t)b * H + h) * T * T;
                const float *doh = dout + (size_t)b * T * QD + (size_t)h * hd;
                const float *qh = q + (size_t)b * T * QD + (size_t)h * hd;
                float *dqh = dq + (size_t)b * T * QD + (size_t)h * hd;
                /* The last row block reaches every key: it goes first and sets
                 * dKg and dVg on the first head; everything else adds. */
                for (int blk = nblk - 1; blk >= 0; blk--) {
                    int t0 = blk * ATT_ROWS, t1 = t0 + ATT_ROWS < T ? t0 + ATT_ROWS : T;
                    int nr = t1 - t0;
                    float first = h == g * rep && blk == nblk - 1 ? 0.0f : 1.0f;
                    const float *pb = p + (size_t)t0 * T;
                    float *dpb = dp + (size_t)t0 * T;
                    /* dP (rows, t1) = dOh Vg^T; dVg (t1, hd) += P^T dOh */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, t1, hd, 1.0f,
                                doh + (size_t)t0 * QD, QD, vg, KD, 0.0f, dpb, T);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t1, hd, nr, 1.0f, pb, T,
                                doh + (size_t)t0 * QD, QD, first, dvg, KD);
                    /* dS = scale * P (dP - rowsum(P dP)); masked entries have P = 0. */
                    for (int t = t0; t < t1; t++) {
                        const float *pr = p + (size_t)t * T;
                        float *dr = dp + (size_t)t * T, s = 0.0f;
#pragma omp simd reduction(+ : s)
                        for (int u = 0; u <= t; u++) s += pr[u] * dr[u];
                        for (int u = 0; u <= t; u++) dr[u] = scale * pr[u] * (dr[u] - s);
                        for (int u = t + 1; u < t1; u++) dr[u] = 0.0f;
                    }
                    /* dQh (rows, hd) = dS Kg; dKg (t1, hd) += dS^T Qh */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, t1, 1.0f, dpb, T,
                                kg, KD, 0.0f, dqh + (size_t)t0 * QD, QD);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t1, hd, nr, 1.0f, dpb, T,
                                qh + (size_t)t0 * QD, QD, first, dkg, KD);
                }
            }
        }
}

void swiglu_forward(float *out, const float *gate, const float *up, long n) {
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + ob_expf(-g)) * up[i];
    }
}

void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                     const float *up, long n) {
    /* silu(g) = g s(g); silu'(g) = s(g) (1 + g (1 - s(g))). */
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) {
        float g = gate[i], s = 1.0f / (1.0f + ob_expf(-g));
        dup[i] = dout[i] * g * s;
        dgate[i] = dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
    }
}

void crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets,
                          int N, int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) sum += ob_expf(z[i] - mx);
        lse[n] = mx + logf(sum);
        if (losses) losses[n] = (targets && targets[n] >= 0) ? lse[n] - z[targets[n]] : 0.0f;
    }
}

void crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                           const int32_t *targets, float scale, const float *row_scale, int N,
                           int V) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        int tgt = targets[n];
        if (tgt < 0) {
            memset(d, 0, sizeof(float) * V);
            continue;
        }
        float m = lse[n], s = row_scale ? scale * row_scale[n] : scale;
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] = s * ob_expf(z[i] - m);
        d[tgt] -= s;
    }
}

void topk_insert(int32_t *ids, float *p, int *n, int k, int32_t id, float pj) {
    if (*n == k && pj <= p[k - 1]) return;
    int at = *n < k ? (*n)++ : k - 1;
    while (at > 0 && p[at - 1] < pj) {
        p[at] = p[at - 1], ids[at] = ids[at - 1];
        at--;
    }
    p[at] = pj, ids[at] = id;
}

void softmax_topk(const float *z, int V, int32_t lower, float by, int k, int32_t *ids, float *p,
                  float *rest) {
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = fmaxf(mx, i == lower ? z[i] - by : z[i]);
    /* unnormalised weights ranked as they come, normalised at the end */
    double sum = 0, kept = 0;
    int n = 0;
    for (int i = 0; i < V; i++) {
        float e = ob_expf((i == lower ? z[i] - by : z[i]) - mx);
        sum += e;
        topk_insert(ids, p, &n, k, i, e);
    }
    for (int j = 0; j < n; j++) p[j] = (float)(p[j] / sum), kept += p[j];
    for (int j = n; j < k; j++) ids[j] = -1, p[j] = 0.0f;
    *rest = (float)fmax(0.0, 1.0 - kept);
}

/* Row n's log-sum-exp, and the probability P_rest of tokens not listed. */
static float soft_row(const float *z, const int32_t *ids, int k, int V, float *lse_out) {
    float mx = -INFINITY, sum = 0.0f;
#pragma omp simd reduction(max : mx)
    for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < V; i++) sum += ob_expf(z[i] - mx);
    float lse = mx + logf(sum);
    double listed = 0.0;
    for (int j = 0; j < k; j++)
        if (ids[j] >= 0) listed += exp((double)z[ids[j]] - lse);
    *lse_out = lse;
    double rest = 1.0 - listed;
    return (float)(rest > 1e-12 ? rest : 1e-12); /* the listed mass can round past 1 */
}

void crossentropy_soft_forward(float *losses, float *lse, float *prest, const float *logits,
                               const int32_t *targets, const SoftTargets *st, int N, int V) {
    int k = st->k;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        const int32_t *ids = st->ids + (size_t)n * k;
        const float *q = st->probs + (size_t)n * k;
        prest[n] = soft_row(z, ids, k, V, &lse[n]);
        if (targets[n] < 0) {
            losses[n] = 0.0f;
            continue;
        }
        double l = 0.0;
        for (int j = 0; j < k; j++)
            if (ids[j] >= 0) l += (double)q[j] * (lse[n] - z[ids[j]]);
        if (st->rest[n] > 0.0f) l -= (double)st->rest[n] * log(prest[n]);
        losses[n] = (float)l;
    }
}

void crossentropy_soft_backward(float *dlogits, const float *logits, const float *lse,
                                const float *prest, const int32_t *targets, const SoftTargets *st,
                                float scale, const float *row_scale, int N, int V) {
    int k = st->k;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        const int32_t *ids = st->ids + (size_t)n * k;
        const float *q = st->probs + (size_t)n * k;
        if (targets[n] < 0) {
            memset(d, 0, sizeof(float) * V);
            continue;
        }
        float s = row_scale ? scale * row_scale[n] : scale;
        float m = lse[n], other = s * (1.0f - st->rest[n] / prest[n]);
        float p_listed[SOFT_K_MAX]; /* saved first: d may overwrite z */
        for (int j = 0; j < k; j++) p_listed[j] = ids[j] >= 0 ? ob_expf(z[ids[j]] - m) : 0.0f;
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] = other * ob_expf(z[i] - m);
        for (int j = 0; j < k; j++)
            if (ids[j] >= 0) d[ids[j]] = s * (p_listed[j] - q[j]);
    }
}
