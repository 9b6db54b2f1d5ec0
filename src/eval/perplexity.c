#include "eval/perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "text/tokenizer_gguf.h"
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

static int load_model(Llama *m, Tokenizer *tok, const char *path, const char *lora, ObErr *err) {
    if (!lora) return llama_load(m, tok, path, err);
    if (llama_load_frozen(m, tok, path, err)) return -1;
    if (llama_load_lora(m, lora, err)) return llama_free(m), tok_free(tok), -1;
    return 0;
}

int perplexity_run(const PerplexityConfig *c, cJSON **result, ObErr *err) {
    Llama m;
    Tokenizer tok;
    TokenStream ds = {0};
    Perplexity p = {0};
    if (load_model(&m, &tok, c->model, c->lora, err)) return -1;
    int seq = c->seq > m.cfg.ctx_len ? m.cfg.ctx_len : c->seq;
    int rc = dataset_load(&ds, &tok, c->files, c->n_files, err);
    if (!rc && ds.n < (size_t)seq + 1)
        rc = ob_errf(err, "text has %zu tokens, fewer than one window of %d + 1", ds.n, seq);
    if (!rc) rc = perplexity_begin(&p, &m, seq, c->batch, c->max_windows, err);
    if (!rc) {
        long n_tok;
        double t0 = ob_now(), loss = perplexity_loss(&p, &ds, &n_tok);
        cJSON *j = *result = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", c->model);
        cJSON_AddNumberToObject(j, "tokens", (double)n_tok);
        cJSON_AddNumberToObject(j, "loss", loss);
        cJSON_AddNumberToObject(j, "perplexity", exp(loss));
        cJSON_AddNumberToObject(j, "tokens_per_s", n_tok / (ob_now() - t0));
    }
    perplexity_end(&p);
    dataset_free(&ds);
    llama_free(&m);
    tok_free(&tok);
    return rc;
}
