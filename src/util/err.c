#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages quote names and values from the files being read; a control
 * character among them (a newline inside a JSON string) would break the
 * one-line promise, so each becomes a space. */
static void one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

int ob_errf(ObErr *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    one_line(err->msg);
    return -1;
}

int ob_err_prefix(ObErr *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[sizeof err->msg], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Built by hand: snprintf("%s: %s") trips -Wformat-truncation. */
    size_t np = strlen(prefix), cap = sizeof err->msg - 1;
    if (np > cap - 2) np = cap - 2;
    memcpy(err->msg, prefix, np);
    memcpy(err->msg + np, ": ", 2);
    size_t no = strnlen(old, cap - np - 2);
    memcpy(err->msg + np + 2, old, no);
    err->msg[np + 2 + no] = 0;
    one_line(err->msg);
    return -1;
}

void *ob_malloc(size_t n, const char *what, ObErr *err) {
    void *p = malloc(n ? n : 1);
    if (!p) ob_errf(err, "out of memory allocating %zu bytes for %s", n, what);
    return p;
}

int ob_grow_to(void *array, size_t *cap, size_t need, size_t elem, size_t first, const char *what,
               ObErr *err) {
    size_t c = *cap ? *cap : first;
    while (c < need && c <= (size_t)-1 / 2) c *= 2;
    void *old, *p;
    memcpy(&old, array, sizeof old); /* array is a T **, whatever T is */
    p = c < need || c > (size_t)-1 / elem ? NULL : realloc(old, c * elem);
    if (!p) return ob_errf(err, "out of memory for %s", what);
    memcpy(array, &p, sizeof p);
    *cap = c;
    return 0;
}

void *ob_calloc(size_t count, size_t size, const char *what, ObErr *err) {
    if (size && count > (size_t)-1 / size) {
        ob_errf(err, "allocation of %zu x %zu bytes for %s overflows", count, size, what);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) ob_errf(err, "out of memory allocating %zu bytes for %s", count * size, what);
    return p;
}

void ob_free_n(void *const *p, size_t n) {
    for (size_t i = 0; i < n; i++) free(p[i]);
}
