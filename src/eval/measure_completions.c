/* Completion familiarity (eval/completion.h): prompts cut from the target
 * before one of the anchor dictionary's keys, completed greedily by each
 * model and judged by the keys the completion brings in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/measure.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/utf8.h"

typedef struct {
    CompConfig cfg; /* the config's, with eval's seed */
    AnchorDict anchors;
    TokenStream ds;
    CompSet set;
    CompJudgement *truth; /* the true continuations, judged by the same rule */
    CompSummary truth_sum;
    CompResult *res[EVAL_MAX]; /* per model, per prompt */
    CompSummary sum[EVAL_MAX];
} CompState;

static int asked(const EvalConfig *c) {
    return c->comp.n > 0;
}

static const char *check(const EvalConfig *c) {
    if (c->comp.n < 0) return "--completions must be >= 0";
    if (c->comp.n > 0 && (c->comp_targets.n == 0 || !c->anchors))
        return "--completions needs --completion-target and --anchors";
    if (c->comp.n == 0 && (c->comp_targets.n || c->anchors))
        return "--completion-target and --anchors need --completions N";
    if (c->comp.prompt_tokens < 1 || c->comp.completion_tokens < 1)
        return "--completion-tokens and --completion-prompt-tokens must be >= 1";
    return NULL;
}

/* Judges the true continuations: the figure a model that recites the text
 * would get. */
static int judge_truth(CompState *s, ObErr *err) {
    CompResult *truth = ob_calloc((size_t)s->set.n, sizeof(CompResult), "judgements", err);
    s->truth = ob_calloc((size_t)s->set.n, sizeof(CompJudgement), "judgements", err);
    if (!truth || !s->truth) return free(truth), -1;
    int rc = 0;
    for (int i = 0; i < s->set.n && !rc; i++) {
        rc = comp_judge(&s->anchors, s->set.prompt[i], s->set.truth[i], &s->truth[i], err);
        truth[i].j = s->truth[i];
    }
    comp_summarise(truth, s->set.n, &s->truth_sum);
    free(truth); /* the judgements stay in s->truth */
    return rc;
}

/* Cuts the prompts, the same for every model. */
static int load(EvalRun *run, void *st, ObErr *err) {
    CompState *s = st;
    const EvalConfig *c = run->cfg;
    s->cfg = c->comp;
    s->cfg.seed = c->seed;
    if (s->cfg.n <= 0) return 0;
    if (anchors_load(&s->anchors, c->anchors, err) ||
        anchors_tokenize(&s->anchors, &run->tok, err) ||
        dataset_load(&s->ds, &run->tok, c->comp_targets.items, c->comp_targets.n, err) ||
        comp_cut(&s->set, &s->ds, &run->tok, &s->anchors, &s->cfg, err))
        return -1;
    if (s->set.n < s->cfg.n)
        ob_logf("eval: only %ld places in the target to cut a completion prompt, not %d\n",
                s->set.n_candidates, s->cfg.n);
    if (judge_truth(s, err)) return -1;
    ob_logf("eval: %d completion prompts cut from %ld candidates (seed %llu); true "
            "continuations: leak rate %.3f\n",
            s->set.n, s->set.n_candidates, (unsigned long long)s->cfg.seed, s->truth_sum.leak_rate);
    return 0;
}

static int run_model(EvalRun *run, void *st, int i, Llama *m, ObErr *err) {
    CompState *s = st;
    if (!s->set.n) return 0;
    double t0 = ob_now();
    s->res[i] = ob_calloc((size_t)s->set.n, sizeof(CompResult), "completions", err);
    if (!s->res[i] || comp_generate(m, &s->set, &run->tok, &s->anchors, s->res[i], err)) return -1;
    comp_summarise(s->res[i], s->set.n, &s->sum[i]);
    ob_logf("eval: %s: completions: leak rate %.3f, weighted score %.3f over %d prompts "
            "(%.1f s)\n",
            run->names[i], s->sum[i].leak_rate, s->sum[i].score, s->set.n, ob_now() - t0);
    return 0;
}

static const char *class_name(CompClass c) {
    return c == COMP_UNIQUE ? "unique" : c == COMP_TYPICAL ? "typical" : "none";
}

/* Anchor indexes -> an array of their keys. */
static cJSON *keys_json(const AnchorDict *d, const int *idx, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(d->items[idx[i]].key));
    return a;
}

/* Text as a JSON string; bytes that are not UTF-8 (a completion may end
 * inside a character) become U+FFFD so the file stays valid. */
static cJSON *text_json(const char *s) {
    size_t len = strlen(s), bad = utf8_invalid_at(s, len);
    if (bad == len) return cJSON_CreateString(s);
    char *buf = malloc(3 * len + 1);
    if (!buf) return cJSON_CreateString("");
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t ok = utf8_invalid_at(s + i, len - i);
        memcpy(buf + k, s + i, ok);
        k += ok, i += ok;
        if (i < len) memcpy(buf + k, "\xEF\xBF\xBD", 3), k += 3, i++;
    }
    buf[k] = 0;
    cJSON *j = cJSON_CreateString(buf);
    free(buf);
    return j;
}

