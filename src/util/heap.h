/* Binary heaps over plain arrays of one struct type.
 *
 * OB_HEAP(name, T, first) defines, as static functions of the file:
 *   void name_push(T *h, size_t *n, T x)  adds x (room is the caller's);
 *   T name_pop(T *h, size_t *n)           takes out the top (*n > 0),
 * where first(const T *a, const T *b) says whether a comes out before b. A
 * macro rather than a function over void *, so that each heap keeps its
 * element type and its comparison inlined (the tokenizers' merge loops). */
#ifndef OB_HEAP_H
#define OB_HEAP_H

#include <stddef.h>

#define OB_HEAP(name, T, first)                                                                    \
    static void name##_push(T *h, size_t *n, T x) {                                                \
        size_t i = (*n)++;                                                                         \
        while (i > 0 && first(&x, &h[(i - 1) / 2])) {                                              \
            h[i] = h[(i - 1) / 2];                                                                 \
            i = (i - 1) / 2;                                                                       \
        }                                                                                          \
        h[i] = x;                                                                                  \
    }                                                                                              \
                                                                                                   \
    static T name##_pop(T *h, size_t *n) {                                                         \
        T top = h[0], last = h[--*n];                                                              \
        size_t i = 0;                                                                              \
        for (;;) {                                                                                 \
            size_t c = 2 * i + 1;                                                                  \
            if (c >= *n) break;                                                                    \
            if (c + 1 < *n && first(&h[c + 1], &h[c])) c++;                                        \
            if (!first(&h[c], &last)) break;                                                       \
            h[i] = h[c];                                                                           \
            i = c;                                                                                 \
        }                                                                                          \
        if (*n) h[i] = last;                                                                       \
        return top;                                                                                \
    }

#endif
