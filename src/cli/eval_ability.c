#include "cli/eval_ability.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer.h"
#include "util/progress.h"

void ability_defaults(EvalAbility *a) {
    memset(a, 0, sizeof *a);
    nextsent_config_defaults(&a->next_cfg);
    relearn_config_defaults(&a->relearn_cfg);
}

int ability_wanted(const EvalAbility *a) {
    return a->choice_specs.n > 0 || a->next_path;
}

const char *ability_check(const EvalAbility *a, int have_prompts, int n_texts) {
    if (a->next_cfg.n < 1) return "--next-sentence-n must be >= 1";
    if (a->next_cfg.choices < 2 || a->next_cfg.choices > CHOICE_MAX)
        return "--next-sentence-choices must be 2..16";
    if (a->relearn_cfg.steps < 1 || a->relearn_cfg.batch < 1 || !(a->relearn_cfg.lr > 0))
        return "--relearn-steps and --relearn-batch must be >= 1, --relearn-lr > 0";
    if (a->relearn_path && !have_prompts && n_texts == 0)
        return "--relearn needs --prompts (and/or --text) to measure what comes back";
    return NULL;
}

/* "NAME=FILE", or FILE named after its base name without ".jsonl". */
static int choice_name(AbilityChoice *c, const char *spec, ObErr *err) {
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

int ability_load(EvalAbility *a, const Tokenizer *tok, uint64_t seed, int seq, ObErr *err) {
    a->next_cfg.seed = a->relearn_cfg.seed = seed;
    a->relearn_cfg.seq = seq;
    a->tok = tok;
    ChoiceLayout layout = CHOICE_AUTO;
    if (a->choice_layout && choice_layout_parse(a->choice_layout, &layout))
        return ob_errf(err,
                       "--choice-layout must be auto, hellaswag, piqa, arc, boolq or winogrande, "
                       "not '%s'",
                       a->choice_layout);
    for (int i = 0; i < a->choice_specs.n; i++) {
        AbilityChoice *c = &a->choices[i];
        if (choice_name(c, a->choice_specs.items[i], err)) return -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(a->choices[j].name, c->name))
                return ob_errf(err, "--choice name '%s' given twice", c->name);
        a->n_choices++;
        if (choice_load(&c->set, c->path, layout, err) || choice_encode(&c->enc, &c->set, tok, err))
            return -1;
        fprintf(stderr, "eval: choice %s: %d %s items from %s\n", c->name, c->set.n,
                choice_layout_name(c->set.layout), c->path);
    }
    if (a->next_path) {
        if (nextsent_load(&a->next, a->next_path, &a->next_cfg, &a->next_sentences,
                          &a->next_candidates, err) ||
            choice_encode(&a->next_enc, &a->next, tok, err))
            return -1;
        fprintf(stderr,
                "eval: next-sentence: %d items of %d choices from %d sentences (seed %llu)\n",
                a->next.n, a->next_cfg.choices, a->next_sentences, (unsigned long long)seed);
    }
    if (a->relearn_path && dataset_load(&a->relearn_ds, tok, &a->relearn_path, 1, err)) return -1;
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

/* Fine-tunes m on the relearning text, then measures familiarity and
 * perplexity again. */
static int relearn(EvalAbility *a, AbilityResult *r, const char *name, const char *path, Llama *m,
                   int seq, ObErr *err) {
    const AbilityMeasures *ms = &a->ms;
    if (relearn_run(m, a->tok, &a->relearn_ds, &a->relearn_cfg, &r->relearn, err))
        return ob_err_prefix(err, "%s", path);
    if (ms->fam) {
        FamResult *fam = ob_calloc((size_t)ms->fam->n, sizeof(FamResult), "familiarity", err);
        if (!fam || fam_score(m, ms->fam, fam, err)) return free(fam), -1;
        fam_summarise(fam, ms->fam->n, &r->fam);
        free(fam);
        fprintf(stderr, "eval: %s: relearned %ld steps: familiarity %.4g\n", name, r->relearn.steps,
                r->fam.mean_prob);
    }
    if (ms->n_texts == 0) return 0;
    int32_t *scratch = ob_malloc(sizeof(int32_t) * 2 * ms->batch * seq, "batch", err);
    if (!scratch || llama_alloc_batch(m, ms->batch, seq, err)) return free(scratch), -1;
    for (int t = 0; t < ms->n_texts; t++) {
        r->loss[t] = stream_loss(m, ms->texts[t], seq, ms->max_windows, scratch,
                                 scratch + ms->batch * seq, &r->tokens[t]);
        fprintf(stderr, "eval: %s: relearned %s perplexity %.3f\n", name, ms->names[t],
                exp(r->loss[t]));
    }
    free(scratch);
    return 0;
}

int ability_eval(EvalAbility *a, int i, const char *name, const char *path, Llama *m, int seq,
                 ObErr *err) {
    AbilityResult *r = &a->res[i];
    for (int c = 0; c < a->n_choices; c++) {
        double t0 = ob_now();
        if (score_choices(m, &a->choices[c].enc, &r->choice[c], err)) return -1;
        fprintf(stderr, "eval: %s: choice %s: acc %.3f, acc_norm %.3f over %d items (%.1f s)\n",
                name, a->choices[c].name, r->choice[c].acc, r->choice[c].acc_norm, r->choice[c].n,
                ob_now() - t0);
    }
    if (a->next_path) {
        double t0 = ob_now();
        if (score_choices(m, &a->next_enc, &r->next, err)) return -1;
        fprintf(stderr, "eval: %s: next-sentence acc %.3f, acc_norm %.3f over %d items (%.1f s)\n",
                name, r->next.acc, r->next.acc_norm, r->next.n, ob_now() - t0);
    }
    return a->relearn_path ? relearn(a, r, name, path, m, seq, err) : 0;
}

void ability_free(EvalAbility *a) {
    for (int c = 0; c < a->n_choices; c++)
        choice_enc_free(&a->choices[c].enc), choice_set_free(&a->choices[c].set);
    choice_enc_free(&a->next_enc);
    choice_set_free(&a->next);
    dataset_free(&a->relearn_ds);
}

/* ---- output ---- */

void ability_settings_json(const EvalAbility *a, cJSON *j) {
    if (a->n_choices) {
        cJSON *c = cJSON_CreateObject();
        for (int i = 0; i < a->n_choices; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", a->choices[i].path);
            cJSON_AddStringToObject(o, "layout", choice_layout_name(a->choices[i].set.layout));
            cJSON_AddNumberToObject(o, "n", a->choices[i].set.n);
            cJSON_AddItemToObject(c, a->choices[i].name, o);
        }
        cJSON_AddItemToObject(j, "choice", c);
    }
    if (a->next_path) {
        const NextSentConfig *c = &a->next_cfg;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", a->next_path);
        cJSON_AddNumberToObject(o, "n", a->next.n);
        cJSON_AddNumberToObject(o, "requested", c->n);
        cJSON_AddNumberToObject(o, "sentences", a->next_sentences);
        cJSON_AddNumberToObject(o, "candidates", a->next_candidates);
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
    if (a->relearn_path) {
        const RelearnConfig *c = &a->relearn_cfg;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", a->relearn_path);
        cJSON_AddNumberToObject(o, "tokens", (double)a->relearn_ds.n);
        cJSON_AddNumberToObject(o, "steps", (double)c->steps);
        cJSON_AddNumberToObject(o, "lr", c->lr);
        cJSON_AddNumberToObject(o, "batch", c->batch);
        cJSON_AddNumberToObject(o, "seq", c->seq);
        cJSON_AddNumberToObject(o, "seed", (double)c->seed);
        cJSON_AddStringToObject(o, "schedule", "constant, no warmup");
        cJSON_AddItemToObject(j, "relearn", o);
    }
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

static cJSON *relearn_json(const EvalAbility *a, const AbilityResult *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "steps", (double)r->relearn.steps);
    cJSON_AddNumberToObject(o, "lr", a->relearn_cfg.lr);
    cJSON_AddNumberToObject(o, "batch", a->relearn_cfg.batch);
    cJSON_AddNumberToObject(o, "seq", r->relearn.seq);
    cJSON_AddNumberToObject(o, "loss", r->relearn.last_loss);
    cJSON_AddNumberToObject(o, "seconds", r->relearn.seconds);
    if (a->ms.fam) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "mean_prob", r->fam.mean_prob);
        cJSON_AddNumberToObject(f, "mean_logp", r->fam.mean_logp);
        cJSON_AddNumberToObject(f, "median_first_rank", r->fam.median_rank);
        cJSON_AddNumberToObject(f, "first_top1_share", r->fam.top1_share);
        cJSON_AddItemToObject(o, "familiarity", f);
    }
    if (a->ms.n_texts) {
        cJSON *ppl = cJSON_CreateObject();
        for (int t = 0; t < a->ms.n_texts; t++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "loss", r->loss[t]);
            cJSON_AddNumberToObject(p, "perplexity", exp(r->loss[t]));
            cJSON_AddNumberToObject(p, "tokens", (double)r->tokens[t]);
            cJSON_AddItemToObject(ppl, a->ms.names[t], p);
        }
        cJSON_AddItemToObject(o, "perplexity", ppl);
    }
    return o;
}

