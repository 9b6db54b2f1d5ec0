/* The model against an independent implementation: tools/ref_llama.py (PyTorch,
 * float64) wrote logits, loss, every parameter gradient and three AdamW steps
 * for two tiny models into tests/fixtures/. Also: cached inference equals the
 * batched forward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/llama.h"
#include "tiny.h"
#include "train/adamw.h"
#include "train/trainer.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/fixtures"
#endif

typedef struct {
    int32_t hdr[16];
    float fhdr[8];
    int32_t *inputs, *targets;
    float *params, *logits, loss, *grads, *step_losses, *params_after;
} Fixture;

static int read_all(FILE *f, void *p, size_t n) {
    return fread(p, 1, n, f) == n;
}

static int load_fixture(const char *path, Fixture *fx, LlamaConfig *cfg, size_t *n_params) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int ok = read_all(f, fx->hdr, sizeof fx->hdr) && read_all(f, fx->fhdr, sizeof fx->fhdr) &&
             fx->hdr[0] == 0x4642524F && fx->hdr[1] == 1;
    if (ok) {
        *cfg = (LlamaConfig){.dim = fx->hdr[2],
                             .n_layers = fx->hdr[3],
                             .n_heads = fx->hdr[4],
                             .n_kv_heads = fx->hdr[5],
                             .head_dim = fx->hdr[6],
                             .ffn_dim = fx->hdr[7],
                             .vocab = fx->hdr[8],
                             .ctx_len = fx->hdr[10],
                             .tied = fx->hdr[11],
                             .norm_eps = fx->fhdr[0],
                             .rope_base = fx->fhdr[1]};
        size_t BT = (size_t)fx->hdr[9] * fx->hdr[10], P = llama_param_count(cfg);
        size_t V = cfg->vocab, S = fx->hdr[12];
        *n_params = P;
        fx->inputs = malloc(BT * 4), fx->targets = malloc(BT * 4);
        fx->params = malloc(P * 4), fx->logits = malloc(BT * V * 4), fx->grads = malloc(P * 4);
        fx->step_losses = malloc(S * 4 + 4), fx->params_after = malloc(P * 4);
        ok = read_all(f, fx->inputs, BT * 4) && read_all(f, fx->targets, BT * 4) &&
             read_all(f, fx->params, P * 4) && read_all(f, fx->logits, BT * V * 4) &&
             read_all(f, &fx->loss, 4) && read_all(f, fx->grads, P * 4) &&
             read_all(f, fx->step_losses, S * 4) && read_all(f, fx->params_after, P * 4);
        char extra;
        ok = ok && fread(&extra, 1, 1, f) == 0; /* exactly the expected size */
    }
    fclose(f);
    return ok;
}

static void free_fixture(Fixture *fx) {
    free(fx->inputs), free(fx->targets), free(fx->params), free(fx->logits);
    free(fx->grads), free(fx->step_losses), free(fx->params_after);
}

/* max |a - b| / max |b|: relative to the tensor's scale. */
static double rel_err(const float *a, const float *b, size_t n) {
    double d = 0, s = 1e-30;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return d / s;
}

