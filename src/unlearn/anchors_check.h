/* What an anchor dictionary will do (`obliviate anchors check`): each key's
 * tokens in both forms (anchors.h), its values and theirs, how often the
 * translation replaces the key in the target texts, what pruning dropped, and
 * the conflicts:
 *   - prefix: a key whose tokens (in one form) are a prefix of a longer key's
 *     (the longer key wins the match);
 *   - unused: a key never matched in the target (only with targets);
 *   - value is a key: a value in which some key matches (either form);
 *   - shared first token: values of different keys starting with the same
 *     token in the same form (the forbidden-token rule makes them exclude
 *     each other once one is used).
 * The result comes back as a struct; JSON and the readable table are built
 * from it for the caller to print. */
#ifndef OB_ANCHORS_CHECK_H
#define OB_ANCHORS_CHECK_H

#include <stdint.h>

#include "text/tokenizer.h"
#include "unlearn/anchors.h"
#include "util/err.h"

struct cJSON;

typedef struct {
    const char *dict;           /* dictionary file (anchors_load), required */
    const char *tokenizer;      /* tokenizer or model GGUF, required */
    const char *const *targets; /* target text files (UTF-8); may be NULL when none */
    int n_targets;
} AnchorsCheckConfig;

void anchors_check_config_default(AnchorsCheckConfig *c);

typedef struct {
    int a, b, forms; /* key a's tokens are a prefix of key b's, in forms (bit f) */
} AnchorsPrefix;

typedef struct {
    int a, v, n_keys;
    int *keys; /* keys matched inside value v of key a, in the order met */
} AnchorsValueKey;

typedef struct {
    int32_t tok;
    int form, a, v;
} AnchorsFirstTok;

typedef struct {
    const AnchorDict *d;   /* what was checked */
    const Tokenizer *tok;  /* its tokenizer */
    const char *dict_name; /* as named in the output (the config's path) */
    long (*count)[2];      /* (d->n) matches in the target, per form */
    long target_tokens;
    int have_target;
    AnchorsPrefix *prefix; /* by (key, form) met, one entry per pair of keys */
    int n_prefix;
    AnchorsValueKey *vkey; /* by key, then value */
    int n_vkey;
    AnchorsFirstTok *first; /* every (value, form), sorted by (form, token, key, value) */
    int n_first;
    AnchorDict own_dict; /* loaded by anchors_check_run; freed with the check */
    Tokenizer own_tok;
} AnchorsCheck;

/* Loads the dictionary and the tokenizer, tokenizes the dictionary and
 * analyses it (anchors_check_analyse). Errors name the file. *c is always
 * left for anchors_check_free. */
int anchors_check_run(const AnchorsCheckConfig *cfg, AnchorsCheck *c, ObErr *err);
/* The analysis of a tokenized dictionary, counting in the target files read
 * and tokenized as the translation does. d and tok must outlive *c; name is
 * what the output calls the dictionary. *c is always left for
 * anchors_check_free. */
int anchors_check_analyse(const AnchorDict *d, const Tokenizer *tok, const char *name,
                          const char *const *targets, int n_targets, AnchorsCheck *c, ObErr *err);
void anchors_check_free(AnchorsCheck *c);

/* The check as JSON (keys "dict", "keys", "dropped", "target_tokens",
 * "anchors", "pruned", "conflicts"); caller deletes. */
struct cJSON *anchors_check_json(const AnchorsCheck *c);
/* The check as a readable table, newline-terminated; caller frees. NULL when
 * out of memory. */
char *anchors_check_text(const AnchorsCheck *c);

#endif
