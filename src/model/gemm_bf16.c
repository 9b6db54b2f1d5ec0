#include "model/gemm_bf16.h"

#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/gemm_onednn.h"
#include "util/blas.h"
#include "util/progress.h"

/* Blocking (BLIS-style). A micro-tile is MR x NR of C, kept in 24 zmm
 * accumulators. For each block of KC values of k, A is packed into panels of
 * MR rows and B into panels of NR columns, both as bf16 pairs (k, k+1) next
 * to each other: the operand layout vdpbf16ps reads. Threads then share
 * tiles of 96 x 256 outputs (8 x 8 micro-tiles): a tile's A block (72 KiB)
 * and B block (192 KiB) stay in L2 while one B panel (24 KiB) sits in L1. */
#define MR 12
#define NR 32
#define KC 384 /* most k per block; blocks are even, so pairs never straddle them */
#define MC_PANELS 8
#define NC_PANELS 8

#define BF16_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))

int gemm_bf16_supported(void) {
    static _Atomic int cached = -1; /* the answer never changes; a race only recomputes it */
    if (cached < 0) {
        __builtin_cpu_init();
        const char *off = getenv("OBLIVIATE_NO_BF16"); /* tests the fallback on any CPU */
        cached = !(off && *off && strcmp(off, "0")) && __builtin_cpu_supports("avx512f") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bf16");
    }
    return cached;
}

/* What vcvtne2ps2bf16 computes: round to nearest even; denormal inputs
 * become zero (the instruction treats them so); NaN stays a quiet NaN.
 * Branch-free, so loops over it vectorise. */
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    r = (u & 0x7f800000u) ? r : (u >> 16) & 0x8000u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : r);
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

static inline uint32_t op_get(const Operand *o, long idx) {
    return o->f ? f32_to_bf16(o->f[idx]) : o->h[idx];
}

/* The 16 pairs (k, k+1) from k = 2 * p0 of one k-contiguous row starting at
 * element `row`, rem = values left in the block (odd k and past-the-end are 0). */
BF16_TARGET static inline __m512i load_pairs(const Operand *o, long row, int rem) {
    if (o->f) {
        const float *src = o->f + row;
        __mmask16 mlo = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
        __mmask16 mhi = rem >= 32 ? 0xffff : rem > 16 ? (__mmask16)((1u << (rem - 16)) - 1) : 0;
        return (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(mhi, src + 16),
                                            _mm512_maskz_loadu_ps(mlo, src));
    }
    __mmask32 m = rem >= 32 ? 0xffffffffu : (__mmask32)((1u << rem) - 1);
    return _mm512_maskz_loadu_epi16(m, o->h + row);
}

/* r[i] element j -> r[j] element i, for 16 x 16 32-bit values: pairs
 * interleaved within 128-bit lanes, then quads, then the lanes themselves. */
BF16_TARGET static inline void transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) { /* u[g + e]: rows g..g+3 of column 4 L + e, lane L */
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int e = 0; e < 4; e++) {
        __m512i v = _mm512_shuffle_i32x4(u[e], u[4 + e], 0x88);
        __m512i w = _mm512_shuffle_i32x4(u[e], u[4 + e], 0xdd);
        __m512i x = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0x88);
        __m512i y = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0xdd);
        r[e] = _mm512_shuffle_i32x4(v, x, 0x88);
        r[8 + e] = _mm512_shuffle_i32x4(v, x, 0xdd);
        r[4 + e] = _mm512_shuffle_i32x4(w, y, 0x88);
        r[12 + e] = _mm512_shuffle_i32x4(w, y, 0xdd);
    }
}

/* Packs rows x0 .. x0+w-1 and k0 .. k0+kc-1 of o into dst as (kc+1)/2 groups
 * of w pairs: dst[p * w + x] holds (x, k0 + 2p) in its low half and
 * (x, k0 + 2p + 1) in its high half. Rows past the end and the odd k are 0.
 * The two layouts obliviate passes (k contiguous, or x contiguous) convert
 * 16 values per instruction; any other stride goes element by element.
 * k-contiguous rows (the weights in out = x W^T) are loaded 16 rows at a
 * time and transposed in registers when w allows (B panels): storing pair by
 * pair cost the bf16 forward twice its arithmetic at 64 rows of a 7B layer. */
