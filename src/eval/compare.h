/* `obliviate compare`: the unlearning methods side by side, from one
 * baseline, measured against the oracle in one evaluation.
 *
 *   WORK/<method>/         each method's work folder (unlearn/method.h): a
 *                          rerun skips what is done, a killed run resumes
 *   WORK/models/NAME.gguf  what is compared: baseline, oracle, each
 *                          method's model after the step budget, and
 *                          NAME@stepK.gguf, the checkpoint MUSE's rule picks
 *   WORK/compare.json      the evaluation (eval's schema, report.h) plus
 *                          "compare": per method its time and selection
 *
 * Every method that trains gets the same budget of unlearning steps and
 * keeps `snapshots` evenly spaced checkpoints of it. Model selection is
 * reported two ways: the fixed budget (the last step), and MUSE's rule, the
 * first checkpoint whose KnowMem on the target is at or below the oracle's
 * (Shi et al. 2024), chosen by a KnowMem-only evaluation of every
 * checkpoint. The task vector does not train (its one checkpoint is its
 * model); WHP's fine-tune keeps its best held-out checkpoint as its model. */
#ifndef OB_COMPARE_H
#define OB_COMPARE_H

#include <cjson/cJSON.h>

#include "eval/evaluate.h"
#include "unlearn/pipeline.h"

#define COMPARE_MAX_SET 32

typedef struct {
    const char *base, *oracle;
    const char *const *targets; /* the forget text */
    int n_targets;
    const char *retain;  /* general text: retain data of the methods with a retain term */
    const char *anchors; /* WHP's dictionary (required when whp or whp-published runs) */
    const char *work;
    const char *methods; /* comma-separated names; NULL: every method */
    long steps;          /* unlearning steps of every method that trains (0: each one's default) */
    int snapshots;       /* checkpoints kept per run for MUSE's rule (4; 0: the budget only) */
    struct {
        const char *method, *key; /* "npo", "lr": unlearn_config_set's keys */
        double value;
    } set[COMPARE_MAX_SET]; /* settings over the methods' own */
    int n_set;
    UnlearnConfig unlearn; /* what every method shares: seed, block, batch, precision, reinforce */
    EvalConfig eval;       /* the measures; compare fills in models, oracle, seed, anchors, prec */
} CompareConfig;

void compare_config_defaults(CompareConfig *c);

/* Runs every method, selects, evaluates. *result: the evaluation with its
 * "compare" member (also written to WORK/compare.json); *table (when table
 * is not NULL; free it): one row per model, a column per criterion, in
 * Markdown. Progress goes to util/log.h's sink. */
int compare_run(const CompareConfig *c, cJSON **result, char **table, ObErr *err);

#endif
