/* Dequantisers of ggml's block types (see quant.h). Scalar and branch-light:
 * they run once per tensor at load, not in the matmuls. */
#include "io/quant.h"

#include "io/gguf.h"

#define QK_SMALL 32  /* values per Q4_0 / Q8_0 block */
#define QK_SUPER 256 /* values per K-quant super-block */

static float half_at(const uint8_t *p) {
    return ob_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8));
}

uint64_t quant_block(uint32_t type, uint64_t *block_bytes) {
    switch (type) {
    case GGML_TYPE_Q8_0: *block_bytes = 34; return QK_SMALL;
    case GGML_TYPE_Q4_0: *block_bytes = 18; return QK_SMALL;
    case GGML_TYPE_Q4_K: *block_bytes = 144; return QK_SUPER;
    case GGML_TYPE_Q5_K: *block_bytes = 176; return QK_SUPER;
    case GGML_TYPE_Q6_K: *block_bytes = 210; return QK_SUPER;
    default: *block_bytes = 0; return 0;
    }
}

void quant_dequant_q8_0(const uint8_t *p, float *out, uint64_t n) {
    for (uint64_t b = 0; b < n / QK_SMALL; b++, p += 34, out += QK_SMALL) {
        float d = half_at(p);
        for (int j = 0; j < QK_SMALL; j++) out[j] = d * (float)(int8_t)p[2 + j];
    }
}

void quant_dequant_q4_0(const uint8_t *p, float *out, uint64_t n) {
    for (uint64_t b = 0; b < n / QK_SMALL; b++, p += 18, out += QK_SMALL) {
        float d = half_at(p);
        const uint8_t *q = p + 2;
        for (int j = 0; j < 16; j++) {
            out[j] = d * (float)((q[j] & 15) - 8);
            out[j + 16] = d * (float)((q[j] >> 4) - 8);
        }
    }
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block
 * from its 12 packed bytes s. Sub-blocks 0-3 keep theirs in the low 6 bits of
 * s[j] (scale) and s[j + 4] (min); sub-blocks 4-7 keep their low 4 bits in
 * the nibbles of s[j + 4] (scale low, min high) and their top 2 bits in the
 * otherwise unused top bits of s[j - 4] (scale) and s[j] (min). */
static void k_scale_min(const uint8_t *s, int j, float *scale, float *min) {
    int sc, mn;
    if (j < 4) {
        sc = s[j] & 63;
        mn = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
        mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
    *scale = (float)sc, *min = (float)mn;
}

/* Q4_K and Q5_K share all but the fifth bit: qh is NULL for Q4_K. The
 * nibbles come in 4 runs of 32 bytes; run r holds sub-block 2r in its low
 * nibbles and 2r + 1 in its high ones. Q5_K's fifth bit of element l of
 * sub-block j is bit j of qh[l]. */
static void dequant_k(const uint8_t *p, const uint8_t *qh, const uint8_t *qs, float *out) {
    float d = half_at(p), dmin = half_at(p + 2);
    for (int j = 0; j < 8; j++) {
        float sc, mn;
        k_scale_min(p + 4, j, &sc, &mn);
        float scale = d * sc, min = dmin * mn;
        const uint8_t *run = qs + 32 * (j / 2);
        int shift = 4 * (j & 1);
        for (int l = 0; l < 32; l++) {
            int q = (run[l] >> shift) & 15;
            if (qh) q |= ((qh[l] >> j) & 1) << 4;
            out[32 * j + l] = scale * (float)q - min;
        }
    }
}

void quant_dequant_q4_k(const uint8_t *p, float *out, uint64_t n) {
    for (uint64_t b = 0; b < n / QK_SUPER; b++, p += 144, out += QK_SUPER)
        dequant_k(p, NULL, p + 16, out);
}

void quant_dequant_q5_k(const uint8_t *p, float *out, uint64_t n) {
    for (uint64_t b = 0; b < n / QK_SUPER; b++, p += 176, out += QK_SUPER)
        dequant_k(p, p + 16, p + 48, out);
}

/* Q6_K: each half of 128 values uses 64 bytes of ql and 32 of qh. Within a
 * half, quarter g (32 values, element l) takes its low 4 bits from
 * ql[l + 32 * (g & 1)] (low nibble for g < 2, high for g >= 2) and its top 2
 * bits from bits 2g, 2g + 1 of qh[l]. Element e's scale is scales[e / 16]. */
void quant_dequant_q6_k(const uint8_t *p, float *out, uint64_t n) {
    for (uint64_t b = 0; b < n / QK_SUPER; b++, p += 210, out += QK_SUPER) {
        const uint8_t *ql = p, *qh = p + 128;
        const int8_t *scales = (const int8_t *)(p + 192);
        float d = half_at(p + 208);
        for (int e = 0; e < QK_SUPER; e++) {
            int h = e / 128, g = (e % 128) / 32, l = e % 32;
            int lo = (ql[64 * h + l + 32 * (g & 1)] >> (g < 2 ? 0 : 4)) & 15;
            int hi = (qh[32 * h + l] >> (2 * g)) & 3;
            out[e] = d * (float)scales[e / 16] * (float)((lo | hi << 4) - 32);
        }
    }
}

int quant_dequantize(uint32_t type, const void *blocks, float *out, uint64_t n) {
    const uint8_t *p = blocks;
    switch (type) {
    case GGML_TYPE_Q8_0: quant_dequant_q8_0(p, out, n); return 0;
    case GGML_TYPE_Q4_0: quant_dequant_q4_0(p, out, n); return 0;
    case GGML_TYPE_Q4_K: quant_dequant_q4_k(p, out, n); return 0;
    case GGML_TYPE_Q5_K: quant_dequant_q5_k(p, out, n); return 0;
    case GGML_TYPE_Q6_K: quant_dequant_q6_k(p, out, n); return 0;
    default: return -1;
    }
}
