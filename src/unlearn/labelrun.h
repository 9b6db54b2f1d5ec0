/* The method's steps 3-4 as one call (`obliviate labels` and the method's
 * labels stage): load the baseline and the reinforced model -- a model file
 * with the same tokenizer, or a LoRA adapter of the baseline, then both on
 * one frozen, mapped copy of it -- and the dictionary, and write the labels
 * file (labels.h). */
#ifndef OB_LABELRUN_H
#define OB_LABELRUN_H

#include "unlearn/labels.h"

typedef struct {
    const char *base, *reinforced;
    const char *anchors; /* NULL: no dictionary, only the alpha term acts */
    const char *const *targets;
    int n_targets;
    const char *out;
    LabelConfig labels; /* block 0: min(256, both models' context) */
    ObPrecision prec;   /* the matmuls' (model/ops.h) */
} LabelRunConfig;

/* One alpha, 0 (labels from the translated text alone); 32 soft slots plus
 * 8 suppression slots; single-token keys forbidden; in-key positions
 * labelled; blocks of 256 tokens (at most the context), 4 per pass; seed 1. */
void label_config_defaults(LabelConfig *c);
void labelrun_config_defaults(LabelRunConfig *c);
/* The method's three strengths around one alpha: alpha, alpha/2, 2 alpha
 * (alpha alone when it is 0). */
void label_config_alphas(LabelConfig *c, float alpha);

int labelrun_run(const LabelRunConfig *c, LabelStats *st, ObErr *err);

#endif
