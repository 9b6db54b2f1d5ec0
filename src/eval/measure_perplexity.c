/* Perplexity on each named text (EvalRun's texts), per model, over windows
 * of the model's window length. */
#include <math.h>
#include <stdio.h>

#include "eval/measure.h"
#include "eval/perplexity.h"
#include "util/log.h"
#include "util/progress.h"

typedef struct {
    double loss[EVAL_MAX][EVAL_MAX]; /* [model][text]: mean next-token loss */
    long tokens[EVAL_MAX][EVAL_MAX]; /* predicted tokens */
} PplState;

static int asked(const EvalConfig *c) {
    return c->texts.n > 0;
}

static int run_model(EvalRun *run, void *st, int i, Llama *m, ObErr *err) {
    PplState *s = st;
    int seq = run->seq[i];
    if (seq < run->cfg->seq)
        ob_logf("eval: %s: context %d, using %d-token windows\n", run->names[i], m->cfg.ctx_len,
                seq);
    for (int t = 0; t < run->n_texts; t++)
        if (run->texts[t].ds.n < (size_t)seq + 1)
            return ob_errf(err, "%s: text has %zu tokens, fewer than one window of %d + 1",
                           run->texts[t].path, run->texts[t].ds.n, seq);
    if (run->n_texts == 0) return 0;
    Perplexity p;
    if (perplexity_begin(&p, m, seq, run->cfg->batch, run->cfg->max_windows, err))
        return perplexity_end(&p), -1;
    for (int t = 0; t < run->n_texts; t++) {
        double t0 = ob_now();
        s->loss[i][t] = perplexity_loss(&p, &run->texts[t].ds, &s->tokens[i][t]);
        ob_logf("eval: %s: %s perplexity %.3f (%ld tokens, %.1f s)\n", run->names[i],
                run->texts[t].name, exp(s->loss[i][t]), s->tokens[i][t], ob_now() - t0);
    }
    perplexity_end(&p);
    return 0;
}

cJSON *eval_perplexity_json(const EvalRun *run, const double *loss, const long *tokens) {
    cJSON *ppl = cJSON_CreateObject();
    for (int t = 0; t < run->n_texts; t++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "loss", loss[t]);
        cJSON_AddNumberToObject(p, "perplexity", exp(loss[t]));
        cJSON_AddNumberToObject(p, "tokens", (double)tokens[t]);
        cJSON_AddItemToObject(ppl, run->texts[t].name, p);
    }
    return ppl;
}

static void model_json(const EvalRun *run, const void *st, int i, cJSON *o) {
    const PplState *s = st;
    cJSON_AddItemToObject(o, "perplexity", eval_perplexity_json(run, s->loss[i], s->tokens[i]));
}

static void table(const EvalRun *run, const void *st, EvalTable *t) {
    const PplState *s = st;
    for (int k = 0; k < run->n_texts; k++) {
        char label[96];
        double v[EVAL_MAX];
        for (int i = 0; i < run->n_models; i++) v[i] = exp(s->loss[i][k]);
        snprintf(label, sizeof label, "perplexity %s", run->texts[k].name);
        table_row(t, label, "%.3f", v, 0);
    }
    if (run->n_texts) table_note(t, "perplexity over %d-token windows", run->seq[0]);
}

const EvalMeasure measure_perplexity = {
    sizeof(PplState), 1, asked, NULL, NULL, run_model, NULL, NULL, model_json, table, NULL};
