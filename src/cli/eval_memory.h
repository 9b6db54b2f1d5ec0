/* The memorisation and membership part of `obliviate eval`: VerbMem, KnowMem
 * (eval/memorisation.h) and PrivLeak (eval/mia.h) for each model, their JSON
 * and their table rows. cmd_eval.c owns the command; this file keeps the
 * three metrics' options, inputs and results together. */
#ifndef OB_CLI_EVAL_MEMORY_H
#define OB_CLI_EVAL_MEMORY_H

#include <cjson/cJSON.h>

#include "cli/args.h"
#include "eval/jsonl.h"
#include "eval/memorisation.h"
#include "eval/mia.h"

#define MEM_MAX_MODELS 32 /* StrList's capacity */

typedef struct {
    VerbResult *verb; /* [verb.n] or NULL */
    int verb_tokens;  /* continuation length used (the context may cap it) */
    double verb_f1;
    KnowResult *know; /* [know.n] or NULL */
    double know_f1, know_recall;
    double *mia_forget, *mia_holdout; /* Min-K% scores per chunk, or NULL */
    double auc, privleak;             /* privleak: NAN without an oracle */
} MemModel;

typedef struct {
    /* options */
    VerbConfig verb_cfg;   /* n = 0: VerbMem off */
    StrList verb_targets;  /* empty: --completion-target's, else --mia-forget's */
    const char *know_path; /* NULL: KnowMem off */
    KnowConfig know_cfg;
    StrList mia_forget, mia_holdout; /* both empty: PrivLeak off */
    int mia_chunk, mia_max;
    const char *oracle; /* NULL: the model whose file is named oracle.gguf, if any */
    /* inputs, the same for every model */
    const StrList *verb_files; /* the files VerbMem cuts from */
    TokenStream verb_ds;
    VerbSet verb;
    JsonlFile know_file;
    KnowSet know;
    TokenStream forget_ds, holdout_ds;
    size_t *forget_at, *holdout_at; /* chunk starts */
    int n_forget, n_holdout, forget_available, holdout_available;
    int oracle_idx; /* -1: none */
    /* results */
    int n_models;
    const char *names[MEM_MAX_MODELS];
    MemModel models[MEM_MAX_MODELS];
} MemEval;

void mem_defaults(MemEval *me);
/* Is any of the three asked for? */
int mem_enabled(const MemEval *me);
/* A usage problem with the options (NULL: none). */
const char *mem_check(const MemEval *me, const StrList *completion_targets);

/* Reads and cuts the inputs (seeded by seed) and finds the oracle among the
 * models (names as displayed, paths as given). */
int mem_load(MemEval *me, const Tokenizer *tok, const StrList *completion_targets, uint64_t seed,
             const char *const *names, const char *const *paths, int n_models, ObErr *err);
/* Runs the metrics asked for on model i (m), printing progress to stderr. */
int mem_eval_model(MemEval *me, int i, const Llama *m, const Tokenizer *tok, ObErr *err);
/* After every model: PrivLeak relative to the oracle. */
void mem_finish(MemEval *me);

/* Adds the settings ("verbmem", "knowmem", "mia") to the top-level object. */
void mem_json_settings(const MemEval *me, cJSON *root);
/* Adds model i's "verbmem", "knowmem" and "privleak". */
void mem_json_model(const MemEval *me, int i, cJSON *model);
/* Table rows (label in 30 columns, then one cell per model of the widths
 * given), then a note line on the inputs. */
void mem_print_rows(const MemEval *me, const int *width);
void mem_print_notes(const MemEval *me);

void mem_free(MemEval *me);

#endif
