/* The unlearning fine-tune's data (WHP step 5): the ORIGINAL target blocks as
 * input and the generic labels as targets -- hard (argmax, as published) or
 * soft (top-k distribution plus rest bucket) -- with a deterministic share of
 * blocks held out to pick the best checkpoint. */
#ifndef OB_FINETUNE_H
#define OB_FINETUNE_H

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

#endif
