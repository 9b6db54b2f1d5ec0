/* Block-quantised GGUF tensors (io/quant.c, model/quantize.c): Q4_0, Q5_0,
 * Q5_1, Q4_K, Q5_K, Q6_K and Q8_0, read and written.
 *
 * - Hand-built blocks whose values were worked out by hand from the format
 *   decode to exactly those values.
 * - A quantiser written here, separately from the library, for each type
 *   (fp32 -> blocks, the simplest scheme the format allows): dequantising what
 *   it wrote stays within the bound it states for every element.
 * - stories260K widened to a function-preserving copy whose rows are 256 wide
 *   (so every matrix can hold 256-value super-blocks), quantised to each type:
 *   it loads, its perplexity stays close to the fp32 model's, llama.cpp
 *   (node-llama-cpp, where present) reading the same file gets the same mean
 *   log-probability, and it generates and LoRA-trains as a frozen base.
 * - The library's quantisers: dequantising what they wrote is at least as
 *   close as the quantiser above (and within one step for the symmetric
 *   types); model_quantize picks llama.cpp's type per tensor for each scheme,
 *   keeps every key, and writes files that llama.cpp reads as we do.
 * - A truncated quantised tensor and a row not a multiple of the block size
 *   give one-line errors naming the file and tensor; quantize refuses an
 *   unknown scheme and a non-finite weight, leaving no file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "eval/perplexity.h"
#include "helpers.h"
#include "io/gguf.h"
#include "io/quant.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "model/quantize.h"
#include "text/tokenizer_gguf.h"
#include "tmpdir.h"
#include "train/textrun.h"

static const char *MODEL = "tests/fixtures/stories260K/stories260K.gguf";
static const char *STORY = "Tom had a little dog named Max. Max liked to run in the park with Tom. "
                           "One day, they found a big red ball under a tree. Tom was happy.";
static int have_llamacpp;

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

/* ---- Hand-built blocks ---- */

static void test_q4_0_known(void) {
    uint8_t b[18];
    put16(b, ob_fp32_to_fp16(0.5f));
    for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(j | (15 - j) << 4);
    float out[32];
    quant_dequantize(GGML_TYPE_Q4_0, b, out, 32);
    int bad = 0;
    for (int j = 0; j < 16; j++) {
        bad += out[j] != (float)(j - 8) * 0.5f;      /* low nibbles: elements 0..15 */
        bad += out[16 + j] != (float)(7 - j) * 0.5f; /* high nibbles: 16..31 */
    }
    CHECK(!bad && out[0] == -4.0f && out[15] == 3.5f && out[16] == 3.5f, "%d wrong", bad);
}

/* Sub-block scales {1, 2, 3, 4, 17, 33, 49, 63} and mins {5, 6, 7, 8, 18, 34,
 * 50, 62}, packed by hand: bytes 0-3 scale | top bits of scale j+4 << 6,
 * bytes 4-7 min | top bits of min j+4 << 6, bytes 8-11 low bits of scale j+4
 * | low bits of min j+4 << 4. */
static const uint8_t K_SCALES[12] = {0x41, 0x82, 0xC3, 0xC4, 0x45, 0x86,
                                     0xC7, 0xC8, 0x21, 0x21, 0x21, 0xEF};
static const int K_SC[8] = {1, 2, 3, 4, 17, 33, 49, 63}, K_MN[8] = {5, 6, 7, 8, 18, 34, 50, 62};

/* d = 1, dmin = 0.5; nibble byte l of run r: low l % 16, high 15 - l % 16;
 * Q5_K's qh[l] = l (so the fifth bit of element l of sub-block j is bit j of l). */
static void test_k_known(void) {
    uint8_t b4[144] = {0}, b5[176] = {0};
    put16(b4, ob_fp32_to_fp16(1.0f)), put16(b4 + 2, ob_fp32_to_fp16(0.5f));
    memcpy(b4 + 4, K_SCALES, 12);
    memcpy(b5, b4, 16);
    for (int k = 0; k < 128; k++) {
        uint8_t v = (uint8_t)((k % 16) | (15 - k % 16) << 4);
        b4[16 + k] = v, b5[48 + k] = v;
    }
    for (int l = 0; l < 32; l++) b5[16 + l] = (uint8_t)l;
    float o4[256], o5[256];
    quant_dequantize(GGML_TYPE_Q4_K, b4, o4, 256);
    quant_dequantize(GGML_TYPE_Q5_K, b5, o5, 256);
    int bad4 = 0, bad5 = 0;
    for (int j = 0; j < 8; j++)
        for (int l = 0; l < 32; l++) {
            int q = j % 2 ? 15 - l % 16 : l % 16, q5 = q + 16 * ((l >> j) & 1);
            bad4 += o4[32 * j + l] != (float)K_SC[j] * q - 0.5f * K_MN[j];
            bad5 += o5[32 * j + l] != (float)K_SC[j] * q5 - 0.5f * K_MN[j];
        }
    /* two worked by hand: sub-block 5, l = 3: q = 12, 33 * 12 - 17 = 379;
     * Q5_K adds 16 (bit 5 of 3 is 0: no), sub-block 1, l = 2: q = 13 + 16 */
    CHECK(!bad4 && o4[32 * 5 + 3] == 379.0f, "Q4_K: %d wrong, [163] = %g", bad4, o4[163]);
    CHECK(!bad5 && o5[32 * 1 + 2] == 2.0f * 29 - 3.0f, "Q5_K: %d wrong, [34] = %g", bad5, o5[34]);
}

/* ql[k] = k, every qh byte 0xE4 (bit pairs 0, 1, 2, 3), scales[i] = i - 8,
 * d = 0.25; the values below were worked out by hand. */
