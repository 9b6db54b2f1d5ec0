/* bf16 matrix products through oneDNN's matmul primitive (Debian's
 * libdnnl-dev), which runs them on AMX tiles where the CPU has them
 * ("brg:avx512_core_amx_bf16"): 4-8x obliviate's own AVX512_BF16 kernel on
 * Intel Sapphire/Emerald Rapids, where vdpbf16ps issues at half the fp32 FMA
 * rate. model/gemm_bf16.c decides, by measuring, whether to use it.
 *
 * Results are reproducible for a given machine and thread count (oneDNN's
 * blocking depends on both), not across thread counts as the own kernel's. */
#ifndef OB_GEMM_ONEDNN_H
#define OB_GEMM_ONEDNN_H

#include <stddef.h>
#include <stdint.h>

/* 1 if oneDNN has a CPU engine here; impl (may be NULL) gets the name of the
 * implementation it picks for a bf16 matmul ("brg:avx512_core_amx_bf16"),
 * or "" when it has none. Thread-safe; the engine lives for the process. */
int gemm_onednn_available(char *impl, size_t n);

/* C (M, N) = beta * C + A (M, K) @ B (K, N) with bf16 inputs and fp32
 * accumulation and output. Strides as in gemm_bf16 (model/gemm_bf16.h): A(i,
 * k) = a[i * rsa + k * csa], B(k, j) = b[k * rsb + j * csb], each operand
 * with one unit stride; C row-major with leading dimension ldc. Returns 0,
 * or -1 with C untouched when oneDNN refuses the shape (the caller then
 * computes it another way). Primitives are kept per shape, so a training
 * loop creates each one once. */
int gemm_onednn_bf16(int M, int N, int K, const uint16_t *a, long rsa, long csa, const uint16_t *b,
                     long rsb, long csb, float beta, float *c, long ldc);

#endif
