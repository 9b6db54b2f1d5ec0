/* `obliviate unlearn`: every stage of the method in one work folder.
 *
 *   reinforced.gguf  <- train BASE further on the target        (step 1)
 *   anchors.json     <- the given dictionary, merged and pruned  (step 2)
 *   labels.bin       <- generic labels for every target block    (steps 3-4)
 *   unlearned.gguf   <- BASE fine-tuned on the labels            (step 5)
 *
 * With a LoRA config both .gguf files in the work folder are adapters of
 * BASE (model/lora.h) and the published model is BASE with the unlearning
 * adapter merged in.
 *
 * Each stage writes its file and a stamp "<stage>.stamp" holding a hash of
 * its inputs (file contents and settings). A rerun skips a stage whose stamp
 * matches and whose output exists, and resumes an interrupted training stage
 * from its last checkpoint. */
#ifndef OB_PIPELINE_H
#define OB_PIPELINE_H

#include <stdint.h>

#include "model/lora.h"
#include "util/err.h"

typedef struct {
    const char *base;           /* baseline model */
    const char *const *targets; /* target text files */
    int n_targets;
    const char *anchors; /* dictionary file */
    const char *work;    /* work folder */
    const char *out;     /* final model (copied from work/unlearned.gguf) */
    /* reinforce */
    long reinforce_steps;
    float reinforce_lr;
    /* labels */
    float alpha;
    int soft_k, forbid_keys, block;
    int suppress; /* forbidden tokens listed with target 0 per soft target */
    int inkey;    /* label the positions inside anchor keys */
    /* fine-tune */
    const char *targets_mode; /* "soft" | "hard" */
    const char *retain;       /* general text mixed into the fine-tune, or NULL */
    int retain_rows;          /* its rows per batch (0: none, the paper's recipe) */
    long steps;
    float lr;
    int batch;
    uint64_t seed;
    /* lora.rank > 0: both training stages train a LoRA adapter on the frozen,
     * memory-mapped BASE; reinforced.gguf and unlearned.gguf are then
     * adapters, labels read BASE + the reinforced adapter, and --out gets the
     * base with the unlearning adapter merged in. */
    LoraConfig lora;
} UnlearnConfig;

void unlearn_config_defaults(UnlearnConfig *c);

/* The paper's recipe (Eldan & Russinovich 2023) over whatever else *c holds:
 * fine-tuning on hard argmax labels, alpha 5, no anchor key forbidden, no
 * suppression slots, no labels inside anchor keys. */
void unlearn_config_published(UnlearnConfig *c);
int unlearn_run(const UnlearnConfig *c, ObErr *err);

#endif
