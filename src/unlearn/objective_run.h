/* The field's training-based unlearning methods (GA, GradDiff, GA+KL, NPO
 * and its variants, SimNPO, UNDIAL: ../shared/guide/methods.md) as one
 * library call: BASE trained on windows of the forget text with the
 * method's objective (unlearn/objective.h), plus windows of retain text
 * under the retain term, BASE itself (frozen, mapped) as the reference.
 *
 * Every step draws B forget windows and, with a retain term, B retain
 * windows of train.seq tokens from one generator, so a seed gives the same
 * batches whatever the thread or rank count. Checkpoints, --resume, LoRA on
 * a frozen base, bf16 products and MPI data parallelism are the trainer's
 * (train/trainer.h). */
#ifndef OB_OBJECTIVE_RUN_H
#define OB_OBJECTIVE_RUN_H

#include "model/lora.h"
#include "train/trainer.h"
#include "unlearn/objective.h"
#include "unlearn/pipeline.h"

typedef struct {
    const char *model; /* BASE, also the reference */
    const char *const *forget;
    int n_forget;
    const char *const *retain; /* required by a retain term, refused without one */
    int n_retain;
    const char *out;   /* the trained model (with LoRA: the adapter) */
    const char *merge; /* with LoRA: BASE + adapter written here too */
    int resume;
    ObjectiveConfig obj;
    TrainConfig train; /* steps 0: 3 epochs of the forget text's windows */
    LoraConfig lora;
    ObPrecision prec;
} ObjectiveRunConfig;

/* The method's objective settings, and training as the WHP fine-tune's
 * (batch 8, windows of 256, AdamW 0.9/0.98 without decay, linear decay to 0
 * after steps/20 of warm-up, checkpoints every 25 steps) at lr 1e-4. */
void objective_run_config_defaults(ObjectiveRunConfig *c, ForgetLoss forget, RetainLoss retain);

/* Settings out of range (named as flags: flag is their prefix), and retain
 * text given to a method without a retain term or missing for one with. */
int objective_run_config_check(const ObjectiveRunConfig *c, const char *flag, ObErr *err);

int objective_run(const ObjectiveRunConfig *c, TrainResult *res, ObErr *err);

/* A stage's config from the pipeline's: c's objective, targets, retain text,
 * adapter and precision; model trained (and its reference) with train's
 * settings over windows of the label block's length. */
void objective_run_config_from(ObjectiveRunConfig *r, const UnlearnConfig *c, const char *model,
                               const TrainConfig *train);
/* objective_run as the pipeline's stage `stage` of hash h: into
 * work/out_name, logging to work/log_name, its stamp written around it. */
int objective_stage_run(const UnlearnConfig *c, const char *stage, const char *model,
                        const TrainConfig *train, const char *out_name, const char *log_name,
                        uint64_t h, int resume, ObErr *err);
/* Adds to *h what such a stage's output depends on besides its model and
 * targets: the retain files, the objective, train's steps, rate and batch. */
int objective_stamp(uint64_t *h, const UnlearnConfig *c, const TrainConfig *t, ObErr *err);

/* `unlearn --method ga|npo|...`: objective_run in the work folder, with
 * the pipeline's stamp, resume and publish (one stage, "finetune": its
 * checkpoint is work/unlearned.gguf, its log work/finetune.log.jsonl). */
int objective_unlearn(const UnlearnConfig *c, ObErr *err);
/* Its settings checked alone, before any work (objective_unlearn runs it). */
int objective_unlearn_check(const UnlearnConfig *c, ObErr *err);

#endif
