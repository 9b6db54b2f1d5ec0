/* Translating a block of target tokens with an anchor dictionary, and the
 * position map between the original and the translated block (WHP step 3).
 *
 * For each block: one value is chosen per key (seeded), so the translation is
 * consistent inside the block. Scanning left to right, where a key's tokens
 * start (either form; the longest key wins; a key must lie wholly inside the
 * block), the value's tokens in the same form are emitted instead.
 *
 * map[i] gives, for original position i, the translated position whose
 * logits stand for "what follows original token i", or -1 (no label):
 *   - ordinary tokens map one to one (shifted by earlier replacements);
 *   - the tokens of a matched key map to -1 except its last token, which maps
 *     to the last token of its replacement;
 *   - a key matched again later in the block also sets map[i-1] = -1 for the
 *     token just before the repeat (we must not teach the generic name where
 *     the text repeats the original one);
 *   - the last position of the block maps to -1 (its next token is outside).
 * Forbidden tokens: once a replacement is used, the first token of its value
 * (both forms) is forbidden at every original position from the last token
 * of the match onwards, so labels never say "Jon" after the text said
 * "Harry". Translated positions past max_len (the model's context) map to -1. */
#ifndef OB_TRANSLATE_H
#define OB_TRANSLATE_H

#include <stdint.h>

#include "unlearn/anchors.h"
#include "util/err.h"
#include "util/rng.h"

typedef struct {
    int32_t token; /* forbidden token id */
    int from;      /* at original positions >= from */
} Forbid;

typedef struct {
    int n_orig;
    int32_t *tokens; /* translated block, n_trans tokens (capacity cap) */
    int n_trans, cap;
    int32_t *map;    /* (n_orig) */
    Forbid *forbid;  /* in order of `from` */
    int n_forbid, forbid_cap;
    int n_matches;   /* keys replaced in this block */
} Translation;

/* Allocates buffers for blocks of up to n_orig tokens translated into at most
 * max_len tokens. */
int translation_init(Translation *tr, int n_orig, int max_len, ObErr *err);
void translation_free(Translation *tr);
/* Translates orig (n tokens). rng picks one value per key for this block. */
int translate_block(const AnchorDict *d, const int32_t *orig, int n, ObRng *rng,
                    Translation *tr, ObErr *err);

#endif
