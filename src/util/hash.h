/* FNV-1a (64-bit): the one hash obliviate uses for hash tables, stamps and
 * checksums. Not cryptographic; stable across machines and versions, since
 * stamps written by one run are read by the next. */
#ifndef OB_HASH_H
#define OB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define OB_FNV_OFFSET 0xcbf29ce484222325ULL

/* Continues h over n bytes; a fresh hash starts from OB_FNV_OFFSET. */
static inline uint64_t ob_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* 32 bits for a hash table's slot, both halves folded in. */
static inline uint32_t ob_hash32(const void *p, size_t n) {
    uint64_t h = ob_fnv1a(OB_FNV_OFFSET, p, n);
    return (uint32_t)(h ^ (h >> 32));
}

#endif