BF16_TARGET static void pack_panel(uint32_t *dst, int w, const Operand *o, int x0, int k0, int kc) {
    int kp = (kc + 1) / 2, nx = o->nx - x0 < w ? o->nx - x0 : w;
    if (o->sk == 1 && w % 16 == 0) {
        for (int xg = 0; xg < w; xg += 16)
            for (int p0 = 0; p0 < kp; p0 += 16) {
                int np = kp - p0 < 16 ? kp - p0 : 16;
                __m512i r[16];
                for (int x = 0; x < 16; x++)
                    r[x] = xg + x < nx ? load_pairs(o, (long)(x0 + xg + x) * o->sx + k0 + 2 * p0,
                                                    kc - 2 * p0)
                                       : _mm512_setzero_si512();
                transpose16(r);
                for (int i = 0; i < np; i++)
                    _mm512_storeu_si512(dst + (size_t)(p0 + i) * w + xg, r[i]);
            }
        return;
    }
    if (o->sk == 1) {
        for (int x = 0; x < w; x++) {
            if (x >= nx) {
                for (int p = 0; p < kp; p++) dst[(size_t)p * w + x] = 0;
                continue;
            }
            long row = (long)(x0 + x) * o->sx + k0;
            for (int p0 = 0; p0 < kp; p0 += 16) {
                int np = kp - p0 < 16 ? kp - p0 : 16;
                uint32_t pairs[16];
                _mm512_storeu_si512(pairs, load_pairs(o, row + 2 * p0, kc - 2 * p0));
                for (int i = 0; i < np; i++) dst[(size_t)(p0 + i) * w + x] = pairs[i];
            }
        }
        return;
    }
    if (o->sx == 1) {
        /* (lo 0..15, hi 0..15) -> (lo 0, hi 0, lo 1, hi 1, ...) */
        const __m512i inter =
            _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                             22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        for (int p = 0; p < kp; p++) {
            long r0 = (long)(k0 + 2 * p) * o->sk + x0;
            int has_hi = 2 * p + 1 < kc;
            for (int xc = 0; xc < w; xc += 16) {
                int rem = nx - xc;
                __mmask16 m = rem >= 16 ? 0xffff : rem > 0 ? (__mmask16)((1u << rem) - 1) : 0;
                __mmask16 mh = has_hi ? m : 0;
                __m512i v;
                if (o->f) {
                    __m512 lo = _mm512_maskz_loadu_ps(m, o->f + r0 + xc);
                    __m512 hi = _mm512_maskz_loadu_ps(mh, o->f + r0 + xc + (has_hi ? o->sk : 0));
                    v = _mm512_permutexvar_epi16(inter, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
                } else {
                    __m512i lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, o->h + r0 + xc));
                    __m512i hi = _mm512_cvtepu16_epi32(
                        _mm256_maskz_loadu_epi16(mh, o->h + r0 + xc + (has_hi ? o->sk : 0)));
                    v = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
                }
                __mmask16 ms = w - xc >= 16 ? 0xffff : (__mmask16)((1u << (w - xc)) - 1);
                _mm512_mask_storeu_epi32(dst + (size_t)p * w + xc, ms, v);
            }
        }
        return;
    }
    for (int x = 0; x < w; x++)
        for (int p = 0; p < kp; p++) {
            uint32_t pair = 0;
            if (x < nx) {
                long e = (long)(x0 + x) * o->sx + (long)(k0 + 2 * p) * o->sk;
                pair = op_get(o, e) | (2 * p + 1 < kc ? op_get(o, e + o->sk) << 16 : 0);
            }
            dst[(size_t)p * w + x] = pair;
        }
}

/* C tile (mr <= MR, nr <= NR) = beta * C + A panel @ B panel over kp pairs. */
BF16_TARGET static void kernel(int kp, const uint32_t *ap, const uint32_t *bp, float *c, long ldc,
                               int mr, int nr, float beta) {
    __m512 acc0[MR], acc1[MR];
    for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
    for (int p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + (size_t)p * NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + (size_t)p * NR + 16);
        const uint32_t *a = ap + (size_t)p * MR;
        for (int i = 0; i < MR; i++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i]);
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

/* The packing buffers, kept by each calling thread between calls and grown
 * when needed: allocating them afresh at every call cost page faults worth a
 * fifth of a small product's time. (M + N) * KC * 2 bytes for the largest
 * product seen (25 MB for a 32000-token vocabulary's output head). */
static _Thread_local struct {
    void *mem;
    size_t size;
} scratch;

/* oneDNN's rounded operands (to_bf16 below): slot 0 for A, 1 for B. */
static _Thread_local struct {
    uint16_t *p;
    size_t n;
} conv[2];

void gemm_bf16_release(void) {
    for (int i = 0; i < 2; i++) {
        free(conv[i].p);
        conv[i].p = NULL;
        conv[i].n = 0;
    }
    free(scratch.mem);
    scratch.mem = NULL;
    scratch.size = 0;
}

