#include "model/gemm_bf16.h"

#include <cblas.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/* Blocking (BLIS-style). A micro-tile is MR x NR of C, kept in 24 zmm
 * accumulators. For each block of KC values of k, A is packed into panels of
 * MR rows and B into panels of NR columns, both as bf16 pairs (k, k+1) next
 * to each other: the operand layout vdpbf16ps reads. Threads then share
 * tiles of MC x NC outputs (8 x 8 micro-tiles): an A block of 48 KiB and a B
 * block of 128 KiB stay in L2 while a B panel (16 KiB) sits in L1. */
#define MR 12
#define NR 32
#define KC 256 /* even: pairs never straddle blocks */
#define MC_PANELS 8
#define NC_PANELS 8

#define BF16_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))

int gemm_bf16_supported(void) {
    static int cached = -1; /* the answer never changes; a race only recomputes it */
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
    }
    return cached;
}

/* Round to nearest even, as vcvtne2ps2bf16 does for normal numbers. */
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void bf16_from_f32(uint16_t *dst, const float *src, long n) {
    for (long i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

/* One operand seen as a matrix X (nx, K): element (x, k) is at x * sx + k * sk
 * of f (fp32) or of h (bf16), whichever is set. */
typedef struct {
    const float *f;
    const uint16_t *h;
    long sx, sk;
    int nx;
} Operand;

static inline uint16_t op_get(const Operand *o, long idx) {
    return o->f ? f32_to_bf16(o->f[idx]) : o->h[idx];
}

/* Packs rows x0 .. x0+w-1 and k0 .. k0+kc-1 of o into dst as (kc+1)/2 groups
 * of w pairs: dst[p][x][k & 1]. Rows past the end and the odd k are zero. */
static void pack_panel(uint16_t *dst, int w, const Operand *o, int x0, int k0, int kc) {
    int kp = (kc + 1) / 2, nx = o->nx - x0 < w ? o->nx - x0 : w;
    if (nx < w || (kc & 1)) memset(dst, 0, sizeof(uint16_t) * 2 * w * kp);
    if (o->sk <= o->sx) { /* k is the closer stride: walk along k */
        for (int x = 0; x < nx; x++) {
            long base = (long)(x0 + x) * o->sx + (long)k0 * o->sk;
            for (int k = 0; k < kc; k++)
                dst[(size_t)(k >> 1) * 2 * w + 2 * x + (k & 1)] = op_get(o, base + k * o->sk);
        }
    } else {
        for (int k = 0; k < kc; k++) {
            long base = (long)(k0 + k) * o->sk + (long)x0 * o->sx;
            uint16_t *d = dst + (size_t)(k >> 1) * 2 * w + (k & 1);
            for (int x = 0; x < nx; x++) d[2 * x] = op_get(o, base + x * o->sx);
        }
    }
}

/* C tile (mr <= MR, nr <= NR) = beta * C + A panel @ B panel over kp pairs. */
BF16_TARGET static void kernel(int kp, const uint16_t *ap, const uint16_t *bp, float *c, long ldc,
                               int mr, int nr, float beta) {
    __m512 acc0[MR], acc1[MR];
    for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
    for (int p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + (size_t)p * 2 * NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + (size_t)p * 2 * NR + NR);
        const uint16_t *a = ap + (size_t)p * 2 * MR;
        for (int i = 0; i < MR; i++) {
            int32_t pair;
            memcpy(&pair, a + 2 * i, sizeof pair);
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
            acc0[i] = _mm512_dpbf16_ps(acc0[i], av, b0);
            acc1[i] = _mm512_dpbf16_ps(acc1[i], av, b1);
        }
    }
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    __m512 bv = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        float *row = c + (size_t)i * ldc;
        __m512 r0 = acc0[i], r1 = acc1[i];
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m0, row), r0);
            r1 = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m1, row + 16), r1);
        }
        _mm512_mask_storeu_ps(row, m0, r0);
        _mm512_mask_storeu_ps(row + 16, m1, r1);
    }
}

