/* obliviate eval: perplexity on named texts, token-probability familiarity
 * on a prompts file and completion familiarity on prompts cut from a target
 * text, for one or more models side by side. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/eval_ability.h"
#include "cli/eval_memory.h"
#include "eval/completion.h"
#include "eval/familiarity.h"
#include "model/checkpoint.h"
#include "text/tokenizer_gguf.h"
#include "train/trainer.h"
#include "util/fileio.h"
#include "util/jsonfile.h"
#include "util/progress.h"
#include "util/utf8.h"

#define MAX_ITEMS 32 /* StrList's capacity */

typedef struct {
    char name[64];
    const char *path;
    TokenStream ds;
} EvalText;

typedef struct {
    const char *path;
    char name[64];
    int seq;                  /* window length used (the model's context may cap it) */
    double loss[MAX_ITEMS];   /* per text: mean next-token loss */
    long n_tokens[MAX_ITEMS]; /* per text: predicted tokens */
    FamResult *fam;           /* per prompt, or NULL without --prompts */
    FamSummary sum;
    CompResult *comp; /* per completion prompt, or NULL without --completions */
    CompSummary csum;
} EvalModel;

typedef struct {
    EvalText texts[MAX_ITEMS];
    int n_texts;
    EvalModel models[MAX_ITEMS];
    int n_models;
    const char *prompts_path;
    JsonlFile prompts;
    FamSet fam;
    Tokenizer tok; /* the first model's, shared by all */
    int seq, batch;
    long max_windows;
    /* completion familiarity */
    CompConfig comp_cfg;
    const StrList *comp_targets;
    const char *anchors_path;
    AnchorDict anchors;
    TokenStream comp_ds;
    CompSet comp;
    CompJudgement *truth; /* the true continuations, judged by the same rule */
    CompSummary truth_sum;
    EvalAbility ab; /* multiple choice, next-sentence items, relearning */
    MemEval mem;    /* VerbMem, KnowMem, PrivLeak (cli/eval_memory.c) */
} Eval;

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

