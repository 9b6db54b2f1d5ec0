/* General ability: multiple-choice accuracy on each --choice set
 * (eval/choice.h) and on next-sentence items cut from general text
 * (eval/nextsent.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/choice.h"
#include "eval/measure.h"
#include "util/log.h"
#include "util/progress.h"

typedef struct {
    char name[64];
    const char *path;
    ChoiceSet set;
    ChoiceEnc enc;
} ChoiceTask;

typedef struct {
    ChoiceTask tasks[EVAL_MAX];
    int n_tasks;
    NextSentConfig next_cfg; /* the config's, with eval's seed */
    ChoiceSet next;
    ChoiceEnc next_enc;
    int next_sentences, next_candidates;
    ChoiceSummary choice[EVAL_MAX][EVAL_MAX]; /* [model][task] */
    ChoiceSummary next_sum[EVAL_MAX];         /* per model */
} ChoiceState;

static int asked(const EvalConfig *c) {
    return c->choices.n > 0 || c->next_sentence;
}

static const char *check(const EvalConfig *c) {
    if (c->next.n < 1) return "--next-sentence-n must be >= 1";
    if (c->next.choices < 2 || c->next.choices > CHOICE_MAX)
        return "--next-sentence-choices must be 2..16";
    return NULL;
}

/* "NAME=FILE", or FILE named after its base name without ".jsonl". */
static int task_name(ChoiceTask *c, const char *spec, ObErr *err) {
    const char *eq = strchr(spec, '=');
    c->path = eq ? eq + 1 : spec;
    if (eq && ((size_t)(eq - spec) >= sizeof c->name || eq == spec || !eq[1]))
        return ob_errf(err, "--choice wants NAME=FILE, got '%s'", spec);
    if (eq) {
        snprintf(c->name, sizeof c->name, "%.*s", (int)(eq - spec), spec);
        return 0;
    }
    const char *base = strrchr(spec, '/');
    snprintf(c->name, sizeof c->name, "%s", base ? base + 1 : spec);
    char *dot = strrchr(c->name, '.');
    if (dot && !strcmp(dot, ".jsonl")) *dot = 0;
    return 0;
}

static int load_tasks(EvalRun *run, ChoiceState *s, ObErr *err) {
    const EvalConfig *cfg = run->cfg;
    ChoiceLayout layout = CHOICE_AUTO;
    if (cfg->choice_layout && choice_layout_parse(cfg->choice_layout, &layout))
        return ob_errf(err,
                       "--choice-layout must be auto, hellaswag, piqa, arc, boolq or winogrande, "
                       "not '%s'",
                       cfg->choice_layout);
    for (int i = 0; i < cfg->choices.n; i++) {
        ChoiceTask *c = &s->tasks[i];
        if (task_name(c, cfg->choices.items[i], err)) return -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(s->tasks[j].name, c->name))
                return ob_errf(err, "--choice name '%s' given twice", c->name);
        s->n_tasks++;
        if (choice_load(&c->set, c->path, layout, err) ||
            choice_encode(&c->enc, &c->set, &run->tok, err))
            return -1;
        ob_logf("eval: choice %s: %d %s items from %s\n", c->name, c->set.n,
                choice_layout_name(c->set.layout), c->path);
    }
    return 0;
}

static int load(EvalRun *run, void *st, ObErr *err) {
    ChoiceState *s = st;
    const EvalConfig *cfg = run->cfg;
    s->next_cfg = cfg->next;
    s->next_cfg.seed = cfg->seed;
    if (load_tasks(run, s, err)) return -1;
    if (!cfg->next_sentence) return 0;
    if (nextsent_load(&s->next, cfg->next_sentence, &s->next_cfg, &s->next_sentences,
                      &s->next_candidates, err) ||
        choice_encode(&s->next_enc, &s->next, &run->tok, err))
        return -1;
    ob_logf("eval: next-sentence: %d items of %d choices from %d sentences (seed %llu)\n",
            s->next.n, s->next_cfg.choices, s->next_sentences, (unsigned long long)cfg->seed);
    return 0;
}

/* Multiple-choice accuracy of m on one encoded set. */
static int score_choices(const Llama *m, const ChoiceEnc *e, ChoiceSummary *sum, ObErr *err) {
    double *logp = ob_malloc(sizeof(double) * (size_t)e->n_pairs, "choice scores", err);
    int truncated, rc = logp ? choice_score(m, e, logp, &truncated, err) : -1;
    if (!rc) choice_summarise(e, logp, truncated, sum);
    free(logp);
    return rc;
}

static int run_model(EvalRun *run, void *st, int i, Llama *m, ObErr *err) {
    ChoiceState *s = st;
    const char *name = run->names[i];
    for (int c = 0; c < s->n_tasks; c++) {
        const ChoiceSummary *r = &s->choice[i][c];
        double t0 = ob_now();
        if (score_choices(m, &s->tasks[c].enc, &s->choice[i][c], err)) return -1;
        ob_logf("eval: %s: choice %s: acc %.3f, acc_norm %.3f over %d items (%.1f s)\n", name,
                s->tasks[c].name, r->acc, r->acc_norm, r->n, ob_now() - t0);
    }
    if (run->cfg->next_sentence) {
        const ChoiceSummary *r = &s->next_sum[i];
        double t0 = ob_now();
        if (score_choices(m, &s->next_enc, &s->next_sum[i], err)) return -1;
        ob_logf("eval: %s: next-sentence acc %.3f, acc_norm %.3f over %d items (%.1f s)\n", name,
                r->acc, r->acc_norm, r->n, ob_now() - t0);
    }
    return 0;
}