static void test_q6_k_known(void) {
    uint8_t b[210];
    for (int k = 0; k < 128; k++) b[k] = (uint8_t)k;
    memset(b + 128, 0xE4, 64);
    for (int i = 0; i < 16; i++) b[192 + i] = (uint8_t)(int8_t)(i - 8);
    put16(b + 208, ob_fp32_to_fp16(0.25f));
    float o[256];
    quant_dequantize(GGML_TYPE_Q6_K, b, o, 256);
    static const struct {
        int e;
        float v;
    } want[] = {{0, 64.0f}, {33, 22.5f}, {90, -0.75f}, {127, -4.75f}, {168, -4.0f}, {255, 40.25f}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(o[want[i].e] == want[i].v, "element %d is %g, want %g", want[i].e, o[want[i].e],
              want[i].v);
}

/* Q5_0: d = 0.5, qh = 0xA5A5A5A5 (bit j set where j % 8 is 0, 2, 5, 7), the
 * nibble byte j = j | (15 - j) << 4; Q5_1 the same with d = 2, m = -3. */
static void test_q5_known(void) {
    uint8_t b0[22], b1[24];
    put16(b0, ob_fp32_to_fp16(0.5f));
    put16(b1, ob_fp32_to_fp16(2.0f)), put16(b1 + 2, ob_fp32_to_fp16(-3.0f));
    for (int k = 0; k < 4; k++) b0[2 + k] = b1[4 + k] = 0xA5;
    for (int j = 0; j < 16; j++) b0[6 + j] = b1[8 + j] = (uint8_t)(j | (15 - j) << 4);
    float o0[32], o1[32];
    quant_dequantize(GGML_TYPE_Q5_0, b0, o0, 32);
    quant_dequantize(GGML_TYPE_Q5_1, b1, o1, 32);
    int bad = 0;
    for (int e = 0; e < 32; e++) {
        int q = (e < 16 ? e : 31 - e) + 16 * (0xA5 >> (e % 8) & 1);
        bad += o0[e] != 0.5f * (float)(q - 16), bad += o1[e] != 2.0f * (float)q - 3.0f;
    }
    /* by hand: element 0: nibble 0, bit 1 -> q 16: Q5_0 0, Q5_1 29; element 17:
     * high nibble of byte 1 = 14, bit 17 % 8 = 1 of 0xA5 is 0 -> q 14: -1, 25 */
    CHECK(!bad && o0[0] == 0.0f && o1[0] == 29.0f && o0[17] == -1.0f && o1[17] == 25.0f,
          "%d wrong; [0] %g %g, [17] %g %g", bad, o0[0], o1[0], o0[17], o1[17]);
}

/* ---- A quantiser written here ---- */

/* The fp16 nearest x rounded up, so a scale never shrinks below what it must
 * cover (x >= 0). */
static uint16_t half_up(float x) {
    uint16_t h = ob_fp32_to_fp16(x);
    return ob_fp16_to_fp32(h) < x ? (uint16_t)(h + 1) : h;
}

static float cover(float need, float unit) { /* smallest k * unit >= need, k <= 63 */
    return unit > 0 ? fminf(ceilf(need / unit), 63.0f) : 0.0f;
}

/* Q4_0, symmetric: d = max|x| / 7, q = round(x / d) + 8; |error| <= d / 2. */
static void ref_q4_0(const float *x, uint8_t *out, float *bound, int n) {
    for (int b = 0; b < n / 32; b++, x += 32, out += 18, bound += 32) {
        float a = 0;
        for (int j = 0; j < 32; j++) a = fmaxf(a, fabsf(x[j]));
        uint16_t h = half_up(a / 7);
        float d = ob_fp16_to_fp32(h);
        put16(out, h);
        memset(out + 2, 0, 16);
        for (int j = 0; j < 32; j++) {
            int q = d > 0 ? (int)lrintf(x[j] / d) + 8 : 8;
            q = q < 0 ? 0 : q > 15 ? 15 : q;
            out[2 + j % 16] |= (uint8_t)(q << (j < 16 ? 0 : 4));
            bound[j] = d / 2;
        }
    }
}

/* Q4_K (bits 4) and Q5_K (bits 5): a sub-block of 32 spans [lo, hi] with
 * lo = min(0, min x); its scale S = d * sc >= (hi - lo) / levels and its min
 * M = dmin * mn >= -lo are rounded up on the 6-bit grids, q = round((x + M) / S).
 * |error| <= max(S / 2, M + lo): the second is the top clamped by the min's
 * rounding. */
static void ref_k(const float *x, uint8_t *out, float *bound, int n, int bits) {
    int levels = (1 << bits) - 1, size = bits == 4 ? 144 : 176;
    for (int b = 0; b < n / 256; b++, x += 256, out += size, bound += 256) {
        float s[8], m[8], smax = 0, mmax = 0;
        for (int j = 0; j < 8; j++) {
            float lo = 0, hi = -INFINITY;
            for (int l = 0; l < 32; l++)
                lo = fminf(lo, x[32 * j + l]), hi = fmaxf(hi, x[32 * j + l]);
            s[j] = fmaxf(hi - lo, 0) / (float)levels, m[j] = -lo;
            smax = fmaxf(smax, s[j]), mmax = fmaxf(mmax, m[j]);
        }
        memset(out, 0, (size_t)size);
        uint16_t hd = half_up(smax / 63), hm = half_up(mmax / 63);
        float d = ob_fp16_to_fp32(hd), dmin = ob_fp16_to_fp32(hm);
        put16(out, hd), put16(out + 2, hm);
        uint8_t *sc6 = out + 4, *qh = bits == 5 ? out + 16 : NULL, *qs = out + size - 128;
        for (int j = 0; j < 8; j++) {
            int sc = (int)cover(s[j], d), mn = (int)cover(m[j], dmin);
            if (j < 4) {
                sc6[j] |= (uint8_t)sc, sc6[j + 4] |= (uint8_t)mn;
            } else {
                sc6[j + 4] = (uint8_t)((sc & 15) | (mn & 15) << 4);
                sc6[j - 4] |= (uint8_t)((sc >> 4) << 6), sc6[j] |= (uint8_t)((mn >> 4) << 6);
            }
            float S = d * (float)sc, M = dmin * (float)mn;
            for (int l = 0; l < 32; l++) {
                int q = S > 0 ? (int)lrintf((x[32 * j + l] + M) / S) : 0;
                q = q < 0 ? 0 : q > levels ? levels : q;
                qs[32 * (j / 2) + l] |= (uint8_t)((q & 15) << 4 * (j % 2));
                if (qh) qh[l] |= (uint8_t)((q >> 4) << j);
                bound[32 * j + l] = fmaxf(S / 2, M - m[j]);
            }
        }
    }
}

/* Q6_K: sub-blocks of 16, symmetric: S = d * sc >= max|x| / 31 (sc an int8),
 * q = round(x / S) + 32; |error| <= S / 2. Element e of half h, quarter g,
 * position l: low 4 bits in ql[64h + l + 32(g & 1)] (low nibble for g < 2),
 * top 2 in bits 2g of qh[32h + l]. */
static void ref_q6_k(const float *x, uint8_t *out, float *bound, int n) {
    for (int b = 0; b < n / 256; b++, x += 256, out += 210, bound += 256) {
        float s[16], smax = 0;
        for (int i = 0; i < 16; i++) {
            float a = 0;
            for (int l = 0; l < 16; l++) a = fmaxf(a, fabsf(x[16 * i + l]));
            s[i] = a / 31, smax = fmaxf(smax, s[i]);
        }
        memset(out, 0, 210);
        uint16_t hd = half_up(smax / 127);
        float d = ob_fp16_to_fp32(hd);
        put16(out + 208, hd);
        for (int i = 0; i < 16; i++) {
            int sc = d > 0 ? (int)fminf(ceilf(s[i] / d), 127.0f) : 0;
            out[192 + i] = (uint8_t)(int8_t)sc;
            float S = d * (float)sc;
            for (int l = 0; l < 16; l++) {
                int e = 16 * i + l, h = e / 128, g = e % 128 / 32, k = e % 32;
                int q = S > 0 ? (int)lrintf(x[e] / S) + 32 : 32;
                q = q < 0 ? 0 : q > 63 ? 63 : q;
                out[64 * h + k + 32 * (g & 1)] |= (uint8_t)((q & 15) << (g < 2 ? 0 : 4));
                out[128 + 32 * h + k] |= (uint8_t)((q >> 4) << 2 * g);
                bound[e] = S / 2;
            }
        }
    }
}

static const struct {
    uint32_t type;
    const char *name;
    int block;
    size_t bytes;
} TYPES[4] = {{GGML_TYPE_Q4_0, "Q4_0", 32, 18},
              {GGML_TYPE_Q4_K, "Q4_K", 256, 144},
              {GGML_TYPE_Q5_K, "Q5_K", 256, 176},
              {GGML_TYPE_Q6_K, "Q6_K", 256, 210}};

static void quantise(uint32_t type, const float *x, uint8_t *out, float *bound, int n) {
    if (type == GGML_TYPE_Q4_0) ref_q4_0(x, out, bound, n);
    if (type == GGML_TYPE_Q4_K) ref_k(x, out, bound, n, 4);
    if (type == GGML_TYPE_Q5_K) ref_k(x, out, bound, n, 5);
    if (type == GGML_TYPE_Q6_K) ref_q6_k(x, out, bound, n);
}

/* Gaussian rows at scales from 1e-4 to 1e2, an outlier, all-positive and
 * all-negative and constant and zero blocks. */
static void test_round_trip(void) {
    enum { N = 256 * 64 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    float *bound = malloc(sizeof(float) * N);
    uint8_t *q = malloc(N);
    ObRng rng;
    ob_rng_seed(&rng, 19);
    for (int i = 0; i < N; i++) {
        int blk = i / 256;
        float scale = powf(10.0f, (float)(blk % 7) - 4);
        x[i] = scale * ob_rng_normal(&rng);
        if (blk == 7) x[i] = fabsf(x[i]) + 3;     /* all positive */
        if (blk == 8) x[i] = -fabsf(x[i]) - 0.5f; /* all negative */
        if (blk == 9) x[i] = 0.75f;               /* constant */
        if (blk == 10) x[i] = 0;                  /* zero */
    }
    x[11 * 256 + 5] = 40; /* one outlier */
    for (int t = 0; t < 4; t++) {
        quantise(TYPES[t].type, x, q, bound, N);
        CHECK(!quant_dequantize(TYPES[t].type, q, y, N), "%s", TYPES[t].name);
        int bad = 0;
        double err2 = 0, x2 = 0, worst_rel = 0;
        for (int i = 0; i < N; i++) {
            double e = fabs((double)y[i] - x[i]);
            /* the bound plus float rounding of scale * q - min */
            bad += e > bound[i] * (1 + 1e-5) + 1e-6 * fabs(x[i]) + 1e-30;
            err2 += e * e, x2 += (double)x[i] * x[i];
            if (i / 256 < 7) { /* Gaussian blocks: the error in units of the block's max |x| */
                float a = 0;
                for (int j = i / 256 * 256; j < i / 256 * 256 + 256; j++) a = fmaxf(a, fabsf(x[j]));
                worst_rel = fmax(worst_rel, e / a);
            }
            if (i / 256 == 10) bad += y[i] != 0; /* zeros stay exact */
        }
        fprintf(stderr, "  %s: worst error %.4f of the block's max |x|, rms error %.4f of rms x\n",
                TYPES[t].name, worst_rel, sqrt(err2 / x2));
        CHECK(!bad, "%s: %d values outside their bound", TYPES[t].name, bad);
    }
    free(x), free(y), free(bound), free(q);
}

/* The same data through the library's quantisers: for the four types above,
 * the rms error at most 2% over the simple quantiser's (the library fits its
 * scales, so it is usually lower); for Q8_0, Q5_0 and Q5_1, within one step
 * (the block's d) of every value; bytes the same on a second run. */
static void test_library_quantisers(void) {
    enum { N = 256 * 64 };
    static const uint32_t LIB[7] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
                                    GGML_TYPE_Q8_0, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1};
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    float *bound = malloc(sizeof(float) * N);
    uint8_t *q = malloc(N + 4096), *q2 = malloc(N + 4096);
    ObRng rng;
    ob_rng_seed(&rng, 23);
    for (int i = 0; i < N; i++) {
        x[i] = powf(10.0f, (float)(i / 256 % 7) - 4) * ob_rng_normal(&rng);
        if (i / 256 == 7) x[i] = fabsf(x[i]) + 3;
        if (i / 256 == 8) x[i] = 0;
    }
    x[9 * 256 + 5] = 40;
    for (int t = 0; t < 7; t++) {
        uint64_t bb, per = quant_block(LIB[t], &bb);
        CHECK(!quant_quantize(LIB[t], x, q, N) && !quant_quantize(LIB[t], x, q2, N) &&
                  !memcmp(q, q2, N / per * bb),
              "%s: not deterministic", ggml_type_name(LIB[t]));
        quant_dequantize(LIB[t], q, y, N);
        double e_lib = 0, e_ref = 0, x2 = 0;
        int bad = 0;
        for (int i = 0; i < N; i++) {
            double e = (double)y[i] - x[i];
            e_lib += e * e, x2 += (double)x[i] * x[i];
            if (i / 256 == 8) bad += y[i] != 0; /* zeros stay exact */
            if (t >= 4) {                       /* one step: |error| <= d of the block */
                const uint8_t *blk = q + (uint64_t)i / per * bb;
                float d = fabsf(ob_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8)));
                bad += fabs(e) > d * (1 + 1e-5) + 1e-6 * fabs(x[i]) + 1e-30;
            }
        }
        if (t < 4) {
            quantise(TYPES[t].type, x, q2, bound, N);
            quant_dequantize(LIB[t], q2, y, N);
            for (int i = 0; i < N; i++) e_ref += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        }
        fprintf(stderr, "  library %s: rms error %.5f of rms x", ggml_type_name(LIB[t]),
                sqrt(e_lib / x2));
        if (t < 4) fprintf(stderr, " (the simple quantiser's %.5f)", sqrt(e_ref / x2));
        fputc('\n', stderr);
        CHECK(!bad, "%s: %d values off", ggml_type_name(LIB[t]), bad);
        CHECK(t >= 4 || e_lib <= e_ref * 1.02 * 1.02, "%s: rms error %g, the simple one's %g",
              ggml_type_name(LIB[t]), sqrt(e_lib / x2), sqrt(e_ref / x2));
    }
    free(x), free(y), free(bound), free(q), free(q2);
}

