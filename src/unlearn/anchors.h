/* Anchor dictionaries: idiosyncratic expressions of the target mapped to
 * generic ones ("Hogwarts" -> "Mystic Academy"), as the WHP method uses them
 * (../shared/guide/whp-method.md, step 2).
 *
 * Accepted files: one JSON object {key: value | [values]}, or JSON Lines of
 * such objects (the paper's form: many small dictionaries). Loading merges
 * them into key -> unique values (first-seen order), then prunes:
 *   - a key all of whose words are themselves keys ("Harry Potter" when
 *     "Harry" and "Potter" are keys), so parts cannot translate inconsistently;
 *   - "X's" (and "X’s") when X is a key.
 * Keys and values are trimmed of surrounding ASCII whitespace; words are
 * separated by ASCII whitespace. Both pruning rules test against the merged
 * keys before any pruning (a dropped key's text is always covered by shorter
 * keys that remain).
 *
 * Every key and value is tokenized in two forms: [0] as at the start of a text
 * or after a newline or quote (no leading space) and [1] after a space
 * (" key"). With GPT-2 pre-tokenization a word is its own piece, so a key's
 * tokens appear verbatim in the tokens of any text that contains it.
 *
 * Matching is on tokens, whole words only: a key's tokens must not be glued
 * to a letter or digit of the same word (GPT-2's \p{L} / \p{N} runs) on either
 * side, so "Tom" does not match the start of "Tomorrow" even where "Tomorrow"
 * is tokenized "Tom" "orrow". The neighbours looked at are those inside the
 * block; at a block edge the match is accepted. */
#ifndef OB_ANCHORS_H
#define OB_ANCHORS_H

#include <stdint.h>

#include "text/tokenizer.h"
#include "util/err.h"

typedef struct {
    int32_t *ids;
    int n;
} TokSeq;

typedef struct {
    char *key;
    char **values;
    int n_values;
    TokSeq key_tok[2];  /* [form] */
    TokSeq *val_tok[2]; /* [form][value] */
} Anchor;

typedef struct {
    Anchor *items; /* sorted by key (byte order), so output is deterministic */
    int n;
    int tokenized; /* anchors_tokenize done */
    /* Index: for each token id, the (anchor, form) pairs whose key starts with
     * it, longest key first. Built by anchors_tokenize. */
    int n_vocab;
    int32_t *first_start; /* (n_vocab + 1) offsets into first_list */
    int32_t *first_list;  /* anchor * 2 + form */
    /* Word edges, for whole-word matching: each token's first and last (up
     * to) 4 bytes, its length capped at 4 (0xFF: a special token, which no
     * word crosses), and a compiled \p{L} / \p{N} test for non-ASCII. */
    uint8_t (*edge)[8];   /* (n_vocab) first 4 bytes, last 4 bytes */
    uint8_t *edge_len;    /* (n_vocab) */
    void *char_re;        /* pcre2_code */
    char *dropped_report; /* one line per pruned key, for `anchors check`; "" if none */
    int n_dropped;
} AnchorDict;

/* Loads, merges and prunes a dictionary file (UTF-8). Errors are one line
 * naming the file and, for JSON Lines, the line: "anchors.jsonl:3: value of
 * \"Harry\" is not a string or an array of strings". An empty key or value,
 * an empty array, or no entries at all is an error. The file is one JSON
 * object when the whole of it parses as one; otherwise it is read as JSON
 * Lines (blank lines skipped). On failure *d is left empty. */
int anchors_load(AnchorDict *d, const char *path, ObErr *err);
/* Same from a string (tests); name is used in messages. */
int anchors_parse(AnchorDict *d, const char *text, size_t len, const char *name, ObErr *err);
/* Tokenizes keys and values in both forms and builds the first-token index. */
int anchors_tokenize(AnchorDict *d, const Tokenizer *tok, ObErr *err);
/* Writes the dictionary as one JSON object (values as arrays), atomically. */
int anchors_save(const AnchorDict *d, const char *path, ObErr *err);
void anchors_free(AnchorDict *d);

/* The longest key (either form) whose tokens start at orig[i] and end before
 * orig[n], as whole words (see above); returns the anchor index and sets
 * *form and *len, or -1. Ties (equal length, which needs equal tokens) go to
 * the smaller anchor index, then form 0. Ids outside the vocabulary never
 * match. Safe to call from several threads at once. */
int anchors_match(const AnchorDict *d, const int32_t *orig, int n, int i, int *form, int *len);
/* Index of the anchor whose key is exactly `key`, or -1. */
int anchors_find(const AnchorDict *d, const char *key);

#endif
