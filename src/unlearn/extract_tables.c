/* The word and phrase tables: one entry per distinct word (by its lower-case
 * fold) and per multi-word name, looked up through a StrIndex. */
#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"

static const char *went_key(const void *ctx, int32_t i) {
    return ((const Tables *)ctx)->w[i].fold;
}
static const char *phrase_key(const void *ctx, int32_t i) {
    return ((const Tables *)ctx)->ph[i].text;
}

int32_t ex_word_find(const Tables *t, const char *fold) {
    return strindex_find(&t->idx, fold, went_key, t);
}

int32_t ex_word_get(Tables *t, const char *fold, ObErr *err) {
    int32_t i = ex_word_find(t, fold);
    if (i >= 0) return i;
    if (ob_grow(&t->w, &t->cap, (size_t)t->n + 1, sizeof *t->w, 4096, "words", err)) return -1;
    if (strindex_reserve(&t->idx, t->n, t->n + 1, went_key, t, err)) return -1;
    WordEnt *e = &t->w[t->n];
    memset(e, 0, sizeof *e);
    e->fold = strdup(fold);
    if (!e->fold) return ob_errf(err, "out of memory"), -1;
    e->first_occ = e->last_occ = -1;
    strindex_put(&t->idx, fold, t->n);
    return t->n++;
}

int32_t ex_phrase_find(const Tables *t, const char *text) {
    return strindex_find(&t->ph_idx, text, phrase_key, t);
}

int32_t ex_phrase_get(Tables *t, const char *text, ObErr *err) {
    int32_t i = ex_phrase_find(t, text);
    if (i >= 0) return i;
    if (ob_grow(&t->ph, &t->cap_ph, (size_t)t->n_ph + 1, sizeof *t->ph, 1024, "names", err))
        return -1;
    if (strindex_reserve(&t->ph_idx, t->n_ph, t->n_ph + 1, phrase_key, t, err)) return -1;
    Phrase *p = &t->ph[t->n_ph];
    memset(p, 0, sizeof *p);
    p->text = strdup(text);
    if (!p->text) return ob_errf(err, "out of memory"), -1;
    strindex_put(&t->ph_idx, text, t->n_ph);
    return t->n_ph++;
}

void ex_tables_free(Tables *t, int n_values) {
    for (int32_t i = 0; i < t->n; i++) {
        free(t->w[i].fold);
        free(t->w[i].cap);
        for (int k = 0; t->w[i].map && k < n_values; k++) free(t->w[i].map[k]);
        free(t->w[i].map);
    }
    for (int32_t i = 0; i < t->n_ph; i++) free(t->ph[i].text), free(t->ph[i].occ);
    free(t->w);
    free(t->ph);
    strindex_free(&t->idx);
    strindex_free(&t->ph_idx);
    memset(t, 0, sizeof *t);
}

int ex_add_flag_words(Tables *t, const char *const *list, int flag, ObErr *err) {
    for (int i = 0; list[i]; i++) {
        int32_t k = ex_word_get(t, list[i], err);
        if (k < 0) return -1;
        t->w[k].flags |= flag;
    }
    return 0;
}