/* llama.cpp's per-tensor choices, on the names of a 32-layer model. */
static void test_scheme_rules(void) {
    static const struct {
        const char *scheme, *name;
        uint64_t width;
        uint32_t n_dims;
        int has_output;
        uint32_t want;
    } cases[] = {
        {"q4_k_m", "blk.5.attn_q.weight", 4096, 2, 1, GGML_TYPE_Q4_K},
        {"q4_k_m", "blk.0.attn_v.weight", 4096, 2, 1, GGML_TYPE_Q6_K},     /* first eighth */
        {"q4_k_m", "blk.4.attn_v.weight", 4096, 2, 1, GGML_TYPE_Q4_K},     /* (4 - 4) % 3 = 0 */
        {"q4_k_m", "blk.6.ffn_down.weight", 11008, 2, 1, GGML_TYPE_Q6_K},  /* (6 - 4) % 3 = 2 */
        {"q4_k_m", "blk.28.ffn_down.weight", 11008, 2, 1, GGML_TYPE_Q6_K}, /* last eighth */
        {"q4_k_m", "blk.27.ffn_down.weight", 11008, 2, 1, GGML_TYPE_Q6_K}, /* (27 - 4) % 3 */
        {"q4_k_m", "blk.26.ffn_down.weight", 11008, 2, 1, GGML_TYPE_Q4_K},
        {"q4_k_m", "blk.6.ffn_up.weight", 4096, 2, 1, GGML_TYPE_Q4_K},
        {"q4_k_m", "output.weight", 4096, 2, 1, GGML_TYPE_Q6_K},
        {"q4_k_m", "token_embd.weight", 4096, 2, 1, GGML_TYPE_Q4_K},
        {"q4_k_m", "token_embd.weight", 4096, 2, 0, GGML_TYPE_Q6_K}, /* tied: the output */
        {"q4_k_m", "blk.1.attn_norm.weight", 4096, 1, 1, GGML_TYPE_F32},
        {"q4_k_m", "blk.5.attn_q.weight", 192, 2, 1, GGML_TYPE_Q5_0}, /* 192 % 256: fallback */
        {"q5_k_m", "blk.5.attn_q.weight", 192, 2, 1, GGML_TYPE_Q5_1},
        {"q4_k_m", "token_embd.weight", 192, 2, 0, GGML_TYPE_Q8_0},
        {"q4_k_m", "blk.5.attn_q.weight", 48, 2, 1, GGML_TYPE_F32}, /* 48 % 32: kept */
        {"q5_k_m", "blk.0.attn_v.weight", 4096, 2, 1, GGML_TYPE_Q6_K},
        {"q4_0", "blk.0.attn_v.weight", 4096, 2, 1, GGML_TYPE_Q4_0},
        {"q4_0", "output.weight", 4096, 2, 1, GGML_TYPE_Q6_K},
        {"q8_0", "output.weight", 4096, 2, 1, GGML_TYPE_Q8_0},
        {"q6_k", "blk.3.ffn_gate.weight", 4096, 2, 1, GGML_TYPE_Q6_K},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t t = quant_tensor_type(cases[i].scheme, cases[i].name, cases[i].width,
                                       cases[i].n_dims, GGML_TYPE_F32, 32, cases[i].has_output);
        CHECK(t == cases[i].want, "%s %s (%llu wide): %s, want %s", cases[i].scheme, cases[i].name,
              (unsigned long long)cases[i].width, ggml_type_name(t), ggml_type_name(cases[i].want));
    }
}

