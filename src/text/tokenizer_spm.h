/* SentencePiece-style BPE encoding (GGUF tokenizer.ggml.model "llama", the
 * Llama-2 vocabulary): tokens with scores, byte-fallback tokens <0xXX>, and
 * "▁" (U+2581) standing for a space.
 *
 * Encoding, as llama.cpp does it: optionally prefix a space, replace every
 * space with "▁", split into UTF-8 characters, then repeatedly merge the
 * adjacent pair whose concatenation is a token with the highest score (ties:
 * the leftmost pair) until no adjacent pair forms a token. A final piece that
 * is not a token (a character outside the vocabulary) becomes its bytes'
 * <0xXX> tokens, or the unknown token when those are missing. */
#ifndef OB_TOKENIZER_SPM_H
#define OB_TOKENIZER_SPM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct SpmVocab SpmVocab;

/* Indexes the token strings (copies nothing: tokens and scores must outlive
 * the result). Every token takes part in merges, as in llama.cpp. */
SpmVocab *spm_new(const char *const *tokens, const float *scores, const int32_t *types, int n,
                  int unk_id, ObErr *err);
void spm_free(SpmVocab *v);

/* Id of a token string (in its "▁" form), or -1. */
int spm_find(const SpmVocab *v, const char *s, size_t n);
/* Id of the byte-fallback token <0xXX> for byte b, or -1. */
int spm_byte_id(const SpmVocab *v, int b);

/* Appends the ids of text to *ids (a malloc'd array of *n ids, capacity
 * *cap; all may start at NULL/0). */
int spm_encode(const SpmVocab *v, const char *text, size_t len, int add_space_prefix, int32_t **ids,
               size_t *n, size_t *cap, ObErr *err);

#endif
