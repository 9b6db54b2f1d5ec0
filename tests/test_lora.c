/* LoRA adapters and frozen (memory-mapped, BF16) base weights:
 * - finite-difference gradients of lora_forward / lora_backward, and of the
 *   adapter's parameters through the whole model (fp32 and frozen BF16 base);
 * - an adapter merged into an fp32 model gives the logits of base + adapter;
 * - a frozen BF16 model computes exactly what its fp32 copy computes
 *   (forward and the KV-cache path);
 * - adapter files round-trip; the merged GGUF of a frozen model equals the
 *   fp32 merge rounded to BF16, bit for bit;
 * - llama.cpp (node-llama-cpp) applying our adapter GGUF to the base gives
 *   our base + adapter log-probabilities, and our merged model's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "helpers.h"
#include "model/checkpoint.h"
#include "model/gemm_bf16.h"
#include "model/llama.h"
#include "model/lora.h"
#include "tiny.h"
#include "tmpdir.h"
#include "util/fileio.h"
#include "util/rng.h"

static ObRng rng;

/* ---- the op ---- */
typedef struct {
    int N, IC, OC, r;
    float scale;
    float *inp, *A, *B, *base, *out, *mid, *R;
} LoraCtx;

static double lora_loss(void *p) {
    LoraCtx *c = p;
    memcpy(c->out, c->base, sizeof(float) * c->N * c->OC);
    lora_forward(c->out, c->mid, c->inp, c->A, c->B, c->N, c->IC, c->OC, c->r, c->scale,
                 OB_PREC_FP32);
    return test_dot(c->out, c->R, (size_t)c->N * c->OC);
}

