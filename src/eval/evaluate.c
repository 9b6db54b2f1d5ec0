#include "eval/evaluate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/measure.h"
#include "model/checkpoint.h"
#include "text/tokenizer_gguf.h"
#include "util/fileio.h"
#include "util/log.h"

/* In the order of their inputs, JSON members, table rows and notes. */
static const EvalMeasure *const MEASURES[] = {
    &measure_perplexity, &measure_familiarity, &measure_completions,
    &measure_choice,     &measure_relearn,     &measure_memory,
};
#define N_MEASURES (int)(sizeof MEASURES / sizeof MEASURES[0])

void eval_config_defaults(EvalConfig *c) {
    memset(c, 0, sizeof *c);
    c->seq = 256, c->batch = 4, c->seed = 1;
    comp_config_defaults(&c->comp);
    nextsent_config_defaults(&c->next);
    relearn_config_defaults(&c->relearn_cfg);
    verb_config_defaults(&c->verb);
    know_config_defaults(&c->know);
    c->mia_chunk = 128, c->mia_max = 200;
}

/* A list's files, NAME=FILE entries by their FILE (when it exists, else as
 * given: a file named with '=' is still compared). */
static int check_list(const char *out, EvalList l, ObErr *err) {
    for (int i = 0; i < l.n; i++) {
        const char *eq = strchr(l.items[i], '=');
        const char *f = eq && access(l.items[i], F_OK) != 0 ? eq + 1 : l.items[i];
        if (ob_check_output(out, &f, 1, err)) return -1;
    }
    return 0;
}

int eval_check_output(const EvalConfig *c, const char *out, ObErr *err) {
    const char *one[] = {c->prompts, c->anchors, c->next_sentence,
                         c->relearn, c->knowmem, c->knowmem_retain};
    const EvalList lists[] = {c->models,  c->loras,        c->texts,      c->comp_targets,
                              c->choices, c->verb_targets, c->mia_forget, c->mia_holdout};
    if (ob_check_output(out, one, (int)(sizeof one / sizeof one[0]), err)) return -1;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (check_list(out, lists[i], err)) return -1;
    return 0;
}

const char *eval_config_check(const EvalConfig *c) {
    if (c->models.n == 0) return "--model is required";
    if (c->models.n > EVAL_MAX || c->texts.n > EVAL_MAX || c->choices.n > EVAL_MAX)
        return "at most 32 models, texts and choice sets";
    const char *quant = eval_quantized_check(c);
    if (quant) return quant;
    if (c->loras.n && c->loras.n != c->models.n)
        return "--lora: give one per --model, in the same order ('-' for none)";
    int asked = 0;
    for (int k = 0; k < N_MEASURES; k++) asked |= MEASURES[k]->asked && MEASURES[k]->asked(c);
    if (!asked)
        return "nothing to evaluate: give --text, --prompts, --completions, --choice, "
               "--next-sentence, --verbmem, --knowmem and/or --mia-forget";
    for (int k = 0; k < N_MEASURES; k++) {
        const char *bad = MEASURES[k]->check ? MEASURES[k]->check(c) : NULL;
        if (bad) return bad;
    }
    return c->seq < 1 || c->batch < 1 ? "--seq and --batch must be >= 1" : NULL;
}

/* "runs/baseline.gguf" -> "baseline" */
static void short_name(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf")) n -= 5;
    if (n >= cap) n = cap - 1;
    memcpy(out, base, n);
    out[n] = 0;
}

/* Model i's adapter file, or NULL. */
static const char *lora_of(const EvalRun *run, int i) {
    const EvalQuantized *q = run->quant;
    const EvalList *l = &run->cfg->loras;
    const char *a = l->n ? l->items[q->from[i]] : NULL;
    return a && strcmp(a, "-") ? a : NULL;
}

/* Base names, or the paths as given when two base names clash; a quantised
 * copy is its model's name and "@SCHEME". */
