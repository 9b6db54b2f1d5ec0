/* What each model remembers of the target, after MUSE: VerbMem and KnowMem
 * (eval/memorisation.h) and membership inference with PrivLeak relative to
 * an oracle model (eval/mia.h). One measure because the oracle is found
 * among the models before any of the three reads its inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/measure.h"
#include "eval/mia.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/rng.h"

#define MIA_K 0.4 /* MUSE's Min-K% setting */

/* KnowMem's two question sets as JSON keys: the target's, and general
 * text's (MUSE's utility criterion, "KnowMem on retain") */
static const char *const KNOW_KEY[2] = {"knowmem", "knowmem_retain"};

typedef struct {
    VerbResult *verb; /* [verb.n] or NULL */
    int verb_tokens;  /* continuation length used (the context may cap it) */
    double verb_f1;
    KnowResult *know[2]; /* [know[k].n] or NULL: forget questions, retain questions */
    double know_f1[2], know_recall[2];
    double *mia_forget, *mia_holdout; /* Min-K% scores per chunk, or NULL */
    double auc, privleak;             /* privleak: NAN without an oracle */
} MemModel;

typedef struct {
    VerbConfig verb_cfg;        /* the config's, with eval's seed */
    KnowConfig know_cfg;        /* likewise */
    const EvalList *verb_files; /* the files VerbMem cuts from */
    TokenStream verb_ds;
    VerbSet verb;
    JsonlFile know_file[2]; /* KnowMem on the target's questions, and on retain ones */
    KnowSet know[2];
    TokenStream forget_ds, holdout_ds;
    size_t *forget_at, *holdout_at; /* chunk starts */
    int n_forget, n_holdout, forget_available, holdout_available;
    int oracle_idx; /* -1: none */
    int n_models;
    MemModel models[EVAL_MAX];
} MemState;

static int mia_on(const EvalConfig *c) {
    return c->mia_forget.n > 0 || c->mia_holdout.n > 0;
}

static int asked(const EvalConfig *c) {
    return c->verb.n > 0 || c->knowmem || c->knowmem_retain || mia_on(c);
}

static const char *check(const EvalConfig *c) {
    const VerbConfig *v = &c->verb;
    if (v->n < 0) return "--verbmem must be >= 0";
    if (v->prompt_tokens < 1 || v->gen_tokens < 1)
        return "--verbmem-prompt-tokens and --verbmem-tokens must be >= 1";
    if (v->n > 0 && !c->verb_targets.n && !c->comp_targets.n && !c->mia_forget.n)
        return "--verbmem needs --verbmem-target (or --completion-target or --mia-forget)";
    if (v->n == 0 && c->verb_targets.n) return "--verbmem-target needs --verbmem K";
    if (c->know.shots < 0 || c->know.max_tokens < 1)
        return "--knowmem-shots must be >= 0 and --knowmem-tokens >= 1";
    if (mia_on(c) && (!c->mia_forget.n || !c->mia_holdout.n))
        return "membership inference needs both --mia-forget and --mia-holdout";
    if (c->mia_chunk < 2) return "--mia-chunk must be >= 2";
    if (c->mia_max < 0) return "--mia-max-chunks must be >= 0";
    if (c->oracle && !mia_on(c)) return "--oracle needs --mia-forget and --mia-holdout";
    return NULL;
}

/* "runs/oracle.gguf" -> is it "oracle"? */
static int file_named(const char *path, const char *name) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base), k = strlen(name);
    if (n > 5 && !strcmp(base + n - 5, ".gguf")) n -= 5;
    return n == k && !strncmp(base, name, k);
}

static int find_oracle(const EvalRun *run, MemState *s, ObErr *err) {
    const EvalConfig *c = run->cfg;
    s->oracle_idx = -1;
    if (!mia_on(c)) return 0;
    const char *want = c->oracle ? c->oracle : "oracle";
    for (int i = 0; i < run->n_models && s->oracle_idx < 0; i++) {
        const char *path = c->models.items[i];
        if (!strcmp(run->names[i], want) || !strcmp(path, want) || file_named(path, want))
            s->oracle_idx = i;
    }
    if (c->oracle && s->oracle_idx < 0)
        return ob_errf(err, "--oracle %s is none of the models", c->oracle);
    return 0;
}

