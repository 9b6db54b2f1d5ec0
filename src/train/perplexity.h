/* A model's mean next-token loss and perplexity over text files. */
#ifndef OB_PERPLEXITY_H
#define OB_PERPLEXITY_H

#include "util/err.h"

typedef struct {
    const char *model_path; /* GGUF, required */
    const char *lora;       /* adapter applied to the frozen model; NULL: none */
    const char *const *files;
    int n_files;
    int seq;          /* tokens per window: 256 (at most the model's context) */
    int batch;        /* windows per forward pass: 4 */
    long max_windows; /* 0: all */
} PerplexityConfig;

void perplexity_config_defaults(PerplexityConfig *c);

typedef struct {
    long tokens; /* predicted */
    double loss, perplexity;
    double seconds; /* measuring alone (not loading) */
} PerplexityResult;

/* Consecutive non-overlapping windows of the files' tokens (dataset_load). */
int perplexity_run(const PerplexityConfig *c, PerplexityResult *res, ObErr *err);

#endif