void ability_model_json(const EvalAbility *a, int i, cJSON *o) {
    const AbilityResult *r = &a->res[i];
    if (a->n_choices) {
        cJSON *c = cJSON_CreateObject();
        for (int k = 0; k < a->n_choices; k++)
            cJSON_AddItemToObject(
                c, a->choices[k].name,
                summary_json(&r->choice[k], choice_layout_name(a->choices[k].set.layout)));
        cJSON_AddItemToObject(o, "choice", c);
    }
    if (a->next_path) cJSON_AddItemToObject(o, "next_sentence", summary_json(&r->next, NULL));
    if (a->relearn_path) cJSON_AddItemToObject(o, "relearn", relearn_json(a, r));
}

/* One value of model i's figures for a table row. */
typedef double (*AbilityFn)(const AbilityResult *r, int arg);
static double f_acc(const AbilityResult *r, int c) {
    return c < 0 ? r->next.acc : r->choice[c].acc;
}
static double f_norm(const AbilityResult *r, int c) {
    return c < 0 ? r->next.acc_norm : r->choice[c].acc_norm;
}
static double f_prob(const AbilityResult *r, int t) {
    (void)t;
    return r->fam.mean_prob;
}
static double f_logp(const AbilityResult *r, int t) {
    (void)t;
    return r->fam.mean_logp;
}
static double f_ppl(const AbilityResult *r, int t) {
    return exp(r->loss[t]);
}