static int load_mia(const EvalRun *run, MemState *s, ObErr *err) {
    const EvalConfig *c = run->cfg;
    if (!mia_on(c)) return 0;
    /* different draws for the two sets, each the same for every model */
    if (dataset_load(&s->forget_ds, &run->tok, c->mia_forget.items, c->mia_forget.n, err) ||
        dataset_load(&s->holdout_ds, &run->tok, c->mia_holdout.items, c->mia_holdout.n, err) ||
        mia_chunks(&s->forget_ds, run->tok.eot_id, c->mia_chunk, c->mia_max, ob_hash64(c->seed),
                   &s->forget_at, &s->n_forget, &s->forget_available, err) ||
        mia_chunks(&s->holdout_ds, run->tok.eot_id, c->mia_chunk, c->mia_max,
                   ob_hash64(c->seed + 1), &s->holdout_at, &s->n_holdout, &s->holdout_available,
                   err))
        return ob_err_prefix(err, "membership inference");
    ob_logf("eval: membership: %d forget chunks (of %d), %d holdout chunks (of %d), %d "
            "tokens each\n",
            s->n_forget, s->forget_available, s->n_holdout, s->holdout_available, c->mia_chunk);
    return 0;
}

static int load(EvalRun *run, void *st, ObErr *err) {
    MemState *s = st;
    const EvalConfig *c = run->cfg;
    s->n_models = run->n_models;
    s->verb_cfg = c->verb, s->know_cfg = c->know;
    s->verb_cfg.seed = s->know_cfg.seed = c->seed;
    if (find_oracle(run, s, err)) return -1;
    if (c->verb.n > 0) {
        s->verb_files = c->verb_targets.n   ? &c->verb_targets
                        : c->comp_targets.n ? &c->comp_targets
                                            : &c->mia_forget;
        if (dataset_load(&s->verb_ds, &run->tok, s->verb_files->items, s->verb_files->n, err) ||
            verb_cut(&s->verb, &s->verb_ds, &run->tok, &s->verb_cfg, err))
            return -1;
        ob_logf("eval: verbmem: %d excerpts cut from %ld candidates (seed %llu)\n", s->verb.n,
                s->verb.n_candidates, (unsigned long long)c->seed);
    }
    const char *know_path[2] = {c->knowmem, c->knowmem_retain};
    for (int k = 0; k < 2; k++)
        if (know_path[k] && (jsonl_load(&s->know_file[k], know_path[k], KNOW_JSONL_FIELDS, err) ||
                             know_build(&s->know[k], &s->know_file[k], &s->know_cfg, err)))
            return -1;
    return load_mia(run, s, err);
}

static int run_mia(const MemState *s, int mia_chunk, MemModel *mm, const Llama *m, ObErr *err) {
    mm->mia_forget = ob_calloc((size_t)s->n_forget, sizeof(double), "scores", err);
    mm->mia_holdout = ob_calloc((size_t)s->n_holdout, sizeof(double), "scores", err);
    if (!mm->mia_forget || !mm->mia_holdout ||
        mia_score_chunks(m, s->forget_ds.tokens, s->forget_at, s->n_forget, mia_chunk, MIA_K,
                         mm->mia_forget, err) ||
        mia_score_chunks(m, s->holdout_ds.tokens, s->holdout_at, s->n_holdout, mia_chunk, MIA_K,
                         mm->mia_holdout, err))
        return -1;
    mm->auc = mia_auc(mm->mia_forget, s->n_forget, mm->mia_holdout, s->n_holdout);
    return 0;
}

