#include "util/strindex.h"

#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

static uint64_t str_hash(const char *s) {
    return ob_fnv1a(OB_FNV_OFFSET, s, strlen(s));
}

int32_t strindex_find(const StrIndex *x, const char *key, StrKeyOf kf, const void *ctx) {
    if (!x->n_slots) return -1;
    size_t mask = x->n_slots - 1;
    for (size_t h = str_hash(key) & mask;; h = (h + 1) & mask) {
        int32_t v = x->slots[h];
        if (!v) return -1;
        if (!strcmp(kf(ctx, v - 1), key)) return v - 1;
    }
}

int strindex_reserve(StrIndex *x, int32_t n_old, int32_t n, StrKeyOf kf, const void *ctx,
                     ObErr *err) {
    if (x->n_slots >= 2 * (size_t)n + 2) return 0;
    size_t ns = x->n_slots ? x->n_slots : 64;
    while (ns < 2 * (size_t)n + 2) ns *= 2;
    int32_t *s = ob_calloc(ns, sizeof *s, "string table", err);
    if (!s) return -1;
    for (int32_t i = 0; i < n_old; i++) {
        size_t h = str_hash(kf(ctx, i)) & (ns - 1);
        while (s[h]) h = (h + 1) & (ns - 1);
        s[h] = i + 1;
    }
    free(x->slots);
    x->slots = s;
    x->n_slots = ns;
    return 0;
}

void strindex_put(StrIndex *x, const char *key, int32_t i) {
    size_t mask = x->n_slots - 1, h = str_hash(key) & mask;
    while (x->slots[h]) h = (h + 1) & mask;
    x->slots[h] = i + 1;
}

void strindex_free(StrIndex *x) {
    free(x->slots);
    x->slots = NULL;
    x->n_slots = 0;
}
