/* Errors that carry context up to the one place that reports them.
 *
 * Library functions that can fail take an `ObErr *` last, return 0 on success
 * and -1 on failure after filling err->msg with one line that names the file
 * and the problem ("model.gguf: truncated tensor data at offset 1234").
 * Library code never prints an error or exits; the command line does. */
#ifndef OB_ERR_H
#define OB_ERR_H

#include <stddef.h>

/* Room for two paths of PATH_MAX (4096) and the reason: a message is never
 * cut before it says what went wrong. */
typedef struct {
    char msg[2 * 4096 + 512];
} ObErr;

/* Formats a message into err (if non-NULL) and returns -1, so callers can
 * write `return ob_errf(err, "%s: bad magic", path);`. */
int ob_errf(ObErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message: "ctx: old message". Returns -1. */
int ob_err_prefix(ObErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* malloc/calloc that report "out of memory allocating N bytes for WHAT". */
void *ob_malloc(size_t n, const char *what, ObErr *err);
void *ob_calloc(size_t count, size_t size, const char *what, ObErr *err);

/* Room for need elements in a growing array: when need > *cap, *array (a
 * pointer to the array's pointer, elements of elem bytes) is reallocated to
 * *cap (first when empty) doubled until it holds them. -1 with "out of memory
 * for WHAT" and the array as it was (still the caller's to free) when that
 * fails. */
int ob_grow_to(void *array, size_t *cap, size_t need, size_t elem, size_t first, const char *what,
               ObErr *err);
/* (inline: the encoders and the BPE trainer grow in their inner loops) */
static inline int ob_grow(void *array, size_t *cap, size_t need, size_t elem, size_t first,
                          const char *what, ObErr *err) {
    return need <= *cap ? 0 : ob_grow_to(array, cap, need, elem, first, what, err);
}

/* Frees each of the n pointers; OB_FREE_ALL(a->x, a->y, ...) lists them in
 * place of one free() a line. */
void ob_free_n(void *const *p, size_t n);
#define OB_FREE_ALL(...)                                                                           \
    ob_free_n((void *const[]){__VA_ARGS__}, sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

#endif
