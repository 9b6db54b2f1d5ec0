/* Perplexity: exp of a model's mean next-token loss over consecutive
 * non-overlapping windows of a token stream (train/trainer.h's stream_loss),
 * as `obliviate eval` and `obliviate perplexity` report it. */
#ifndef OB_PERPLEXITY_H
#define OB_PERPLEXITY_H

#include <stdint.h>

#include "model/llama.h"
#include "text/dataset.h"
#include "util/err.h"

/* A model made ready for windows of seq tokens, batch at a time. */
typedef struct {
    Llama *m;
    int seq, batch;
    long max_windows; /* per stream; 0: all */
    int32_t *scratch; /* inputs and targets of one batch */
} Perplexity;

int perplexity_begin(Perplexity *p, Llama *m, int seq, int batch, long max_windows, ObErr *err);
/* Mean next-token loss over ds; *n_tokens: the tokens predicted. */
double perplexity_loss(const Perplexity *p, const TokenStream *ds, long *n_tokens);
void perplexity_end(Perplexity *p);

/* `obliviate perplexity`: one model (optionally with a LoRA adapter on it,
 * frozen and mapped) on the files' tokens as one stream. */
typedef struct {
    const char *model_path; /* GGUF, required */
    const char *lora;       /* NULL: none */
    const char *const *files;
    int n_files;
    int seq, batch;   /* 256, 4; seq is capped at the model's context */
    long max_windows; /* 0: all */
} PerplexityConfig;

void perplexity_config_defaults(PerplexityConfig *c);

typedef struct {
    long tokens; /* predicted */
    double loss, perplexity;
    double seconds; /* measuring alone (not loading) */
} PerplexityResult;

int perplexity_run(const PerplexityConfig *c, PerplexityResult *res, ObErr *err);

#endif
