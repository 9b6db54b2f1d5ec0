/* Helpers several test programs share: random tensors, a float64 dot
 * product, the finite-difference gradient check and a whole model's loss
 * for it, a tokenizer trained on a repeated text, log P(continuation)
 * computed by hand from a plain forward pass, a JSON file read whole, and a
 * tokenizer's encoding compared with the expected ids. */
#ifndef OB_TEST_HELPERS_H
#define OB_TEST_HELPERS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/llama.h"
#include "text/tokenizer.h"
#include "util/fileio.h"
#include "util/rng.h"

/* n normal values of standard deviation std; the caller frees them. */
static inline float *test_randn(ObRng *rng, size_t n, float std) {
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; x && i < n; i++) x[i] = std * ob_rng_normal(rng);
    return x;
}

static inline double test_dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* The computation under test: recomputes its outputs from the current
 * inputs and returns the scalar loss. */
typedef double (*LossFn)(void *ctx);

/* Compares grad (analytic) with central differences of fn on every element
 * of x (or a sample of `max_checks`). Returns the worst error relative to
 * the largest gradient magnitude, so tiny entries don't dominate. */
static inline double grad_check(LossFn fn, void *ctx, float *x, const float *grad, size_t n,
                                size_t max_checks, float h) {
    double gmax = 1e-8, worst = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
    size_t step = n > max_checks ? n / max_checks : 1;
    for (size_t i = 0; i < n; i += step) {
        float saved = x[i];
        x[i] = saved + h;
        double lp = fn(ctx);
        x[i] = saved - h;
        double lm = fn(ctx);
        x[i] = saved;
        double err = fabs((lp - lm) / (2.0 * (double)h) - grad[i]) / gmax;
        if (err > worst) worst = err;
    }
    return worst;
}

/* A whole model's loss for grad_check: the forward pass over T tokens. */
typedef struct {
    Llama *m;
    int32_t *inp, *tgt;
    int T;
} ModelLossCtx;

static inline double model_loss(void *p) {
    ModelLossCtx *c = p;
    return llama_forward(c->m, c->inp, c->tgt, c->T, NULL);
}

/* *tok: a BPE vocabulary of `vocab` tokens trained on `times` copies of
 * text; 0, or -1 with err set. */
static inline int tok_train_repeated(Tokenizer *tok, const char *text, int times, int vocab,
                                     ObErr *err) {
    size_t one = strlen(text), len = one * (size_t)times;
    char *big = malloc(len + 1);
    if (!big) return ob_errf(err, "out of memory");
    for (int i = 0; i < times; i++) memcpy(big + i * one, text, one);
    big[len] = 0;
    const char *texts[1] = {big};
    int rc = tok_train_texts(tok, texts, &len, 1, vocab, 0, err);
    free(big);
    return rc;
}

/* log P(ids[n_ctx..n) | ids[0..n_ctx)) from one llama_forward over the
 * tokens, a log-softmax in double per position; a sequence longer than the
 * model's context keeps its last ctx tokens. NAN if the batch cannot be
 * allocated. */
static inline double logp_by_hand(Llama *m, const int32_t *ids, int n, int n_ctx) {
    ObErr err;
    int off = n > m->cfg.ctx_len ? n - m->cfg.ctx_len : 0;
    ids += off, n -= off, n_ctx -= off;
    if (llama_alloc_batch(m, 1, n, &err)) return NAN;
    llama_forward(m, ids, NULL, n, NULL);
    int V = m->cfg.vocab;
    double sum = 0;
    for (int p = n_ctx; p < n; p++) {
        const float *row = m->acts.logits + (size_t)(p - 1) * V;
        double mx = row[0], z = 0;
        for (int v = 1; v < V; v++) mx = fmax(mx, row[v]);
        for (int v = 0; v < V; v++) z += exp(row[v] - mx);
        sum += row[ids[p]] - mx - log(z);
    }
    return sum;
}

/* The parsed JSON of a file (the caller deletes it), or NULL. */
static inline cJSON *read_json(const char *file) {
    char *text;
    size_t len;
    ObErr err;
    if (ob_read_file(file, &text, &len, &err)) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    return j;
}

/* 1 if t encodes text as exactly want; else prints what it gave. */
static inline int encode_is(const Tokenizer *t, const char *text, const int32_t *want,
                            size_t n_want) {
    int32_t *ids;
    size_t n;
    ObErr err;
    if (tok_encode(t, text, strlen(text), &ids, &n, &err)) return 0;
    int same = n == n_want && !memcmp(ids, want, n * sizeof *ids);
    if (!same) {
        fprintf(stderr, "  \"%s\" ->", text);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fputc('\n', stderr);
    }
    free(ids);
    return same;
}

#endif
