/* Relearning: how much of an unlearned text comes back after a short
 * fine-tune on related text the model never saw (Lynch et al. and later
 * work found unlearned knowledge often returns within a few steps). Each
 * model is fine-tuned the same way -- same text, steps, learning rate, batch
 * and seed -- so the figures compare with the oracle's, which never saw the
 * target and only learns from the fine-tune itself.
 *
 * The fine-tune is the trainer's (train/trainer.h) on random windows of the
 * text: AdamW with the trainer's defaults (betas 0.9/0.95, weight decay 0.1,
 * clipping at norm 1), a constant learning rate with no warmup. The trainer
 * writes a checkpoint when it ends; it goes to a private temporary folder
 * that is removed before relearn_run returns, so nothing is left on disk.
 *
 * A frozen model (eval --frozen or --lora) cannot change its weights: it
 * relearns through a LoRA adapter instead, its own when it has one (the
 * unlearning adapter trains on), else a fresh one of rank lora_rank on every
 * matrix. The figures then compare with those of other frozen models only. */
#ifndef OB_RELEARN_H
#define OB_RELEARN_H

#include <stdint.h>

#include "model/llama.h"
#include "text/dataset.h"
#include "text/tokenizer.h"

typedef struct {
    long steps;    /* optimizer steps (default 20) */
    float lr;      /* constant learning rate (default 3e-4) */
    int batch;     /* windows per step (default 4) */
    int seq;       /* tokens per window (default 256; capped at the model's context) */
    uint64_t seed; /* window sampling (default 1) */
    int lora_rank; /* a frozen model's fresh adapter (default 16) */
} RelearnConfig;

typedef struct {
    long steps;
    int seq;             /* window length used */
    float last_loss;     /* training loss of the last step */
    const char *trained; /* "weights", "own adapter" or "fresh adapter" */
    double seconds;
} RelearnResult;

void relearn_config_defaults(RelearnConfig *c);

/* Fine-tunes m in place on ds (the model's file is untouched). Allocates m's
 * gradients and training batch; a later llama_alloc_batch replaces the batch. */
int relearn_run(Llama *m, const Tokenizer *tok, const TokenStream *ds, const RelearnConfig *c,
                RelearnResult *res, ObErr *err);

#endif