static int run_model(EvalRun *run, void *st, int i, Llama *m, ObErr *err) {
    MemState *s = st;
    MemModel *mm = &s->models[i];
    const char *name = run->names[i];
    mm->auc = mm->privleak = NAN;
    double t0 = ob_now();
    if (s->verb.n) {
        mm->verb = ob_calloc((size_t)s->verb.n, sizeof(VerbResult), "verbmem results", err);
        if (!mm->verb || verb_generate(m, &s->verb, &run->tok, mm->verb, &mm->verb_tokens, err))
            return -1;
        mm->verb_f1 = verb_mean_f1(mm->verb, s->verb.n);
        ob_logf("eval: %s: verbmem ROUGE-L F1 %.3f over %d excerpts, %d tokens (%.1f s)\n", name,
                mm->verb_f1, s->verb.n, mm->verb_tokens, ob_now() - t0);
    }
    for (int k = 0; k < 2; k++) {
        const KnowSet *ks = &s->know[k];
        if (!ks->n) continue;
        t0 = ob_now();
        mm->know[k] = ob_calloc((size_t)ks->n, sizeof(KnowResult), "knowmem results", err);
        if (!mm->know[k] || know_generate(m, ks, &run->tok, mm->know[k], err)) return -1;
        know_means(mm->know[k], ks->n, &mm->know_f1[k], &mm->know_recall[k]);
        ob_logf("eval: %s: %s ROUGE-L F1 %.3f, recall %.3f over %d questions (%.1f s)\n", name,
                KNOW_KEY[k], mm->know_f1[k], mm->know_recall[k], ks->n, ob_now() - t0);
    }
    if (s->n_forget) {
        t0 = ob_now();
        if (run_mia(s, run->cfg->mia_chunk, mm, m, err)) return -1;
        ob_logf("eval: %s: membership AUC %.3f (Min-%g%%, %d + %d chunks, %.1f s)\n", name, mm->auc,
                MIA_K * 100, s->n_forget, s->n_holdout, ob_now() - t0);
    }
    return 0;
}

/* PrivLeak relative to the oracle, once every model has its AUC. */
static void finish(EvalRun *run, void *st) {
    MemState *s = st;
    for (int i = 0; i < run->n_models; i++)
        s->models[i].privleak = s->oracle_idx >= 0 && s->n_forget
                                    ? mia_privleak(s->models[i].auc, s->models[s->oracle_idx].auc)
                                    : NAN;
}

/* ---- JSON ---- */

