#include "eval/rouge.h"

#include <stdlib.h>
#include <string.h>

/* Part of a word: ASCII letter or digit, or any non-ASCII byte. */
static int word_byte(unsigned char c) {
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

int rouge_words(const char *text, char ***words, int *n_words, ObErr *err) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, bytes = 0;
    for (size_t i = 0; s[i]; i++) {
        if (!word_byte(s[i])) continue;
        n += i == 0 || !word_byte(s[i - 1]);
        bytes++;
    }
    /* the pointers, then the words' bytes with their NULs */
    char **w = ob_malloc(n * sizeof(char *) + bytes + n + 1, "words", err);
    if (!w) return -1;
    char *out = (char *)(w + n);
    int k = 0;
    for (size_t i = 0; s[i];) {
        if (!word_byte(s[i])) {
            i++;
            continue;
        }
        w[k++] = out;
        for (; s[i] && word_byte(s[i]); i++)
            *out++ = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
        *out++ = 0;
    }
    *words = w;
    *n_words = k;
    return 0;
}

int rouge_lcs(char *const *a, int na, char *const *b, int nb, ObErr *err) {
    if (na < nb) { /* the row runs over the shorter array */
        char *const *t = a;
        a = b, b = t;
        int tn = na;
        na = nb, nb = tn;
    }
    if (nb == 0) return 0;
    /* row[j] = LCS(a[0..i), b[0..j)), updated in place; diag holds the
     * previous row's row[j-1] */
    int *row = ob_calloc((size_t)nb + 1, sizeof(int), "LCS row", err);
    if (!row) return -1;
    for (int i = 0; i < na; i++) {
        int diag = 0;
        for (int j = 1; j <= nb; j++) {
            int up = row[j];
            row[j] = !strcmp(a[i], b[j - 1]) ? diag + 1 : up > row[j - 1] ? up : row[j - 1];
            diag = up;
        }
    }
    int l = row[nb];
    free(row);
    return l;
}

int rouge_l(const char *candidate, const char *reference, RougeScore *s, ObErr *err) {
    memset(s, 0, sizeof *s);
    char **c = NULL, **r = NULL;
    if (rouge_words(candidate, &c, &s->n_cand, err) || rouge_words(reference, &r, &s->n_ref, err))
        return free(c), -1;
    s->lcs = rouge_lcs(c, s->n_cand, r, s->n_ref, err);
    free(c), free(r);
    if (s->lcs < 0) return -1;
    if (s->n_cand) s->precision = (double)s->lcs / s->n_cand;
    if (s->n_ref) s->recall = (double)s->lcs / s->n_ref;
    if (s->lcs) s->f1 = 2 * s->precision * s->recall / (s->precision + s->recall);
    return 0;
}
