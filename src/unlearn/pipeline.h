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
#include "train/trainer.h"
#include "unlearn/finetune.h"
#include "unlearn/labels.h"
#include "unlearn/objective.h"
#include "util/err.h"

/* Each stage's settings are its own call's config (train/textrun.h,
 * unlearn/labelrun.h, unlearn/finetune.h); the pipeline fills in the paths
 * inside the work folder, and seed and lora, which every stage shares. */
typedef struct {
    const char *base;           /* baseline model */
    const char *const *targets; /* target text files */
    int n_targets;
    const char *anchors; /* dictionary file */
    const char *work;    /* work folder */
    const char *out;     /* final model (copied from work/unlearned.gguf) */
    uint64_t seed;       /* every stage's */
    ObPrecision prec;    /* every stage's matmuls (model/ops.h) */
    /* lora.rank > 0: both training stages train a LoRA adapter on the frozen,
     * memory-mapped BASE; reinforced.gguf and unlearned.gguf are then
     * adapters, labels read BASE + the reinforced adapter, and --out gets the
     * base with the unlearning adapter merged in. */
    LoraConfig lora;
    TrainConfig reinforce;   /* step 1: textrun_config_reinforce's; seq <= block, warmup
                              * steps/10 + 1 and min_lr lr/10 */
    LabelConfig labels;      /* steps 3-4: label_config_defaults, alphas 0 */
    FinetuneConfig finetune; /* step 5: finetune_config_defaults (retain: at most one file) */
    /* the field's other methods (unlearn/objective_run.h): their objective;
     * they train as the fine-tune does (finetune.train, windows of
     * labels.block tokens) on the target, with finetune.retain as retain text */
    ObjectiveConfig objective;
    /* task-vector: theta = BASE - negate (reinforced - BASE) (5, MUSE's;
     * its method's preset: 0.5, the demo's sweep) */
    float negate;
    /* whp-level: the level stage's training after WHP's (objective: level;
     * 100 steps at 1e-4, otherwise the fine-tune's settings) */
    TrainConfig level_train;
} UnlearnConfig;

void unlearn_config_defaults(UnlearnConfig *c);

/* The paper's recipe (Eldan & Russinovich 2023) over whatever else *c holds:
 * fine-tuning on hard argmax labels, alpha 5 (and 2.5, 10), no anchor key
 * forbidden, no suppression slots, no labels inside anchor keys. */
void unlearn_config_published(UnlearnConfig *c);
int unlearn_run(const UnlearnConfig *c, ObErr *err);

/* Every stage's settings, checked before the first stage runs (unlearn_run
 * runs it first): the reinforce stage's named as --reinforce-*, the
 * fine-tune's as --*, and labels the fine-tune can train on. */
int unlearn_config_check(const UnlearnConfig *c, ObErr *err);

/* ---- the work folder, for the methods (unlearn/method.h) ----
 * body(c) run under a lock on c->work and one on c->out, after the checks
 * every method shares (output not an input, its folder writable, the work
 * folder made). */
int unlearn_locked(const UnlearnConfig *c, int (*body)(const UnlearnConfig *c, ObErr *err),
                   ObErr *err);

/* A stage: fn(c, h, resume) writes work/<output> unless "<name>.stamp" says
 * it is done with inputs hashed h and the output reads back whole; resumes
 * from work/<state> (a trainer's "<checkpoint>.state"; NULL: a stage that
 * does not train) when the stamp holds h but not done; *seconds its time. */
typedef int (*UnlearnStageFn)(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err);
int unlearn_stage(const UnlearnConfig *c, const char *name, const char *output, const char *state,
                  uint64_t h, UnlearnStageFn fn, double *seconds, ObErr *err);
int unlearn_stamp_write(const UnlearnConfig *c, const char *stage, uint64_t h, int done,
                        ObErr *err);
void unlearn_work_path(char *buf, size_t n, const UnlearnConfig *c, const char *name);
/* Step 1 as a stage of its own (WHP's, and the task vector's): work/
 * reinforced.gguf, BASE trained further on the targets with c->reinforce;
 * *h its stamp's hash, for the stages after it to chain on. */
int unlearn_reinforce(const UnlearnConfig *c, uint64_t *h, double *seconds, ObErr *err);
/* WHP's stages (reinforce, anchors, labels, fine-tune into work/unlearned.gguf)
 * under the caller's lock, without the publish; *h: the fine-tune's stamp. */
int unlearn_whp_stages(const UnlearnConfig *c, uint64_t *h, ObErr *err);
/* work/<name> copied to c->out; with LoRA, BASE with that adapter merged. */
int unlearn_publish(const UnlearnConfig *c, const char *name, ObErr *err);

#endif
