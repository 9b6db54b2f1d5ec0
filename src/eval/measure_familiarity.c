/* Token-probability familiarity: each model's probability of each prompt's
 * continuation (eval/familiarity.h), on EvalRun's prompts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/measure.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/utf8.h"

typedef struct {
    FamResult *res[EVAL_MAX]; /* per model, per prompt */
    FamSummary sum[EVAL_MAX];
} FamState;

static int asked(const EvalConfig *c) {
    return c->prompts != NULL;
}

/* Quick, and it fails at once on a prompt too long: it runs first. */
static int run_model(EvalRun *run, void *st, int i, Llama *m, ObErr *err) {
    FamState *s = st;
    if (!run->cfg->prompts) return 0;
    double t0 = ob_now();
    s->res[i] = ob_calloc((size_t)run->fam.n, sizeof(FamResult), "familiarity results", err);
    if (!s->res[i] || fam_score(m, &run->fam, s->res[i], err)) return -1;
    fam_summarise(s->res[i], run->fam.n, &s->sum[i]);
    ob_logf("eval: %s: familiarity %.4g over %d prompts (%.1f s)\n", run->names[i],
            s->sum[i].mean_prob, run->fam.n, ob_now() - t0);
    return 0;
}

/* A token's bytes as a JSON string; a piece of a multi-byte character (not
 * UTF-8 on its own) is written as "<0xE2><0x80>". */
static cJSON *token_string(const Tokenizer *tok, int32_t id) {
    size_t len;
    const char *s = tok_token_bytes(tok, id, &len);
    char buf[6 * 100 + 1]; /* up to 100 bytes, each possibly "<0xNN>" */
    if (len > 100) len = 100;
    if (utf8_invalid_at(s, len) == len) {
        memcpy(buf, s, len);
        buf[len] = 0;
    } else {
        for (size_t i = 0; i < len; i++)
            snprintf(buf + 6 * i, sizeof buf - 6 * i, "<0x%02X>", (unsigned char)s[i]);
    }
    return cJSON_CreateString(buf);
}

static void model_json(const EvalRun *run, const void *st, int i, cJSON *o) {
    const FamState *s = st;
    if (!run->cfg->prompts) return;
    cJSON *f = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddNumberToObject(f, "mean_prob", s->sum[i].mean_prob);
    cJSON_AddNumberToObject(f, "mean_logp", s->sum[i].mean_logp);
    cJSON_AddNumberToObject(f, "median_first_rank", s->sum[i].median_rank);
    cJSON_AddNumberToObject(f, "first_top1_share", s->sum[i].top1_share);
    for (int k = 0; k < run->fam.n; k++) {
        const FamResult *r = &s->res[i][k];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddNumberToObject(it, "line", run->prompts.lines[k]);
        cJSON_AddNumberToObject(it, "logp", r->logp);
        cJSON_AddNumberToObject(it, "prob", r->prob);
        cJSON_AddNumberToObject(it, "first_prob", r->first_prob);
        cJSON_AddNumberToObject(it, "first_rank", r->first_rank);
        cJSON_AddBoolToObject(it, "first_is_argmax", r->first_is_argmax);
        cJSON_AddItemToObject(it, "argmax", token_string(&run->tok, r->argmax));
        cJSON_AddNumberToObject(it, "argmax_id", r->argmax);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(f, "items", items);
    cJSON_AddItemToObject(o, "familiarity", f);
}

static void table(const EvalRun *run, const void *st, EvalTable *t) {
    const FamState *s = st;
    if (!run->cfg->prompts) return;
    double prob[EVAL_MAX], logp[EVAL_MAX], rank[EVAL_MAX], top1[EVAL_MAX];
    for (int i = 0; i < run->n_models; i++)
        prob[i] = s->sum[i].mean_prob, logp[i] = s->sum[i].mean_logp,
        rank[i] = s->sum[i].median_rank, top1[i] = s->sum[i].top1_share;
    table_row(t, "familiarity (mean P)", "%.4g", prob, 0);
    table_row(t, "mean log-prob", "%.3f", logp, 0);
    table_row(t, "median first-token rank", "%g", rank, 0);
    table_row(t, "first token is top-1", "%.3f", top1, 0);
}

static void state_free(void *st) {
    FamState *s = st;
    for (int i = 0; i < EVAL_MAX; i++) free(s->res[i]);
}

const EvalMeasure measure_familiarity = {
    sizeof(FamState), 0, asked, NULL, NULL, run_model, NULL, NULL, model_json, table, state_free};