/* ---- stories260K, widened and quantised ---- */

/* Widths: the residual stream 64 -> 256, attention 8 heads -> 32 (kv 4 ->
 * 16) of the same 8 values, the FFN 172 -> 256; the old coordinates are
 * spread over every sub-block of the new rows (so every part of a block's
 * layout carries real weights), the new ones are zero, so they stay zero in
 * the residual and new heads add nothing. RMSNorm then averages over 4x the
 * coordinates: with epsilon divided by 4 its output doubles, so the norm
 * scales are halved. Kinds of axis: */
enum { AX_RESID, AX_Q, AX_KV, AX_FFN, AX_VOCAB };

/* Where old index i of an axis goes (1 or 2 places: a kv head serves the
 * q heads 2k and 2k + 1, which land in kv slots 4k and 4k + 2). */
static int widen_at(int axis, uint64_t i, uint64_t at[2]) {
    switch (axis) {
    case AX_RESID: at[0] = 4 * i + i % 4; return 1;
    case AX_Q: at[0] = 32 * (i / 8) + i % 8; return 1; /* head h -> slot 4h */
    case AX_KV: at[0] = 32 * (i / 8) + i % 8, at[1] = at[0] + 16; return 2;
    case AX_FFN: at[0] = i * 256 / 172; return 1;
    default: at[0] = i; return 1;
    }
}

