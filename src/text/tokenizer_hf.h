/* A tokenizer's place in a Hugging Face folder: tokenizer.json.
 *
 * Read: model type "BPE" only. With byte_fallback it is a SentencePiece-style
 * vocabulary (Llama-2; the "▁" space replacement as a normalizer or a
 * Metaspace pre-tokenizer); its scores come from the merge list (a token made
 * by merge r scores -r, so merging by score equals merging by rank).
 * Without, it is byte-level BPE with the pre-tokenizer of GPT-2 (ByteLevel),
 * Llama-3 (Split with Llama-3's regex, then ByteLevel) or SmolLM (Digits,
 * then ByteLevel); anything else is refused with one line naming it.
 * added_tokens become control (special) or user-defined tokens.
 *
 * Write: the same structures back; a SentencePiece vocabulary's merges are
 * made from its scores (every split of a token into two tokens, ordered by
 * the token's score, then by the two halves' ids). */
#ifndef OB_TOKENIZER_HF_H
#define OB_TOKENIZER_HF_H

#include "text/tokenizer.h"

/* bos_id / eos_id: from config.json, -1 to guess from the special tokens'
 * names. n_vocab_min: pad the vocabulary with unused "[PADn]" tokens up to
 * this size (a model's embedding may be larger than its tokenizer). */
int tokenizer_hf_read(Tokenizer *t, const char *path, int bos_id, int eos_id, int n_vocab_min,
                      ObErr *err);
/* Parses tokenizer.json text; path names it in messages. */
int tokenizer_hf_parse(Tokenizer *t, const char *json, size_t len, const char *path, int bos_id,
                       int eos_id, int n_vocab_min, ObErr *err);
/* Writes tokenizer.json atomically. */
int tokenizer_hf_write(const Tokenizer *t, const char *path, ObErr *err);

#endif
