/* Matrix products with bf16 inputs and fp32 accumulation (AVX512_BF16).
 *
 * Operands are fp32 (or, for B, already bf16) and are rounded to bf16 (round
 * to nearest even) while they are packed into panels; the products are summed
 * in fp32 by vdpbf16ps, two k at a time. The result is fp32. Threads split the
 * output into fixed tiles with a static schedule and every element is summed
 * in the same k order whatever the thread count, so results are reproducible
 * bit for bit.
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
