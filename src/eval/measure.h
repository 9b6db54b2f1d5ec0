/* The interface between eval/evaluate.c and the measures it runs. A measure
 * is one file, eval/measure_NAME.c, that defines one EvalMeasure, plus one
 * line in evaluate.c's table of measures. The table's order is the order of
 * the measures' inputs, JSON members, table rows and notes; `pass` orders the
 * per-model work (quick and generation measures first, perplexity next,
 * relearning last because it changes the model).
 *
 * evaluate.c owns what several measures share (EvalRun): the tokenizer, the
 * model names, the perplexity texts and the familiarity prompts (relearning
 * measures both again) and each model's window length. */
#ifndef OB_MEASURE_H
#define OB_MEASURE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "eval/evaluate.h"
#include "eval/familiarity.h"
#include "eval/jsonl.h"
#include "eval/quantized.h"
#include "eval/table.h"
#include "model/llama.h"
#include "text/dataset.h"
#include "text/tokenizer.h"

typedef struct {
    char name[64];
    const char *path;
    TokenStream ds;
} EvalText;

typedef struct {
    const EvalConfig *cfg;      /* its models include the quantised copies */
    const EvalQuantized *quant; /* which models are copies, of which, how */
    Tokenizer tok;              /* the first model's, shared by all */
    int n_models;
    char names[EVAL_MAX][64]; /* as shown: the file's base name, or the path on a clash */
    int seq[EVAL_MAX];        /* per model: window length (its context may cap cfg->seq) */
    EvalText texts[EVAL_MAX];
    int n_texts;
    JsonlFile prompts; /* the familiarity prompts as written */
    FamSet fam;        /* and encoded; used only when cfg->prompts */
} EvalRun;

/* Each measure file fills these in this order, NULL for what it lacks; the
 * compiler checks every function's type against its place. */
typedef struct {
    size_t size; /* bytes of the measure's state, zeroed before load */
    int pass;    /* 0, 1 or 2: when it runs on each model */
    /* Is it asked for? (relearning alone is not something to evaluate) */
    int (*asked)(const EvalConfig *c);
    /* A problem with the options, or NULL. */
    const char *(*check)(const EvalConfig *c);
    /* The inputs, the same for every model. */
    int (*load)(EvalRun *run, void *st, ObErr *err);
    /* Model i's figures. */
    int (*model)(EvalRun *run, void *st, int i, Llama *m, ObErr *err);
    /* After every model. */
    void (*finish)(EvalRun *run, void *st);
    /* Top-level settings and inputs; model i's figures. */
    void (*settings_json)(const EvalRun *run, const void *st, cJSON *root);
    void (*model_json)(const EvalRun *run, const void *st, int i, cJSON *model);
    /* Table rows and notes. */
    void (*table)(const EvalRun *run, const void *st, EvalTable *t);
    void (*free)(void *st);
} EvalMeasure;

extern const EvalMeasure measure_perplexity, measure_familiarity, measure_completions,
    measure_choice, measure_relearn, measure_memory;

/* The JSON array of a list's paths. */
cJSON *eval_list_json(const EvalList *l);
/* A sample of excerpts cut from files (completion prompts, VerbMem) as o's
 * members: files, n (cut), requested, candidates, seed, prompt_tokens. */
void eval_sample_json(cJSON *o, const EvalList *files, int n, int requested, size_t candidates,
                      uint64_t seed, int prompt_tokens);

/* {"loss", "perplexity", "tokens"} per text, keyed by its name. */
cJSON *eval_perplexity_json(const EvalRun *run, const double *loss, const long *tokens);

#endif
