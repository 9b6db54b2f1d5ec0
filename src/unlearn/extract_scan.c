/* Scanning a text into words: letters and in-word joiners, the possessive,
 * the case class, sentence starts and the joins between words. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "unlearn/extract_internal.h"

/* Bytes of the letter at p, or 0: ASCII letters and non-ASCII characters
 * other than Latin-1 punctuation (U+0080..U+00BF, U+00D7, U+00F7) and the
 * General Punctuation block (U+2000..U+207F). */
static int letter_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    if (c < 0x80) return is_upper((unsigned char)c) || is_lower((unsigned char)c);
    int n = c >= 0xF8 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!n || end - p < n) return 0;
    for (int k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    if (c == 0xC2) return 0;
    if (c == 0xC3 && (p[1] == 0x97 || p[1] == 0xB7)) return 0;
    if (c == 0xE2 && (p[1] == 0x80 || p[1] == 0x81)) return 0;
    return n;
}

/* Bytes of an in-word joiner at p: ' or U+2019 or -; else 0. */
static int joiner_len(const unsigned char *p, const unsigned char *end) {
    if (*p == '\'' || *p == '-') return 1;
    if (end - p >= 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99) return 3;
    return 0;
}

/* Copies a word with U+2019 as ' (and in lower case when `lower`); returns
 * the length. out holds MAX_WORD + 1 bytes. */
size_t ex_norm_word(const char *s, size_t n, int lower, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n && k < MAX_WORD; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
            (unsigned char)s[i + 2] == 0x99) {
            out[k++] = '\'';
            i += 2;
        } else {
            out[k++] = (char)(lower && is_upper(c) ? c + 32 : c);
        }
    }
    out[k] = 0;
    return k;
}

static int in_list_ci(const char *s, size_t n, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncasecmp(s, list[i], n)) return 1;
    return 0;
}

/* Does the word starting at byte s begin a sentence? Looks back over spaces,
 * quotes and brackets: the text's start, a blank line, or . ! ? (a period
 * after an abbreviation or a single capital letter excepted) mean yes. */
static int sentence_initial(const char *t, size_t s) {
    const unsigned char *u = (const unsigned char *)t;
    size_t j = s;
    int newlines = 0;
    while (j > 0) {
        unsigned char c = u[j - 1];
        if (c == '\n') {
            newlines++, j--;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '"' || c == '\'' || c == '(' ||
                   c == '[' || c == '_' || c == '*') {
            j--;
        } else if (j >= 3 && u[j - 3] == 0xE2 && u[j - 2] == 0x80 && c >= 0x98 && c <= 0x9D) {
            j -= 3; /* curly quotes */
        } else {
            break;
        }
    }
    if (j == 0 || newlines >= 2) return 1;
    unsigned char c = u[j - 1];
    if (c == '!' || c == '?') return 1;
    if (c != '.') return 0;
    size_t e = j - 1, b = e;
    while (b > 0 && (is_upper(u[b - 1]) || is_lower(u[b - 1]))) b--;
    if (e - b == 1 && is_upper(u[b])) return 0;
    return !(e > b && in_list_ci(t + b, e - b, ex_abbrev_list));
}

/* The words of text[0, n), with class, sentence start and joins filled in;
 * ent = -1. *words is a new array. */
int ex_scan_words(const char *text, size_t n, int32_t file, Word **words, size_t *n_words,
                  ObErr *err) {
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    size_t cap = n / 6 + 16, k = 0;
    Word *w = ob_malloc(cap * sizeof *w, "words", err);
    if (!w) return -1;
    size_t i = 0;
    while (i < n) {
        int l = letter_len(p + i, end);
        if (!l) {
            i++;
            continue;
        }
        size_t s = i;
        i += (size_t)l;
        for (;;) {
            int a;
            if ((l = letter_len(p + i, end)))
                i += (size_t)l;
            else if ((a = joiner_len(p + i, end)) && i + (size_t)a < n &&
                     letter_len(p + i + a, end))
                i += (size_t)a;
            else
                break;
        }
        size_t flen = i - s, len = flen;
        if (len >= 3 && p[s + len - 1] == 's' && p[s + len - 2] == '\'')
            len -= 2;
        else if (len >= 5 && p[s + len - 1] == 's' && p[s + len - 2] == 0x99 &&
                 p[s + len - 3] == 0x80 && p[s + len - 4] == 0xE2)
            len -= 4;
        if (flen > MAX_WORD) continue;
        if (k == cap) {
            cap *= 2;
            Word *nw = realloc(w, cap * sizeof *nw);
            if (!nw) return free(w), ob_errf(err, "out of memory for %zu words", cap);
            w = nw;
        }
        int has_lower = 0, letters = 0;
        for (size_t j = s; j < s + len; j++) has_lower |= is_lower(p[j]), letters++;
        uint8_t cls = is_lower(p[s])    ? W_LOW
                      : !is_upper(p[s]) ? W_OTHER
                      : has_lower       ? W_CAP
                      : letters >= 2    ? W_ALLCAPS
                                        : W_OTHER;
        w[k++] = (Word){
            (uint32_t)s, (uint16_t)len, (uint16_t)flen, cls, (uint8_t)sentence_initial(text, s), 0,
            -1,          file};
    }
    for (size_t j = 0; j + 1 < k; j++) {
        size_t e = w[j].start + w[j].flen, nx = w[j + 1].start;
        if (w[j].flen != w[j].len) continue; /* a possessive ends a name */
        if (nx == e + 1 && p[e] == ' ')
            w[j].join = 1;
        else if (nx == e + 2 && p[e] == '.' && p[e + 1] == ' ')
            w[j].join = 2;
    }
    *words = w;
    *n_words = k;
    return 0;
}