/* The blocked product; returns -1 (nothing written) if buffers fail. */
static int gemm_packed(int M, int N, int K, const Operand *A, const Operand *B, float beta,
                       float *c, long ldc) {
    int mp = (M + MR - 1) / MR, np = (N + NR - 1) / NR;
    size_t na = (size_t)mp * MR * KC / 2, nb = (size_t)np * NR * KC / 2;
    if (scratch.size < na + nb) {
        void *mem = aligned_alloc(64, sizeof(uint32_t) * (na + nb));
        if (!mem) return -1;
        free(scratch.mem);
        scratch.mem = mem;
        scratch.size = na + nb;
    }
    uint32_t *pa = scratch.mem, *pb = pa + na; /* na is a multiple of 16: pb stays aligned */
    int mt = (mp + MC_PANELS - 1) / MC_PANELS, nt = (np + NC_PANELS - 1) / NC_PANELS;
    /* K split into equal even blocks: no thin last block costing a pass over C */
    int nkb = (K + KC - 1) / KC, kb = ((K + nkb - 1) / nkb + 1) & ~1;
#pragma omp parallel
    for (int k0 = 0; k0 < K; k0 += kb) {
        int kc = K - k0 < kb ? K - k0 : kb, kp = (kc + 1) / 2;
        float bk = k0 ? 1.0f : beta;
#pragma omp for schedule(static)
        for (int ip = 0; ip < mp; ip++)
            pack_panel(pa + (size_t)ip * MR * kp, MR, A, ip * MR, k0, kc);
#pragma omp for schedule(static)
        for (int jp = 0; jp < np; jp++)
            pack_panel(pb + (size_t)jp * NR * kp, NR, B, jp * NR, k0, kc);
#pragma omp for collapse(2) schedule(static)
        for (int ti = 0; ti < mt; ti++)
            for (int tj = 0; tj < nt; tj++) {
                int ie = (ti + 1) * MC_PANELS < mp ? (ti + 1) * MC_PANELS : mp;
                int je = (tj + 1) * NC_PANELS < np ? (tj + 1) * NC_PANELS : np;
                for (int jp = tj * NC_PANELS; jp < je; jp++)
                    for (int ip = ti * MC_PANELS; ip < ie; ip++) {
                        int mr = M - ip * MR < MR ? M - ip * MR : MR;
                        int nr = N - jp * NR < NR ? N - jp * NR : NR;
                        kernel(kp, pa + (size_t)ip * MR * kp, pb + (size_t)jp * NR * kp,
                               c + (size_t)ip * MR * ldc + (size_t)jp * NR, ldc, mr, nr, bk);
                    }
            }
    }
    return 0;
}

/* The fp32 fallback for fp32 B: sgemm when each operand has a unit stride,
 * else a plain loop (no caller in obliviate needs it). */
