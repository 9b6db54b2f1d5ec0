/* Relearning (eval/relearn.h): each model fine-tuned briefly on text it never
 * saw, then its familiarity and perplexity measured again. It changes the
 * model, so it runs last. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "eval/measure.h"
#include "eval/perplexity.h"
#include "util/log.h"

typedef struct {
    RelearnConfig cfg; /* the config's, with eval's seed and seq */
    TokenStream ds;
    RelearnResult res[EVAL_MAX]; /* per model; then, measured again: */
    FamSummary fam[EVAL_MAX];
    double loss[EVAL_MAX][EVAL_MAX]; /* [model][text] */
    long tokens[EVAL_MAX][EVAL_MAX];
} RelearnState;

static const char *check(const EvalConfig *c) {
    const RelearnConfig *r = &c->relearn_cfg;
    if (r->steps < 1 || r->batch < 1 || !(r->lr > 0))
        return "--relearn-steps and --relearn-batch must be >= 1, --relearn-lr > 0";
    if (c->relearn && !c->prompts && c->texts.n == 0)
        return "--relearn needs --prompts (and/or --text) to measure what comes back";
    return NULL;
}

static int load(EvalRun *run, void *st, ObErr *err) {
    RelearnState *s = st;
    const EvalConfig *c = run->cfg;
    s->cfg = c->relearn_cfg;
    s->cfg.seed = c->seed, s->cfg.seq = c->seq;
    return c->relearn ? dataset_load(&s->ds, &run->tok, &c->relearn, 1, err) : 0;
}

static int measure_again(EvalRun *run, RelearnState *s, int i, Llama *m, ObErr *err) {
    if (run->cfg->prompts) {
        FamResult *fam = ob_calloc((size_t)run->fam.n, sizeof(FamResult), "familiarity", err);
        if (!fam || fam_score(m, &run->fam, fam, err)) return free(fam), -1;
        fam_summarise(fam, run->fam.n, &s->fam[i]);
        free(fam);
        ob_logf("eval: %s: relearned %ld steps: familiarity %.4g\n", run->names[i], s->res[i].steps,
                s->fam[i].mean_prob);
    }
    if (run->n_texts == 0) return 0;
    Perplexity p;
    if (perplexity_begin(&p, m, run->seq[i], run->cfg->batch, run->cfg->max_windows, err))
        return perplexity_end(&p), -1;
    for (int t = 0; t < run->n_texts; t++) {
        s->loss[i][t] = perplexity_loss(&p, &run->texts[t].ds, &s->tokens[i][t]);
        ob_logf("eval: %s: relearned %s perplexity %.3f\n", run->names[i], run->texts[t].name,
                exp(s->loss[i][t]));
    }
    perplexity_end(&p);
    return 0;
}

static int run_model(EvalRun *run, void *st, int i, Llama *m, ObErr *err) {
    RelearnState *s = st;
    if (!run->cfg->relearn) return 0;
    if (relearn_run(m, &run->tok, &s->ds, &s->cfg, &s->res[i], err))
        return ob_err_prefix(err, "%s", run->cfg->models.items[i]);
    return measure_again(run, s, i, m, err);
}

static void settings_json(const EvalRun *run, const void *st, cJSON *j) {
    const RelearnState *s = st;
    const RelearnConfig *c = &s->cfg;
    if (!run->cfg->relearn) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", run->cfg->relearn);
    cJSON_AddNumberToObject(o, "tokens", (double)s->ds.n);
    cJSON_AddNumberToObject(o, "steps", (double)c->steps);
    cJSON_AddNumberToObject(o, "lr", c->lr);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    cJSON_AddNumberToObject(o, "seq", c->seq);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddStringToObject(o, "schedule", "constant, no warmup");
    cJSON_AddItemToObject(j, "relearn", o);
}

static void model_json(const EvalRun *run, const void *st, int i, cJSON *model) {
    const RelearnState *s = st;
    const RelearnResult *r = &s->res[i];
    if (!run->cfg->relearn) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddStringToObject(o, "trained", r->trained ? r->trained : "weights");
    cJSON_AddNumberToObject(o, "lr", s->cfg.lr);
    cJSON_AddNumberToObject(o, "batch", s->cfg.batch);
    cJSON_AddNumberToObject(o, "seq", r->seq);
    cJSON_AddNumberToObject(o, "loss", r->last_loss);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    if (run->cfg->prompts) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "mean_prob", s->fam[i].mean_prob);
        cJSON_AddNumberToObject(f, "mean_logp", s->fam[i].mean_logp);
        cJSON_AddNumberToObject(f, "median_first_rank", s->fam[i].median_rank);
        cJSON_AddNumberToObject(f, "first_top1_share", s->fam[i].top1_share);
        cJSON_AddItemToObject(o, "familiarity", f);
    }
    if (run->n_texts)
        cJSON_AddItemToObject(o, "perplexity", eval_perplexity_json(run, s->loss[i], s->tokens[i]));
    cJSON_AddItemToObject(model, "relearn", o);
}

static void table(const EvalRun *run, const void *st, EvalTable *t) {
    const RelearnState *s = st;
    const EvalConfig *c = run->cfg;
    double v[EVAL_MAX];
    if (!c->relearn) return;
    if (c->prompts) {
        for (int i = 0; i < run->n_models; i++) v[i] = s->fam[i].mean_prob;
        table_row(t, "relearned familiarity (mean P)", "%.4g", v, 0);
        for (int i = 0; i < run->n_models; i++) v[i] = s->fam[i].mean_logp;
        table_row(t, "relearned mean log-prob", "%.3f", v, 0);
    }
    for (int k = 0; k < run->n_texts; k++) {
        char label[96];
        for (int i = 0; i < run->n_models; i++) v[i] = exp(s->loss[i][k]);
        snprintf(label, sizeof label, "relearned perplexity %s", run->texts[k].name);
        table_row(t, label, "%.3f", v, 0);
    }
    table_note(t, "relearned: %ld steps at lr %g, batch %d on %s", s->cfg.steps, s->cfg.lr,
               s->cfg.batch, c->relearn);
}

static void state_free(void *st) {
    dataset_free(&((RelearnState *)st)->ds);
}

const EvalMeasure measure_relearn = {
    sizeof(RelearnState), 2,          NULL,  check,     load, run_model, NULL,
    settings_json,        model_json, table, state_free};
