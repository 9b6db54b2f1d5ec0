/* The whole evaluation behind `obliviate eval`: every measure asked for, on
 * every model, into one JSON object (the schema report.h reads) and the
 * readable table. Models must share one tokenizer (the first model's).
 *
 *   EvalConfig c;
 *   eval_config_defaults(&c);
 *   c.models = (EvalList){paths, 2};
 *   c.prompts = "sherlock.jsonl";
 *   cJSON *res; char *table;
 *   if (eval_run(&c, &res, &table, &err)) ...   // err.msg: one line
 *
 * Progress (one line per measure and model) goes to util/log.h's sink. The
 * measures themselves live in eval/measure_*.c (see eval/measure.h). */
#ifndef OB_EVALUATE_H
#define OB_EVALUATE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "eval/completion.h"
#include "eval/memorisation.h"
#include "eval/nextsent.h"
#include "eval/relearn.h"
#include "util/err.h"

#define EVAL_MAX 32 /* models, texts and choice sets (the command line's repeat limit) */

/* Strings given by the caller (file names, NAME=FILE specs); not copied. */
typedef struct {
    const char *const *items;
    int n;
} EvalList;

typedef struct {
    EvalList models;       /* GGUF files, in column order */
    EvalList loras;        /* empty, or one per model: an adapter file, or "-" for none */
    int frozen;            /* every model a frozen, mapped base in its stored type */
    EvalList texts;        /* perplexity: NAME=FILE, or FILE named after its base name */
    const char *prompts;   /* familiarity prompts, JSON Lines {"prompt", "continuation"} */
    int seq, batch;        /* perplexity windows: tokens (256), windows per pass (4) */
    long max_windows;      /* per text (0: all) */
    uint64_t seed;         /* every seeded draw: prompts, excerpts, items, chunks, relearning (1) */
    CompConfig comp;       /* completion familiarity; n = 0: off; its seed is `seed` */
    EvalList comp_targets; /* the text completion prompts are cut from */
    const char *anchors;   /* anchor dictionary: its keys are the target's own terms */
    EvalList choices;      /* multiple choice: NAME=FILE, or FILE named without ".jsonl" */
    const char *choice_layout;        /* NULL: auto */
    const char *next_sentence;        /* general text to cut next-sentence items from, or NULL */
    NextSentConfig next;              /* its seed is `seed` */
    const char *relearn;              /* fine-tune each model on this text, then measure again */
    RelearnConfig relearn_cfg;        /* its seed is `seed`, its seq `seq` (the model may cap it) */
    VerbConfig verb;                  /* VerbMem; n = 0: off; its seed is `seed` */
    EvalList verb_targets;            /* empty: comp_targets, else mia_forget */
    const char *knowmem;              /* KnowMem questions, JSON Lines {"question", "answer"} */
    const char *knowmem_retain;       /* the same about general text: what must stay known */
    KnowConfig know;                  /* its seed is `seed` */
    EvalList mia_forget, mia_holdout; /* membership inference: members, non-members */
    int mia_chunk, mia_max;           /* tokens per chunk (128); chunks per set (200; 0: all) */
    const char *oracle;       /* model (name or file) PrivLeak is relative to; NULL: "oracle" */
    ObPrecision prec;         /* every model's matmuls (model/ops.h) */
    const char *quantize;     /* "q4_k_m,q8_0": also each model so quantised (eval/quantized.h) */
    const char *quantize_dir; /* keep the quantised files here (NULL: a temporary folder) */
} EvalConfig;

void eval_config_defaults(EvalConfig *c);

/* What is wrong with c as a request (named by the command line's options),
 * or NULL. eval_run checks it first and fails with this message. */
const char *eval_config_check(const EvalConfig *c);

/* Fails when out (the --json file) is one of c's input files. */
int eval_check_output(const EvalConfig *c, const char *out, ObErr *err);

/* Loads the inputs, evaluates every model in turn and builds the results:
 * *result the JSON object (cJSON_Delete it), *table (when table is not NULL;
 * free it) the table of every figure, rows the measures and columns the
 * models, with notes on the inputs under it. The table is built from the
 * figures themselves, not from the JSON, so a 64-bit seed shows exactly. */
int eval_run(const EvalConfig *c, cJSON **result, char **table, ObErr *err);

#endif
