/* Tokenizers: byte-level BPE (GPT-2 style, trainable from text; also the
 * Llama-3 and SmolLM pre-tokenizers) and SentencePiece-style BPE with scores
 * and byte fallback (Llama-2; tokenizer_spm.h).
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
 * text; callers insert eot_id themselves.
 *
 * Other pre-tokenizers (byte-level BPE read from GGUF or tokenizer.json):
 *   "llama-bpe" (Llama-3): (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|
 *     \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ , and a
 *     piece that is itself a token is not merged further (ignore_merges);
 *   "smollm": every digit split off first (\p{N}), then the GPT-2 regex.
 *
 * SentencePiece vocabularies (kind TOK_SPM, GGUF model "llama") keep token
 * strings as written ("▁the", "<0x0A>"); they decode with "▁" as a space and
 * byte tokens as their byte. tok_encode adds the leading space
 * (add_space_prefix) to every text it is given, as llama.cpp does. */
#ifndef OB_TOKENIZER_H
#define OB_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct TokImpl TokImpl;

enum { TOK_BPE = 0, TOK_SPM = 1 };                                 /* kind */
enum { TOK_PRE_GPT2 = 0, TOK_PRE_LLAMA3 = 1, TOK_PRE_SMOLLM = 2 }; /* pre */

typedef struct {
    int kind; /* TOK_BPE (GGUF "gpt2") or TOK_SPM (GGUF "llama") */
    int pre;  /* TOK_PRE_*, byte-level BPE only */
    int n_vocab;
    char **tokens;  /* [n_vocab] NUL-terminated, GPT-2 byte-unicode form (BPE) */
    float *scores;  /* [n_vocab] merge scores (SPM), NULL for BPE */
    int32_t *types; /* [n_vocab] GGUF token_type: 1 normal, 2 unknown, 3 control,
                       4 user-defined, 5 unused, 6 byte */
    int n_merges;
    char **merges;                      /* [n_merges] "a b" in byte-unicode form (BPE) */
    int eot_id;                         /* starts every document: BOS when there is one, else EOS */
    int bos_id, eos_id, unk_id, pad_id; /* -1 when absent */
    int add_bos, add_eos, add_space_prefix;
    TokImpl *impl; /* byte strings, merge ranks, regex, caches */
} Tokenizer;

/* Everything a tokenizer is made of, as GGUF or tokenizer.json hold it. */
typedef struct {
    int kind, pre;
    int n_vocab;
    const char *const *tokens;
    const float *scores; /* SPM; NULL for BPE */
    const int32_t *types;
    const char *const *merges; /* BPE */
    int n_merges;
    int bos_id, eos_id, unk_id, pad_id;
    int add_bos, add_eos, add_space_prefix;
} TokSpec;

/* Builds a tokenizer of any kind (copies the arrays). BPE needs the 256 byte
 * tokens; SPM needs scores. Errors say what is missing. */
int tok_build(Tokenizer *t, const TokSpec *s, ObErr *err);
/* A SentencePiece vocabulary as Llama's: unk 0, bos 1, eos 2, no padding, BOS
 * added, a space before the text. */
TokSpec tok_spec_llama(int n, const char *const *tokens, const float *scores, const int32_t *types);
/* The pre-tokenizer's name in GGUF ("gpt-2", "llama-bpe", "smollm"), and
 * back (-1 if unknown; "default" reads as gpt-2). */
const char *tok_pre_name(int pre);
int tok_pre_from_name(const char *name);

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
/* A prompt and its continuation as one scored sequence: *ids (caller frees)
 * = [eot] + encode(prompt) + encode(continuation), *n_prompt = 1 + the
 * prompt's tokens, *n the whole length. Fails on an empty continuation or a
 * sequence too long for int. */
int tok_encode_pair(const Tokenizer *t, const char *prompt, size_t lp, const char *cont, size_t lc,
                    int32_t **ids, int *n_prompt, int *n, ObErr *err);
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
