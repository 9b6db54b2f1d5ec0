/* The unlearning fine-tune's data (WHP step 5): the ORIGINAL target blocks as
 * input and the generic labels as targets -- hard (argmax, as published) or
 * soft (top-k distribution plus rest bucket) -- with a deterministic share of
 * blocks held out to pick the best checkpoint. */
#ifndef OB_FINETUNE_H
#define OB_FINETUNE_H

#include "model/lora.h"
#include "train/trainer.h"
#include "unlearn/labels.h"

typedef struct {
    const LabelsFile *lf;
    int alpha;             /* index into the file's alphas */
    int soft;              /* use the soft targets (the file must have them) */
    uint64_t *train, *val; /* block indices */
    uint64_t n_train, n_val;
    /* Optional retain text: retain_rows of every batch are ordinary
     * next-token windows of it, so the fine-tune keeps general ability (not
     * in the paper; later unlearning work calls this a retain set). */
    const TokenStream *retain;
    int retain_rows;
    /* scratch for labels_eval: one batch */
    int B;
    int32_t *inp, *tgt;
    SoftBuf sb;
} LabelsData;

/* Splits blocks: every round(1/val_share)-th block (and at least one when
 * there are 2 or more) is held out. Fails when alpha is not in the file or
 * soft targets are asked of a hard-only file. B is the whole training batch
 * (retain rows included): the model's activations are allocated for it. */
int labels_data_init(LabelsData *ld, const LabelsFile *lf, float alpha, int soft, double val_share,
                     int B, ObErr *err);
void labels_data_free(LabelsData *ld);

/* BatchFn: B random training blocks (with replacement, one key per batch). */
int batch_from_labels(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                      SoftBuf *soft, ObErr *err);
/* EvalFn: mean loss (hard or soft, as trained) over the held-out blocks. */
double labels_eval(void *ctx, Llama *m);

/* The fine-tune as one call (`train --labels` and the method's last stage):
 * BASE (whole, or frozen with a LoRA adapter) trained on a labels file,
 * checkpoints at "<out>.ckpt.gguf" (resume continues from there), the model
 * with the best held-out loss kept at `out` (without held-out blocks, the
 * last step's); `merge` (LoRA, optional) gets BASE with that adapter folded
 * in. */
typedef struct {
    const char *model;  /* BASE */
    const char *labels; /* labels file (obliviate labels) */
    const char *out;
    int resume;
    float alpha;      /* which alpha's labels; NAN: the file's first */
    int hard;         /* argmax labels, as published (default: soft targets) */
    double val_share; /* held-out share of blocks (0.05) */
    /* general text whose windows fill retain_rows extra rows of every batch
     * (not in the paper; later work calls it a retain set) */
    const char *const *retain;
    int n_retain, retain_rows;
    LoraConfig lora; /* rank 0: every weight trains; alpha 0: 2 x rank */
    const char *merge;
    ObPrecision prec; /* the matmuls' (model/ops.h) */
    /* steps 0: 3 epochs of the training blocks; warmup < 0: steps / 20;
     * eval_every 0: steps / 10; seq comes from the file */
    TrainConfig train;
} FinetuneConfig;

/* The published fine-tune: AdamW betas (0.9, 0.98), no weight decay, a
 * linear schedule to 0 after steps / 20 warmup, batch 8, 3 epochs over the
 * blocks, soft targets of the file's first alpha; lr 5e-4 (measured for our
 * models); retain_rows 4 once retain text is given. */
void finetune_config_defaults(FinetuneConfig *c);

typedef struct {
    TrainResult train;
    LoraConfig lora; /* rank 0 when none */
    long lora_params;
} FinetuneResult;

int finetune_run(const FinetuneConfig *c, FinetuneResult *res, ObErr *err);

/* train_config_check of c->train as finetune_run fills it in (steps 0,
 * warmup < 0 and eval_every 0 stand for their defaults), and the held-out
 * share and retain rows; flags named with the prefix flag ("--"). */
int finetune_config_check(const FinetuneConfig *c, const char *flag, ObErr *err);

#endif