/* The axes {in, out} of a tensor by name; the widened length of each. */
static void axes_of(const char *name, int ax[2]) {
    ax[0] = strstr(name, "attn_output") ? AX_Q : strstr(name, "ffn_down") ? AX_FFN : AX_RESID;
    ax[1] = strstr(name, "attn_q")                                       ? AX_Q
            : strstr(name, "attn_k") || strstr(name, "attn_v")           ? AX_KV
            : strstr(name, "ffn_gate") || strstr(name, "ffn_up")         ? AX_FFN
            : strstr(name, "token_embd") || !strncmp(name, "output.", 7) ? AX_VOCAB
                                                                         : AX_RESID;
}

static uint64_t widened(int axis, uint64_t n) {
    return axis == AX_VOCAB ? n : axis == AX_KV ? 128 : 256;
}

/* Writes the widened model to path; with type, its matrices quantised (by
 * the test's quantisers); with embd_type instead, only the token embedding,
 * by the library's quantiser (the file has its own output head). */
static int write_widened_as(const char *path, uint32_t type, uint32_t embd_type) {
    GGUFFile f;
    ObErr err;
    Tokenizer tok;
    LlamaConfig c;
    if (gguf_open(&f, MODEL, &err)) return fprintf(stderr, "  %s\n", err.msg), -1;
    int rc = llama_config_from_gguf(&f, &c, &err) || tokenizer_from_gguf(&tok, &f, &err);
    if (rc) return fprintf(stderr, "  %s\n", err.msg), gguf_close(&f), -1;
    c.dim = 256, c.n_heads *= 4, c.n_kv_heads *= 4, c.ffn_dim = 256, c.norm_eps /= 4;
    GGUFWriter *w = gguf_writer_new(&err);
    rc = !w || gguf_set_str(w, "general.name", "stories260K widened") ||
         llama_config_to_gguf(&c, GGML_TYPE_F32, w) || tokenizer_to_gguf(&tok, w);
    for (uint64_t i = 0; i < f.n_tensors && !rc; i++) {
        const GGUFTensor *t = &f.tensors[i];
        float *src = malloc(sizeof(float) * t->n_elems);
        int ax[2];
        axes_of(t->name, ax);
        uint64_t d[2] = {widened(ax[0], t->dims[0]),
                         t->n_dims == 2 ? widened(ax[1], t->dims[1]) : 1};
        float *dst = calloc(d[0] * d[1], sizeof(float)),
              *bound = malloc(sizeof(float) * d[0] * d[1]);
        uint8_t *q = malloc(sizeof(float) * d[0] * d[1]);
        rc = !src || !dst || !bound || !q || gguf_tensor_to_f32(&f, t, src, &err);
        for (uint64_t r = 0; !rc && r < (t->n_dims == 2 ? t->dims[1] : 1); r++)
            for (uint64_t k = 0; k < t->dims[0]; k++) {
                uint64_t col[2], row[2];
                int n_row = t->n_dims == 2 ? widen_at(ax[1], r, row) : (row[0] = 0, 1);
                widen_at(ax[0], k, col);
                for (int j = 0; j < n_row; j++)
                    dst[row[j] * d[0] + col[0]] =
                        t->n_dims == 2 ? src[r * t->dims[0] + k] : src[k] / 2;
            }
        int embd = !strcmp(t->name, "token_embd.weight");
        if (!rc && embd && embd_type != GGML_TYPE_F32) {
            rc = quant_quantize(embd_type, dst, q, d[0] * d[1]) ||
                 gguf_add_tensor_raw(w, t->name, embd_type, 2, d, q, &err);
        } else if (!rc && t->n_dims == 2 && type != GGML_TYPE_F32) {
            quantise(type, dst, q, bound, (int)(d[0] * d[1]));
            rc = gguf_add_tensor_raw(w, t->name, type, 2, d, q, &err);
        } else if (!rc) {
            rc = gguf_add_tensor_f32(w, t->name, GGML_TYPE_F32, t->n_dims, d, dst, &err);
        }
        free(src), free(dst), free(bound), free(q);
    }
    if (!rc) rc = gguf_writer_save(w, path, &err);
    if (rc) fprintf(stderr, "  writing %s: %s\n", path, err.msg);
    gguf_writer_free(w);
    tok_free(&tok);
    gguf_close(&f);
    return rc ? -1 : 0;
}

