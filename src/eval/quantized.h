/* eval --quantize: each model is also measured after a round trip through
 * llama.cpp's quantisation schemes (model/quantize.h), as it would be
 * deployed. The quantised copies are real GGUF files, written to a folder
 * (the caller's, kept, or a temporary one, removed by eval_quantized_free),
 * and join the evaluation as models of their own, each placed after the
 * model it came from and named "MODEL@SCHEME". */
#ifndef OB_EVAL_QUANTIZED_H
#define OB_EVAL_QUANTIZED_H

#include "eval/evaluate.h"

typedef struct {
    int n;                        /* models after expansion */
    const char *items[EVAL_MAX];  /* their files, for EvalConfig.models */
    char *owned[EVAL_MAX];        /* the quantised files' paths (NULL: an original) */
    int from[EVAL_MAX];           /* the original model's index */
    const char *scheme[EVAL_MAX]; /* NULL for an original */
    char dir[4096];               /* where the copies are */
    int temporary;                /* dir is ours to remove */
    char scheme_buf[256];         /* the schemes, split in place */
} EvalQuantized;

/* NULL, or what is wrong with c->quantize (unknown scheme, too many models). */
const char *eval_quantized_check(const EvalConfig *c);

/* Writes each model's quantised copies and lists every file in order. With
 * no c->quantize, q lists c's models alone. */
int eval_quantized_make(const EvalConfig *c, EvalQuantized *q, ObErr *err);

/* Removes the copies when the folder was temporary. */
void eval_quantized_free(EvalQuantized *q);

#endif
