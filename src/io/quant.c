/* ggml's block types (see quant.h): dequantisers, scalar and branch-light
 * (they run once per tensor at load, not in the matmuls), and quantisers. */
#include "io/quant.h"

#include <math.h>
#include <string.h>

#include "io/gguf.h"

#define QK_SMALL 32  /* values per Q4_0 / Q8_0 block */
#define QK_SUPER 256 /* values per K-quant super-block */

static float half_at(const uint8_t *p) {
    return ob_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8));
}

/* Each dequantiser and quantiser below handles one block; the table at the
 * end gives each type's pair and quant_dequantize / quant_quantize run them
 * over the blocks. */

static void dequant_q8_0(const uint8_t *p, float *out) {
    float d = half_at(p);
    for (int j = 0; j < QK_SMALL; j++) out[j] = d * (float)(int8_t)p[2 + j];
}

static void dequant_q4_0(const uint8_t *p, float *out) {
    float d = half_at(p);
    const uint8_t *q = p + 2;
    for (int j = 0; j < 16; j++) {
        out[j] = d * (float)((q[j] & 15) - 8);
        out[j + 16] = d * (float)((q[j] >> 4) - 8);
    }
}

/* Q5_0 and Q5_1: Q4_0's nibbles plus a fifth bit per element, bit j of the
 * little-endian 32-bit qh for element j. Q5_1 adds an fp16 min m after d and
 * has no offset: value = d * q + m. */
