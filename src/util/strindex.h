/* A string -> index table over entries the caller stores: open addressing
 * on FNV-1a (util/hash.h), slots holding index + 1. The table keeps no keys;
 * a callback gives entry i's key, so the caller's array stays the one copy.
 * Used for the anchor dictionary's keys and the extractor's words and
 * phrases. */
#ifndef OB_STRINDEX_H
#define OB_STRINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct {
    int32_t *slots; /* index + 1; 0 = empty */
    size_t n_slots; /* a power of two, at least twice the entries */
} StrIndex;

/* The key of entry i of the caller's array ctx. */
typedef const char *(*StrKeyOf)(const void *ctx, int32_t i);

/* Entry index of key, or -1. */
int32_t strindex_find(const StrIndex *x, const char *key, StrKeyOf kf, const void *ctx);
/* Makes room for n entries, rehashing the n_old already there; -1 if out of
 * memory (the table is unchanged). */
int strindex_reserve(StrIndex *x, int32_t n_old, int32_t n, StrKeyOf kf, const void *ctx,
                     ObErr *err);
/* Adds entry i under key (not yet present; room reserved). */
void strindex_put(StrIndex *x, const char *key, int32_t i);
void strindex_free(StrIndex *x);

#endif
