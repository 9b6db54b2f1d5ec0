#include "cli/eval_memory.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/progress.h"

#define MIA_K 0.4 /* MUSE's Min-K% setting */

void mem_defaults(MemEval *me) {
    memset(me, 0, sizeof *me);
    verb_config_defaults(&me->verb_cfg);
    know_config_defaults(&me->know_cfg);
    me->mia_chunk = 128;
    me->mia_max = 200;
    me->oracle_idx = -1;
}

static int mia_on(const MemEval *me) {
    return me->mia_forget.n > 0 || me->mia_holdout.n > 0;
}

int mem_enabled(const MemEval *me) {
    return me->verb_cfg.n > 0 || me->know_path || mia_on(me);
}

const char *mem_check(const MemEval *me, const StrList *completion_targets) {
    const VerbConfig *v = &me->verb_cfg;
    if (v->n < 0) return "--verbmem must be >= 0";
    if (v->prompt_tokens < 1 || v->gen_tokens < 1)
        return "--verbmem-prompt-tokens and --verbmem-tokens must be >= 1";
    if (v->n > 0 && !me->verb_targets.n && !completion_targets->n && !me->mia_forget.n)
        return "--verbmem needs --verbmem-target (or --completion-target or --mia-forget)";
    if (v->n == 0 && me->verb_targets.n) return "--verbmem-target needs --verbmem K";
    if (me->know_cfg.shots < 0 || me->know_cfg.max_tokens < 1)
        return "--knowmem-shots must be >= 0 and --knowmem-tokens >= 1";
    if (mia_on(me) && (!me->mia_forget.n || !me->mia_holdout.n))
        return "membership inference needs both --mia-forget and --mia-holdout";
    if (me->mia_chunk < 2) return "--mia-chunk must be >= 2";
    if (me->mia_max < 0) return "--mia-max-chunks must be >= 0";
    if (me->oracle && !mia_on(me)) return "--oracle needs --mia-forget and --mia-holdout";
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

static int find_oracle(MemEval *me, const char *const *names, const char *const *paths, int n,
                       ObErr *err) {
    me->oracle_idx = -1;
    if (!mia_on(me)) return 0;
    const char *want = me->oracle ? me->oracle : "oracle";
    for (int i = 0; i < n && me->oracle_idx < 0; i++)
        if (!strcmp(names[i], want) || !strcmp(paths[i], want) || file_named(paths[i], want))
            me->oracle_idx = i;
    if (me->oracle && me->oracle_idx < 0)
        return ob_errf(err, "--oracle %s is none of the models", me->oracle);
    return 0;
}

static int load_mia(MemEval *me, const Tokenizer *tok, uint64_t seed, ObErr *err) {
    if (!mia_on(me)) return 0;
    /* different draws for the two sets, each the same for every model */
    if (dataset_load(&me->forget_ds, tok, me->mia_forget.items, me->mia_forget.n, err) ||
        dataset_load(&me->holdout_ds, tok, me->mia_holdout.items, me->mia_holdout.n, err) ||
        mia_chunks(&me->forget_ds, tok->eot_id, me->mia_chunk, me->mia_max, ob_hash64(seed),
                   &me->forget_at, &me->n_forget, &me->forget_available, err) ||
        mia_chunks(&me->holdout_ds, tok->eot_id, me->mia_chunk, me->mia_max, ob_hash64(seed + 1),
                   &me->holdout_at, &me->n_holdout, &me->holdout_available, err))
        return ob_err_prefix(err, "membership inference");
    fprintf(stderr,
            "eval: membership: %d forget chunks (of %d), %d holdout chunks (of %d), %d "
            "tokens each\n",
            me->n_forget, me->forget_available, me->n_holdout, me->holdout_available,
            me->mia_chunk);
    return 0;
}

int mem_load(MemEval *me, const Tokenizer *tok, const StrList *completion_targets, uint64_t seed,
             const char *const *names, const char *const *paths, int n_models, ObErr *err) {
    me->n_models = n_models;
    for (int i = 0; i < n_models; i++) me->names[i] = names[i];
    if (find_oracle(me, names, paths, n_models, err)) return -1;
    if (me->verb_cfg.n > 0) {
        me->verb_files = me->verb_targets.n      ? &me->verb_targets
                         : completion_targets->n ? completion_targets
                                                 : &me->mia_forget;
        me->verb_cfg.seed = seed;
        if (dataset_load(&me->verb_ds, tok, me->verb_files->items, me->verb_files->n, err) ||
            verb_cut(&me->verb, &me->verb_ds, tok, &me->verb_cfg, err))
            return -1;
        fprintf(stderr, "eval: verbmem: %d excerpts cut from %ld candidates (seed %llu)\n",
                me->verb.n, me->verb.n_candidates, (unsigned long long)seed);
    }
    if (me->know_path) {
        me->know_cfg.seed = seed;
        if (jsonl_load(&me->know_file, me->know_path, KNOW_JSONL_FIELDS, err) ||
            know_build(&me->know, &me->know_file, &me->know_cfg, err))
            return -1;
    }
    return load_mia(me, tok, seed, err);
}

int mem_eval_model(MemEval *me, int i, const Llama *m, const Tokenizer *tok, ObErr *err) {
    MemModel *mm = &me->models[i];
    const char *name = me->names[i];
    mm->auc = mm->privleak = NAN;
    if (me->verb.n) {
        double t0 = ob_now();
        mm->verb = ob_calloc((size_t)me->verb.n, sizeof(VerbResult), "verbmem results", err);
        if (!mm->verb || verb_generate(m, &me->verb, tok, mm->verb, &mm->verb_tokens, err))
            return -1;
        mm->verb_f1 = verb_mean_f1(mm->verb, me->verb.n);
        fprintf(stderr, "eval: %s: verbmem ROUGE-L F1 %.3f over %d excerpts, %d tokens (%.1f s)\n",
                name, mm->verb_f1, me->verb.n, mm->verb_tokens, ob_now() - t0);
    }
    if (me->know.n) {
        double t0 = ob_now();
        mm->know = ob_calloc((size_t)me->know.n, sizeof(KnowResult), "knowmem results", err);
        if (!mm->know || know_generate(m, &me->know, tok, mm->know, err)) return -1;
        know_means(mm->know, me->know.n, &mm->know_f1, &mm->know_recall);
        fprintf(stderr,
                "eval: %s: knowmem ROUGE-L F1 %.3f, recall %.3f over %d questions (%.1f s)\n", name,
                mm->know_f1, mm->know_recall, me->know.n, ob_now() - t0);
    }
    if (me->n_forget) {
        double t0 = ob_now();
        mm->mia_forget = ob_calloc((size_t)me->n_forget, sizeof(double), "scores", err);
        mm->mia_holdout = ob_calloc((size_t)me->n_holdout, sizeof(double), "scores", err);
        if (!mm->mia_forget || !mm->mia_holdout ||
            mia_score_chunks(m, me->forget_ds.tokens, me->forget_at, me->n_forget, me->mia_chunk,
                             MIA_K, mm->mia_forget, err) ||
            mia_score_chunks(m, me->holdout_ds.tokens, me->holdout_at, me->n_holdout, me->mia_chunk,
                             MIA_K, mm->mia_holdout, err))
            return -1;
        mm->auc = mia_auc(mm->mia_forget, me->n_forget, mm->mia_holdout, me->n_holdout);
        fprintf(stderr, "eval: %s: membership AUC %.3f (Min-%g%%, %d + %d chunks, %.1f s)\n", name,
                mm->auc, MIA_K * 100, me->n_forget, me->n_holdout, ob_now() - t0);
    }
    return 0;
}

void mem_finish(MemEval *me) {
    for (int i = 0; i < me->n_models; i++)
        me->models[i].privleak =
            me->oracle_idx >= 0 && me->n_forget
                ? mia_privleak(me->models[i].auc, me->models[me->oracle_idx].auc)
                : NAN;
}

/* ---- JSON ---- */

static void add_num(cJSON *o, const char *key, double v) {
    if (isnan(v) || isinf(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static cJSON *files_json(const StrList *l) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < l->n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(l->items[i]));
    return a;
}

static cJSON *doubles_json(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

void mem_json_settings(const MemEval *me, cJSON *root) {
    if (me->verb.n) {
        const VerbSet *s = &me->verb;
        cJSON *v = cJSON_CreateObject(), *items = cJSON_CreateArray();
        cJSON_AddItemToObject(v, "files", files_json(me->verb_files));
        cJSON_AddNumberToObject(v, "n", s->n);
        cJSON_AddNumberToObject(v, "requested", s->cfg.n);
        cJSON_AddNumberToObject(v, "candidates", (double)s->n_candidates);
        cJSON_AddNumberToObject(v, "seed", (double)s->cfg.seed);
        cJSON_AddNumberToObject(v, "prompt_tokens", s->cfg.prompt_tokens);
        cJSON_AddNumberToObject(v, "tokens", s->cfg.gen_tokens);
        cJSON_AddStringToObject(v, "rule",
                                "<|endoftext|> + prompt, greedy continuation with the key/value "
                                "cache; ROUGE-L F1 (lowercased words) against the true next "
                                "tokens' text; a model with a shorter context generates and is "
                                "compared on fewer tokens (its \"tokens\")");
        for (int i = 0; i < s->n; i++) {
            cJSON *it = cJSON_CreateObject();
            cJSON_AddNumberToObject(it, "position", (double)s->at[i]);
            cJSON_AddStringToObject(it, "prompt", s->prompt_text[i]);
            cJSON_AddStringToObject(it, "truth", s->truth_text[i]);
            cJSON_AddItemToArray(items, it);
        }
        cJSON_AddItemToObject(v, "items", items);
        cJSON_AddItemToObject(root, "verbmem", v);
    }
    if (me->know.n) {
        const KnowSet *s = &me->know;
        cJSON *k = cJSON_CreateObject(), *items = cJSON_CreateArray();
        cJSON_AddStringToObject(k, "file", me->know_path);
        cJSON_AddNumberToObject(k, "n", s->n);
        cJSON_AddNumberToObject(k, "shots", s->cfg.shots);
        cJSON_AddNumberToObject(k, "max_tokens", s->cfg.max_tokens);
        cJSON_AddNumberToObject(k, "seed", (double)s->cfg.seed);
        cJSON_AddStringToObject(k, "format", "Question: Q\nAnswer: A\n\n");
        cJSON_AddStringToObject(k, "rule",
                                "<|endoftext|> + examples + \"Question: Q\\nAnswer:\", greedy "
                                "until a newline, <|endoftext|> or max_tokens; ROUGE-L F1 and "
                                "recall of the trimmed answer against the reference");
        for (int i = 0; i < s->n; i++) {
            cJSON *it = cJSON_Duplicate(me->know_file.items[i], 1), *ex = cJSON_CreateArray();
            cJSON_DeleteItemFromObjectCaseSensitive(it, "line");
            cJSON_DeleteItemFromObjectCaseSensitive(it, "example_lines");
            cJSON_AddNumberToObject(it, "line", s->line[i]);
            for (int a = 0; a < s->n_shots[i]; a++)
                cJSON_AddItemToArray(ex, cJSON_CreateNumber(s->line[s->shots[i][a]]));
            cJSON_AddItemToObject(it, "example_lines", ex);
            cJSON_AddItemToArray(items, it);
        }
        cJSON_AddItemToObject(k, "items", items);
        cJSON_AddItemToObject(root, "knowmem", k);
    }
    if (me->n_forget) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddItemToObject(a, "forget", files_json(&me->mia_forget));
        cJSON_AddItemToObject(a, "holdout", files_json(&me->mia_holdout));
        cJSON_AddNumberToObject(a, "chunk_tokens", me->mia_chunk);
        cJSON_AddNumberToObject(a, "k", MIA_K);
        cJSON_AddNumberToObject(a, "max_chunks", me->mia_max);
        cJSON_AddNumberToObject(a, "n_forget", me->n_forget);
        cJSON_AddNumberToObject(a, "n_holdout", me->n_holdout);
        cJSON_AddNumberToObject(a, "forget_available", me->forget_available);
        cJSON_AddNumberToObject(a, "holdout_available", me->holdout_available);
        if (me->oracle_idx >= 0)
            cJSON_AddStringToObject(a, "oracle", me->names[me->oracle_idx]);
        else
            cJSON_AddNullToObject(a, "oracle");
        cJSON_AddStringToObject(a, "rule",
                                "score = mean of the lowest max(1, floor(k n)) token "
                                "log-probabilities of a chunk (n = chunk_tokens - 1, teacher "
                                "forced); auc = P(forget chunk scores higher than holdout "
                                "chunk), ties 1/2; privleak = (auc - auc_oracle) / auc_oracle "
                                "x 100");
        cJSON_AddItemToObject(root, "mia", a);
    }
}

void mem_json_model(const MemEval *me, int i, cJSON *model) {
    const MemModel *mm = &me->models[i];
    if (me->verb.n) {
        cJSON *v = cJSON_CreateObject(), *items = cJSON_CreateArray();
        cJSON_AddNumberToObject(v, "n", me->verb.n);
        cJSON_AddNumberToObject(v, "rougeL_f1", mm->verb_f1);
        cJSON_AddNumberToObject(v, "tokens", mm->verb_tokens);
        cJSON_AddBoolToObject(v, "capped_by_context", mm->verb_tokens < me->verb.cfg.gen_tokens);
        for (int k = 0; k < me->verb.n; k++) {
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
        cJSON_AddItemToObject(model, "verbmem", v);
    }
    if (me->know.n) {
        cJSON *k = cJSON_CreateObject(), *items = cJSON_CreateArray();
        cJSON_AddNumberToObject(k, "n", me->know.n);
        cJSON_AddNumberToObject(k, "rougeL_f1", mm->know_f1);
        cJSON_AddNumberToObject(k, "rougeL_recall", mm->know_recall);
        for (int q = 0; q < me->know.n; q++) {
            const KnowResult *r = &mm->know[q];
            cJSON *it = cJSON_CreateObject();
            cJSON_AddStringToObject(it, "question", me->know.question[q]);
            cJSON_AddStringToObject(it, "answer", me->know.answer[q]);
            cJSON_AddStringToObject(it, "generated", r->answer);
            cJSON_AddNumberToObject(it, "f1", r->score.f1);
            cJSON_AddNumberToObject(it, "recall", r->score.recall);
            cJSON_AddNumberToObject(it, "shots", r->shots);
            cJSON_AddItemToArray(items, it);
        }
        cJSON_AddItemToObject(k, "items", items);
        cJSON_AddItemToObject(model, "knowmem", k);
    }
    if (me->n_forget) {
        cJSON *p = cJSON_CreateObject();
        add_num(p, "auc", mm->auc);
        add_num(p, "privleak", mm->privleak);
        cJSON_AddNumberToObject(p, "n_forget", me->n_forget);
        cJSON_AddNumberToObject(p, "n_holdout", me->n_holdout);
        cJSON_AddItemToObject(p, "forget_scores", doubles_json(mm->mia_forget, me->n_forget));
        cJSON_AddItemToObject(p, "holdout_scores", doubles_json(mm->mia_holdout, me->n_holdout));
        cJSON_AddItemToObject(model, "privleak", p);
    }
}

/* ---- table ---- */

static void row(const MemEval *me, const char *label, const int *width, int which) {
    printf("%-30s", label);
    for (int i = 0; i < me->n_models; i++) {
        const MemModel *mm = &me->models[i];
        double v = which == 0   ? mm->verb_f1
                   : which == 1 ? mm->know_f1
                   : which == 2 ? mm->know_recall
                   : which == 3 ? mm->auc
                                : mm->privleak;
        char cell[64];
        if (isnan(v))
            snprintf(cell, sizeof cell, "-");
        else
            snprintf(cell, sizeof cell, which == 4 ? "%+.1f" : "%.3f", v);
        printf("  %*s", width[i], cell);
    }
    putchar('\n');
}

void mem_print_rows(const MemEval *me, const int *width) {
    if (me->verb.n) row(me, "verbmem ROUGE-L F1", width, 0);
    if (me->know.n) {
        row(me, "knowmem ROUGE-L F1", width, 1);
        row(me, "knowmem ROUGE-L recall", width, 2);
    }
    if (me->n_forget) {
        row(me, "membership AUC (Min-40%)", width, 3);
        if (me->oracle_idx >= 0) row(me, "privleak vs oracle (%)", width, 4);
    }
}

void mem_print_notes(const MemEval *me) {
    if (me->verb.n)
        printf("verbmem: %d excerpts (seed %llu) from %s%s, %d-token prompts, %d tokens "
               "compared\n",
               me->verb.n, (unsigned long long)me->verb.cfg.seed, me->verb_files->items[0],
               me->verb_files->n > 1 ? " ..." : "", me->verb.cfg.prompt_tokens,
               me->verb.cfg.gen_tokens);
    if (me->know.n)
        printf("knowmem: %d questions from %s, %d examples each\n", me->know.n, me->know_path,
               me->know.cfg.shots);
    if (me->n_forget)
        printf("membership: %d forget vs %d holdout chunks of %d tokens; oracle: %s\n",
               me->n_forget, me->n_holdout, me->mia_chunk,
               me->oracle_idx >= 0 ? me->names[me->oracle_idx] : "none");
}

void mem_free(MemEval *me) {
    for (int i = 0; i < me->n_models; i++) {
        MemModel *mm = &me->models[i];
        verb_results_free(mm->verb, me->verb.n);
        know_results_free(mm->know, me->know.n);
        free(mm->verb), free(mm->know), free(mm->mia_forget), free(mm->mia_holdout);
    }
    verb_set_free(&me->verb);
    dataset_free(&me->verb_ds);
    know_set_free(&me->know);
    jsonl_free(&me->know_file);
    dataset_free(&me->forget_ds), dataset_free(&me->holdout_ds);
    free(me->forget_at), free(me->holdout_at);
    me->n_models = 0;
}