static void gemm_f32(int M, int N, int K, const float *a, long rsa, long csa, const float *b,
                     long rsb, long csb, float beta, float *c, long ldc) {
    int ta = csa == 1 ? 0 : rsa == 1 ? 1 : -1, tb = csb == 1 ? 0 : rsb == 1 ? 1 : -1;
    blas_init();
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

BF16_TARGET static void round_row(uint16_t *dst, const float *src, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    for (; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

/* Operands for oneDNN, which takes bf16 in: an fp32 matrix (rows, cols)
 * with one unit stride rounded (nearest even, as the packing does) into a
 * dense copy of the same orientation, in a buffer the calling thread keeps
 * (conv, above). NULL if neither stride is 1 or memory runs out. */
static const uint16_t *to_bf16(int slot, const float *x, int rows, int cols, long rs, long cs,
                               long *nrs, long *ncs) {
    int outer, inner; /* lines of unit stride, and their length */
    long ld;
    if (cs == 1)
        outer = rows, inner = cols, ld = rs, *nrs = cols, *ncs = 1;
    else if (rs == 1)
        outer = cols, inner = rows, ld = cs, *nrs = 1, *ncs = rows;
    else
        return NULL;
    size_t need = (size_t)rows * cols;
    if (conv[slot].n < need) {
        uint16_t *p = aligned_alloc(64, (need * sizeof(uint16_t) + 63) & ~(size_t)63);
        if (!p) return NULL;
        free(conv[slot].p);
        conv[slot].p = p;
        conv[slot].n = need;
    }
    uint16_t *dst = conv[slot].p;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < outer; o++) round_row(dst + (size_t)o * inner, x + (size_t)o * ld, inner);
    return dst;
}

/* The backend choice: made once per process, on the first bf16 product. */
static GemmBf16Choice g_choice;
static pthread_once_t g_choice_once = PTHREAD_ONCE_INIT;
static int g_forced = -1; /* gemm_bf16_use, for tests */

const char *gemm_bf16_backend_name(GemmBf16Backend b) {
    return b == GEMM_BF16_ONEDNN ? "onednn" : b == GEMM_BF16_OWN ? "avx512_bf16" : "sgemm";
}

static int onednn_product(int M, int N, int K, const float *a, long rsa, long csa, const float *b,
                          long rsb, long csb, float beta, float *c, long ldc) {
    long ra, ca, rb, cb;
    const uint16_t *ah = to_bf16(0, a, M, K, rsa, csa, &ra, &ca);
    const uint16_t *bh = ah ? to_bf16(1, b, K, N, rsb, csb, &rb, &cb) : NULL;
    return bh ? gemm_onednn_bf16(M, N, K, ah, ra, ca, bh, rb, cb, beta, c, ldc) : -1;
}

/* GFLOP/s of one backend on a product the size of a small model's layer
 * (1024 rows, 768 outputs, 512 inputs; about 0.8 GFLOP): median of 3 after
 * a warm-up. -1 when it fails. */
static double time_backend(GemmBf16Backend be, const float *a, const float *b, float *c) {
    enum { M = 1024, N = 768, K = 512 };
    double t[3];
    for (int r = -1; r < 3; r++) {
        double t0 = ob_now();
        Operand A = {a, NULL, K, 1, M}, B = {b, NULL, K, 1, N}; /* c = a @ b^T */
        int rc = be == GEMM_BF16_ONEDNN ? onednn_product(M, N, K, a, K, 1, b, 1, K, 0.0f, c, N)
                                        : gemm_packed(M, N, K, &A, &B, 0.0f, c, N);
        if (rc) return -1.0;
        if (r >= 0) t[r] = ob_now() - t0;
    }
    double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
    double med = t[2] < lo ? lo : t[2] > hi ? hi : t[2];
    return 2.0 * M * N * K / med / 1e9;
}

/* oneDNN wins only by a clear margin (ONEDNN_MARGIN): the own kernel gives
 * the same bits at any thread count, so near-ties go to it, and a margin
 * this wide keeps the choice from flipping between runs on one machine (on
 * AMX the two differ 4-8x; without it oneDNN has no reason to win). */
#define ONEDNN_MARGIN 1.5

static void choose(void) {
    GemmBf16Choice *ch = &g_choice;
#ifdef _OPENMP
    ch->threads = omp_get_max_threads();
#else
    ch->threads = 1;
#endif
    if (!gemm_bf16_supported()) {
        ch->backend = GEMM_BF16_NONE;
        ch->reason = "this CPU lacks AVX512_BF16";
        return;
    }
    int dnnl = gemm_onednn_available(ch->onednn_impl, sizeof ch->onednn_impl);
    const char *env = getenv("OBLIVIATE_BF16_GEMM");
    if (env && (!strcmp(env, "avx512_bf16") || (!strcmp(env, "onednn") && dnnl))) {
        ch->backend = strcmp(env, "onednn") ? GEMM_BF16_OWN : GEMM_BF16_ONEDNN;
        ch->reason = "set by OBLIVIATE_BF16_GEMM";
        return;
    }
    ch->backend = GEMM_BF16_OWN;
    if (!dnnl) {
        ch->reason = env ? "oneDNN has no CPU engine here (OBLIVIATE_BF16_GEMM not followed)"
                         : "oneDNN has no CPU engine here";
        return;
    }
    enum { M = 1024, N = 768, K = 512 };
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * N * K);
    float *c = malloc(sizeof(float) * M * N);
    if (a && b && c) {
        for (int i = 0; i < M * K; i++) a[i] = (float)(i % 97 - 48) / 64.0f;
        for (int i = 0; i < N * K; i++) b[i] = (float)(i % 89 - 44) / 64.0f;
        ch->own_gflops = time_backend(GEMM_BF16_OWN, a, b, c);
        ch->onednn_gflops = time_backend(GEMM_BF16_ONEDNN, a, b, c);
    }
    free(a), free(b), free(c);
    int won = ch->onednn_gflops > ONEDNN_MARGIN * ch->own_gflops && ch->own_gflops > 0;
    ch->backend = won ? GEMM_BF16_ONEDNN : GEMM_BF16_OWN;
    /* a value of OBLIVIATE_BF16_GEMM that could not be followed is said too */
    if (env)
        ch->reason = won ? "measured: oneDNN at least 1.5x the own kernel (OBLIVIATE_BF16_GEMM "
                           "not followed: expected avx512_bf16, or onednn where it runs)"
                         : "measured: the own kernel within 1.5x of oneDNN (OBLIVIATE_BF16_GEMM "
                           "not followed: expected avx512_bf16, or onednn where it runs)";
    else
        ch->reason = won ? "measured: oneDNN at least 1.5x the own kernel"
                         : "measured: the own kernel within 1.5x of oneDNN (or oneDNN failed)";
}

const GemmBf16Choice *gemm_bf16_choice(void) {
    pthread_once(&g_choice_once, choose);
    return &g_choice;
}

int gemm_bf16_use(GemmBf16Backend b) {
    if (b == GEMM_BF16_OWN && !gemm_bf16_supported()) return -1;
    if (b == GEMM_BF16_ONEDNN && (!gemm_bf16_supported() || !gemm_onednn_available(NULL, 0)))
        return -1;
    g_forced = (int)b;
    return 0;
}

static GemmBf16Backend backend(void) {
    return g_forced >= 0 ? (GemmBf16Backend)g_forced : gemm_bf16_choice()->backend;
}

void gemm_bf16(int M, int N, int K, const float *a, long rsa, long csa, const float *b, long rsb,
               long csb, float beta, float *c, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) return scale_c(M, N, beta, c, ldc);
    GemmBf16Backend be = backend();
    if (be == GEMM_BF16_ONEDNN && !onednn_product(M, N, K, a, rsa, csa, b, rsb, csb, beta, c, ldc))
        return;
    Operand A = {a, NULL, rsa, csa, M}, B = {b, NULL, csb, rsb, N};
    if (be != GEMM_BF16_NONE && !gemm_packed(M, N, K, &A, &B, beta, c, ldc)) return;
    gemm_f32(M, N, K, a, rsa, csa, b, rsb, csb, beta, c, ldc);
}

