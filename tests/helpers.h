/* Helpers several test programs share: random tensors, a float64 dot
 * product, the finite-difference gradient check and a whole model's loss
 * for it, a tokenizer trained on a repeated text, log P(continuation)
 * computed by hand from a plain forward pass, a JSON file read whole, a
 * tokenizer's encoding compared with the expected ids, bytes written to a
 * file, and our log-softmax compared with llama.cpp's on the same GGUF. */
#ifndef OB_TEST_HELPERS_H
#define OB_TEST_HELPERS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "eval/perplexity.h"
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

/* Writes n bytes of data to path (nothing if it cannot be opened). */
static inline void write_bytes(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
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

/* 1 if node and node-llama-cpp are there to run tools/llamacpp; else 0,
 * after saying which check (`what`) is skipped. */
static inline int llamacpp_available(const char *what) {
    if (access("tools/llamacpp/node_modules/node-llama-cpp/package.json", F_OK) == 0 &&
        system("node --version >/dev/null 2>&1") == 0)
        return 1;
    printf("SKIP llama.cpp %s: node or tools/llamacpp/node_modules/node-llama-cpp "
           "missing (run tools/llamacpp/setup.sh)\n",
           what);
    return 0;
}

/* The mean token loss of model (plus the adapter lora unless NULL) on the
 * text file in windows of seq tokens; NAN, said on stderr, on failure. */
static inline double loss_on(const char *model, const char *lora, const char *text, int seq) {
    PerplexityConfig pc;
    perplexity_config_defaults(&pc);
    const char *files[1] = {text};
    pc.model_path = model, pc.lora = lora, pc.files = files, pc.n_files = 1, pc.seq = seq;
    PerplexityResult pr;
    ObErr err;
    if (perplexity_run(&pc, &pr, &err)) return fprintf(stderr, "  %s\n", err.msg), NAN;
    return pr.loss;
}

/* A test on a fixture model: 0 when the file is there (1 and a line on
 * stderr when not), *llamacpp set by llamacpp_available(what). */
static inline int fixture_present(const char *model, const char *what, int *llamacpp) {
    if (access(model, R_OK)) {
        fprintf(stderr, "%s missing\n", model);
        return 1;
    }
    *llamacpp = llamacpp_available(what);
    return 0;
}

/* The worst |our log-softmax - llama.cpp's| over the rows of logits (T, V),
 * our forward over ids, against llama.cpp's on gguf (plus the adapter lora
 * unless NULL); 1e9 when llama.cpp fails or answers another shape. Entries
 * it gives as null (a probability that underflowed) are passed over. With
 * nll: [0] ours and [1] llama.cpp's mean -log P(ids[t+1]) over the T - 1
 * predictions. llama.cpp's answer and complaints go to dir/lp.json and
 * dir/lp.err. */
static inline double llamacpp_logprob_diff(const char *dir, const char *gguf, const char *lora,
                                           const int32_t *ids, const float *logits, int T, int V,
                                           double nll[2]) {
    char csv[4096], json[512], log_file[512], cmd[8192];
    size_t k = 0;
    if (nll) nll[0] = nll[1] = 0;
    csv[0] = 0;
    for (int i = 0; i < T && k + 16 < sizeof csv; i++)
        k += (size_t)snprintf(csv + k, sizeof csv - k, "%s%d", i ? "," : "", ids[i]);
    snprintf(json, sizeof json, "%s/lp.json", dir);
    snprintf(log_file, sizeof log_file, "%s/lp.err", dir);
    snprintf(cmd, sizeof cmd, "node tools/llamacpp/logprobs.mjs %s --tokens %s%s%s > %s 2>%s", gguf,
             csv, lora ? " --lora " : "", lora ? lora : "", json, log_file);
    if (system(cmd) != 0) return fprintf(stderr, "  llama.cpp failed (see %s)\n", log_file), 1e9;
    cJSON *j = read_json(json);
    const cJSON *rows = j ? cJSON_GetObjectItem(j, "logprobs") : NULL;
    double worst = cJSON_GetArraySize(rows) == T ? 0 : 1e9;
    int t = 0;
    for (const cJSON *r = rows ? rows->child : NULL; r && t < T; r = r->next, t++) {
        const float *z = logits + (size_t)t * V;
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < V; v++) s += exp(z[v] - mx);
        int v = 0;
        for (const cJSON *x = r->child; x && v < V; x = x->next, v++)
            if (cJSON_IsNumber(x)) worst = fmax(worst, fabs(z[v] - mx - log(s) - x->valuedouble));
        if (v != V) worst = 1e9;
        if (nll && t + 1 < T) {
            nll[0] -= z[ids[t + 1]] - mx - log(s);
            nll[1] -= cJSON_GetNumberValue(cJSON_GetArrayItem(r, ids[t + 1]));
        }
    }
    if (nll) nll[0] /= T - 1, nll[1] /= T - 1;
    cJSON_Delete(j);
    return worst;
}

#endif
