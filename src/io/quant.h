/* ggml's block-quantised tensor types: read (dequantised) to fp32, and
 * written (quantised) from it.
 *
 * Each type stores a row as blocks of a fixed number of values in a fixed
 * number of bytes, little-endian, fp16 scales:
 *   Q8_0  32 values in  34 bytes: d, 32 int8 q; value = d * q
 *   Q4_0  32 values in  18 bytes: d, 16 bytes of nibbles (element j in the low
 *         nibble of byte j, element j + 16 in its high one); value = d * (q - 8)
 *   Q5_0  32 values in  22 bytes: d, 4 bytes qh (bit j: element j's fifth
 *         bit), Q4_0's nibbles; value = d * (q - 16)
 *   Q5_1  32 values in  24 bytes: d, m, qh, nibbles; value = d * q + m
 *   Q4_K 256 values in 144 bytes: d, dmin, 12 bytes of 6-bit scales and mins
 *         of 8 sub-blocks of 32, 128 bytes of nibbles;
 *         value = d * scale * q - dmin * min
 *   Q5_K 256 values in 176 bytes: as Q4_K plus 32 bytes of fifth bits
 *   Q6_K 256 values in 210 bytes: 128 bytes of low nibbles, 64 of high bit
 *         pairs, 16 int8 scales of sub-blocks of 16, d last;
 *         value = d * scale * (q - 32)
 * quant.c documents where each bit of a block lives. */
#ifndef OB_QUANT_H
#define OB_QUANT_H

#include <stdbool.h>
#include <stdint.h>

/* Values and bytes per block of a block-quantised type; 0 for any other. */
uint64_t quant_block(uint32_t type, uint64_t *block_bytes);
static inline bool quant_is_block_type(uint32_t type) {
    uint64_t bytes;
    return quant_block(type, &bytes) != 0;
}

/* Dequantise n values (a multiple of the type's block size) from their
 * blocks; -1 (and nothing written) for a type that is not block-quantised.
 * No value is rejected: a non-finite scale gives non-finite values, which
 * the model loaders refuse. */
int quant_dequantize(uint32_t type, const void *blocks, float *out, uint64_t n);

/* Quantise n values (a multiple of the type's block size) into blocks, each
 * block's scales fitted to its values (quant.c says how); -1 for a type that
 * is not block-quantised. Deterministic: the same values give the same bytes. */
int quant_quantize(uint32_t type, const float *x, void *blocks, uint64_t n);

#endif