void gemm_bf16_wb(int M, int N, int K, const float *a, long rsa, long csa, const uint16_t *b,
                  long rsb, long csb, float beta, float *c, long ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) return scale_c(M, N, beta, c, ldc);
    GemmBf16Backend be = backend();
    if (be == GEMM_BF16_ONEDNN) {
        long ra, ca;
        const uint16_t *ah = to_bf16(0, a, M, K, rsa, csa, &ra, &ca);
        if (ah && !gemm_onednn_bf16(M, N, K, ah, ra, ca, b, rsb, csb, beta, c, ldc)) return;
    }
    Operand A = {a, NULL, rsa, csa, M}, B = {NULL, b, csb, rsb, N};
    if (be != GEMM_BF16_NONE && !gemm_packed(M, N, K, &A, &B, beta, c, ldc)) return;
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

void matmul_backward_bf16(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, int N, int C, int OC, float beta) {
    int done_dinp = !dinp, done_dw = !dw;
    if (backend() == GEMM_BF16_ONEDNN && N > 0 && C > 0 && OC > 0) {
        /* dout rounded once for both products: at a 32000-token head it is
         * the largest operand of the step (N x 32000). dW = dout^T inp reads
         * the same copy transposed. */
        long rd, cd, rw, cw, ri, ci;
        const uint16_t *dh = to_bf16(0, dout, N, OC, OC, 1, &rd, &cd), *wh, *ih;
        if (dh && dinp && (wh = to_bf16(1, w, OC, C, C, 1, &rw, &cw)))
            done_dinp = !gemm_onednn_bf16(N, C, OC, dh, rd, cd, wh, rw, cw, beta, dinp, C);
        if (dh && dw && (ih = to_bf16(1, inp, N, C, C, 1, &ri, &ci)))
            done_dw = !gemm_onednn_bf16(OC, C, N, dh, cd, rd, ih, ri, ci, 1.0f, dw, C);
    }
    if (!done_dinp) gemm_bf16(N, C, OC, dout, OC, 1, w, C, 1, beta, dinp, C);
    if (!done_dw) gemm_bf16(OC, C, N, dout, 1, OC, inp, C, 1, 1.0f, dw, C);
}

void matmul_forward_wb(float *out, const float *inp, const uint16_t *w, int N, int C, int OC,
                       float beta) {
    gemm_bf16_wb(N, OC, C, inp, C, 1, w, 1, C, beta, out, OC);
}

void matmul_backward_wb(float *dinp, const float *dout, const uint16_t *w, int N, int C, int OC,
                        float beta) {
    gemm_bf16_wb(N, C, OC, dout, OC, 1, w, C, 1, beta, dinp, C);
}