static void test_lora_op_grads(void) {
    LoraCtx c = {5, 7, 6, 3, 2.5f, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    c.inp = test_randn(&rng, 35, 1), c.A = test_randn(&rng, 21, 1), c.B = test_randn(&rng, 18, 1),
    c.base = test_randn(&rng, 30, 1);
    c.out = malloc(30 * 4), c.mid = malloc(15 * 4), c.R = test_randn(&rng, 30, 1);
    float *dinp = test_randn(&rng, 35, 1), *dinp0 = malloc(35 * 4), *dA = calloc(21, 4),
          *dB = calloc(18, 4);
    float *dmid = malloc(15 * 4);
    memcpy(dinp0, dinp, 35 * 4);
    lora_loss(&c);
    lora_backward(dinp, dA, dB, dmid, c.R, c.inp, c.mid, c.A, c.B, c.N, c.IC, c.OC, c.r, c.scale,
                  OB_PREC_FP32);
    for (int i = 0; i < 35; i++) dinp[i] -= dinp0[i]; /* dinp accumulates */
    CHECK(grad_check(lora_loss, &c, c.inp, dinp, 35, 100, 1e-2f) < 2e-2, "dinp");
    CHECK(grad_check(lora_loss, &c, c.A, dA, 21, 100, 1e-2f) < 2e-2, "dA");
    CHECK(grad_check(lora_loss, &c, c.B, dB, 18, 100, 1e-2f) < 2e-2, "dB");
    /* merging: W + scale B A applied to inp equals W inp + the adapter */
    float *W = test_randn(&rng, 42, 1), *y1 = calloc(30, 4), *y2 = calloc(30, 4);
    matmul_forward(y1, c.inp, W, c.N, c.IC, c.OC, 0.0f, OB_PREC_FP32);
    lora_forward(y1, c.mid, c.inp, c.A, c.B, c.N, c.IC, c.OC, c.r, c.scale, OB_PREC_FP32);
    lora_merge_matrix(W, c.A, c.B, c.IC, c.OC, c.r, c.scale);
    matmul_forward(y2, c.inp, W, c.N, c.IC, c.OC, 0.0f, OB_PREC_FP32);
    double worst = 0;
    for (int i = 0; i < 30; i++) worst = fmax(worst, fabs(y1[i] - y2[i]));
    CHECK(worst < 1e-4, "merged matrix differs by %g", worst);
    free(c.inp), free(c.A), free(c.B), free(c.base), free(c.out), free(c.mid), free(c.R);
    free(dinp), free(dinp0), free(dA), free(dB), free(dmid), free(W), free(y1), free(y2);
}

static void test_targets_parse(void) {
    unsigned m;
    char buf[64];
    CHECK(lora_parse_targets("q,k,v,o", &m) == 0 && m == 0xF, "q,k,v,o -> %x", m);
    CHECK(lora_parse_targets("down,gate", &m) == 0 && m == (1u << MAT_DOWN | 1u << MAT_GATE),
          "down,gate");
    CHECK(lora_parse_targets("q,x", &m) < 0, "unknown name accepted");
    CHECK(lora_parse_targets("", &m) < 0, "empty list accepted");
    lora_targets_str(0x7F, buf, sizeof buf);
    CHECK(!strcmp(buf, "q,k,v,o,gate,up,down"), "%s", buf);
}

/* ---- a tiny model ---- */
static LlamaConfig lora_shape(int vocab) {
    return tiny_shape(16, 2, 4, 2, 24, vocab, 16, 0);
}

/* Random adapter parameters (B too, so the adapter does something). */
static void randomise_lora(Lora *lo, float std) {
    for (size_t i = 0; i < lo->n_params; i++) lo->params[i] = std * ob_rng_normal(&rng);
}

/* Gradients of the adapter through the whole model; the base gets none. */
static void check_model_lora_grads(Llama *m, const char *what) {
    ObErr err;
    LoraConfig lc = {3, 6.0f, 0x7F}; /* every matrix */
    CHECK(llama_add_lora(m, &lc, 5, &err) == 0, "%s", err.msg);
    randomise_lora(m->lora, 0.3f);
    CHECK(llama_alloc_grads(m, &err) == 0 && llama_alloc_batch(m, 2, 6, &err) == 0, "alloc");
    CHECK(m->grads == NULL, "%s: base weights got gradients", what);
    int32_t inp[12], tgt[12];
    for (int i = 0; i < 12; i++) inp[i] = (int32_t)ob_rng_below(&rng, (uint64_t)m->cfg.vocab);
    for (int i = 0; i < 12; i++)
        tgt[i] = i % 4 == 1 ? -1 : (int32_t)ob_rng_below(&rng, (uint64_t)m->cfg.vocab);
    ModelLossCtx c = {m, inp, tgt, 6};
    int nv;
    llama_forward(m, inp, tgt, 6, &nv);
    llama_zero_grads(m);
    llama_backward(m, 1.0f / nv);
    size_t n = m->lora->n_params;
    float *g = malloc(n * 4);
    memcpy(g, m->lora->grads, n * 4);
    double worst = grad_check(model_loss, &c, m->lora->params, g, n, 1500, 3e-3f);
    CHECK(worst < 3e-2, "%s: adapter gradient worst %g", what, worst);
    free(g);
}

static void test_model_lora_grads_fp32(void) {
    LlamaConfig cfg = lora_shape(23);
    Llama m;
    ObErr err;
    CHECK(llama_create(&m, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(&m, 7);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 3.0f;
    check_model_lora_grads(&m, "fp32 base");
    llama_free(&m);
}

/* Saves a random tiny model as `type` and loads it twice: fp32 and frozen. */
static int typed_pair(Llama *full, Llama *frozen, const char *file, uint32_t type) {
    LlamaConfig cfg = lora_shape(23);
    Llama m;
    ObErr err;
    if (llama_create(&m, &cfg, &err)) return -1;
    llama_init_random(&m, 11);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 3.0f;
    int rc = llama_save(&m, NULL, "t", type, file, &err);
    llama_free(&m);
    if (!rc) rc = llama_load(full, NULL, file, &err);
    if (!rc) rc = llama_load_frozen(frozen, NULL, file, &err);
    if (rc) fprintf(stderr, "  %s\n", err.msg);
    return rc;
}

static int bf16_pair(Llama *full, Llama *frozen, const char *file) {
    return typed_pair(full, frozen, file, GGML_TYPE_BF16);
}

static void test_model_lora_grads_frozen(void) {
    Llama full, fz;
    CHECK(bf16_pair(&full, &fz, tmp("g.gguf")) == 0, "bf16 models");
    ObErr err;
    CHECK(fz.params == NULL && fz.frozen, "frozen model holds fp32 parameters");
    CHECK(llama_alloc_grads(&fz, &err) < 0, "a frozen model without an adapter took gradients");
    check_model_lora_grads(&fz, "frozen bf16 base");
    llama_free(&full), llama_free(&fz);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

/* Frozen BF16 / F16 / F32 weights compute the very same numbers as their
 * fp32 copy. */
static void frozen_equals_fp32(uint32_t type, ObPrecision prec) {
    Llama full, fz;
    ObErr err;
    CHECK(typed_pair(&full, &fz, tmp("f.gguf"), type) == 0, "type %u models", type);
    full.prec = fz.prec = prec;
    CHECK(llama_alloc_batch(&full, 2, 8, &err) == 0 && llama_alloc_batch(&fz, 2, 8, &err) == 0,
          "alloc");
    int32_t inp[16], tgt[16];
    for (int i = 0; i < 16; i++) inp[i] = (int32_t)ob_rng_below(&rng, 23), tgt[i] = (i * 5) % 23;
    float l1 = llama_forward(&full, inp, tgt, 8, NULL), l2 = llama_forward(&fz, inp, tgt, 8, NULL);
    size_t n = (size_t)16 * 23;
    CHECK(l1 == l2 && !memcmp(full.acts.logits, fz.acts.logits, n * 4),
          "frozen logits differ (loss %g vs %g, max %g)", l1, l2,
          max_diff(full.acts.logits, fz.acts.logits, n));
    /* the cached path too */
    LlamaKV kv1, kv2;
    float z1[8 * 23], z2[8 * 23];
    CHECK(llama_kv_create(&kv1, &full.cfg, 16, 8, &err) == 0 &&
              llama_kv_create(&kv2, &fz.cfg, 16, 8, &err) == 0,
          "kv");
    CHECK(llama_eval(&full, &kv1, inp, 8, z1, 1, &err) == 0 &&
              llama_eval(&fz, &kv2, inp, 8, z2, 1, &err) == 0,
          "eval");
    CHECK(!memcmp(z1, z2, sizeof z1), "frozen cached logits differ by %g",
          max_diff(z1, z2, 8 * 23));
    llama_kv_free(&kv1), llama_kv_free(&kv2);
    llama_free(&full), llama_free(&fz);
}

static void test_frozen_equals_fp32(void) {
    frozen_equals_fp32(GGML_TYPE_BF16, OB_PREC_FP32);
    frozen_equals_fp32(GGML_TYPE_F16, OB_PREC_FP32);
    frozen_equals_fp32(GGML_TYPE_F32, OB_PREC_FP32);
}

/* Under --precision bf16 a frozen BF16 matrix goes to the bf16 GEMM as
 * stored; its fp32 copy holds the same (bf16-exact) values, which the GEMM
 * rounds to themselves, so both paths give the same bits. */
static void test_frozen_native_bf16(void) {
    if (!gemm_bf16_supported()) {
        printf("  skip: this CPU has no AVX512_BF16\n");
        return;
    }
    CHECK(ops_precision_supported(OB_PREC_BF16) == OB_PREC_BF16, "bf16 precision");
    frozen_equals_fp32(GGML_TYPE_BF16, OB_PREC_BF16);
}

/* fp32 base + adapter == the adapter merged into the weights; the adapter
 * file round-trips; a frozen model's merged GGUF equals base + adapter up
 * to BF16 rounding of the merged matrices. */
static void test_merge_equals_adapter(void) {
    Llama full, fz;
    ObErr err;
    CHECK(bf16_pair(&full, &fz, tmp("m.gguf")) == 0, "bf16 models");
    LoraConfig lc = {4, 8.0f, 1u << MAT_Q | 1u << MAT_V | 1u << MAT_O | 1u << MAT_DOWN};
    CHECK(llama_add_lora(&full, &lc, 3, &err) == 0, "%s", err.msg);
    randomise_lora(full.lora, 0.2f);
    CHECK(lora_save(full.lora, "t", tmp("a.gguf"), &err) == 0, "%s", err.msg);
    CHECK(llama_load_lora(&fz, tmp("a.gguf"), &err) == 0, "%s", err.msg);
    CHECK(fz.lora && fz.lora->n_params == full.lora->n_params && fz.lora->cfg.rank == 4 &&
              fz.lora->cfg.alpha == 8.0f && fz.lora->cfg.targets == lc.targets &&
              !memcmp(fz.lora->params, full.lora->params, full.lora->n_params * 4),
          "adapter file did not round-trip");
    int32_t inp[8];
    for (int i = 0; i < 8; i++) inp[i] = (int32_t)ob_rng_below(&rng, 23);
    size_t n = (size_t)8 * 23;
    float *with = malloc(n * 4), *merged = malloc(n * 4), *frozen = malloc(n * 4);
    CHECK(llama_alloc_batch(&full, 1, 8, &err) == 0 && llama_alloc_batch(&fz, 1, 8, &err) == 0,
          "alloc");
    llama_forward(&full, inp, NULL, 8, NULL);
    memcpy(with, full.acts.logits, n * 4);
    llama_forward(&fz, inp, NULL, 8, NULL);
    memcpy(frozen, fz.acts.logits, n * 4);
    CHECK(!memcmp(with, frozen, n * 4), "frozen + adapter differs from fp32 + adapter by %g",
          max_diff(with, frozen, n));
    CHECK(llama_merge_lora(&full, &err) == 0 && !full.lora, "merge");
    llama_forward(&full, inp, NULL, 8, NULL);
    memcpy(merged, full.acts.logits, n * 4);
    double d = max_diff(with, merged, n);
    CHECK(d < 1e-4, "merged fp32 model differs from base + adapter by %g", d);
    fprintf(stderr, "  fp32: merged vs base + adapter max |diff| %.2e (bound 1e-4)\n", d);
    /* the frozen model's merged file (BF16 matrices) */
    CHECK(llama_save_merged(&fz, NULL, "t", tmp("merged.gguf"), &err) == 0, "%s", err.msg);
    Llama mm;
    CHECK(llama_load(&mm, NULL, tmp("merged.gguf"), &err) == 0, "%s", err.msg);
    CHECK(llama_alloc_batch(&mm, 1, 8, &err) == 0, "alloc");
    llama_forward(&mm, inp, NULL, 8, NULL);
    /* the same as the fp32 merge with every weight rounded to BF16 */
    for (size_t i = 0; i < full.n_params; i++)
        full.params[i] = ob_bf16_to_fp32(ob_fp32_to_bf16(full.params[i]));
    llama_forward(&full, inp, NULL, 8, NULL);
    CHECK(!memcmp(full.acts.logits, mm.acts.logits, n * 4),
          "merged BF16 file differs from the rounded fp32 merge by %g",
          max_diff(full.acts.logits, mm.acts.logits, n));
    fprintf(stderr,
            "  bf16: merged file vs base + adapter max |diff| %.2e (BF16 rounding of the "
            "merged matrices; equal to the rounded fp32 merge)\n",
            max_diff(with, mm.acts.logits, n));
    /* untouched matrices are copied byte for byte */
    GGUFFile a, b;
    CHECK(gguf_open(&a, tmp("m.gguf"), &err) == 0 && gguf_open(&b, tmp("merged.gguf"), &err) == 0,
          "open");
    const GGUFTensor *ta = gguf_find_tensor(&a, "blk.1.attn_k.weight");
    const GGUFTensor *tb = gguf_find_tensor(&b, "blk.1.attn_k.weight");
    CHECK(ta && tb && ta->type == tb->type && ta->n_bytes == tb->n_bytes &&
              !memcmp(ta->data, tb->data, ta->n_bytes),
          "a matrix without adapter changed in the merged file");
    gguf_close(&a), gguf_close(&b);
    free(with), free(merged), free(frozen);
    llama_free(&mm), llama_free(&full), llama_free(&fz);
}

static void test_bad_adapters(void) {
    Llama full, fz;
    ObErr err;
    CHECK(bf16_pair(&full, &fz, tmp("b.gguf")) == 0, "bf16 models");
    CHECK(llama_load_lora(&fz, tmp("b.gguf"), &err) < 0 && strstr(err.msg, "not a LoRA adapter"),
          "a model accepted as adapter: %s", err.msg);
    LlamaConfig other = lora_shape(23);
    other.dim = 24, other.head_dim = 6;
    Llama o;
    LoraConfig lc = {2, 4.0f, 0xF};
    CHECK(llama_create(&o, &other, &err) == 0 && llama_add_lora(&o, &lc, 1, &err) == 0, "other");
    CHECK(lora_save(o.lora, "x", tmp("other.gguf"), &err) == 0, "%s", err.msg);
    CHECK(llama_load_lora(&fz, tmp("other.gguf"), &err) < 0 && strstr(err.msg, "does not fit"),
          "an adapter for another shape was accepted: %s", err.msg);
    llama_free(&o), llama_free(&full), llama_free(&fz);
}

/* ---- llama.cpp ---- */

static void test_llamacpp_applies_adapter(void) {
    /* a tokenizer llama.cpp loads (byte-level BPE) and an F32 base */
    const char *text = "the quick brown fox jumps over the lazy dog, again and again. ";
    size_t len = strlen(text);
    Tokenizer tok;
    ObErr err;
    CHECK(tok_train_texts(&tok, &text, &len, 1, 280, 0, &err) == 0, "%s", err.msg);
    LlamaConfig cfg = lora_shape(tok.n_vocab);
    cfg.dim = 32, cfg.head_dim = 8, cfg.ffn_dim = 48, cfg.ctx_len = 64;
    Llama m;
    CHECK(llama_create(&m, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(&m, 21);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 5.0f;
    CHECK(llama_save(&m, &tok, "base", GGML_TYPE_F32, tmp("lb.gguf"), &err) == 0, "%s", err.msg);
    LoraConfig lc = {4, 8.0f, 0x7F};
    CHECK(llama_add_lora(&m, &lc, 9, &err) == 0, "%s", err.msg);
    randomise_lora(m.lora, 0.15f);
    CHECK(lora_save(m.lora, "adapter", tmp("la.gguf"), &err) == 0, "%s", err.msg);
    CHECK(llama_save_merged(&m, &tok, "merged", tmp("lm.gguf"), &err) == 0, "%s", err.msg);
    int T = 12, V = cfg.vocab;
    int32_t inp[12];
    for (int i = 0; i < T; i++) inp[i] = (int32_t)(1 + ob_rng_below(&rng, (uint64_t)V - 2));
    CHECK(llama_alloc_batch(&m, 1, T, &err) == 0, "alloc");
    llama_forward(&m, inp, NULL, T, NULL);
    float *ours = malloc(sizeof(float) * T * V);
    memcpy(ours, m.acts.logits, sizeof(float) * T * V);
    /* base + adapter in llama.cpp vs ours; merged file in llama.cpp vs ours */
    double tol = 1e-4;
    double d1 =
        llamacpp_logprob_diff(tmpdir, tmp("lb.gguf"), tmp("la.gguf"), inp, ours, T, V, NULL);
    double d2 = llamacpp_logprob_diff(tmpdir, tmp("lm.gguf"), NULL, inp, ours, T, V, NULL);
    double d0 = llamacpp_logprob_diff(tmpdir, tmp("lb.gguf"), NULL, inp, ours, T, V, NULL);
    /* a BF16 base, read frozen by us: llama.cpp rounds activations to BF16
     * for BF16 weights (test_hf.c), so the adapter must not add to the gap
     * that rounding leaves on the base alone (within 2x, and below 1) */
    Llama fz;
    CHECK(llama_save(&m, &tok, "base", GGML_TYPE_BF16, tmp("lb16.gguf"), &err) == 0 &&
              llama_load_frozen(&fz, NULL, tmp("lb16.gguf"), &err) == 0 &&
              llama_load_lora(&fz, tmp("la.gguf"), &err) == 0 &&
              llama_alloc_batch(&fz, 1, T, &err) == 0,
          "%s", err.msg);
    llama_forward(&fz, inp, NULL, T, NULL);
    double d3 = llamacpp_logprob_diff(tmpdir, tmp("lb16.gguf"), tmp("la.gguf"), inp, fz.acts.logits,
                                      T, V, NULL);
    Lora *keep = fz.lora;
    fz.lora = NULL; /* the BF16 base alone: how far llama.cpp's rounding goes by itself */
    llama_forward(&fz, inp, NULL, T, NULL);
    fz.lora = keep;
    double d4 =
        llamacpp_logprob_diff(tmpdir, tmp("lb16.gguf"), NULL, inp, fz.acts.logits, T, V, NULL);
    fprintf(stderr, "  BF16 base: llama.cpp vs ours %.3f alone, %.3f with the adapter\n", d4, d3);
    CHECK(d3 <= 1.0 && d3 <= 2 * d4 + 0.05,
          "llama.cpp BF16 base + our adapter differs from ours by %g (base alone %g)", d3, d4);
    llama_free(&fz);
    CHECK(d1 <= tol, "llama.cpp base + our adapter differs from ours by %g", d1);
    CHECK(d2 <= tol, "llama.cpp on our merged model differs from ours by %g", d2);
    CHECK(d0 > 100 * tol, "the adapter changes nothing visible (%g)", d0);
    fprintf(stderr,
            "  llama.cpp log-probabilities, %d x %d: base + adapter %.2e, merged %.2e (bound "
            "%.0e); base alone %.2e away\n",
            T, V, d1, d2, tol, d0);
    free(ours);
    llama_free(&m);
    tok_free(&tok);
}

int main(void) {
    if (tmpdir_make()) return 1;
    ob_rng_seed(&rng, 42);
    RUN(test_lora_op_grads);
    RUN(test_targets_parse);
    RUN(test_model_lora_grads_fp32);
    RUN(test_model_lora_grads_frozen);
    RUN(test_frozen_equals_fp32);
    RUN(test_frozen_native_bf16);
    RUN(test_merge_equals_adapter);
    RUN(test_bad_adapters);
    if (llamacpp_available("adapter check")) RUN(test_llamacpp_applies_adapter);
    tmpdir_remove();
    return check_main_end("lora");
}
