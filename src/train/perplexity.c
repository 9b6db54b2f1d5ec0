#include "train/perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/open.h"
#include "train/trainer.h"
#include "util/progress.h"

void perplexity_config_defaults(PerplexityConfig *c) {
    memset(c, 0, sizeof *c);
    c->seq = 256;
    c->batch = 4;
}

static int measure(const PerplexityConfig *c, Llama *m, const Tokenizer *tok, PerplexityResult *res,
                   ObErr *err) {
    TokenStream ds = {0};
    int seq = c->seq > m->cfg.ctx_len ? m->cfg.ctx_len : c->seq, batch = c->batch;
    int rc = dataset_load(&ds, tok, c->files, c->n_files, err);
    if (!rc && ds.n < (size_t)seq + 1)
        rc = ob_errf(err, "text has %zu tokens, fewer than one window of %d + 1", ds.n, seq);
    if (!rc) rc = llama_alloc_batch(m, batch, seq, err);
    int32_t *scratch = rc ? NULL : ob_malloc(sizeof(int32_t) * 2 * batch * seq, "batch", err);
    if (!rc && !scratch) rc = -1;
    if (!rc) {
        double t0 = ob_now();
        res->loss =
            stream_loss(m, &ds, seq, c->max_windows, scratch, scratch + batch * seq, &res->tokens);
        res->perplexity = exp(res->loss);
        res->seconds = ob_now() - t0;
    }
    free(scratch);
    dataset_free(&ds);
    return rc;
}

int perplexity_run(const PerplexityConfig *c, PerplexityResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    if (!c->model_path) return ob_errf(err, "perplexity needs a model");
    Llama m;
    Tokenizer tok;
    if (llama_open(&m, &tok, c->model_path, c->lora, err)) return -1;
    int rc = measure(c, &m, &tok, res, err);
    llama_free(&m);
    tok_free(&tok);
    return rc;
}