/* The blocked product; returns -1 (nothing written) if buffers fail. */
static int gemm_packed(int M, int N, int K, const Operand *A, const Operand *B, float beta,
                       float *c, long ldc) {
    int mp = (M + MR - 1) / MR, np = (N + NR - 1) / NR;
    uint16_t *pa = aligned_alloc(64, sizeof(uint16_t) * (size_t)mp * MR * KC);
    uint16_t *pb = aligned_alloc(64, sizeof(uint16_t) * (size_t)np * NR * KC);
    if (!pa || !pb) return free(pa), free(pb), -1;
    int mt = (mp + MC_PANELS - 1) / MC_PANELS, nt = (np + NC_PANELS - 1) / NC_PANELS;
#pragma omp parallel
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC, kp = (kc + 1) / 2;
        float bk = k0 ? 1.0f : beta;
#pragma omp for schedule(static)
        for (int ip = 0; ip < mp; ip++)
            pack_panel(pa + (size_t)ip * MR * 2 * kp, MR, A, ip * MR, k0, kc);
#pragma omp for schedule(static)
        for (int jp = 0; jp < np; jp++)
            pack_panel(pb + (size_t)jp * NR * 2 * kp, NR, B, jp * NR, k0, kc);
#pragma omp for collapse(2) schedule(static)
        for (int ti = 0; ti < mt; ti++)
            for (int tj = 0; tj < nt; tj++) {
                int ie = (ti + 1) * MC_PANELS < mp ? (ti + 1) * MC_PANELS : mp;
                int je = (tj + 1) * NC_PANELS < np ? (tj + 1) * NC_PANELS : np;
                for (int jp = tj * NC_PANELS; jp < je; jp++)
                    for (int ip = ti * MC_PANELS; ip < ie; ip++) {
                        int mr = M - ip * MR < MR ? M - ip * MR : MR;
                        int nr = N - jp * NR < NR ? N - jp * NR : NR;
                        kernel(kp, pa + (size_t)ip * MR * 2 * kp, pb + (size_t)jp * NR * 2 * kp,
                               c + (size_t)ip * MR * ldc + (size_t)jp * NR, ldc, mr, nr, bk);
                    }
            }
    }
    free(pa), free(pb);
    return 0;
}

/* The fp32 fallback for fp32 B: sgemm when each operand has a unit stride,
 * else a plain loop (no caller in obliviate needs it). */
static void gemm_f32(int M, int N, int K, const float *a, long rsa, long csa, const float *b,
                     long rsb, long csb, float beta, float *c, long ldc) {
    int ta = csa == 1 ? 0 : rsa == 1 ? 1 : -1, tb = csb == 1 ? 0 : rsb == 1 ? 1 : -1;
    if (ta >= 0 && tb >= 0) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, 1.0f, a, (int)(ta ? csa : rsa), b, (int)(tb ? csb : rsb), beta, c,
                    (int)ldc);
        return;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += a[i * rsa + k * csa] * b[k * rsb + j * csb];
            c[i * ldc + j] = s + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0f);
        }
}

/* beta * C when there is nothing to sum (K = 0). */
static void scale_c(int M, int N, float beta, float *c, long ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) c[i * ldc + j] = beta != 0.0f ? beta * c[i * ldc + j] : 0.0f;
}

void gemm_bf16(int M, int N, int K, const float *a, long rsa, long csa, const float *b, long rsb,
               long csb, float beta, float *c, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) return scale_c(M, N, beta, c, ldc);
    Operand A = {a, NULL, rsa, csa, M}, B = {b, NULL, csb, rsb, N};
    if (gemm_bf16_supported() && !gemm_packed(M, N, K, &A, &B, beta, c, ldc)) return;
    gemm_f32(M, N, K, a, rsa, csa, b, rsb, csb, beta, c, ldc);
}

void gemm_bf16_wb(int M, int N, int K, const float *a, long rsa, long csa, const uint16_t *b,
                  long rsb, long csb, float beta, float *c, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) return scale_c(M, N, beta, c, ldc);
    Operand A = {a, NULL, rsa, csa, M}, B = {NULL, b, csb, rsb, N};
    if (gemm_bf16_supported() && !gemm_packed(M, N, K, &A, &B, beta, c, ldc)) return;
    /* No bf16 kernel: widen B to a dense fp32 copy (K, N) and use sgemm. If
     * even that allocation fails, widen one element at a time. */
    float *bf = malloc(sizeof(float) * (size_t)K * N);
    if (bf) {
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++) bf[(size_t)k * N + j] = bf16_to_f32(b[k * rsb + j * csb]);
        gemm_f32(M, N, K, a, rsa, csa, bf, N, 1, beta, c, ldc);
        free(bf);
        return;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s += a[i * rsa + k * csa] * bf16_to_f32(b[k * rsb + j * csb]);
            c[i * ldc + j] = s + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0f);
        }
}

void matmul_forward_wb(float *out, const float *inp, const uint16_t *w, int N, int C, int OC,
                       float beta) {
    gemm_bf16_wb(N, OC, C, inp, C, 1, w, 1, C, beta, out, OC);
}

void matmul_backward_wb(float *dinp, const float *dout, const uint16_t *w, int N, int C, int OC,
                        float beta) {
    gemm_bf16_wb(N, C, OC, dout, OC, 1, w, C, 1, beta, dinp, C);
}