static void name_models(EvalRun *run) {
    const EvalList *m = &run->cfg->models;
    const EvalQuantized *q = run->quant;
    int clash = 0;
    for (int i = 0; i < run->n_models; i++) {
        if (q->scheme[i]) continue;
        const char *lora = lora_of(run, i);
        short_name(lora ? lora : m->items[i], run->names[i], sizeof run->names[i]);
        for (int j = 0; j < i; j++) clash |= !q->scheme[j] && !strcmp(run->names[i], run->names[j]);
    }
    for (int i = 0; clash && i < run->n_models; i++)
        if (!q->scheme[i])
            snprintf(run->names[i], sizeof run->names[i], "%s",
                     lora_of(run, i) ? lora_of(run, i) : m->items[i]);
    for (int i = 1; i < run->n_models; i++)
        if (q->scheme[i]) /* its model is the last original before it */
            for (int j = i - 1; j >= 0; j--)
                if (!q->scheme[j]) {
                    char base[sizeof run->names[j]]; /* a copy: snprintf's arguments stay apart */
                    memcpy(base, run->names[j], sizeof base);
                    snprintf(run->names[i], sizeof run->names[i], "%.40s@%s", base, q->scheme[i]);
                    break;
                }
}

static int tokenizers_equal(const Tokenizer *a, const Tokenizer *b) {
    if (a->n_vocab != b->n_vocab || a->n_merges != b->n_merges || a->eot_id != b->eot_id) return 0;
    for (int i = 0; i < a->n_vocab; i++)
        if (strcmp(a->tokens[i], b->tokens[i]) || a->types[i] != b->types[i]) return 0;
    for (int i = 0; i < a->n_merges; i++)
        if (strcmp(a->merges[i], b->merges[i])) return 0;
    return 1;
}

/* Loads the first model's tokenizer and checks that every other model has
 * the same one. */
static int load_tokenizer(EvalRun *run, ObErr *err) {
    const char *const *paths = run->cfg->models.items;
    if (tokenizer_load(&run->tok, paths[0], err)) return -1;
    for (int i = 1; i < run->n_models; i++) {
        Tokenizer t;
        if (tokenizer_load(&t, paths[i], err)) return -1;
        int same = tokenizers_equal(&run->tok, &t);
        tok_free(&t);
        if (!same) return ob_errf(err, "%s: tokenizer differs from %s's", paths[i], paths[0]);
    }
    return 0;
}

/* "NAME=FILE" (or just FILE, named after the file). */
static int load_texts(EvalRun *run, ObErr *err) {
    const EvalList *specs = &run->cfg->texts;
    for (int i = 0; i < specs->n; i++) {
        EvalText *t = &run->texts[i];
        const char *spec = specs->items[i], *eq = strchr(spec, '=');
        if (eq) {
            size_t n = (size_t)(eq - spec);
            if (n == 0 || n >= sizeof t->name || !eq[1])
                return ob_errf(err, "--text wants NAME=FILE, got '%s'", spec);
            memcpy(t->name, spec, n);
            t->name[n] = 0;
            t->path = eq + 1;
        } else {
            short_name(spec, t->name, sizeof t->name);
            t->path = spec;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(run->texts[j].name, t->name))
                return ob_errf(err, "--text name '%s' given twice", t->name);
        if (dataset_load(&t->ds, &run->tok, &t->path, 1, err)) return -1;
        run->n_texts++;
    }
    return 0;
}

static int load_prompts(EvalRun *run, ObErr *err) {
    const char *path = run->cfg->prompts;
    FamItem *items;
    if (!path) return 0;
    if (jsonl_load(&run->prompts, path, FAM_JSONL_FIELDS, err) ||
        fam_items_from_jsonl(&run->prompts, &items, err))
        return -1;
    int rc = fam_encode(&run->fam, &run->tok, items, run->prompts.n, path, err);
    free(items);
    return rc;
}

static void run_free(EvalRun *run, void **st) {
    for (int k = 0; k < N_MEASURES; k++) {
        if (st[k] && MEASURES[k]->free) MEASURES[k]->free(st[k]);
        free(st[k]);
    }
    for (int t = 0; t < run->n_texts; t++) dataset_free(&run->texts[t].ds);
    jsonl_free(&run->prompts);
    fam_set_free(&run->fam);
    tok_free(&run->tok);
    free(run);
}

