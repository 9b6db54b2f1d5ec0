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
 * Every key and value is tokenized in two forms: [0] as at the start of a text
 * or after a newline or quote (no leading space) and [1] after a space
 * (" key"). With GPT-2 pre-tokenization a word is its own piece, so a key's
 * tokens appear verbatim in the tokens of any text that contains it. */
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
    char *dropped_report; /* one line per pruned key, for `anchors check` */
} AnchorDict;

/* Loads, merges and prunes a dictionary file. Errors name the file and, for
 * JSON Lines, the line: "anchors.jsonl:3: value of \"Harry\" is not a string
 * or an array of strings". An empty key or value, or no entries, is an error. */
int anchors_load(AnchorDict *d, const char *path, ObErr *err);
/* Same from a string (tests); name is used in messages. */
int anchors_parse(AnchorDict *d, const char *text, size_t len, const char *name, ObErr *err);
/* Tokenizes keys and values in both forms and builds the first-token index. */
int anchors_tokenize(AnchorDict *d, const Tokenizer *tok, ObErr *err);
/* Writes the dictionary as one JSON object (values as arrays), atomically. */
int anchors_save(const AnchorDict *d, const char *path, ObErr *err);
void anchors_free(AnchorDict *d);

/* The longest key (either form) whose tokens start at orig[i] and end before
 * orig[n]; returns the anchor index and sets *form and *len, or -1. */
int anchors_match(const AnchorDict *d, const int32_t *orig, int n, int i, int *form, int *len);

#endif
