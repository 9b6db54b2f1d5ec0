/* Text files -> one token stream -> (B, T) training batches.
 *
 * Each file is one document: the stream is [eot, doc1..., eot, doc2..., ...],
 * so the model sees a beginning-of-text token before every document, as the
 * unlearning blocks do. Files must be non-empty valid UTF-8. */
#ifndef OB_DATASET_H
#define OB_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"
#include "util/err.h"
#include "util/rng.h"

typedef struct {
    int32_t *tokens;
    size_t n;
} TokenStream;

int dataset_load(TokenStream *ds, const Tokenizer *tok, const char *const *paths, int n_paths,
                 ObErr *err);
/* Appends one in-memory document (used by tests and the benchmark). */
int dataset_append_text(TokenStream *ds, const Tokenizer *tok, const char *text, size_t len,
                        ObErr *err);
void dataset_free(TokenStream *ds);

/* B windows of T+1 tokens at pseudo-random offsets: inputs = window[0..T),
 * targets = window[1..T]. Row b's offset depends only on (key, b), so two
 * runs that draw one key per micro-batch see the same rows even when one of
 * them adds rows from another stream. The stream must hold T+1 tokens. */
void dataset_sample(const TokenStream *ds, uint64_t key, int B, int T, int32_t *inputs,
                    int32_t *targets);

#endif
