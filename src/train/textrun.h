/* Training on text as one call (`obliviate train FILE...`, `reinforce`, and
 * the method's reinforce stage): load the model -- whole, or frozen and
 * memory-mapped with a LoRA adapter -- tokenise the files, train, write.
 *
 * With lora.rank > 0 the base at `model` stays frozen; `out` and each
 * checkpoint are the adapter, and `merge` (optional) gets the base with the
 * final adapter folded in. resume continues from `out` and "<out>.state". */
#ifndef OB_TEXTRUN_H
#define OB_TEXTRUN_H

#include "model/lora.h"
#include "train/trainer.h"

typedef struct {
    const char *model; /* start from; unused when resuming a whole model */
    const char *out;   /* model (or adapter) and its checkpoints */
    int resume;
    const char *const *texts; /* training text files, each a document */
    int n_texts;
    const char *const *mix; /* text mixed into every batch: mix_rows rows of it */
    int n_mix, mix_rows;
    const char *val; /* held-out text for the validation loss, or NULL */
    LoraConfig lora; /* rank 0: train every weight; alpha 0: 2 x rank */
    const char *merge;
    ObPrecision prec;  /* the matmuls' (model/ops.h) */
    int fit_seq;       /* cut train.seq to the model's context (else a longer one fails) */
    TrainConfig train; /* out_path is set from out */
} TextRunConfig;

/* `obliviate train`'s defaults: train_config_defaults, no adapter. */
void textrun_config_defaults(TextRunConfig *c);
/* The method's step 1, training the baseline further on the target: 150
 * steps at lr 5e-4 (cosine to lr/10, warmup 16), batch 8 x 256, a checkpoint
 * every 50 steps. */
void textrun_config_reinforce(TextRunConfig *c);

/* The adapter a run trained, for its summary (rank 0 when none). */
typedef struct {
    TrainResult train;
    LoraConfig lora;
    long lora_params;
} TextRunResult;

int textrun_run(const TextRunConfig *c, TextRunResult *res, ObErr *err);

/* The model a training run starts from: `base` whole (or, resuming a whole
 * model, the checkpoint `ckpt`), or with lora->rank > 0 `base` frozen and
 * mapped with a fresh adapter (seeded) or, resuming, the adapter at `ckpt`,
 * which must have lora's rank and targets; its matmuls in prec. */
int textrun_load_trainee(Llama *m, Tokenizer *tok, const char *base, const LoraConfig *lora,
                         int resume, const char *ckpt, uint64_t seed, ObPrecision prec, ObErr *err);

#endif