static int write_widened(const char *path, uint32_t type) {
    return write_widened_as(path, type, GGML_TYPE_F32);
}

static double story_loss(const char *model, const char *lora) {
    return loss_on(model, lora, tmp("stories.txt"), 64);
}

/* Our log-probabilities on the story against llama.cpp's from the same file. */
static double llamacpp_worst(const char *path, double nll[2]) {
    Llama m;
    Tokenizer tok;
    ObErr err;
    if (llama_load(&m, &tok, path, &err)) return fprintf(stderr, "  %s\n", err.msg), 1e9;
    int32_t *enc, ids[128] = {1};
    size_t n;
    double worst = 1e9;
    if (!tok_encode(&tok, STORY, strlen(STORY), &enc, &n, &err)) {
        for (size_t i = 0; i < n && i < 127; i++) ids[i + 1] = enc[i];
        int T = n < 127 ? (int)n + 1 : 128;
        if (!llama_alloc_batch(&m, 1, T, &err)) {
            llama_forward(&m, ids, NULL, T, NULL);
            worst =
                llamacpp_logprob_diff(tmpdir, path, NULL, ids, m.acts.logits, T, m.cfg.vocab, nll);
        }
        free(enc);
    }
    llama_free(&m), tok_free(&tok);
    return worst;
}

static void test_model_round_trip(void) {
    FILE *fp = fopen(tmp("stories.txt"), "w");
    for (int i = 0; fp && i < 8; i++) fputs(STORY, fp), fputs(" ", fp);
    if (fp) fclose(fp);
    char wide[256];
    snprintf(wide, sizeof wide, "%s", tmp("wide.gguf"));
    CHECK(!write_widened(wide, GGML_TYPE_F32), "widened model");
    double base = story_loss(MODEL, NULL), wide_loss = story_loss(wide, NULL);
    fprintf(stderr, "  stories260K: perplexity %.3f; widened fp32 copy %.3f\n", exp(base),
            exp(wide_loss));
    CHECK(fabs(base - wide_loss) < 1e-3, "the widened model computes another function: %g vs %g",
          base, wide_loss);
    /* allowed perplexity ratio over fp32, per type; measured ratios are printed */
    static const double RATIO[4] = {1.15, 1.15, 1.1, 1.05};
    for (int t = 0; t < 4; t++) {
        char path[256];
        snprintf(path, sizeof path, "%s/wide.%s.gguf", tmpdir, TYPES[t].name);
        CHECK(!write_widened(path, TYPES[t].type), "%s model", TYPES[t].name);
        double loss = story_loss(path, NULL);
        double nll[2] = {0, 0}, lc = have_llamacpp ? llamacpp_worst(path, nll) : -1;
        fprintf(stderr, "  %s: perplexity %.3f (x%.3f of fp32)", TYPES[t].name, exp(loss),
                exp(loss - wide_loss));
        if (have_llamacpp)
            fprintf(stderr,
                    "; llama.cpp's log-probabilities within %.2g, mean nll %.4f vs ours %.4f", lc,
                    nll[1], nll[0]);
        fputc('\n', stderr);
        CHECK(isfinite(loss) && exp(loss - wide_loss) < RATIO[t] &&
                  exp(wide_loss - loss) < RATIO[t],
              "%s: perplexity %g against fp32's %g", TYPES[t].name, exp(loss), exp(wide_loss));
        /* llama.cpp multiplies quantised blocks by activations it quantises
         * to 8 bits, so single log-probabilities of unlikely tokens differ by
         * up to ~0.6; the mean over the text agrees closely (a misread bit of
         * the layout would scramble weights and move it by far more) */
        if (have_llamacpp)
            CHECK(fabs(nll[0] - nll[1]) < 0.05, "%s: mean nll %g, llama.cpp's %g", TYPES[t].name,
                  nll[0], nll[1]);
        GenerateConfig g;
        generate_config_defaults(&g);
        g.model_path = path, g.prompt = "Tom had a", g.n_new = 16;
        GenerateResult r;
        ObErr err;
        CHECK(!generate_run(&g, &r, &err), "%s", err.msg);
        if (t == 1) fprintf(stderr, "  %s continues \"Tom had a\": %s\n", TYPES[t].name, r.text);
        CHECK(r.n_ids > r.n_prompt && r.text && r.text[0], "%s generated nothing", TYPES[t].name);
        generate_result_free(&r);
    }
}

/* Dequantisation against llama.cpp's, apart from its arithmetic: in files
 * whose only quantised tensor is the token embedding (the output head is
 * its own fp32 tensor), llama.cpp dequantises the rows it looks up and computes the rest in
 * fp32, so its log-probabilities equal ours to fp32 rounding exactly when both
 * read every bit of every type's blocks alike (quantising the embedding
 * itself moves llama.cpp's log-probabilities by 0.045 at Q8_0 to 0.65 at
 * Q4_0, measured on these files: a misread would show). (Quantised matrices it
 * multiplies by activations rounded to 8 bits, which ours are not: see
 * test_model_round_trip.) */