static cJSON *prompt_json(const CompState *s, int i) {
    const CompSet *set = &s->set;
    cJSON *it = cJSON_CreateObject();
    cJSON_AddNumberToObject(it, "position", (double)set->at[i]);
    cJSON_AddNumberToObject(it, "prompt_tokens", set->n_ids[i] - 1);
    cJSON_AddStringToObject(it, "key", s->anchors.items[set->key[i]].key);
    cJSON_AddNumberToObject(it, "lead", set->lead[i]);
    cJSON_AddItemToObject(it, "prompt", text_json(set->prompt[i]));
    cJSON_AddItemToObject(it, "truth", text_json(set->truth[i]));
    cJSON_AddStringToObject(it, "truth_class", class_name(s->truth[i].cls));
    cJSON_AddItemToObject(it, "truth_leaked",
                          keys_json(&s->anchors, s->truth[i].leaked, s->truth[i].n_leaked));
    return it;
}

static void settings_json(const EvalRun *run, const void *st, cJSON *root) {
    const CompState *s = st;
    const CompSet *set = &s->set;
    if (!set->n) return;
    cJSON *c = cJSON_CreateObject(), *items = cJSON_CreateArray();
    eval_sample_json(c, &run->cfg->comp_targets, set->n, set->cfg.n, set->n_candidates,
                     set->cfg.seed, set->cfg.prompt_tokens);
    cJSON_AddStringToObject(c, "anchors", run->cfg->anchors);
    cJSON_AddNumberToObject(c, "completion_tokens", set->cfg.completion_tokens);
    cJSON_AddNumberToObject(c, "max_lead", set->cfg.max_lead);
    cJSON_AddStringToObject(c, "rule",
                            "greedy completion; unique (weight 5): it holds an anchor key its "
                            "prompt lacks (a leak); typical (weight 1): it holds only keys the "
                            "prompt has; score = (5 unique + typical) / n");
    cJSON_AddNumberToObject(c, "truth_leak_rate", s->truth_sum.leak_rate);
    cJSON_AddNumberToObject(c, "truth_weighted_score", s->truth_sum.score);
    for (int i = 0; i < set->n; i++) cJSON_AddItemToArray(items, prompt_json(s, i));
    cJSON_AddItemToObject(c, "items", items);
    cJSON_AddItemToObject(root, "completions", c);
}

static void model_json(const EvalRun *run, const void *st, int i, cJSON *o) {
    const CompState *s = st;
    (void)run;
    if (!s->set.n) return;
    const CompSummary *sum = &s->sum[i];
    cJSON *c = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddNumberToObject(c, "leak_rate", sum->leak_rate);
    cJSON_AddNumberToObject(c, "weighted_score", sum->score);
    cJSON_AddNumberToObject(c, "unique", sum->unique);
    cJSON_AddNumberToObject(c, "typical", sum->typical);
    cJSON_AddNumberToObject(c, "n", sum->n);
    for (int k = 0; k < s->set.n; k++) {
        const CompResult *r = &s->res[i][k];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddItemToObject(it, "completion", text_json(r->text));
        cJSON_AddNumberToObject(it, "tokens", r->n_tokens);
        cJSON_AddStringToObject(it, "class", class_name(r->j.cls));
        cJSON_AddItemToObject(it, "leaked", keys_json(&s->anchors, r->j.leaked, r->j.n_leaked));
        cJSON_AddItemToObject(it, "shared", keys_json(&s->anchors, r->j.shared, r->j.n_shared));
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(c, "items", items);
    cJSON_AddItemToObject(o, "completions", c);
}

static void table(const EvalRun *run, const void *st, EvalTable *t) {
    const CompState *s = st;
    const EvalList *files = &run->cfg->comp_targets;
    if (!s->set.n) return;
    double leak[EVAL_MAX], score[EVAL_MAX];
    for (int i = 0; i < run->n_models; i++)
        leak[i] = s->sum[i].leak_rate, score[i] = s->sum[i].score;
    table_row(t, "completion leak rate", "%.3f", leak, 0);
    table_row(t, "completion weighted score", "%.3f", score, 0);
    table_note(t,
               "%d completion prompts (seed %llu) cut from %s%s; true continuations: leak "
               "rate %.3f, weighted score %.3f",
               s->set.n, (unsigned long long)s->cfg.seed, files->items[0],
               files->n > 1 ? " ..." : "", s->truth_sum.leak_rate, s->truth_sum.score);
}

static void state_free(void *st) {
    CompState *s = st;
    for (int i = 0; i < EVAL_MAX; i++) {
        comp_results_free(s->res[i], s->set.n);
        free(s->res[i]);
    }
    for (int i = 0; s->truth && i < s->set.n; i++) comp_judgement_free(&s->truth[i]);
    free(s->truth);
    comp_set_free(&s->set);
    dataset_free(&s->ds);
    anchors_free(&s->anchors);
}

const EvalMeasure measure_completions = {sizeof(CompState), 0,    asked,         check,      load,
                                         run_model,         NULL, settings_json, model_json, table,
                                         state_free};