static uint32_t le32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dequant_q5(const uint8_t *qh4, const uint8_t *q, int off, float d, float m,
                       float *out) {
    uint32_t qh = le32_at(qh4);
    for (int j = 0; j < 16; j++) {
        int lo = (q[j] & 15) | ((qh >> j) & 1) << 4, hi = (q[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
        out[j] = d * (float)(lo - off) + m;
        out[j + 16] = d * (float)(hi - off) + m;
    }
}

static void dequant_q5_0(const uint8_t *p, float *out) {
    dequant_q5(p + 2, p + 6, 16, half_at(p), 0.0f, out);
}

static void dequant_q5_1(const uint8_t *p, float *out) {
    dequant_q5(p + 4, p + 8, 0, half_at(p), half_at(p + 2), out);
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

static void dequant_q4_k(const uint8_t *p, float *out) {
    dequant_k(p, NULL, p + 16, out);
}

static void dequant_q5_k(const uint8_t *p, float *out) {
    dequant_k(p, p + 16, p + 48, out);
}

/* Q6_K: each half of 128 values uses 64 bytes of ql and 32 of qh. Within a
 * half, quarter g (32 values, element l) takes its low 4 bits from
 * ql[l + 32 * (g & 1)] (low nibble for g < 2, high for g >= 2) and its top 2
 * bits from bits 2g, 2g + 1 of qh[l]. Element e's scale is scales[e / 16]. */
static void dequant_q6_k(const uint8_t *p, float *out) {
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

/* ---- Quantisers: fp32 -> blocks ----
 *
 * Each block's scales are chosen from its own values, then rounded to the
 * stored precision (fp16, or 6-bit / 8-bit sub-block scales of an fp16 one),
 * and the integers are computed against the rounded scales, so that what is
 * stored is the best the stored scales allow for each element. Where the
 * format has a min (Q5_1, Q4_K, Q5_K), the pair (scale, min) of each group
 * is refined by least squares over a few candidate scales. A NaN maps to the
 * lowest level (the model writers refuse non-finite weights before this). */

static uint16_t half(float x) {
    return ob_fp32_to_fp16(x);
}

/* round(v) clamped to [lo, hi]; NaN -> lo (fmaxf returns the number) */
static int level(float v, int lo, int hi) {
    return (int)fminf(fmaxf(roundf(v), (float)lo), (float)hi);
}

static void put_half(uint8_t *p, float x) {
    uint16_t h = half(x);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

/* A scale as the fp16 of at least its magnitude: rounded down, the block's
 * extreme value would fall past the top level and be clamped (by up to a few
 * steps where the scale is an fp16 subnormal). */
static void put_scale(uint8_t *p, float x) {
    uint16_t h = half(x);
    if (fabsf(ob_fp16_to_fp32(h)) < fabsf(x) && (h & 0x7fff) < 0x7bff) h++;
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

/* The element of largest magnitude, with its sign. */
static float signed_max(const float *x, int n) {
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > fabsf(m)) m = x[i];
    return m;
}

static void quantize_q8_0(const float *x, uint8_t *p) {
    put_scale(p, fabsf(signed_max(x, QK_SMALL)) / 127.0f);
    float dr = half_at(p), id = dr ? 1.0f / dr : 0.0f;
    for (int j = 0; j < QK_SMALL; j++) p[2 + j] = (uint8_t)(int8_t)level(x[j] * id, -128, 127);
}

/* Q4_0 and Q5_0: the element of largest magnitude lands on the lowest level
 * (-8 or -16), which the asymmetric range has one more of. */
static void quant_sym(const float *x, uint8_t *d_at, uint8_t *qh4, uint8_t *q, int bits) {
    int off = 1 << (bits - 1), top = (1 << bits) - 1;
    put_scale(d_at, signed_max(x, QK_SMALL) / (float)-off);
    float dr = half_at(d_at), id = dr ? 1.0f / dr : 0.0f;
    uint32_t qh = 0;
    memset(q, 0, 16);
    for (int j = 0; j < QK_SMALL; j++) {
        int v = level(x[j] * id + (float)off, 0, top);
        q[j & 15] |= (uint8_t)((v & 15) << (j < 16 ? 0 : 4));
        qh |= (uint32_t)(v >> 4) << j;
    }
    if (qh4)
        for (int k = 0; k < 4; k++) qh4[k] = (uint8_t)(qh >> (8 * k));
}

static void quantize_q4_0(const float *x, uint8_t *p) {
    quant_sym(x, p, NULL, p + 2, 4);
}

static void quantize_q5_0(const float *x, uint8_t *p) {
    quant_sym(x, p, p + 2, p + 6, 5);
}

/* The (scale s, min m >= 0) for x ~ s * q - m, q in 0..top, with the least
 * squared error among a few candidates: the range's own scale shrunk or
 * stretched by up to 20%, each refitted by least squares given its levels. */
static float fit_scale_min(const float *x, int n, int top, float *min_out) {
    float lo = 0.0f, hi = 0.0f;
    for (int i = 0; i < n; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
    float best_s = (hi - lo) / (float)top, best_m = -lo, best_e = INFINITY;
    if (!(best_s > 0.0f)) return *min_out = best_m, 0.0f;
    for (int k = -4; k <= 4; k++) {
        float s = (hi - lo) / ((float)top + 0.5f * (float)k), m = -lo;
        double sq = 0, sqq = 0, sx = 0, sqx = 0;
        for (int i = 0; i < n; i++) {
            int q = level((x[i] + m) / s, 0, top);
            sq += q, sqq += (double)q * q, sx += x[i], sqx += (double)q * x[i];
        }
        double det = n * sqq - sq * sq; /* x ~ s q - m: solve for (s, -m) */
        if (det > 0) {
            double fs = (n * sqx - sq * sx) / det, fm = -(sx * sqq - sq * sqx) / det;
            if (fm < 0) fm = 0, fs = sqq > 0 ? sqx / sqq : 0; /* the min stays >= 0 */
            if (fs > 0) s = (float)fs, m = (float)fm;
        }
        float e = 0.0f;
        for (int i = 0; i < n; i++) {
            float r = s * (float)level((x[i] + m) / s, 0, top) - m - x[i];
            e += r * r;
        }
        if (e < best_e) best_e = e, best_s = s, best_m = m;
    }
    *min_out = best_m;
    return best_s;
}

static void quantize_q5_1(const float *x, uint8_t *p) {
    float m, s = fit_scale_min(x, QK_SMALL, 31, &m);
    put_scale(p, s), put_half(p + 2, -m);
    float dr = half_at(p), mr = half_at(p + 2), id = dr ? 1.0f / dr : 0.0f;
    uint32_t qh = 0;
    uint8_t *q = p + 8;
    memset(q, 0, 16);
    for (int j = 0; j < QK_SMALL; j++) {
        int v = level((x[j] - mr) * id, 0, 31);
        q[j & 15] |= (uint8_t)((v & 15) << (j < 16 ? 0 : 4));
        qh |= (uint32_t)(v >> 4) << j;
    }
    for (int k = 0; k < 4; k++) p[4 + k] = (uint8_t)(qh >> (8 * k));
}

/* Q4_K / Q5_K: each sub-block's (scale, min) fitted, then both expressed as
 * 6-bit multiples of the super-block's d and dmin, packed as k_scale_min
 * reads them. qh is NULL for Q4_K. */
static void quant_k(const float *x, uint8_t *p, uint8_t *qh, uint8_t *qs, int top) {
    float sc[8], mn[8], max_sc = 0.0f, max_mn = 0.0f;
    for (int j = 0; j < 8; j++) {
        sc[j] = fit_scale_min(x + 32 * j, 32, top, &mn[j]);
        max_sc = fmaxf(max_sc, sc[j]), max_mn = fmaxf(max_mn, mn[j]);
    }
    put_scale(p, max_sc / 63.0f), put_scale(p + 2, max_mn / 63.0f);
    float d = half_at(p), dmin = half_at(p + 2);
    uint8_t *s = p + 4;
    memset(s, 0, 12);
    memset(qs, 0, 128);
    if (qh) memset(qh, 0, 32);
    for (int j = 0; j < 8; j++) {
        int isc = level(d ? sc[j] / d : 0.0f, 0, 63),
            imn = level(dmin ? mn[j] / dmin : 0.0f, 0, 63);
        if (j < 4) {
            s[j] |= (uint8_t)isc, s[j + 4] |= (uint8_t)imn;
        } else {
            s[j + 4] = (uint8_t)((isc & 15) | (imn & 15) << 4);
            s[j - 4] |= (uint8_t)((isc >> 4) << 6), s[j] |= (uint8_t)((imn >> 4) << 6);
        }
        float scale = d * (float)isc, min = dmin * (float)imn, id = scale ? 1.0f / scale : 0.0f;
        uint8_t *run = qs + 32 * (j / 2);
        int shift = 4 * (j & 1);
        for (int l = 0; l < 32; l++) {
            int v = level((x[32 * j + l] + min) * id, 0, top);
            run[l] |= (uint8_t)((v & 15) << shift);
            if (qh) qh[l] |= (uint8_t)((v >> 4) << j);
        }
    }
}

static void quantize_q4_k(const float *x, uint8_t *p) {
    quant_k(x, p, NULL, p + 16, 15);
}

static void quantize_q5_k(const float *x, uint8_t *p) {
    quant_k(x, p, p + 16, p + 48, 31);
}

/* Q6_K: each sub-block of 16 takes a signed scale that puts its element of
 * largest magnitude on level -32; the scales become int8 multiples of d. */
static void quantize_q6_k(const float *x, uint8_t *p) {
    float sc[16], max_abs = 0.0f;
    for (int j = 0; j < 16; j++) {
        sc[j] = signed_max(x + 16 * j, 16) / -32.0f;
        max_abs = fmaxf(max_abs, fabsf(sc[j]));
    }
    put_scale(p + 208, max_abs / 127.0f);
    float d = half_at(p + 208);
    uint8_t *ql = p, *qh = p + 128;
    int8_t *scales = (int8_t *)(p + 192);
    memset(p, 0, 192);
    for (int j = 0; j < 16; j++) scales[j] = (int8_t)level(d ? sc[j] / d : 0.0f, -128, 127);
    for (int e = 0; e < QK_SUPER; e++) {
        float scale = d * (float)scales[e / 16], id = scale ? 1.0f / scale : 0.0f;
        int v = level(x[e] * id + 32.0f, 0, 63);
        int h = e / 128, g = (e % 128) / 32, l = e % 32;
        ql[64 * h + l + 32 * (g & 1)] |= (uint8_t)((v & 15) << (g < 2 ? 0 : 4));
        qh[32 * h + l] |= (uint8_t)((v >> 4) << (2 * g));
    }
}

/* ---- The types ---- */

static const struct {
    uint32_t type;
    uint64_t per, bytes;                       /* values and bytes per block */
    void (*dequant)(const uint8_t *, float *); /* one block each */
    void (*quant)(const float *, uint8_t *);
} TYPES[] = {
    {GGML_TYPE_Q8_0, QK_SMALL, 34, dequant_q8_0, quantize_q8_0},
    {GGML_TYPE_Q4_0, QK_SMALL, 18, dequant_q4_0, quantize_q4_0},
    {GGML_TYPE_Q5_0, QK_SMALL, 22, dequant_q5_0, quantize_q5_0},
    {GGML_TYPE_Q5_1, QK_SMALL, 24, dequant_q5_1, quantize_q5_1},
    {GGML_TYPE_Q4_K, QK_SUPER, 144, dequant_q4_k, quantize_q4_k},
    {GGML_TYPE_Q5_K, QK_SUPER, 176, dequant_q5_k, quantize_q5_k},
    {GGML_TYPE_Q6_K, QK_SUPER, 210, dequant_q6_k, quantize_q6_k},
};

static int find(uint32_t type) {
    for (int i = 0; i < (int)(sizeof TYPES / sizeof TYPES[0]); i++)
        if (TYPES[i].type == type) return i;
    return -1;
}

uint64_t quant_block(uint32_t type, uint64_t *block_bytes) {
    int i = find(type);
    *block_bytes = i < 0 ? 0 : TYPES[i].bytes;
    return i < 0 ? 0 : TYPES[i].per;
}

/* Blocks are independent: a large tensor is split over the threads in runs
 * of RUN blocks (a 7B model's matrices quantise about twice as fast on 2
 * cores). One loop serves both directions: quantise says whether in holds
 * fp32 values and out blocks, or the other way round. */
#define RUN 1024

static int each_block(uint32_t type, const void *in, void *out, uint64_t n, bool quantise) {
    int i = find(type);
    if (i < 0) return -1;
    int64_t per = (int64_t)TYPES[i].per, bytes = (int64_t)TYPES[i].bytes;
    int64_t runs = ((int64_t)n / per + RUN - 1) / RUN;
#pragma omp parallel for schedule(static) if (runs > 1)
    for (int64_t r = 0; r < runs; r++) {
        int64_t b0 = r * RUN, nb = (int64_t)n / per - b0 < RUN ? (int64_t)n / per - b0 : RUN;
        for (int64_t b = b0; b < b0 + nb; b++)
            if (quantise)
                TYPES[i].quant((const float *)in + b * per, (uint8_t *)out + b * bytes);
            else
                TYPES[i].dequant((const uint8_t *)in + b * bytes, (float *)out + b * per);
    }
    return 0;
}

int quant_dequantize(uint32_t type, const void *blocks, float *out, uint64_t n) {
    return each_block(type, blocks, out, n, false);
}

int quant_quantize(uint32_t type, const float *x, void *blocks, uint64_t n) {
    return each_block(type, x, blocks, n, true);
}