static void settings_json(const EvalRun *run, const void *st, cJSON *j) {
    const ChoiceState *s = st;
    if (s->n_tasks) {
        cJSON *c = cJSON_CreateObject();
        for (int i = 0; i < s->n_tasks; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", s->tasks[i].path);
            cJSON_AddStringToObject(o, "layout", choice_layout_name(s->tasks[i].set.layout));
            cJSON_AddNumberToObject(o, "n", s->tasks[i].set.n);
            cJSON_AddItemToObject(c, s->tasks[i].name, o);
        }
        cJSON_AddItemToObject(j, "choice", c);
    }
    if (!run->cfg->next_sentence) return;
    const NextSentConfig *c = &s->next_cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", run->cfg->next_sentence);
    cJSON_AddNumberToObject(o, "n", s->next.n);
    cJSON_AddNumberToObject(o, "requested", c->n);
    cJSON_AddNumberToObject(o, "sentences", s->next_sentences);
    cJSON_AddNumberToObject(o, "candidates", s->next_candidates);
    cJSON_AddNumberToObject(o, "choices", c->choices);
    cJSON_AddNumberToObject(o, "context_sentences", c->context);
    cJSON_AddNumberToObject(o, "min_bytes", c->min_bytes);
    cJSON_AddNumberToObject(o, "max_bytes", c->max_bytes);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddStringToObject(o, "rule",
                            "context: up to 2 sentences before the target; choices: the "
                            "target and sentences drawn from elsewhere in the text; scored "
                            "by sum log P (acc) and sum log P / characters (acc_norm)");
    cJSON_AddItemToObject(j, "next_sentence", o);
}

static cJSON *summary_json(const ChoiceSummary *s, const char *layout) {
    cJSON *o = cJSON_CreateObject();
    if (layout) cJSON_AddStringToObject(o, "layout", layout);
    cJSON_AddNumberToObject(o, "n", s->n);
    cJSON_AddNumberToObject(o, "acc", s->acc);
    cJSON_AddNumberToObject(o, "acc_norm", s->acc_norm);
    cJSON_AddNumberToObject(o, "truncated", s->truncated);
    return o;
}

static void model_json(const EvalRun *run, const void *st, int i, cJSON *o) {
    const ChoiceState *s = st;
    if (s->n_tasks) {
        cJSON *c = cJSON_CreateObject();
        for (int k = 0; k < s->n_tasks; k++)
            cJSON_AddItemToObject(
                c, s->tasks[k].name,
                summary_json(&s->choice[i][k], choice_layout_name(s->tasks[k].set.layout)));
        cJSON_AddItemToObject(o, "choice", c);
    }
    if (run->cfg->next_sentence)
        cJSON_AddItemToObject(o, "next_sentence", summary_json(&s->next_sum[i], NULL));
}

/* acc and acc_norm rows of one set (task -1: the next-sentence items). */
static void rows(const EvalRun *run, const ChoiceState *s, EvalTable *t, int task) {
    double acc[EVAL_MAX], norm[EVAL_MAX];
    for (int i = 0; i < run->n_models; i++) {
        const ChoiceSummary *r = task < 0 ? &s->next_sum[i] : &s->choice[i][task];
        acc[i] = r->acc, norm[i] = r->acc_norm;
    }
    char label[96];
    const char *what = task < 0 ? "next-sentence" : s->tasks[task].name;
    snprintf(label, sizeof label, task < 0 ? "%s acc" : "choice %s acc", what);
    table_row(t, label, "%.3f", acc, 0);
    snprintf(label, sizeof label, task < 0 ? "%s acc_norm" : "choice %s acc_norm", what);
    table_row(t, label, "%.3f", norm, 0);
}

static void table(const EvalRun *run, const void *st, EvalTable *t) {
    const ChoiceState *s = st;
    for (int c = 0; c < s->n_tasks; c++) rows(run, s, t, c);
    if (run->cfg->next_sentence) rows(run, s, t, -1);
    for (int c = 0; c < s->n_tasks; c++)
        table_note(t, "choice %s: %d %s items from %s", s->tasks[c].name, s->tasks[c].set.n,
                   choice_layout_name(s->tasks[c].set.layout), s->tasks[c].path);
    if (run->cfg->next_sentence)
        table_note(t, "next-sentence: %d items of %d choices (seed %llu) from %s", s->next.n,
                   s->next_cfg.choices, (unsigned long long)s->next_cfg.seed,
                   run->cfg->next_sentence);
}

static void state_free(void *st) {
    ChoiceState *s = st;
    for (int c = 0; c < s->n_tasks; c++)
        choice_enc_free(&s->tasks[c].enc), choice_set_free(&s->tasks[c].set);
    choice_enc_free(&s->next_enc);
    choice_set_free(&s->next);
}

const EvalMeasure measure_choice = {sizeof(ChoiceState), 1,    asked,         check,      load,
                                    run_model,           NULL, settings_json, model_json, table,
                                    state_free};
