/* Matrix products with bf16 inputs and fp32 accumulation (AVX512_BF16).
 *
 * Operands are fp32 (or, for B, already bf16) and are rounded to bf16 (round
 * to nearest even) while they are packed into panels; the products are summed
 * in fp32 by vdpbf16ps, two k at a time. The result is fp32. Threads split the
 * output into fixed tiles with a static schedule and every element is summed
 * in the same k order whatever the thread count, so results are reproducible
 * bit for bit.
 *
 * That is the own kernel (backend "avx512_bf16"). The other backend is
 * oneDNN's matmul (model/gemm_onednn.h), which runs on AMX tiles where the CPU
 * has them; it takes bf16 operands, so fp32 ones are rounded (the same
 * rounding) into a copy first. Which one runs is decided once per process by
 * timing both on one product (gemm_bf16_choice), or set with the environment
 * variable OBLIVIATE_BF16_GEMM=avx512_bf16|onednn.
 *
 * Without AVX512_BF16 (checked at run time), every entry point computes the
 * same product in fp32 with BLAS sgemm instead: slower than bf16 would be on a
 * machine that has it, never wrong. */
#ifndef OB_GEMM_BF16_H
#define OB_GEMM_BF16_H

#include <stdint.h>

/* 1 if this CPU runs the bf16 kernels (AVX512F, BW, VL and BF16) and the
 * environment does not set OBLIVIATE_NO_BF16 (to anything but "0"), which
 * makes any machine take the fp32 fallback, for testing it. */
int gemm_bf16_supported(void);

typedef enum { GEMM_BF16_NONE, GEMM_BF16_OWN, GEMM_BF16_ONEDNN } GemmBf16Backend;

typedef struct {
    GemmBf16Backend backend; /* NONE: no AVX512_BF16, products run in fp32 */
    double own_gflops;       /* what the choice measured (0 when it did not time them) */
    double onednn_gflops;
    char onednn_impl[64]; /* oneDNN's implementation ("brg:avx512_core_amx_bf16"), or "" */
    const char *reason;   /* one phrase: why this backend */
    int threads;          /* the thread count it was measured with */
} GemmBf16Choice;

/* The backend of this process: chosen on the first call (thread-safe) by
 * timing the own kernel and oneDNN on a 1024 x 768 x 512 product with the
 * current thread count; oneDNN only when it is at least 1.5x faster. */
const GemmBf16Choice *gemm_bf16_choice(void);
const char *gemm_bf16_backend_name(GemmBf16Backend b); /* "avx512_bf16", "onednn", "sgemm" */

/* Makes every later product use backend b (tests compare the backends);
 * -1 if this machine cannot run it. Not to be called while products run. */
int gemm_bf16_use(GemmBf16Backend b);

/* Frees the packing buffers the calling thread keeps between calls (they
 * grow to the largest product seen; see gemm_bf16.c). */
void gemm_bf16_release(void);

/* C (M, N) = beta * C + A (M, K) @ B (K, N), with A and B rounded to bf16.
 * Element (i, k) of A is a[i * rsa + k * csa] and element (k, j) of B is
 * b[k * rsb + j * csb], so transposed operands are a change of strides:
 *   out = inp @ W^T : A = inp (rsa = C, csa = 1), B = W^T (rsb = 1, csb = C)
 *   dinp = dout @ W : A = dout (rsa = OC, csa = 1), B = W (rsb = C, csb = 1)
 *   dW += dout^T inp: A = dout^T (rsa = 1, csa = OC), B = inp (rsb = C, csb = 1)
 * C is row-major with leading dimension ldc. beta = 0 ignores C's old contents
 * (NaNs included). */
void gemm_bf16(int M, int N, int K, const float *a, long rsa, long csa, const float *b, long rsb,
               long csb, float beta, float *c, long ldc);

/* The same with B already in bf16 (the bit pattern of each value's upper 16
 * bits, as bf16_from_f32 writes them): weights kept in bf16 once instead of
 * rounded at every call. */
void gemm_bf16_wb(int M, int N, int K, const float *a, long rsa, long csa, const uint16_t *b,
                  long rsb, long csb, float beta, float *c, long ldc);

/* A linear layer's backward pass in bf16: dinp (N, C) = dout (N, OC) @ w +
 * beta * dinp and dw (OC, C) += dout^T @ inp (either may be NULL), with dout
 * rounded once for both products. */
void matmul_backward_bf16(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, int N, int C, int OC, float beta);

/* The two products a layer needs with bf16 weights w (OC, C), row-major:
 * out (N, OC) = inp (N, C) @ w^T + beta * out, and
 * dinp (N, C) = dout (N, OC) @ w + beta * dinp. */
void matmul_forward_wb(float *out, const float *inp, const uint16_t *w, int N, int C, int OC,
                       float beta);
void matmul_backward_wb(float *dinp, const float *dout, const uint16_t *w, int N, int C, int OC,
                        float beta);

/* dst (n) = src rounded to bf16, nearest even (NaN stays NaN); and back. */
void bf16_from_f32(uint16_t *dst, const float *src, long n);
static inline float bf16_to_f32(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

#endif
