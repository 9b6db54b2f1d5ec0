/* obliviate eval's general-ability and relearning measures (multiple choice,
 * next-sentence items, relearning), kept beside cmd_eval.c so the command's
 * own file stays about options and the other measures. cmd_eval.c owns one
 * EvalAbility: its option table points into it, it fills `ms` with what a
 * relearned model is measured on, and it calls these in order: load, then
 * per model ability_eval, then the JSON, table and note printers. */
#ifndef OB_EVAL_ABILITY_H
#define OB_EVAL_ABILITY_H

#include <cjson/cJSON.h>

#include "cli/args.h"
#include "eval/choice.h"
#include "eval/familiarity.h"
#include "eval/nextsent.h"
#include "eval/relearn.h"
#include "text/dataset.h"

#define ABILITY_MAX 32 /* StrList's capacity: models, texts, choice sets */

typedef struct {
    char name[64];
    const char *path;
    ChoiceSet set;
    ChoiceEnc enc;
} AbilityChoice;

/* One model's figures. */
typedef struct {
    ChoiceSummary choice[ABILITY_MAX]; /* per --choice set */
    ChoiceSummary next;                /* --next-sentence */
    RelearnResult relearn;             /* --relearn, then measured again: */
    FamSummary fam;                    /*   familiarity on the prompts */
    double loss[ABILITY_MAX];          /*   mean loss per perplexity text */
    long tokens[ABILITY_MAX];
} AbilityResult;

/* What a relearned model is measured on (cmd_eval's prompts and texts). */
typedef struct {
    const FamSet *fam; /* NULL without --prompts */
    const TokenStream *texts[ABILITY_MAX];
    const char *names[ABILITY_MAX];
    int n_texts, batch;
    long max_windows;
} AbilityMeasures;

typedef struct {
    /* options */
    StrList choice_specs; /* NAME=FILE or FILE */
    const char *choice_layout;
    const char *next_path;
    NextSentConfig next_cfg;
    const char *relearn_path;
    RelearnConfig relearn_cfg;
    AbilityMeasures ms;
    /* loaded */
    AbilityChoice choices[ABILITY_MAX];
    int n_choices;
    ChoiceSet next;
    ChoiceEnc next_enc;
    int next_sentences, next_candidates;
    TokenStream relearn_ds;
    const Tokenizer *tok;           /* borrowed, for the relearning checkpoint */
    AbilityResult res[ABILITY_MAX]; /* per model */
} EvalAbility;

void ability_defaults(EvalAbility *a);
/* 1 when a multiple-choice or next-sentence measure was asked for. */
int ability_wanted(const EvalAbility *a);
/* What is wrong with the options, or NULL. */
const char *ability_check(const EvalAbility *a, int have_prompts, int n_texts);
/* Reads the sets and the relearning text; seed and seq are eval's --seed
 * and --seq. */
int ability_load(EvalAbility *a, const Tokenizer *tok, uint64_t seed, int seq, ObErr *err);
/* Model i's figures. Relearning comes last and changes m (the file is
 * untouched); seq is the perplexity window used for this model. */
int ability_eval(EvalAbility *a, int i, const char *name, const char *path, Llama *m, int seq,
                 ObErr *err);
void ability_free(EvalAbility *a);

/* Top-level settings: "choice", "next_sentence", "relearn". */
void ability_settings_json(const EvalAbility *a, cJSON *j);
/* Model i's "choice", "next_sentence", "relearn" into o. */
void ability_model_json(const EvalAbility *a, int i, cJSON *o);
/* Table rows (label, then one cell per model of the given widths). */
void ability_print_rows(const EvalAbility *a, int n_models, const int *width);
/* The table's footnote parts, each after sep (then "; "). */
void ability_print_notes(const EvalAbility *a, const char *sep);

#endif