static void check_fixture(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, name);
    Fixture fx = {0};
    LlamaConfig cfg;
    size_t P;
    ObErr err;
    if (!load_fixture(path, &fx, &cfg, &P)) {
        CHECK(0, "cannot read fixture %s", path);
        free_fixture(&fx);
        return;
    }
    int B = fx.hdr[9], T = fx.hdr[10];
    Llama m;
    CHECK(llama_create(&m, &cfg, &err) == 0, "%s", err.msg);
    CHECK(m.n_params == P, "param count");
    memcpy(m.params, fx.params, P * 4);
    CHECK(llama_alloc_grads(&m, &err) == 0 && llama_alloc_batch(&m, B, T, &err) == 0, "alloc");
    int nv;
    float loss = llama_forward(&m, fx.inputs, fx.targets, T, &nv);
    double el = rel_err(m.acts.logits, fx.logits, (size_t)B * T * cfg.vocab);
    CHECK(el < 1e-4, "%s logits rel err %g", name, el);
    CHECK(fabs(loss - fx.loss) < 1e-4 * fabs(fx.loss), "%s loss %g vs %g", name, loss, fx.loss);
    llama_zero_grads(&m);
    llama_backward(&m, 1.0f / nv);
    /* Each parameter tensor separately, so a small one cannot hide. */
    ParamSegment segs[16];
    int ns = llama_param_segments(&m, segs);
    for (int t = 0; t < ns; t++) {
        double e = rel_err(m.grads + segs[t].offset, fx.grads + segs[t].offset, segs[t].len);
        CHECK(e < 1e-4, "%s gradient of tensor %d rel err %g", name, t, e);
    }
    /* AdamW steps on the same batch, as the reference did. */
    AdamW opt;
    AdamWConfig ac = {fx.fhdr[3], fx.fhdr[4], fx.fhdr[5], fx.fhdr[6]};
    CHECK(adamw_init(&opt, P, &err) == 0, "adam");
    memcpy(m.params, fx.params, P * 4);
    for (int s = 0; s < fx.hdr[12]; s++) {
        float l = llama_forward(&m, fx.inputs, fx.targets, T, &nv);
        CHECK(fabs(l - fx.step_losses[s]) < 1e-4 * fabs(fx.step_losses[s]),
              "%s step %d loss %g vs %g", name, s, l, fx.step_losses[s]);
        llama_zero_grads(&m);
        llama_backward(&m, 1.0f / nv);
        adamw_step(&opt, &ac, fx.fhdr[2], m.params, m.grads, segs, ns);
    }
    double ep = rel_err(m.params, fx.params_after, P);
    CHECK(ep < 1e-4, "%s params after AdamW rel err %g", name, ep);
    adamw_free(&opt);
    llama_free(&m);
    free_fixture(&fx);
}

static void test_reference_untied(void) {
    check_fixture("tiny_untied.bin");
}
static void test_reference_tied(void) {
    check_fixture("tiny_tied.bin");
}

/* Cached inference, fed in uneven chunks, gives the batched forward's logits. */
static void test_kvcache_matches_forward(void) {
    LlamaConfig cfg = tiny_shape(32, 2, 4, 2, 40, 50, 16, 0);
    Llama m;
    ObErr err;
    CHECK(llama_create(&m, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(&m, 3);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 5.0f;
    int T = 13;
    int32_t tok[13];
    for (int i = 0; i < T; i++) tok[i] = (i * 7 + 3) % 50;
    CHECK(llama_alloc_batch(&m, 1, T, &err) == 0, "alloc");
    llama_forward(&m, tok, NULL, T, NULL);
    LlamaKV kv;
    CHECK(llama_kv_create(&kv, &cfg, 16, 5, &err) == 0, "%s", err.msg);
    float *lg = malloc(sizeof(float) * T * 50);
    int chunks[] = {5, 1, 4, 3}, at = 0;
    for (int c = 0; c < 4; c++) {
        CHECK(llama_eval(&m, &kv, tok + at, chunks[c], lg + (size_t)at * 50, 1, &err) == 0, "%s",
              err.msg);
        at += chunks[c];
    }
    double e = rel_err(lg, m.acts.logits, (size_t)T * 50);
    CHECK(e < 1e-5, "cached logits differ from batched forward: %g", e);
    int32_t more[4] = {1, 2, 3, 4};
    CHECK(llama_eval(&m, &kv, more, 4, lg, 0, &err) == -1 && strstr(err.msg, "context full"),
          "overflowing the cache must fail: %s", err.msg);
    free(lg);
    llama_kv_free(&kv);
    llama_free(&m);
}

int main(void) {
    RUN(test_reference_untied);
    RUN(test_reference_tied);
    RUN(test_kvcache_matches_forward);
    return check_main_end("model");
}