/* The layout of cmd_eval's rows: a 30-wide label, then the cells. */
static void row(const EvalAbility *a, int n_models, const int *width, const char *label,
                AbilityFn fn, int arg, const char *fmt) {
    printf("%-30s", label);
    for (int i = 0; i < n_models; i++) {
        char cell[64];
        snprintf(cell, sizeof cell, fmt, fn(&a->res[i], arg));
        printf("  %*s", width[i], cell);
    }
    putchar('\n');
}

void ability_print_rows(const EvalAbility *a, int n, const int *width) {
    char label[96];
    for (int c = 0; c < a->n_choices; c++) {
        snprintf(label, sizeof label, "choice %s acc", a->choices[c].name);
        row(a, n, width, label, f_acc, c, "%.3f");
        snprintf(label, sizeof label, "choice %s acc_norm", a->choices[c].name);
        row(a, n, width, label, f_norm, c, "%.3f");
    }
    if (a->next_path) {
        row(a, n, width, "next-sentence acc", f_acc, -1, "%.3f");
        row(a, n, width, "next-sentence acc_norm", f_norm, -1, "%.3f");
    }
    if (!a->relearn_path) return;
    if (a->ms.fam) {
        row(a, n, width, "relearned familiarity (mean P)", f_prob, 0, "%.4g");
        row(a, n, width, "relearned mean log-prob", f_logp, 0, "%.3f");
    }
    for (int t = 0; t < a->ms.n_texts; t++) {
        snprintf(label, sizeof label, "relearned perplexity %s", a->ms.names[t]);
        row(a, n, width, label, f_ppl, t, "%.3f");
    }
}

void ability_print_notes(const EvalAbility *a, const char *sep) {
    for (int c = 0; c < a->n_choices; c++, sep = "; ")
        printf("%schoice %s: %d %s items from %s", sep, a->choices[c].name, a->choices[c].set.n,
               choice_layout_name(a->choices[c].set.layout), a->choices[c].path);
    if (a->next_path) {
        printf("%snext-sentence: %d items of %d choices (seed %llu) from %s", sep, a->next.n,
               a->next_cfg.choices, (unsigned long long)a->next_cfg.seed, a->next_path);
        sep = "; ";
    }
    if (a->relearn_path)
        printf("%srelearned: %ld steps at lr %g, batch %d on %s", sep, a->relearn_cfg.steps,
               a->relearn_cfg.lr, a->relearn_cfg.batch, a->relearn_path);
}