static void add_num(cJSON *o, const char *key, double v) {
    if (isnan(v) || isinf(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static cJSON *doubles_json(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *verb_settings_json(const MemState *s) {
    const VerbSet *v = &s->verb;
    cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
    eval_sample_json(o, s->verb_files, v->n, v->cfg.n, v->n_candidates, v->cfg.seed,
                     v->cfg.prompt_tokens);
    cJSON_AddNumberToObject(o, "tokens", v->cfg.gen_tokens);
    cJSON_AddStringToObject(o, "rule",
                            "<|endoftext|> + prompt, greedy continuation with the key/value "
                            "cache; ROUGE-L F1 (lowercased words) against the true next "
                            "tokens' text; a model with a shorter context generates and is "
                            "compared on fewer tokens (its \"tokens\")");
    for (int i = 0; i < v->n; i++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddNumberToObject(it, "position", (double)v->at[i]);
        cJSON_AddStringToObject(it, "prompt", v->prompt_text[i]);
        cJSON_AddStringToObject(it, "truth", v->truth_text[i]);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(o, "items", items);
    return o;
}

static cJSON *know_settings_json(const MemState *s, int set, const char *path) {
    const KnowSet *k = &s->know[set];
    cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddNumberToObject(o, "n", k->n);
    cJSON_AddNumberToObject(o, "shots", k->cfg.shots);
    cJSON_AddNumberToObject(o, "max_tokens", k->cfg.max_tokens);
    cJSON_AddNumberToObject(o, "seed", (double)k->cfg.seed);
    cJSON_AddStringToObject(o, "format", "Question: Q\nAnswer: A\n\n");
    cJSON_AddStringToObject(o, "rule",
                            "<|endoftext|> + examples + \"Question: Q\\nAnswer:\", greedy "
                            "until a newline, <|endoftext|> or max_tokens; ROUGE-L F1 and "
                            "recall of the trimmed answer against the reference");
    for (int i = 0; i < k->n; i++) {
        cJSON *it = cJSON_Duplicate(s->know_file[set].items[i], 1), *ex = cJSON_CreateArray();
        cJSON_DeleteItemFromObjectCaseSensitive(it, "line");
        cJSON_DeleteItemFromObjectCaseSensitive(it, "example_lines");
        cJSON_AddNumberToObject(it, "line", k->line[i]);
        for (int a = 0; a < k->n_shots[i]; a++)
            cJSON_AddItemToArray(ex, cJSON_CreateNumber(k->line[k->shots[i][a]]));
        cJSON_AddItemToObject(it, "example_lines", ex);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(o, "items", items);
    return o;
}

static cJSON *mia_settings_json(const EvalRun *run, const MemState *s) {
    const EvalConfig *c = run->cfg;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddItemToObject(a, "forget", eval_list_json(&c->mia_forget));
    cJSON_AddItemToObject(a, "holdout", eval_list_json(&c->mia_holdout));
    cJSON_AddNumberToObject(a, "chunk_tokens", c->mia_chunk);
    cJSON_AddNumberToObject(a, "k", MIA_K);
    cJSON_AddNumberToObject(a, "max_chunks", c->mia_max);
    cJSON_AddNumberToObject(a, "n_forget", s->n_forget);
    cJSON_AddNumberToObject(a, "n_holdout", s->n_holdout);
    cJSON_AddNumberToObject(a, "forget_available", s->forget_available);
    cJSON_AddNumberToObject(a, "holdout_available", s->holdout_available);
    if (s->oracle_idx >= 0)
        cJSON_AddStringToObject(a, "oracle", run->names[s->oracle_idx]);
    else
        cJSON_AddNullToObject(a, "oracle");
    cJSON_AddStringToObject(a, "rule",
                            "score = mean of the lowest max(1, floor(k n)) token "
                            "log-probabilities of a chunk (n = chunk_tokens - 1, teacher "
                            "forced); auc = P(forget chunk scores higher than holdout "
                            "chunk), ties 1/2; privleak = (auc - auc_oracle) / auc_oracle "
                            "x 100");
    return a;
}

static void settings_json(const EvalRun *run, const void *st, cJSON *root) {
    const MemState *s = st;
    if (s->verb.n) cJSON_AddItemToObject(root, "verbmem", verb_settings_json(s));
    const char *know_path[2] = {run->cfg->knowmem, run->cfg->knowmem_retain};
    for (int k = 0; k < 2; k++)
        if (s->know[k].n)
            cJSON_AddItemToObject(root, KNOW_KEY[k], know_settings_json(s, k, know_path[k]));
    if (s->n_forget) cJSON_AddItemToObject(root, "mia", mia_settings_json(run, s));
}

static cJSON *verb_json(const MemState *s, const MemModel *mm) {
    cJSON *v = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddNumberToObject(v, "n", s->verb.n);
    cJSON_AddNumberToObject(v, "rougeL_f1", mm->verb_f1);
    cJSON_AddNumberToObject(v, "tokens", mm->verb_tokens);
    cJSON_AddBoolToObject(v, "capped_by_context", mm->verb_tokens < s->verb.cfg.gen_tokens);
    for (int k = 0; k < s->verb.n; k++) {
        const VerbResult *r = &mm->verb[k];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddNumberToObject(it, "f1", r->score.f1);
        cJSON_AddNumberToObject(it, "precision", r->score.precision);
        cJSON_AddNumberToObject(it, "recall", r->score.recall);
        cJSON_AddNumberToObject(it, "tokens", r->n_tokens);
        cJSON_AddStringToObject(it, "continuation", r->text);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(v, "items", items);
    return v;
}

static cJSON *know_json(const MemState *s, int set, const MemModel *mm) {
    const KnowSet *ks = &s->know[set];
    cJSON *k = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddNumberToObject(k, "n", ks->n);
    cJSON_AddNumberToObject(k, "rougeL_f1", mm->know_f1[set]);
    cJSON_AddNumberToObject(k, "rougeL_recall", mm->know_recall[set]);
    for (int q = 0; q < ks->n; q++) {
        const KnowResult *r = &mm->know[set][q];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "question", ks->question[q]);
        cJSON_AddStringToObject(it, "answer", ks->answer[q]);
        cJSON_AddStringToObject(it, "generated", r->answer);
        cJSON_AddNumberToObject(it, "f1", r->score.f1);
        cJSON_AddNumberToObject(it, "recall", r->score.recall);
        cJSON_AddNumberToObject(it, "shots", r->shots);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(k, "items", items);
    return k;
}

static cJSON *privleak_json(const MemState *s, const MemModel *mm) {
    cJSON *p = cJSON_CreateObject();
    add_num(p, "auc", mm->auc);
    add_num(p, "privleak", mm->privleak);
    cJSON_AddNumberToObject(p, "n_forget", s->n_forget);
    cJSON_AddNumberToObject(p, "n_holdout", s->n_holdout);
    cJSON_AddItemToObject(p, "forget_scores", doubles_json(mm->mia_forget, s->n_forget));
    cJSON_AddItemToObject(p, "holdout_scores", doubles_json(mm->mia_holdout, s->n_holdout));
    return p;
}

static void model_json(const EvalRun *run, const void *st, int i, cJSON *model) {
    const MemState *s = st;
    const MemModel *mm = &s->models[i];
    (void)run;
    if (s->verb.n) cJSON_AddItemToObject(model, "verbmem", verb_json(s, mm));
    for (int k = 0; k < 2; k++)
        if (s->know[k].n) cJSON_AddItemToObject(model, KNOW_KEY[k], know_json(s, k, mm));
    if (s->n_forget) cJSON_AddItemToObject(model, "privleak", privleak_json(s, mm));
}

/* ---- table ---- */

static void row(const MemState *s, EvalTable *t, const char *label, size_t field, const char *fmt) {
    double v[EVAL_MAX];
    for (int i = 0; i < s->n_models; i++)
        v[i] = *(const double *)((const char *)&s->models[i] + field);
    table_row(t, label, fmt, v, 1);
}

static void table(const EvalRun *run, const void *st, EvalTable *t) {
    const MemState *s = st;
    const EvalConfig *c = run->cfg;
    if (s->verb.n) row(s, t, "verbmem ROUGE-L F1", offsetof(MemModel, verb_f1), "%.3f");
    if (s->know[0].n) {
        row(s, t, "knowmem ROUGE-L F1", offsetof(MemModel, know_f1[0]), "%.3f");
        row(s, t, "knowmem ROUGE-L recall", offsetof(MemModel, know_recall[0]), "%.3f");
    }
    if (s->know[1].n) {
        row(s, t, "knowmem retain ROUGE-L F1", offsetof(MemModel, know_f1[1]), "%.3f");
        row(s, t, "knowmem retain ROUGE-L recall", offsetof(MemModel, know_recall[1]), "%.3f");
    }
    if (s->n_forget) {
        row(s, t, "membership AUC (Min-40%)", offsetof(MemModel, auc), "%.3f");
        if (s->oracle_idx >= 0)
            row(s, t, "privleak vs oracle (%)", offsetof(MemModel, privleak), "%+.1f");
    }
    if (s->verb.n)
        table_line(t,
                   "verbmem: %d excerpts (seed %llu) from %s%s, %d-token prompts, %d tokens "
                   "compared\n",
                   s->verb.n, (unsigned long long)s->verb.cfg.seed, s->verb_files->items[0],
                   s->verb_files->n > 1 ? " ..." : "", s->verb.cfg.prompt_tokens,
                   s->verb.cfg.gen_tokens);
    const char *know_path[2] = {c->knowmem, c->knowmem_retain};
    for (int k = 0; k < 2; k++)
        if (s->know[k].n)
            table_line(t, "%s: %d questions from %s, %d examples each\n", KNOW_KEY[k], s->know[k].n,
                       know_path[k], s->know[k].cfg.shots);
    if (s->n_forget)
        table_line(t, "membership: %d forget vs %d holdout chunks of %d tokens; oracle: %s\n",
                   s->n_forget, s->n_holdout, c->mia_chunk,
                   s->oracle_idx >= 0 ? run->names[s->oracle_idx] : "none");
}

static void state_free(void *st) {
    MemState *s = st;
    for (int i = 0; i < s->n_models; i++) {
        MemModel *mm = &s->models[i];
        verb_results_free(mm->verb, s->verb.n);
        for (int k = 0; k < 2; k++) know_results_free(mm->know[k], s->know[k].n), free(mm->know[k]);
        free(mm->verb), free(mm->mia_forget), free(mm->mia_holdout);
    }
    verb_set_free(&s->verb);
    dataset_free(&s->verb_ds);
    for (int k = 0; k < 2; k++) know_set_free(&s->know[k]), jsonl_free(&s->know_file[k]);
    dataset_free(&s->forget_ds), dataset_free(&s->holdout_ds);
    free(s->forget_at), free(s->holdout_at);
}

const EvalMeasure measure_memory = {sizeof(MemState), 0,      asked,         check,      load,
                                    run_model,        finish, settings_json, model_json, table,
                                    state_free};