static void test_dequantize_as_llamacpp(void) {
    if (!have_llamacpp) return;
    static const uint32_t TYPE[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1,
                                    GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    fprintf(stderr, "  llama.cpp's log-probabilities, embedding alone quantised:");
    for (size_t i = 0; i < sizeof TYPE / sizeof *TYPE; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/embd.%s.gguf", tmpdir, ggml_type_name(TYPE[i]));
        CHECK(!write_widened_as(path, GGML_TYPE_F32, TYPE[i]), "%s model", ggml_type_name(TYPE[i]));
        double nll[2], lc = llamacpp_worst(path, nll);
        fprintf(stderr, " %s %.1e", ggml_type_name(TYPE[i]), lc);
        CHECK(lc < 1e-3, "%s: llama.cpp's log-probabilities differ by %g", ggml_type_name(TYPE[i]),
              lc);
    }
    fputc('\n', stderr);
}

/* LoRA on a Q4_K base: the base loads frozen (dequantised to BF16), the
 * adapter trains and lowers the story's loss. */
static void test_lora_on_quantised(void) {
    char base[256], adapter[256], text[256];
    snprintf(base, sizeof base, "%s/wide.Q4_K.gguf", tmpdir);
    snprintf(adapter, sizeof adapter, "%s", tmp("adapter.gguf"));
    snprintf(text, sizeof text, "%s", tmp("stories.txt"));
    Llama m;
    ObErr err;
    CHECK(!llama_load_frozen(&m, NULL, base, &err), "%s", err.msg);
    CHECK(m.frozen && m.frozen->mats[0].type == GGML_TYPE_BF16, "frozen Q4_K not held as BF16");
    llama_free(&m);
    TextRunConfig t;
    textrun_config_defaults(&t);
    const char *texts[1] = {text};
    t.model = base, t.out = adapter, t.texts = texts, t.n_texts = 1;
    t.lora.rank = 4, t.train.steps = 20, t.train.batch = 4, t.train.seq = 64;
    t.train.warmup = 2, t.train.lr = 3e-3f;
    TextRunResult r;
    double before = story_loss(base, NULL);
    CHECK(!textrun_run(&t, &r, &err), "%s", err.msg);
    double after = story_loss(base, adapter);
    fprintf(stderr, "  LoRA on the Q4_K base: story loss %.3f -> %.3f\n", before, after);
    CHECK(after < before - 0.05, "fine-tune did not learn: %g -> %g", before, after);
}

/* model_quantize on the widened model (every matrix can take K blocks) with
 * every scheme, and on stories260K itself (64-wide rows: the fallbacks):
 * the file keeps every key, loads, stays near fp32's perplexity, and
 * llama.cpp reading it agrees with us as for the files above. */
static void test_quantize_models(void) {
    static const struct {
        const char *scheme;
        double ratio; /* allowed perplexity ratio over fp32 */
    } S[] = {{"q8_0", 1.01}, {"q6_k", 1.03},   {"q5_k_m", 1.06}, {"q5_1", 1.06},
             {"q5_0", 1.06}, {"q4_k_m", 1.12}, {"q4_0", 1.15}};
    char wide[256];
    snprintf(wide, sizeof wide, "%s", tmp("wide.gguf"));
    double wide_loss = story_loss(wide, NULL);
    for (size_t k = 0; k < sizeof S / sizeof S[0] + 1; k++) {
        int own = k == sizeof S / sizeof S[0]; /* last: stories260K as published, q4_k_m */
        const char *src = own ? MODEL : wide, *scheme = own ? "q4_k_m" : S[k].scheme;
        char out[256];
        snprintf(out, sizeof out, "%s/%s.%s.gguf", tmpdir, own ? "own" : "wide", scheme);
        QuantStats st;
        ObErr err;
        CHECK(!model_quantize(src, out, scheme, &st, &err), "%s: %s", scheme, err.msg);
        GGUFFile a, b;
        int keys_kept = 0, ft = -1;
        if (!gguf_open(&a, src, &err) && !gguf_open(&b, out, &err)) {
            keys_kept = 1;
            for (uint64_t i = 0; i < a.n_kv; i++) {
                const GGUFKV *kv = gguf_find_kv(&b, a.kv[i].key);
                keys_kept &= kv && kv->type == a.kv[i].type && kv->arr_n == a.kv[i].arr_n;
            }
            uint32_t v;
            if (!gguf_get_u32(&b, "general.file_type", &v, &err)) ft = (int)v;
            gguf_close(&b);
        }
        gguf_close(&a);
        CHECK(keys_kept && ft > 0, "%s: keys not kept or no file type (%d)", scheme, ft);
        double base = own ? story_loss(MODEL, NULL) : wide_loss, loss = story_loss(out, NULL);
        double nll[2] = {0, 0}, lc = have_llamacpp ? llamacpp_worst(out, nll) : -1;
        fprintf(stderr, "  %s%s: %.2f bits per weight, perplexity x%.4f of fp32", scheme,
                own ? " (stories260K as published)" : "",
                8.0 * (double)st.out_bytes / (double)st.n_weights, exp(loss - base));
        if (have_llamacpp)
            fprintf(stderr, "; llama.cpp within %.2g, mean nll %.4f vs ours %.4f", lc, nll[1],
                    nll[0]);
        fputc('\n', stderr);
        double ratio = own ? 1.15 : S[k].ratio;
        CHECK(isfinite(loss) && exp(loss - base) < ratio && exp(base - loss) < ratio,
              "%s: perplexity %g against fp32's %g", scheme, exp(loss), exp(base));
        if (have_llamacpp)
            CHECK(fabs(nll[0] - nll[1]) < 0.05, "%s: mean nll %g, llama.cpp's %g", scheme, nll[0],
                  nll[1]);
    }
}

/* ---- Bad input ---- */

static int one_line_about(const ObErr *e, const char *file, const char *what) {
    return !strchr(e->msg, '\n') && strstr(e->msg, file) && strstr(e->msg, what);
}

/* A file with one quantised tensor "w.q" of {cols, 2}. */
static int write_one(const char *path, uint32_t type, uint64_t cols) {
    uint8_t q[2 * 256 / 32 * 18 + 2 * 210] = {0}; /* room for 2 rows of 256 */
    uint64_t d[2] = {cols, 2};
    ObErr err;
    GGUFWriter *w = gguf_writer_new(&err);
    int rc =
        !w || gguf_add_tensor_raw(w, "w.q", type, 2, d, q, &err) || gguf_writer_save(w, path, &err);
    gguf_writer_free(w);
    return rc;
}

static void test_bad_sizes(void) {
    for (int t = 0; t < 4; t++) {
        const char *path = tmp("bad.gguf");
        uint64_t cols = (uint64_t)TYPES[t].block;
        CHECK(!write_one(path, TYPES[t].type, cols), "%s", TYPES[t].name);
        char *buf = NULL;
        size_t n = 0;
        ObErr err;
        CHECK(!ob_read_file(path, &buf, &n, &err), "%s", err.msg);
        /* truncated: the tensor's last byte missing (the file may end in padding) */
        GGUFFile f;
        size_t end = n;
        if (!gguf_open_buffer(&f, buf, n, "bad.gguf", &err))
            end = (size_t)(f.data_offset + f.tensors[0].offset + f.tensors[0].n_bytes);
        gguf_close(&f);
        CHECK(gguf_open_buffer(&f, buf, end - 1, "bad.gguf", &err) &&
                  one_line_about(&err, "bad.gguf", "w.q") && strstr(err.msg, "past the end"),
              "%s truncated: %s", TYPES[t].name, err.msg);
        gguf_close(&f);
        /* a row of 16 values: not a multiple of any block (the dims follow the name) */
        char *name = memmem(buf, n, "w.q", 3);
        CHECK(name != NULL, "tensor name");
        if (name) {
            uint64_t sixteen = 16;
            memcpy(name + 3 + 4, &sixteen, 8);
            CHECK(gguf_open_buffer(&f, buf, n, "bad.gguf", &err) &&
                      one_line_about(&err, "bad.gguf", "w.q") && strstr(err.msg, "multiple"),
                  "%s dims: %s", TYPES[t].name, err.msg);
            gguf_close(&f);
        }
        free(buf);
        /* the writer refuses it too */
        ObErr e2;
        GGUFWriter *w = gguf_writer_new(&e2);
        uint64_t d[2] = {cols / 2, 2};
        uint8_t zero[512] = {0};
        CHECK(w && gguf_add_tensor_raw(w, "w.q", TYPES[t].type, 2, d, zero, &e2) &&
                  !strchr(e2.msg, '\n') && strstr(e2.msg, "multiple"),
              "%s writer: %s", TYPES[t].name, e2.msg);
        gguf_writer_free(w);
    }
}

/* Refusals: an unknown scheme, a missing file, a non-finite weight (no
 * output left behind in either case). */
static void test_quantize_refusals(void) {
    ObErr err;
    char out[256], nan_file[256];
    snprintf(out, sizeof out, "%s", tmp("refused.gguf"));
    snprintf(nan_file, sizeof nan_file, "%s", tmp("nan.gguf"));
    CHECK(model_quantize(MODEL, out, "q3_k", NULL, &err) && strstr(err.msg, "q3_k") &&
              strstr(err.msg, "q4_k_m") && access(out, F_OK) != 0,
          "unknown scheme: %s", err.msg);
    CHECK(model_quantize(tmp("none.gguf"), out, "q8_0", NULL, &err) &&
              one_line_about(&err, "none.gguf", "") && access(out, F_OK) != 0,
          "missing file: %s", err.msg);
    char *buf = NULL;
    size_t n = 0;
    GGUFFile f;
    CHECK(!ob_read_file(tmp("wide.gguf"), &buf, &n, &err), "%s", err.msg);
    if (buf && !gguf_open_buffer(&f, buf, n, "wide.gguf", &err)) {
        const GGUFTensor *t = gguf_find_tensor(&f, "blk.1.ffn_up.weight");
        size_t at = t ? (size_t)(f.data_offset + t->offset) + 4 * 7 : 0;
        gguf_close(&f);
        float nan = NAN;
        if (at) memcpy(buf + at, &nan, 4);
        FILE *fp = fopen(nan_file, "wb");
        if (fp) fwrite(buf, 1, n, fp), fclose(fp);
        CHECK(at && model_quantize(nan_file, out, "q4_k_m", NULL, &err) &&
                  one_line_about(&err, "nan.gguf", "blk.1.ffn_up.weight") &&
                  strstr(err.msg, "non-finite") && access(out, F_OK) != 0,
              "NaN weight: %s", err.msg);
    }
    free(buf);
}

/* inspect names the types */
static void test_names(void) {
    CHECK(!write_one(tmp("q6.gguf"), GGML_TYPE_Q6_K, 256), "write");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "build/obliviate inspect %s 2>&1 | grep -q 'w.q *Q6_K'",
             tmp("q6.gguf"));
    CHECK(system(cmd) == 0, "inspect does not name Q6_K");
}

int main(void) {
    if (fixture_present(MODEL, "quantised comparison", &have_llamacpp) || tmpdir_make()) return 1;
    RUN(test_q4_0_known);
    RUN(test_k_known);
    RUN(test_q6_k_known);
    RUN(test_q5_known);
    RUN(test_round_trip);
    RUN(test_library_quantisers);
    RUN(test_scheme_rules);
    RUN(test_model_round_trip);
    RUN(test_dequantize_as_llamacpp);
    RUN(test_lora_on_quantised);
    RUN(test_quantize_models);
    RUN(test_quantize_refusals);
    RUN(test_bad_sizes);
    RUN(test_names);
    tmpdir_remove();
    return check_main_end("quant");
}
