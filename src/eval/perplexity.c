#include "eval/perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/open.h"
#include "train/trainer.h"
#include "util/progress.h"

int perplexity_begin(Perplexity *p, Llama *m, int seq, int batch, long max_windows, ObErr *err) {
    *p = (Perplexity){m, seq, batch, max_windows, NULL};
    if (llama_alloc_batch(m, batch, seq, err)) return -1;
    p->scratch = ob_malloc(sizeof(int32_t) * 2 * batch * seq, "batch", err);
    return p->scratch ? 0 : -1;
}

double perplexity_loss(const Perplexity *p, const TokenStream *ds, long *n_tokens) {
    return stream_loss(p->m, ds, p->seq, p->max_windows, p->scratch, p->scratch + p->batch * p->seq,
                       n_tokens);
}

void perplexity_end(Perplexity *p) {
    free(p->scratch);
    p->scratch = NULL;
}

void perplexity_config_defaults(PerplexityConfig *c) {
    memset(c, 0, sizeof *c);
    c->seq = 256, c->batch = 4;
}

int perplexity_run(const PerplexityConfig *c, PerplexityResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    if (!c->model_path) return ob_errf(err, "perplexity needs a model");
    Llama m;
    Tokenizer tok;
    TokenStream ds = {0};
    Perplexity p = {0};
    if (llama_open(&m, &tok, c->model_path, c->lora, err)) return -1;
    int seq = c->seq > m.cfg.ctx_len ? m.cfg.ctx_len : c->seq;
    int rc = dataset_load(&ds, &tok, c->files, c->n_files, err);
    if (!rc && ds.n < (size_t)seq + 1)
        rc = ob_errf(err, "text has %zu tokens, fewer than one window of %d + 1", ds.n, seq);
    if (!rc) rc = perplexity_begin(&p, &m, seq, c->batch, c->max_windows, err);
    if (!rc) {
        double t0 = ob_now();
        res->loss = perplexity_loss(&p, &ds, &res->tokens);
        res->perplexity = exp(res->loss);
        res->seconds = ob_now() - t0;
    }
    perplexity_end(&p);
    dataset_free(&ds);
    llama_free(&m);
    tok_free(&tok);
    return rc;
}
