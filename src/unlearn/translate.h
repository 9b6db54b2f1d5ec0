/* Translating a block of target tokens with an anchor dictionary, and the
 * position map between the original and the translated block (WHP step 3).
 *
 * For each block: one value is chosen per key (seeded), so the translation is
 * consistent inside the block. The choice draws ob_rng_below(rng, n_values)
 * once for every anchor, in anchor order, whether or not the key occurs, so
 * the draws (and the rng's state afterwards) depend only on the dictionary
 * and the seed. Scanning left to right, where a key's tokens start (either
 * form; a key must lie wholly inside the block and match whole words, see
 * anchors.h), the value's tokens in the same form are emitted instead, and
 * the scan resumes after the key.
 *
 * Longest match: where several keys start at one position the longest (in
 * tokens) wins, so "Sherlock Holmes" beats "Sherlock" when both are keys.
 * The published WHP code takes the first match in dictionary order instead;
 * the two differ only where one key's tokens are a prefix of another's
 * (`obliviate anchors check` lists those).
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
 * inkey[i] is 1 where original position i lies inside a matched key and its
 * next token is the key's own (every key token but the last): the paper
 * leaves these unlabelled; labels.h can label them from the original text.
 * Forbidden tokens: once a replacement is used, the first token of its value
 * (both forms) is forbidden at every original position from the last token
 * of the match onwards, so labels never say "Jon" after the text said
 * "Harry". One event per token id: the first use in the block adds it (a
 * later use of the same first token adds nothing, since it is already
 * forbidden from an earlier position). Events are appended in scan order, so
 * `from` never decreases; they are appended even where the translation was
 * cut at max_len.
 *
 * Capacity: translated tokens past max_len (the model's context) are dropped;
 * the original positions that would map to them map to -1. */
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
    int n_orig;      /* tokens in the block last translated (entries of map) */
    int orig_cap;    /* the longest block translation_init allowed */
    int32_t *tokens; /* translated block, n_trans tokens (capacity cap = max_len) */
    int n_trans, cap;
    int32_t *map;   /* (n_orig) */
    uint8_t *inkey; /* (n_orig) 1: inside a key, the next token is the key's */
    Forbid *forbid; /* in order of `from` */
    int n_forbid, forbid_cap;
    int n_matches; /* keys replaced in this block */
    int n_cut;     /* translated tokens dropped past cap */
    /* Per anchor, for the block last translated: the value chosen, and
     * whether the key occurred. Sized to the dictionary on first use. */
    int32_t *choice; /* (n_anchors) */
    uint8_t *used;   /* (n_anchors) */
    int n_anchors;
} Translation;

/* Allocates buffers for blocks of up to n_orig tokens translated into at most
 * max_len tokens. translation_free is safe after a failed init. */
int translation_init(Translation *tr, int n_orig, int max_len, ObErr *err);
void translation_free(Translation *tr);
/* Translates orig (n <= orig_cap tokens). rng picks one value per key for
 * this block (d->n draws). d must be tokenized. Fails only on bad arguments or
 * out of memory (the per-anchor arrays, on the first block). */
int translate_block(const AnchorDict *d, const int32_t *orig, int n, ObRng *rng, Translation *tr,
                    ObErr *err);
/* Draws from rng exactly what translate_block would for one non-empty block,
 * without translating: a rank that leaves a block to another stays in step. */
void translate_skip_block(const AnchorDict *d, ObRng *rng);

#endif
