/* Byte-level BPE tokenizer (GPT-2 style), trainable from text.
 *
 * Vocabulary layout of a trained tokenizer: ids 0..255 are the 256 single
 * bytes (id b is byte b), then one id per merge in merge order, then one
 * special token "<|endoftext|>" (the BOS/EOS/end-of-document id, always the
 * last id). Token strings are kept in GPT-2's byte-to-unicode form (a space
 * is "Ġ"), which is how GGUF files with tokenizer.ggml.model "gpt2" store
 * them; merges are "a b" strings in that form.
 *
 * Pre-tokenization uses GPT-2's regex (PCRE2, Unicode properties):
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * which llama.cpp applies for tokenizer.ggml.pre = "gpt-2". Bytes that are not
 * valid UTF-8 become pieces of their own, so encode-then-decode returns any
 * input byte for byte. Special tokens are never produced by tok_encode from
 * text; callers insert eot_id themselves. */
#ifndef OB_TOKENIZER_H
#define OB_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct TokImpl TokImpl;

typedef struct {
    int n_vocab;
    char **tokens;  /* [n_vocab] NUL-terminated, GPT-2 byte-unicode form */
    int32_t *types; /* [n_vocab] GGUF token_type: 1 normal, 3 control */
    int n_merges;
    char **merges; /* [n_merges] "a b" in byte-unicode form */
    int eot_id;    /* BOS = EOS = end of text */
    TokImpl *impl; /* byte strings, merge ranks, regex, caches */
} Tokenizer;

/* Trains on the concatenated contents of the files (each file a separate
 * document) until the vocabulary, special token included, has vocab_size
 * ids (at least 257). Ties between equally frequent pairs are broken by the
 * smaller (left id, right id), so training is deterministic. Progress goes
 * to stderr when `verbose`. */
int tok_train_files(Tokenizer *t, const char *const *paths, int n_paths, int vocab_size,
                    int verbose, ObErr *err);
/* Same, on texts in memory. */
int tok_train_texts(Tokenizer *t, const char *const *texts, const size_t *lens, int n_texts,
                    int vocab_size, int verbose, ObErr *err);

/* Builds a tokenizer from GGUF-style arrays (copies them). eot_id must be a
 * control token. Fails with a clear message if a merge names an unknown
 * token or a byte token is missing. */
int tok_from_arrays(Tokenizer *t, const char *const *tokens, const int32_t *types, int n_vocab,
                    const char *const *merges, int n_merges, int eot_id, ObErr *err);

/* Encodes bytes into a new array *ids (caller frees) of *n ids. */
int tok_encode(const Tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
               ObErr *err);
/* The raw bytes of token id (special tokens decode to their name). */
const char *tok_token_bytes(const Tokenizer *t, int id, size_t *len);
/* Decodes ids into a new NUL-terminated buffer (caller frees); *len excludes
 * the NUL. Fails on an id out of range. */
int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len,
               ObErr *err);

/* FNV-1a over the token strings, types and merges: equal hashes mean the
 * same vocabulary (files made with one tokenizer check it with this). */
uint64_t tok_vocab_hash(const Tokenizer *t);

void tok_free(Tokenizer *t);

#endif