static void name_models(Eval *ev) {
    int clash = 0;
    for (int i = 0; i < ev->n_models; i++) {
        short_name(ev->models[i].path, ev->models[i].name, sizeof ev->models[i].name);
        for (int j = 0; j < i; j++) clash |= !strcmp(ev->models[i].name, ev->models[j].name);
    }
    for (int i = 0; clash && i < ev->n_models; i++)
        snprintf(ev->models[i].name, sizeof ev->models[i].name, "%s", ev->models[i].path);
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
static int load_tokenizer(Eval *ev, ObErr *err) {
    const char *first = ev->models[0].path;
    if (tokenizer_load(&ev->tok, first, err)) return -1;
    for (int i = 1; i < ev->n_models; i++) {
        Tokenizer t;
        if (tokenizer_load(&t, ev->models[i].path, err)) return -1;
        int same = tokenizers_equal(&ev->tok, &t);
        tok_free(&t);
        if (!same)
            return ob_errf(err, "%s: tokenizer differs from %s's", ev->models[i].path, first);
    }
    return 0;
}

/* "--text NAME=FILE" (or just FILE, named after the file). */
static int load_texts(Eval *ev, const StrList *specs, ObErr *err) {
    for (int i = 0; i < specs->n; i++) {
        EvalText *t = &ev->texts[i];
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
            if (!strcmp(ev->texts[j].name, t->name))
                return ob_errf(err, "--text name '%s' given twice", t->name);
        if (dataset_load(&t->ds, &ev->tok, &t->path, 1, err)) return -1;
        ev->n_texts++;
    }
    return 0;
}

static int load_prompts(Eval *ev, ObErr *err) {
    FamItem *items;
    if (!ev->prompts_path) return 0;
    if (jsonl_load(&ev->prompts, ev->prompts_path, FAM_JSONL_FIELDS, err) ||
        fam_items_from_jsonl(&ev->prompts, &items, err))
        return -1;
    int rc = fam_encode(&ev->fam, &ev->tok, items, ev->prompts.n, ev->prompts_path, err);
    free(items);
    return rc;
}

/* Cuts the completion prompts (the same for every model) and judges the true
 * continuations, the figure a model that recites the text would get. */
static int load_completions(Eval *ev, ObErr *err) {
    if (ev->comp_cfg.n <= 0) return 0;
    if (anchors_load(&ev->anchors, ev->anchors_path, err) ||
        anchors_tokenize(&ev->anchors, &ev->tok, err) ||
        dataset_load(&ev->comp_ds, &ev->tok, ev->comp_targets->items, ev->comp_targets->n, err) ||
        comp_cut(&ev->comp, &ev->comp_ds, &ev->tok, &ev->anchors, &ev->comp_cfg, err))
        return -1;
    if (ev->comp.n < ev->comp_cfg.n)
        fprintf(stderr, "eval: only %ld places in the target to cut a completion prompt, not %d\n",
                ev->comp.n_candidates, ev->comp_cfg.n);
    CompResult *truth = ob_calloc((size_t)ev->comp.n, sizeof(CompResult), "judgements", err);
    ev->truth = ob_calloc((size_t)ev->comp.n, sizeof(CompJudgement), "judgements", err);
    if (!truth || !ev->truth) return free(truth), -1;
    int rc = 0;
    for (int i = 0; i < ev->comp.n && !rc; i++) {
        rc = comp_judge(&ev->anchors, ev->comp.prompt[i], ev->comp.truth[i], &ev->truth[i], err);
        truth[i].j = ev->truth[i];
    }
    comp_summarise(truth, ev->comp.n, &ev->truth_sum);
    free(truth); /* the judgements stay in ev->truth */
    if (!rc)
        fprintf(stderr,
                "eval: %d completion prompts cut from %ld candidates (seed %llu); true "
                "continuations: leak rate %.3f\n",
                ev->comp.n, ev->comp.n_candidates, (unsigned long long)ev->comp_cfg.seed,
                ev->truth_sum.leak_rate);
    return rc;
}

/* The general-ability sets, and what a relearned model is measured on. */
static int load_ability(Eval *ev, ObErr *err) {
    AbilityMeasures *ms = &ev->ab.ms;
    ms->fam = ev->prompts_path ? &ev->fam : NULL;
    for (int t = 0; t < ev->n_texts; t++)
        ms->texts[t] = &ev->texts[t].ds, ms->names[t] = ev->texts[t].name;
    ms->n_texts = ev->n_texts, ms->batch = ev->batch, ms->max_windows = ev->max_windows;
    return ability_load(&ev->ab, &ev->tok, ev->comp_cfg.seed, ev->seq, err);
}

static int eval_perplexity(Eval *ev, Llama *m, EvalModel *em, ObErr *err) {
    em->seq = ev->seq < m->cfg.ctx_len ? ev->seq : m->cfg.ctx_len;
    if (em->seq < ev->seq)
        fprintf(stderr, "eval: %s: context %d, using %d-token windows\n", em->name, m->cfg.ctx_len,
                em->seq);
    for (int t = 0; t < ev->n_texts; t++)
        if (ev->texts[t].ds.n < (size_t)em->seq + 1)
            return ob_errf(err, "%s: text has %zu tokens, fewer than one window of %d + 1",
                           ev->texts[t].path, ev->texts[t].ds.n, em->seq);
    if (ev->n_texts && llama_alloc_batch(m, ev->batch, em->seq, err)) return -1;
    int32_t *scratch = NULL;
    if (ev->n_texts &&
        !(scratch = ob_malloc(sizeof(int32_t) * 2 * ev->batch * em->seq, "batch", err)))
        return -1;
    for (int t = 0; t < ev->n_texts; t++) {
        double t0 = ob_now();
        em->loss[t] = stream_loss(m, &ev->texts[t].ds, em->seq, ev->max_windows, scratch,
                                  scratch + ev->batch * em->seq, &em->n_tokens[t]);
        fprintf(stderr, "eval: %s: %s perplexity %.3f (%ld tokens, %.1f s)\n", em->name,
                ev->texts[t].name, exp(em->loss[t]), em->n_tokens[t], ob_now() - t0);
    }
    free(scratch);
    return 0;
}

static int eval_model(Eval *ev, EvalModel *em, ObErr *err) {
    Llama m;
    if (llama_load(&m, NULL, em->path, err)) return -1;
    m.prec = cli_precision();
    int rc = 0;
    if (m.cfg.vocab != ev->tok.n_vocab)
        rc = ob_errf(err, "%s: %d embedding rows but the tokenizer has %d tokens", em->path,
                     m.cfg.vocab, ev->tok.n_vocab);
    /* familiarity first: it is quick, and it fails at once on a prompt too long */
    if (!rc && ev->prompts_path) {
        double t0 = ob_now();
        em->fam = ob_calloc((size_t)ev->fam.n, sizeof(FamResult), "familiarity results", err);
        rc = em->fam ? fam_score(&m, &ev->fam, em->fam, err) : -1;
        if (!rc) {
            fam_summarise(em->fam, ev->fam.n, &em->sum);
            fprintf(stderr, "eval: %s: familiarity %.4g over %d prompts (%.1f s)\n", em->name,
                    em->sum.mean_prob, ev->fam.n, ob_now() - t0);
        }
    }
    if (!rc && ev->comp.n) {
        double t0 = ob_now();
        em->comp = ob_calloc((size_t)ev->comp.n, sizeof(CompResult), "completions", err);
        rc = em->comp ? comp_generate(&m, &ev->comp, &ev->tok, &ev->anchors, em->comp, err) : -1;
        if (!rc) {
            comp_summarise(em->comp, ev->comp.n, &em->csum);
            fprintf(stderr,
                    "eval: %s: completions: leak rate %.3f, weighted score %.3f over %d prompts "
                    "(%.1f s)\n",
                    em->name, em->csum.leak_rate, em->csum.score, ev->comp.n, ob_now() - t0);
        }
    }
    if (!rc) rc = mem_eval_model(&ev->mem, (int)(em - ev->models), &m, &ev->tok, err);
    if (!rc) rc = eval_perplexity(ev, &m, em, err);
    if (!rc)
        rc = ability_eval(&ev->ab, (int)(em - ev->models), em->name, em->path, &m, em->seq, err);
    llama_free(&m);
    return rc;
}

/* ---- output ---- */

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

static cJSON *prompts_json(const Eval *ev) {
    cJSON *p = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddStringToObject(p, "file", ev->prompts_path);
    cJSON_AddNumberToObject(p, "n", ev->fam.n);
    for (int i = 0; i < ev->fam.n; i++) {
        /* the record as written (prompt, continuation and any other field) */
        cJSON *it = cJSON_Duplicate(ev->prompts.items[i], 1);
        const char *ours[] = {"line", "prompt_tokens", "continuation_tokens",
                              "joint_encoding_differs"};
        for (size_t k = 0; k < sizeof ours / sizeof ours[0]; k++)
            cJSON_DeleteItemFromObjectCaseSensitive(it, ours[k]);
        cJSON_AddNumberToObject(it, "line", ev->prompts.lines[i]);
        cJSON_AddNumberToObject(it, "prompt_tokens", ev->fam.n_prompt[i] - 1);
        cJSON_AddNumberToObject(it, "continuation_tokens", ev->fam.n_ids[i] - ev->fam.n_prompt[i]);
        cJSON_AddBoolToObject(it, "joint_encoding_differs", ev->fam.joint_differs[i]);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(p, "items", items);
    return p;
}

static cJSON *familiarity_json(const Eval *ev, const EvalModel *em) {
    cJSON *f = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddNumberToObject(f, "mean_prob", em->sum.mean_prob);
    cJSON_AddNumberToObject(f, "mean_logp", em->sum.mean_logp);
    cJSON_AddNumberToObject(f, "median_first_rank", em->sum.median_rank);
    cJSON_AddNumberToObject(f, "first_top1_share", em->sum.top1_share);
    for (int i = 0; i < ev->fam.n; i++) {
        const FamResult *r = &em->fam[i];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddNumberToObject(it, "line", ev->prompts.lines[i]);
        cJSON_AddNumberToObject(it, "logp", r->logp);
        cJSON_AddNumberToObject(it, "prob", r->prob);
        cJSON_AddNumberToObject(it, "first_prob", r->first_prob);
        cJSON_AddNumberToObject(it, "first_rank", r->first_rank);
        cJSON_AddBoolToObject(it, "first_is_argmax", r->first_is_argmax);
        cJSON_AddItemToObject(it, "argmax", token_string(&ev->tok, r->argmax));
        cJSON_AddNumberToObject(it, "argmax_id", r->argmax);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(f, "items", items);
    return f;
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

static cJSON *completion_prompts_json(const Eval *ev) {
    const CompSet *s = &ev->comp;
    cJSON *c = cJSON_CreateObject(), *files = cJSON_CreateArray(), *items = cJSON_CreateArray();
    for (int i = 0; i < ev->comp_targets->n; i++)
        cJSON_AddItemToArray(files, cJSON_CreateString(ev->comp_targets->items[i]));
    cJSON_AddItemToObject(c, "files", files);
    cJSON_AddStringToObject(c, "anchors", ev->anchors_path);
    cJSON_AddNumberToObject(c, "n", s->n);
    cJSON_AddNumberToObject(c, "requested", s->cfg.n);
    cJSON_AddNumberToObject(c, "candidates", (double)s->n_candidates);
    cJSON_AddNumberToObject(c, "seed", (double)s->cfg.seed);
    cJSON_AddNumberToObject(c, "prompt_tokens", s->cfg.prompt_tokens);
    cJSON_AddNumberToObject(c, "completion_tokens", s->cfg.completion_tokens);
    cJSON_AddNumberToObject(c, "max_lead", s->cfg.max_lead);
    cJSON_AddStringToObject(c, "rule",
                            "greedy completion; unique (weight 5): it holds an anchor key its "
                            "prompt lacks (a leak); typical (weight 1): it holds only keys the "
                            "prompt has; score = (5 unique + typical) / n");
    cJSON_AddNumberToObject(c, "truth_leak_rate", ev->truth_sum.leak_rate);
    cJSON_AddNumberToObject(c, "truth_weighted_score", ev->truth_sum.score);
    for (int i = 0; i < s->n; i++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddNumberToObject(it, "position", (double)s->at[i]);
        cJSON_AddNumberToObject(it, "prompt_tokens", s->n_ids[i] - 1);
        cJSON_AddStringToObject(it, "key", ev->anchors.items[s->key[i]].key);
        cJSON_AddNumberToObject(it, "lead", s->lead[i]);
        cJSON_AddItemToObject(it, "prompt", text_json(s->prompt[i]));
        cJSON_AddItemToObject(it, "truth", text_json(s->truth[i]));
        cJSON_AddStringToObject(it, "truth_class", class_name(ev->truth[i].cls));
        cJSON_AddItemToObject(it, "truth_leaked",
                              keys_json(&ev->anchors, ev->truth[i].leaked, ev->truth[i].n_leaked));
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(c, "items", items);
    return c;
}

static cJSON *completions_json(const Eval *ev, const EvalModel *em) {
    cJSON *c = cJSON_CreateObject(), *items = cJSON_CreateArray();
    cJSON_AddNumberToObject(c, "leak_rate", em->csum.leak_rate);
    cJSON_AddNumberToObject(c, "weighted_score", em->csum.score);
    cJSON_AddNumberToObject(c, "unique", em->csum.unique);
    cJSON_AddNumberToObject(c, "typical", em->csum.typical);
    cJSON_AddNumberToObject(c, "n", em->csum.n);
    for (int i = 0; i < ev->comp.n; i++) {
        const CompResult *r = &em->comp[i];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddItemToObject(it, "completion", text_json(r->text));
        cJSON_AddNumberToObject(it, "tokens", r->n_tokens);
        cJSON_AddStringToObject(it, "class", class_name(r->j.cls));
        cJSON_AddItemToObject(it, "leaked", keys_json(&ev->anchors, r->j.leaked, r->j.n_leaked));
        cJSON_AddItemToObject(it, "shared", keys_json(&ev->anchors, r->j.shared, r->j.n_shared));
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddItemToObject(c, "items", items);
    return c;
}

static cJSON *eval_json(const Eval *ev) {
    cJSON *j = cJSON_CreateObject(), *texts = cJSON_CreateArray(), *models = cJSON_CreateArray();
    cJSON_AddNumberToObject(j, "seq", ev->seq);
    cJSON_AddNumberToObject(j, "max_windows", (double)ev->max_windows);
    for (int t = 0; t < ev->n_texts; t++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", ev->texts[t].name);
        cJSON_AddStringToObject(o, "file", ev->texts[t].path);
        cJSON_AddNumberToObject(o, "tokens", (double)ev->texts[t].ds.n);
        cJSON_AddItemToArray(texts, o);
    }
    cJSON_AddItemToObject(j, "texts", texts);
    if (ev->prompts_path) cJSON_AddItemToObject(j, "prompts", prompts_json(ev));
    if (ev->comp.n) cJSON_AddItemToObject(j, "completions", completion_prompts_json(ev));
    ability_settings_json(&ev->ab, j);
    mem_json_settings(&ev->mem, j);
    for (int i = 0; i < ev->n_models; i++) {
        const EvalModel *em = &ev->models[i];
        cJSON *o = cJSON_CreateObject(), *ppl = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", em->name);
        cJSON_AddStringToObject(o, "file", em->path);
        cJSON_AddNumberToObject(o, "seq", em->seq);
        for (int t = 0; t < ev->n_texts; t++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "loss", em->loss[t]);
            cJSON_AddNumberToObject(p, "perplexity", exp(em->loss[t]));
            cJSON_AddNumberToObject(p, "tokens", (double)em->n_tokens[t]);
            cJSON_AddItemToObject(ppl, ev->texts[t].name, p);
        }
        cJSON_AddItemToObject(o, "perplexity", ppl);
        if (ev->prompts_path) cJSON_AddItemToObject(o, "familiarity", familiarity_json(ev, em));
        if (ev->comp.n) cJSON_AddItemToObject(o, "completions", completions_json(ev, em));
        ability_model_json(&ev->ab, i, o);
        mem_json_model(&ev->mem, i, o);
        cJSON_AddItemToArray(models, o);
    }
    cJSON_AddItemToObject(j, "models", models);
    return j;
}

/* One table row: label, then one value per model. */
typedef double (*MetricFn)(const EvalModel *em, int arg);
static double m_ppl(const EvalModel *em, int t) {
    return exp(em->loss[t]);
}
static double m_prob(const EvalModel *em, int t) {
    (void)t;
    return em->sum.mean_prob;
}
static double m_logp(const EvalModel *em, int t) {
    (void)t;
    return em->sum.mean_logp;
}
static double m_rank(const EvalModel *em, int t) {
    (void)t;
    return em->sum.median_rank;
}
static double m_top1(const EvalModel *em, int t) {
    (void)t;
    return em->sum.top1_share;
}
static double m_leak(const EvalModel *em, int t) {
    (void)t;
    return em->csum.leak_rate;
}
static double m_score(const EvalModel *em, int t) {
    (void)t;
    return em->csum.score;
}

static void print_row(const Eval *ev, const char *label, MetricFn fn, int arg, const char *fmt,
                      const int *width) {
    printf("%-30s", label);
    for (int i = 0; i < ev->n_models; i++) {
        char cell[64];
        snprintf(cell, sizeof cell, fmt, fn(&ev->models[i], arg));
        printf("  %*s", width[i], cell);
    }
    putchar('\n');
}

static void print_table(const Eval *ev) {
    int width[MAX_ITEMS];
    printf("%-30s", "");
    for (int i = 0; i < ev->n_models; i++) {
        int n = (int)strlen(ev->models[i].name);
        width[i] = n > 10 ? n : 10;
        printf("  %*s", width[i], ev->models[i].name);
    }
    putchar('\n');
    for (int t = 0; t < ev->n_texts; t++) {
        char label[96];
        snprintf(label, sizeof label, "perplexity %s", ev->texts[t].name);
        print_row(ev, label, m_ppl, t, "%.3f", width);
    }
    if (ev->prompts_path) {
        print_row(ev, "familiarity (mean P)", m_prob, 0, "%.4g", width);
        print_row(ev, "mean log-prob", m_logp, 0, "%.3f", width);
        print_row(ev, "median first-token rank", m_rank, 0, "%g", width);
        print_row(ev, "first token is top-1", m_top1, 0, "%.3f", width);
    }
    if (ev->comp.n) {
        print_row(ev, "completion leak rate", m_leak, 0, "%.3f", width);
        print_row(ev, "completion weighted score", m_score, 0, "%.3f", width);
    }
    ability_print_rows(&ev->ab, ev->n_models, width);
    mem_print_rows(&ev->mem, width);
    const char *sep = "\n";
    if (ev->prompts_path)
        printf("%s%d prompts from %s", sep, ev->fam.n, ev->prompts_path), sep = "; ";
    if (ev->n_texts)
        printf("%sperplexity over %d-token windows", sep, ev->models[0].seq), sep = "; ";
    if (ev->comp.n) {
        printf("%s%d completion prompts (seed %llu) cut from %s%s; true continuations: leak "
               "rate %.3f, weighted score %.3f",
               sep, ev->comp.n, (unsigned long long)ev->comp_cfg.seed, ev->comp_targets->items[0],
               ev->comp_targets->n > 1 ? " ..." : "", ev->truth_sum.leak_rate, ev->truth_sum.score);
        sep = "; ";
    }
    ability_print_notes(&ev->ab, sep);
    putchar('\n');
    mem_print_notes(&ev->mem);
}

static void eval_free(Eval *ev) {
    for (int t = 0; t < ev->n_texts; t++) dataset_free(&ev->texts[t].ds);
    for (int i = 0; i < ev->n_models; i++) {
        free(ev->models[i].fam);
        comp_results_free(ev->models[i].comp, ev->comp.n);
        free(ev->models[i].comp);
    }
    for (int i = 0; ev->truth && i < ev->comp.n; i++) comp_judgement_free(&ev->truth[i]);
    free(ev->truth);
    comp_set_free(&ev->comp);
    dataset_free(&ev->comp_ds);
    anchors_free(&ev->anchors);
    jsonl_free(&ev->prompts);
    fam_set_free(&ev->fam);
    ability_free(&ev->ab);
    mem_free(&ev->mem);
    tok_free(&ev->tok);
}

int cmd_eval(int argc, char **argv) {
    StrList models = {0}, texts = {0}, targets = {0};
    Eval ev;
    memset(&ev, 0, sizeof ev);
    const char *json_path = NULL;
    ev.seq = 256, ev.batch = 4;
    comp_config_defaults(&ev.comp_cfg);
    ability_defaults(&ev.ab);
    mem_defaults(&ev.mem);
    ev.comp_targets = &targets;
    Opt opts[] = {
        {"--model|-m", OPT_LIST, &models, "model (GGUF); repeat to compare models"},
        {"--text", OPT_LIST, &texts, "NAME=FILE: perplexity on a text file; repeatable"},
        {"--prompts", OPT_STR, &ev.prompts_path,
         "familiarity prompts, JSON Lines {\"prompt\", \"continuation\"}"},
        {"--seq", OPT_INT, &ev.seq, "tokens per perplexity window (default 256)"},
        {"--batch", OPT_INT, &ev.batch, "windows per forward pass (default 4)"},
        {"--max-windows", OPT_LONG, &ev.max_windows, "at most N windows per text (default: all)"},
        {"--completions", OPT_INT, &ev.comp_cfg.n,
         "completion familiarity on N prompts cut from the target (default 0: off)"},
        {"--completion-target", OPT_LIST, &targets,
         "text the prompts are cut from (the forget set); repeatable"},
        {"--anchors", OPT_STR, &ev.anchors_path,
         "anchor dictionary: its keys are the target's own terms"},
        {"--completion-tokens", OPT_INT, &ev.comp_cfg.completion_tokens,
         "tokens generated per prompt (default 24)"},
        {"--completion-prompt-tokens", OPT_INT, &ev.comp_cfg.prompt_tokens,
         "tokens of target text per prompt (default 48)"},
        {"--seed", OPT_U64, &ev.comp_cfg.seed,
         "seed for the prompts, excerpts, chunks, next-sentence items and relearning (default 1)"},
        {"--choice", OPT_LIST, &ev.ab.choice_specs,
         "NAME=FILE: multiple choice, JSON Lines in the hellaswag, piqa, arc, boolq or "
         "winogrande layout; repeatable"},
        {"--choice-layout", OPT_STR, &ev.ab.choice_layout,
         "layout of every --choice file (default auto: from the first line's fields)"},
        {"--next-sentence", OPT_STR, &ev.ab.next_path,
         "held-out general text to cut next-sentence items from"},
        {"--next-sentence-n", OPT_INT, &ev.ab.next_cfg.n, "next-sentence items (default 200)"},
        {"--next-sentence-choices", OPT_INT, &ev.ab.next_cfg.choices,
         "choices per next-sentence item (default 4)"},
        {"--relearn", OPT_STR, &ev.ab.relearn_path,
         "fine-tune each model on this text (never-seen stories), then measure again"},
        {"--relearn-steps", OPT_LONG, &ev.ab.relearn_cfg.steps, "relearning steps (default 20)"},
        {"--relearn-lr", OPT_FLOAT, &ev.ab.relearn_cfg.lr,
         "relearning learning rate, constant (default 3e-4)"},
        {"--relearn-batch", OPT_INT, &ev.ab.relearn_cfg.batch,
         "relearning windows of --seq tokens per step (default 4)"},
        {"--verbmem", OPT_INT, &ev.mem.verb_cfg.n,
         "VerbMem on N excerpts: ROUGE-L of greedy continuations (default 0: off)"},
        {"--verbmem-target", OPT_LIST, &ev.mem.verb_targets,
         "text the excerpts are cut from; repeatable (default: --completion-target, else "
         "--mia-forget)"},
        {"--verbmem-prompt-tokens", OPT_INT, &ev.mem.verb_cfg.prompt_tokens,
         "prompt tokens per excerpt (default 32)"},
        {"--verbmem-tokens", OPT_INT, &ev.mem.verb_cfg.gen_tokens,
         "tokens generated and compared (default 128)"},
        {"--knowmem", OPT_STR, &ev.mem.know_path,
         "KnowMem questions, JSON Lines {\"question\", \"answer\"}, asked few-shot"},
        {"--knowmem-shots", OPT_INT, &ev.mem.know_cfg.shots,
         "other questions shown as examples (default 3)"},
        {"--knowmem-tokens", OPT_INT, &ev.mem.know_cfg.max_tokens,
         "longest answer generated (default 32)"},
        {"--mia-forget", OPT_LIST, &ev.mem.mia_forget,
         "membership inference: text the models were trained on (members); repeatable"},
        {"--mia-holdout", OPT_LIST, &ev.mem.mia_holdout,
         "unseen text of the same source (non-members); repeatable"},
        {"--mia-chunk", OPT_INT, &ev.mem.mia_chunk, "tokens per membership chunk (default 128)"},
        {"--mia-max-chunks", OPT_INT, &ev.mem.mia_max,
         "at most N chunks per set, a seeded choice (default 200; 0: all)"},
        {"--oracle", OPT_STR, &ev.mem.oracle,
         "model (name or file) PrivLeak is relative to (default: the one named oracle)"},
        {"--json", OPT_STR, &json_path,
         "also write every figure, per prompt too, to FILE; "
         "'-': JSON on stdout instead of the table"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"eval",
                   "--model A.gguf [--model B.gguf ...] [--text NAME=FILE ...] [--prompts FILE] "
                   "[--completions N --completion-target FILE --anchors DICT]",
                   "Compares models that share one tokenizer: perplexity (exp of the mean "
                   "next-token loss over consecutive non-overlapping windows) on each named "
                   "text, and token-probability familiarity on a prompts file: the probability "
                   "of each continuation after <|endoftext|> + prompt, its mean over the "
                   "prompts, the mean log-probability, the median rank of the continuation's "
                   "first token and the share of prompts where it is the most likely token. "
                   "Completion familiarity (the paper's, judged without an external model): N "
                   "prompts cut at seeded random places of the target that a key of the anchor "
                   "dictionary follows within 8 tokens, completed greedily; a completion leaks "
                   "(\"unique\", weight 5) when it names a key its prompt does not, is "
                   "\"typical\" (weight 1) when it names only keys the prompt has; reported: "
                   "the leak rate and (5 unique + typical) / N. "
                   "Prints a table (rows: metrics, columns: models); progress goes to stderr.",
                   "obliviate eval -m baseline.gguf -m unlearned.gguf --text general=heldout.txt "
                   "--text forget=forget.txt --prompts data/familiarity/sherlock.jsonl "
                   "--json eval.json",
                   opts,
                   0,
                   0};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    free(pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (models.n == 0) return cli_fail(cmd.name, "--model is required");
    if (texts.n == 0 && !ev.prompts_path && ev.comp_cfg.n <= 0 && !ability_wanted(&ev.ab) &&
        !mem_enabled(&ev.mem))
        return cli_fail(cmd.name, "nothing to evaluate: give --text, --prompts, --completions, "
                                  "--choice, --next-sentence, --verbmem, --knowmem and/or "
                                  "--mia-forget");
    const char *bad = ability_check(&ev.ab, ev.prompts_path != NULL, texts.n);
    if (bad) return cli_fail(cmd.name, bad);
    const char *mem_problem = mem_check(&ev.mem, &targets);
    if (mem_problem) return cli_fail(cmd.name, mem_problem);
    if (ev.seq < 1 || ev.batch < 1) return cli_fail(cmd.name, "--seq and --batch must be >= 1");
    if (ev.comp_cfg.n < 0) return cli_fail(cmd.name, "--completions must be >= 0");
    if (ev.comp_cfg.n > 0 && (targets.n == 0 || !ev.anchors_path))
        return cli_fail(cmd.name, "--completions needs --completion-target and --anchors");
    if (ev.comp_cfg.n == 0 && (targets.n || ev.anchors_path))
        return cli_fail(cmd.name, "--completion-target and --anchors need --completions N");
    if (ev.comp_cfg.prompt_tokens < 1 || ev.comp_cfg.completion_tokens < 1)
        return cli_fail(cmd.name,
                        "--completion-tokens and --completion-prompt-tokens must be >= 1");
    ObErr err;
    ev.n_models = models.n;
    for (int i = 0; i < models.n; i++) ev.models[i].path = models.items[i];
    name_models(&ev);
    const char *names[MAX_ITEMS];
    for (int i = 0; i < ev.n_models; i++) names[i] = ev.models[i].name;
    rc = load_tokenizer(&ev, &err) || load_texts(&ev, &texts, &err) || load_prompts(&ev, &err) ||
         load_completions(&ev, &err) || load_ability(&ev, &err) ||
         mem_load(&ev.mem, &ev.tok, &targets, ev.comp_cfg.seed, names, models.items, ev.n_models,
                  &err);
    for (int i = 0; !rc && i < ev.n_models; i++) {
        fprintf(stderr, "eval: model %d/%d: %s\n", i + 1, ev.n_models, ev.models[i].path);
        rc = eval_model(&ev, &ev.models[i], &err);
    }
    if (!rc) mem_finish(&ev.mem);
    if (!rc) {
        cJSON *j = eval_json(&ev);
        if (json_path && !strcmp(json_path, "-")) {
            char *s = cJSON_Print(j);
            if (s) puts(s);
            free(s);
        } else {
            print_table(&ev);
            if (json_path) rc = ob_json_write(json_path, j, &err);
        }
        cJSON_Delete(j);
    }
    eval_free(&ev);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}
