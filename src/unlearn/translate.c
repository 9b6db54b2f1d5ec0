/* Translating a block with an anchor dictionary: the translated tokens, the
 * position map and the forbidden-token events (translate.h has the rules). */
#include "unlearn/translate.h"

#include <stdlib.h>
#include <string.h>

int translation_init(Translation *tr, int n_orig, int max_len, ObErr *err) {
    memset(tr, 0, sizeof *tr);
    if (n_orig < 1 || max_len < 1)
        return ob_errf(err, "translation: block of %d tokens into %d: both must be positive",
                       n_orig, max_len);
    tr->orig_cap = n_orig;
    tr->cap = max_len;
    tr->forbid_cap = 2 * n_orig; /* at most two events (the forms) per match */
    tr->tokens = ob_malloc((size_t)max_len * sizeof *tr->tokens, "translated block", err);
    tr->map = ob_malloc((size_t)n_orig * sizeof *tr->map, "position map", err);
    tr->inkey = ob_malloc((size_t)n_orig, "position map", err);
    tr->forbid = ob_malloc((size_t)tr->forbid_cap * sizeof *tr->forbid, "forbidden tokens", err);
    if (!tr->tokens || !tr->map || !tr->inkey || !tr->forbid) {
        translation_free(tr);
        return -1;
    }
    return 0;
}

void translation_free(Translation *tr) {
    OB_FREE_ALL(tr->tokens, tr->map, tr->inkey, tr->forbid, tr->choice, tr->used);
    memset(tr, 0, sizeof *tr);
}

/* Sizes the per-anchor arrays to the dictionary. */
static int fit_anchors(Translation *tr, int n, ObErr *err) {
    if (tr->choice && tr->n_anchors == n) return 0;
    free(tr->choice);
    free(tr->used);
    tr->n_anchors = 0;
    tr->choice = ob_malloc((size_t)(n ? n : 1) * sizeof *tr->choice, "anchor choices", err);
    tr->used = ob_malloc((size_t)(n ? n : 1), "anchor use", err);
    if (!tr->choice || !tr->used) return -1;
    tr->n_anchors = n;
    return 0;
}

/* Forbids token from original position `from` on, unless it already is. */
static void forbid(Translation *tr, int32_t token, int from) {
    for (int k = 0; k < tr->n_forbid; k++)
        if (tr->forbid[k].token == token) return;
    if (tr->n_forbid < tr->forbid_cap) tr->forbid[tr->n_forbid++] = (Forbid){token, from};
}

/* Puts token at translated position t; returns t, or -1 past the capacity. */
static int32_t emit(Translation *tr, int32_t token, long t) {
    if (t >= tr->cap) return -1;
    tr->tokens[t] = token;
    return (int32_t)t;
}

void translate_skip_block(const AnchorDict *d, ObRng *rng) {
    for (int a = 0; a < d->n; a++) (void)ob_rng_below(rng, (uint64_t)d->items[a].n_values);
}

int translate_block(const AnchorDict *d, const int32_t *orig, int n, ObRng *rng, Translation *tr,
                    ObErr *err) {
    if (!d || !d->tokenized) return ob_errf(err, "translate: the anchors are not tokenized");
    if (n < 0 || n > tr->orig_cap)
        return ob_errf(err, "translate: block of %d tokens (at most %d allocated)", n,
                       tr->orig_cap);
    if (fit_anchors(tr, d->n, err)) return -1;
    for (int a = 0; a < d->n; a++) {
        tr->choice[a] = (int32_t)ob_rng_below(rng, (uint64_t)d->items[a].n_values);
        tr->used[a] = 0;
    }
    tr->n_orig = n;
    tr->n_forbid = tr->n_matches = 0;
    memset(tr->inkey, 0, (size_t)n);
    long t = 0; /* next translated position, counting those past the capacity */
    for (int i = 0; i < n;) {
        int form, len, a = anchors_match(d, orig, n, i, &form, &len);
        if (a < 0) {
            tr->map[i] = emit(tr, orig[i], t);
            i++, t++;
            continue;
        }
        const TokSeq *v = &d->items[a].val_tok[form][tr->choice[a]];
        if (tr->used[a] && i > 0) tr->map[i - 1] = -1;
        for (int k = 0; k < v->n; k++) emit(tr, v->ids[k], t + k);
        for (int k = 0; k < len - 1; k++) tr->map[i + k] = -1, tr->inkey[i + k] = 1;
        t += v->n;
        tr->map[i + len - 1] = t - 1 < tr->cap ? (int32_t)(t - 1) : -1;
        for (int f = 0; f < 2; f++)
            forbid(tr, d->items[a].val_tok[f][tr->choice[a]].ids[0], i + len - 1);
        tr->used[a] = 1;
        tr->n_matches++;
        i += len;
    }
    if (n > 0) tr->map[n - 1] = -1;
    tr->n_trans = t < tr->cap ? (int)t : tr->cap;
    tr->n_cut = (int)(t - tr->n_trans);
    return 0;
}