static int load(EvalRun *run, void **st, ObErr *err) {
    if (load_tokenizer(run, err) || load_texts(run, err) || load_prompts(run, err)) return -1;
    for (int k = 0; k < N_MEASURES; k++) {
        if (!(st[k] = ob_calloc(1, MEASURES[k]->size, "measure", err))) return -1;
        if (MEASURES[k]->load && MEASURES[k]->load(run, st[k], err)) return -1;
    }
    return 0;
}

static int eval_model(EvalRun *run, void **st, int i, ObErr *err) {
    const char *path = run->cfg->models.items[i], *lora = lora_of(run, i);
    Llama m;
    int load = lora || run->cfg->frozen ? llama_load_frozen(&m, NULL, path, err)
                                        : llama_load(&m, NULL, path, err);
    if (load) return -1;
    if (lora && llama_load_lora(&m, lora, err)) return llama_free(&m), -1;
    m.prec = run->cfg->prec;
    int rc = 0;
    if (m.cfg.vocab != run->tok.n_vocab)
        rc = ob_errf(err, "%s: %d embedding rows but the tokenizer has %d tokens", path,
                     m.cfg.vocab, run->tok.n_vocab);
    run->seq[i] = run->cfg->seq < m.cfg.ctx_len ? run->cfg->seq : m.cfg.ctx_len;
    for (int pass = 0; pass < 3; pass++)
        for (int k = 0; k < N_MEASURES && !rc; k++)
            if (MEASURES[k]->pass == pass && MEASURES[k]->model)
                rc = MEASURES[k]->model(run, st[k], i, &m, err);
    llama_free(&m);
    return rc;
}

/* The prompts are shared (relearning scores them again), so their settings
 * are written here and each model's figures by measure_familiarity.c. */
static cJSON *prompts_json(const EvalRun *run) {
    cJSON *p = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddStringToObject(p, "file", run->cfg->prompts);
    cJSON_AddNumberToObject(p, "n", run->fam.n);
    for (int i = 0; i < run->fam.n; i++) {
        /* the record as written (prompt, continuation and any other field) */
        cJSON *it = cJSON_Duplicate(run->prompts.items[i], 1);
        const char *ours[] = {"line", "prompt_tokens", "continuation_tokens",
                              "joint_encoding_differs"};
        for (size_t k = 0; k < sizeof ours / sizeof ours[0]; k++)
            cJSON_DeleteItemFromObjectCaseSensitive(it, ours[k]);
        cJSON_AddNumberToObject(it, "line", run->prompts.lines[i]);
        cJSON_AddNumberToObject(it, "prompt_tokens", run->fam.n_prompt[i] - 1);
        cJSON_AddNumberToObject(it, "continuation_tokens",
                                run->fam.n_ids[i] - run->fam.n_prompt[i]);
        cJSON_AddBoolToObject(it, "joint_encoding_differs", run->fam.joint_differs[i]);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(p, "items", items);
    return p;
}

static cJSON *result_json(const EvalRun *run, void *const *st) {
    cJSON *j = cJSON_CreateObject(), *texts = cJSON_CreateArray(), *models = cJSON_CreateArray();
    cJSON_AddNumberToObject(j, "seq", run->cfg->seq);
    cJSON_AddNumberToObject(j, "max_windows", (double)run->cfg->max_windows);
    for (int t = 0; t < run->n_texts; t++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", run->texts[t].name);
        cJSON_AddStringToObject(o, "file", run->texts[t].path);
        cJSON_AddNumberToObject(o, "tokens", (double)run->texts[t].ds.n);
        cJSON_AddItemToArray(texts, o);
    }
    cJSON_AddItemToObject(j, "texts", texts);
    if (run->cfg->prompts) cJSON_AddItemToObject(j, "prompts", prompts_json(run));
    for (int k = 0; k < N_MEASURES; k++)
        if (MEASURES[k]->settings_json) MEASURES[k]->settings_json(run, st[k], j);
    for (int i = 0; i < run->n_models; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", run->names[i]);
        cJSON_AddStringToObject(o, "file", run->cfg->models.items[i]);
        if (lora_of(run, i)) cJSON_AddStringToObject(o, "lora", lora_of(run, i));
        if (run->cfg->frozen || lora_of(run, i)) cJSON_AddBoolToObject(o, "frozen", 1);
        if (run->quant->scheme[i]) {
            cJSON_AddStringToObject(o, "quantization", run->quant->scheme[i]);
            cJSON_AddStringToObject(o, "quantized_from",
                                    run->cfg->models.items[run->quant->from[i]]);
        }
        cJSON_AddNumberToObject(o, "seq", run->seq[i]);
        for (int k = 0; k < N_MEASURES; k++)
            if (MEASURES[k]->model_json) MEASURES[k]->model_json(run, st[k], i, o);
        cJSON_AddItemToArray(models, o);
    }
    cJSON_AddItemToObject(j, "models", models);
    return j;
}

static char *result_table(const EvalRun *run, void *const *st) {
    EvalTable t;
    const char *names[EVAL_MAX];
    for (int i = 0; i < run->n_models; i++) names[i] = run->names[i];
    table_begin(&t, names, run->n_models);
    /* the prompts' note has always led the notes line, before perplexity's */
    if (run->cfg->prompts) table_note(&t, "%d prompts from %s", run->fam.n, run->cfg->prompts);
    for (int k = 0; k < N_MEASURES; k++)
        if (MEASURES[k]->table) MEASURES[k]->table(run, st[k], &t);
    return table_end(&t);
}

/* Every adapter can be read, before any model is (an evaluation is long). */
static int check_adapters(const EvalConfig *c, ObErr *err) {
    for (int i = 0; i < c->loras.n; i++) {
        if (!strcmp(c->loras.items[i], "-")) continue;
        FILE *f = fopen(c->loras.items[i], "rb");
        if (!f) return ob_errf(err, "%s: cannot open: %s", c->loras.items[i], strerror(errno));
        fclose(f);
    }
    return 0;
}

int eval_run(const EvalConfig *c, cJSON **result, char **table, ObErr *err) {
    const char *bad = eval_config_check(c);
    if (bad) return ob_errf(err, "%s", bad);
    if (check_adapters(c, err)) return -1;
    EvalRun *run = ob_calloc(1, sizeof *run, "evaluation", err);
    EvalQuantized *q = run ? ob_calloc(1, sizeof *q, "quantised models", err) : NULL;
    void *st[N_MEASURES] = {0};
    if (!q) return free(run), -1;
    if (eval_quantized_make(c, q, err)) {
        eval_quantized_free(q);
        return free(q), free(run), -1;
    }
    EvalConfig all = *c; /* the models with their quantised copies */
    all.models = (EvalList){q->items, q->n};
    run->cfg = &all, run->quant = q;
    run->n_models = q->n;
    name_models(run);
    int rc = load(run, st, err);
    for (int i = 0; !rc && i < run->n_models; i++) {
        ob_logf("eval: model %d/%d: %s\n", i + 1, run->n_models, run->names[i]);
        rc = eval_model(run, st, i, err);
    }
    for (int k = 0; !rc && k < N_MEASURES; k++)
        if (MEASURES[k]->finish) MEASURES[k]->finish(run, st[k]);
    if (!rc) {
        *result = result_json(run, st);
        if (table && !(*table = result_table(run, st))) {
            cJSON_Delete(*result), *result = NULL;
            rc = ob_errf(err, "out of memory building the table");
        }
    }
    run_free(run, st);
    eval_quantized_free(q);
    free(q);
    return rc;
}

cJSON *eval_list_json(const EvalList *l) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < l->n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(l->items[i]));
    return a;
}

void eval_sample_json(cJSON *o, const EvalList *files, int n, int requested, size_t candidates,
                      uint64_t seed, int prompt_tokens) {
    cJSON_AddItemToObject(o, "files", eval_list_json(files));
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddNumberToObject(o, "requested", requested);
    cJSON_AddNumberToObject(o, "candidates", (double)candidates);
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddNumberToObject(o, "prompt_tokens", prompt_tokens);
}
