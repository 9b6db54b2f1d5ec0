#include "text/corpus.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

int corpus_buf_append(CorpusBuf *b, const char *s, size_t n, ObErr *err) {
    if (n > SIZE_MAX / 2 - b->len) return ob_errf(err, "text too large (%zu bytes)", b->len);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return ob_errf(err, "out of memory growing a text to %zu bytes", cap);
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

void corpus_buf_free(CorpusBuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- lines ---- */

/* End of the line that starts at i (the '\n' or n). */
static size_t line_end(const char *t, size_t n, size_t i) {
    const char *p = memchr(t + i, '\n', n - i);
    return p ? (size_t)(p - t) : n;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Narrows [*s, *s + *n) to exclude surrounding whitespace. */
static void trim(const char **s, size_t *n) {
    while (*n && is_space(**s)) (*s)++, (*n)--;
    while (*n && is_space((*s)[*n - 1])) (*n)--;
}

static int is_blank(const char *s, size_t n) {
    trim(&s, &n);
    return n == 0;
}

static int lower(char c) {
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Does s[0, n) begin with p, ignoring ASCII case? */
static int starts_ci(const char *s, size_t n, const char *p) {
    size_t m = strlen(p);
    if (m > n) return 0;
    for (size_t i = 0; i < m; i++)
        if (lower(s[i]) != lower(p[i])) return 0;
    return 1;
}

int corpus_normalize(const char *text, size_t n, CorpusBuf *out, ObErr *err) {
    if (n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, n -= 3;
    size_t i = 0;
    while (i < n) {
        const char *cr = memchr(text + i, '\r', n - i);
        size_t j = cr ? (size_t)(cr - text) : n;
        if (corpus_buf_append(out, text + i, j - i, err)) return -1;
        i = j + 1;
    }
    return corpus_buf_append(out, "", 0, err);
}

int corpus_append_doc(CorpusBuf *out, const char *doc, size_t n, ObErr *err) {
    size_t i = 0;
    while (i < n) { /* skip whole blank lines, keeping the first line's indent */
        size_t e = line_end(doc, n, i);
        if (!is_blank(doc + i, e - i)) break;
        i = e < n ? e + 1 : n;
    }
    while (n > i && is_space(doc[n - 1])) n--;
    if (n == i) return 0;
    if (out->len && out->data[out->len - 1] != '\n' && corpus_buf_append(out, "\n", 1, err))
        return -1;
    if (out->len && corpus_buf_append(out, "\n", 1, err)) return -1;
    return corpus_buf_append(out, doc + i, n - i, err) || corpus_buf_append(out, "\n", 1, err);
}

/* ---- Project Gutenberg ---- */

/* "*** START OF ..." / "***END OF ...": stars, optional spaces, then word. */
static int is_marker(const char *s, size_t n, const char *word) {
    trim(&s, &n);
    if (n < 3 || memcmp(s, "***", 3) != 0) return 0;
    while (n && (*s == '*' || *s == ' ')) s++, n--;
    return starts_ci(s, n, word);
}

static int is_end_line(const char *s, size_t n) {
    trim(&s, &n);
    return is_marker(s, n, "END OF") || starts_ci(s, n, "End of the Project Gutenberg") ||
           starts_ci(s, n, "End of Project Gutenberg");
}

int corpus_has_gutenberg_start(const char *text, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t e = line_end(text, n, i);
        if (is_marker(text + i, e - i, "START OF")) return 1;
        i = e + 1;
    }
    return 0;
}

int corpus_strip_gutenberg(const char *text, size_t n, CorpusBuf *out, ObErr *err) {
    CorpusBuf t = {0};
    if (corpus_normalize(text, n, &t, err)) return -1;
    size_t i = 0, start = t.len + 1, end = t.len;
    while (i < t.len) {
        size_t e = line_end(t.data, t.len, i);
        if (is_marker(t.data + i, e - i, "START OF")) {
            start = e < t.len ? e + 1 : t.len;
            break;
        }
        i = e + 1;
    }
    if (start > t.len) {
        corpus_buf_free(&t);
        return ob_errf(err, "no \"*** START OF ... ***\" line (not a Project Gutenberg text?)");
    }
    for (i = start; i < t.len;) {
        size_t e = line_end(t.data, t.len, i);
        if (is_end_line(t.data + i, e - i)) {
            end = i;
            break;
        }
        i = e + 1;
    }
    /* Skip blank lines, then a "Produced by ..." paragraph (up to a blank line). */
    for (i = start; i < end;) {
        size_t e = line_end(t.data, end, i);
        if (!is_blank(t.data + i, e - i)) break;
        i = e + 1;
    }
    const char *first = t.data + (i < end ? i : end);
    size_t first_n = i < end ? line_end(t.data, end, i) - i : 0;
    trim(&first, &first_n);
    if (starts_ci(first, first_n, "Produced by")) {
        while (i < end) {
            size_t e = line_end(t.data, end, i);
            if (is_blank(t.data + i, e - i)) break;
            i = e + 1;
        }
        start = i < end ? i : end;
    }
    size_t before = out->len;
    int rc = corpus_append_doc(out, t.data + start, end - start, err);
    corpus_buf_free(&t);
    if (!rc && out->len == before) return ob_errf(err, "no text between the START and END lines");
    return rc;
}

/* ---- splitting ---- */

typedef struct {
    size_t start, end; /* the heading line */
    int heading;       /* index into the headings */
    int toc;           /* followed by another heading: a table of contents entry */
} HeadingLine;

static int match_heading(const char *s, size_t n, const char *const *headings, int n_headings) {
    trim(&s, &n);
    for (int k = 0; k < n_headings; k++)
        if (strlen(headings[k]) == n && !memcmp(s, headings[k], n)) return k;
    return -1;
}

/* Every line of text that reads one of the headings, in text order. */
static int find_heading_lines(const char *text, size_t n, const char *const *headings,
                              int n_headings, HeadingLine **lines, int *n_lines, ObErr *err) {
    HeadingLine *hl = NULL;
    size_t cap = 0;
    int count = 0, prev_match = -1; /* index in hl of the last non-blank line, if a heading */
    for (size_t i = 0; i < n;) {
        size_t e = line_end(text, n, i);
        if (!is_blank(text + i, e - i)) {
            int k = match_heading(text + i, e - i, headings, n_headings);
            if (k >= 0) {
                if (prev_match >= 0) hl[prev_match].toc = 1;
                if (ob_grow(&hl, &cap, (size_t)count + 1, sizeof *hl, 64, "heading lines", err))
                    return free(hl), -1;
                hl[count] = (HeadingLine){i, e, k, 0};
                prev_match = count++;
            } else {
                prev_match = -1;
            }
        }
        i = e + 1;
    }
    *lines = hl;
    *n_lines = count;
    return 0;
}

/* Moves end back over whitespace, not before start. */
static size_t trim_end(const char *text, size_t start, size_t end) {
    while (end > start && is_space(text[end - 1])) end--;
    return end;
}

int corpus_split_headings(const char *text, size_t n, const char *const *headings, int n_headings,
                          CorpusSpan *parts, ObErr *err) {
    HeadingLine *hl = NULL;
    int n_hl = 0;
    if (find_heading_lines(text, n, headings, n_headings, &hl, &n_hl, err)) return -1;
    size_t *line_ends = malloc((size_t)(n_headings > 0 ? n_headings : 1) * sizeof *line_ends);
    if (!line_ends) {
        free(hl);
        return ob_errf(err, "out of memory splitting by headings");
    }
    int j = 0;
    for (int k = 0; k < n_headings; k++) {
        while (j < n_hl && (hl[j].heading != k || hl[j].toc)) j++;
        if (j == n_hl) {
            free(hl);
            free(line_ends);
            if (k == 0) return ob_errf(err, "heading \"%s\" not found", headings[k]);
            return ob_errf(err, "heading \"%s\" not found after \"%s\"", headings[k],
                           headings[k - 1]);
        }
        parts[k].start = hl[j].start;
        line_ends[k] = hl[j].end;
        j++;
    }
    free(hl);
    for (int k = 0; k < n_headings; k++) {
        size_t next = k + 1 < n_headings ? parts[k + 1].start : n;
        parts[k].end = trim_end(text, parts[k].start, next);
        if (parts[k].end <= line_ends[k]) {
            free(line_ends);
            return ob_errf(err, "heading \"%s\" is followed by no text", headings[k]);
        }
    }
    free(line_ends);
    return 0;
}

int corpus_split_prefix(const char *text, size_t n, const char *prefix, CorpusSpan **parts,
                        int *n_parts, ObErr *err) {
    size_t m = strlen(prefix);
    int count = 0;
    size_t cap = 0;
    CorpusSpan *p = NULL;
    for (size_t i = 0; i < n;) {
        size_t e = line_end(text, n, i);
        if (e - i >= m && !memcmp(text + i, prefix, m)) {
            if (ob_grow(&p, &cap, (size_t)count + 1, sizeof *p, 64, "chapter spans", err))
                return free(p), -1;
            p[count++].start = i;
        }
        i = e + 1;
    }
    if (!count) return ob_errf(err, "no line begins with \"%s\"", prefix);
    for (int k = 0; k < count; k++)
        p[k].end = trim_end(text, p[k].start, k + 1 < count ? p[k + 1].start : n);
    *parts = p;
    *n_parts = count;
    return 0;
}

/* ---- Brown corpus ---- */

typedef struct {
    const char *s;
    size_t n;
} Word;

static int word_is(Word w, const char *s) {
    return w.n == strlen(s) && !memcmp(w.s, s, w.n);
}

/* Tokens no space goes before. */
static int closes(Word w) {
    static const char *const p[] = {",", ".", ";", ":", "?", "!", ")", "''"};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        if (word_is(w, p[i])) return 1;
    return 0;
}

/* ; ? or ! (what this copy of the corpus repeats at a sentence's end) */
static int is_final_punct(Word w) {
    return word_is(w, ";") || word_is(w, "?") || word_is(w, "!");
}

static int ends_with(Word w, const char *s) {
    size_t m = strlen(s);
    return w.n > m && !memcmp(w.s + w.n - m, s, m);
}

/* Writes one sentence line's words; *squote_open tracks single quotes across
 * the paragraph. */
static int write_sentence(const Word *w, int n, int *squote_open, CorpusBuf *out, ObErr *err) {
    if (n >= 2 && is_final_punct(w[n - 1]) && w[n - 2].n == 1 && w[n - 2].s[0] == w[n - 1].s[0])
        n--;
    int glue_next = 1; /* no space before the next word (line start, after an opener) */
    for (int i = 0; i < n; i++) {
        Word x = w[i];
        /* "Jr. ." -> "Jr.": the sentence's period after an abbreviation */
        if (i > 0 && word_is(x, ".") && ends_with(w[i - 1], ".")) continue;
        int opener = word_is(x, "(") || word_is(x, "``"), space = !glue_next && !closes(x);
        if (word_is(x, "'")) {
            opener = !*squote_open;
            if (*squote_open) space = 0;
            *squote_open = !*squote_open;
        }
        if (space && corpus_buf_append(out, " ", 1, err)) return -1;
        /* American style: '' , -> ,"  and '' . -> ." */
        if (word_is(x, "''") && i + 1 < n && (word_is(w[i + 1], ",") || word_is(w[i + 1], "."))) {
            if (corpus_buf_append(out, w[i + 1].s, 1, err)) return -1;
            i++;
        }
        if (word_is(x, "``") || word_is(x, "''")) x = (Word){"\"", 1};
        /* inch marks: "1/8'' ''" -> 1/8" */
        int inch = ends_with(x, "''") && i + 1 < n && word_is(w[i + 1], "''");
        if (inch) x.n -= 2;
        if (corpus_buf_append(out, x.s, x.n, err) || (inch && corpus_buf_append(out, "\"", 1, err)))
            return -1;
        i += inch;
        glue_next = opener;
    }
    return corpus_buf_append(out, "\n", 1, err);
}

/* Splits a line into words (tags dropped); *w grows as needed. */
static int line_words(const char *s, size_t n, size_t line_no, Word **w, int *cap, int *count,
                      ObErr *err) {
    *count = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_space(s[i])) i++;
        size_t j = i;
        while (j < n && !is_space(s[j])) j++;
        if (j == i) break;
        size_t slash = j;
        while (slash > i && s[slash - 1] != '/') slash--;
        if (slash <= i + 1) /* no '/', or nothing before it */
            return ob_errf(err, "line %zu: token \"%.*s\" is not word/tag", line_no, (int)(j - i),
                           s + i);
        if (*count == *cap) {
            *cap = *cap ? 2 * *cap : 256;
            Word *p = realloc(*w, (size_t)*cap * sizeof **w);
            if (!p) return ob_errf(err, "out of memory reading line %zu", line_no);
            *w = p;
        }
        (*w)[(*count)++] = (Word){s + i, slash - 1 - i};
        i = j;
    }
    return 0;
}

int corpus_brown_detag(const char *text, size_t n, CorpusBuf *out, ObErr *err) {
    Word *w = NULL;
    int cap = 0, count, squote_open = 0, in_para = 0, rc = 0;
    size_t line_no = 0, before = out->len;
    if (before && out->data[before - 1] != '\n' && corpus_buf_append(out, "\n", 1, err)) return -1;
    for (size_t i = 0; i < n && !rc;) {
        size_t e = line_end(text, n, i);
        line_no++;
        if (is_blank(text + i, e - i)) {
            in_para = 0;
        } else {
            rc = line_words(text + i, e - i, line_no, &w, &cap, &count, err);
            if (!rc && !in_para && out->len > before) rc = corpus_buf_append(out, "\n", 1, err);
            if (!in_para) squote_open = 0;
            in_para = 1;
            if (!rc) rc = write_sentence(w, count, &squote_open, out, err);
        }
        i = e + 1;
    }
    free(w);
    return rc;
}

size_t corpus_replace_controls(char *text, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) text[i] = ' ', count++;
    }
    return count;
}

size_t corpus_count_words(const char *text, size_t n) {
    size_t words = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_space(text[i]) && (i == 0 || is_space(text[i - 1]))) words++;
    return words;
}

/* ---- name lists ---- */

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int corpus_name_list(const char *text, size_t n, CorpusBuf *out, ObErr *err) {
    size_t at = utf8_invalid_at(text, n);
    if (at < n) return ob_errf(err, "names: not UTF-8 at byte %zu", at);
    size_t n_lines = 1, line_no = 0, k = 0;
    for (size_t i = 0; i < n; i++) n_lines += text[i] == '\n';
    char **names = calloc(n_lines, sizeof *names);
    if (!names) return ob_errf(err, "out of memory for %zu names", n_lines);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i = line_end(text, n, i) + 1) {
        const char *s = text + i;
        size_t len = line_end(text, n, i) - i;
        line_no++;
        trim(&s, &len);
        if (!len) continue;
        for (size_t j = 0; j < len && !rc; j++)
            if ((unsigned char)s[j] < 0x20 || s[j] == 0x7F)
                rc = ob_errf(err, "names: line %zu: control character", line_no);
        if (!rc && !(names[k] = malloc(len + 1))) rc = ob_errf(err, "out of memory");
        if (!rc) memcpy(names[k], s, len), names[k++][len] = 0;
    }
    if (!rc && !k) rc = ob_errf(err, "names: no names");
    if (!rc) qsort(names, k, sizeof *names, cmp_str_ptr);
    for (size_t i = 0; i < k && !rc; i++)
        if (!i || strcmp(names[i], names[i - 1]))
            rc = corpus_buf_append(out, names[i], strlen(names[i]), err) ||
                 corpus_buf_append(out, "\n", 1, err);
    for (size_t i = 0; i < k; i++) free(names[i]);
    free(names);
    return rc ? -1 : 0;
}

/* ---- the demo's data ---- */

static int check_utf8(const char *s, size_t n, ObErr *err) {
    size_t at = utf8_invalid_at(s, n);
    if (at < n) return ob_errf(err, "not UTF-8 at byte %zu (Latin-1? convert it with iconv)", at);
    return 0;
}

static int cmp_doc_name(const void *a, const void *b) {
    return strcmp((*(const CorpusDoc *const *)a)->name, (*(const CorpusDoc *const *)b)->name);
}

/* The documents in name order (a new array of pointers the caller frees). */
static const CorpusDoc **sorted_docs(const CorpusDoc *docs, int n, ObErr *err) {
    const CorpusDoc **s = ob_calloc((size_t)(n > 0 ? n : 1), sizeof *s, "document list", err);
    if (!s) return NULL;
    for (int i = 0; i < n; i++) s[i] = &docs[i];
    qsort(s, (size_t)n, sizeof *s, cmp_doc_name);
    return s;
}

static int is_heldout(int i, int every) {
    return every > 0 && i % every == every - 1;
}

int corpus_unwrap(const char *text, size_t n, CorpusBuf *out, ObErr *err) {
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && text[e] != '\n') e++;
        /* A line break inside a paragraph (a non-empty line follows) becomes
         * a space; blank lines keep separating paragraphs. */
        int join = e + 1 < n && text[e + 1] != '\n' && e > i;
        if (corpus_buf_append(out, text + i, e - i, err) ||
            (e < n && corpus_buf_append(out, join ? " " : "\n", 1, err)))
            return -1;
        i = e + 1;
        if (join)
            while (i < n && text[i] == ' ') i++;
    }
    return 0;
}

/* Appends one document to each of two buffers: its first line (the heading)
 * as it is, the rest unwrapped. */
static int append_unwrapped(CorpusBuf *a, CorpusBuf *b, const char *s, size_t n, ObErr *err) {
    size_t head = 0;
    while (head < n && s[head] != '\n') head++;
    if (head < n) head++;
    CorpusBuf u = {0};
    int rc = corpus_buf_append(&u, s, head, err) || corpus_unwrap(s + head, n - head, &u, err) ||
             corpus_append_doc(a, u.data, u.len, err) ||
             (b && corpus_append_doc(b, u.data, u.len, err));
    corpus_buf_free(&u);
    return rc ? -1 : 0;
}

static int prepare_target(const CorpusDemoIn *in, CorpusDemoOut *out, ObErr *err) {
    CorpusBuf book = {0};
    CorpusSpan *spans = ob_calloc((size_t)in->n_parts, sizeof *spans, "parts", err);
    int rc = !spans || check_utf8(in->target, in->target_len, err) ||
             corpus_strip_gutenberg(in->target, in->target_len, &book, err) ||
             corpus_split_headings(book.data, book.len, in->headings, in->n_parts, spans, err);
    if (rc && spans) ob_err_prefix(err, "%s", in->target_name);
    for (int k = 0; k < in->n_parts && !rc; k++) {
        const char *s = book.data + spans[k].start;
        size_t len = spans[k].end - spans[k].start;
        rc = append_unwrapped(&out->parts[k],
                              k < in->n_forget ? &out->forget : &out->target_heldout, s, len, err);
    }
    free(spans);
    corpus_buf_free(&book);
    return rc ? -1 : 0;
}

/* Appends each document (Brown when brown, else plain text) to the general
 * training or held-out text. */
static int prepare_docs(const CorpusDoc *docs, int n, int brown, int every, CorpusDemoOut *out,
                        int *n_train, int *n_heldout, ObErr *err) {
    const CorpusDoc **s = sorted_docs(docs, n, err);
    if (!s) return -1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        CorpusBuf t = {0};
        rc = check_utf8(s[i]->data, s[i]->len, err) ||
             (brown ? corpus_brown_detag(s[i]->data, s[i]->len, &t, err)
                    : corpus_normalize(s[i]->data, s[i]->len, &t, err));
        if (rc) ob_err_prefix(err, "%s", s[i]->name);
        int held = is_heldout(i, every);
        if (!rc)
            rc = corpus_append_doc(held ? &out->general_heldout : &out->general_train, t.data,
                                   t.len, err);
        *(held ? n_heldout : n_train) += 1;
        corpus_buf_free(&t);
    }
    free(s);
    return rc ? -1 : 0;
}

static int prepare_moby(const CorpusDemoIn *in, CorpusDemoOut *out, ObErr *err) {
    CorpusBuf t = {0};
    CorpusSpan *ch = NULL;
    int n_ch = 0;
    int rc = check_utf8(in->moby, in->moby_len, err) ||
             (corpus_has_gutenberg_start(in->moby, in->moby_len)
                  ? corpus_strip_gutenberg(in->moby, in->moby_len, &t, err)
                  : corpus_normalize(in->moby, in->moby_len, &t, err)) ||
             corpus_split_prefix(t.data, t.len, in->chapter_prefix, &ch, &n_ch, err);
    if (rc) {
        ob_err_prefix(err, "%s", in->moby_name);
        corpus_buf_free(&t);
        return -1;
    }
    int every = in->heldout_every > 0 ? in->heldout_every : 0;
    int held = every && n_ch > 1 ? (n_ch + every / 2) / every : 0;
    if (every && n_ch > 1 && held < 1) held = 1;
    /* Text before the first chapter (none in the demo's copy) is trained on. */
    rc = corpus_append_doc(&out->general_train, t.data, ch[0].start, err);
    for (int k = 0; k < n_ch && !rc; k++) {
        int h = k >= n_ch - held;
        rc = append_unwrapped(h ? &out->general_heldout : &out->general_train, NULL,
                              t.data + ch[k].start, ch[k].end - ch[k].start, err);
        *(h ? &out->chapters_heldout : &out->chapters_train) += 1;
    }
    free(ch);
    corpus_buf_free(&t);
    return rc ? -1 : 0;
}

int corpus_prepare_demo(const CorpusDemoIn *in, CorpusDemoOut *out, ObErr *err) {
    memset(out, 0, sizeof *out);
    if (in->n_parts < 1 || in->n_forget < 0 || in->n_forget > in->n_parts)
        return ob_errf(err, "bad part counts: %d parts, %d to forget", in->n_parts, in->n_forget);
    out->parts = ob_calloc((size_t)in->n_parts, sizeof *out->parts, "parts", err);
    if (!out->parts) return -1;
    out->n_parts = in->n_parts;
    int rc = prepare_target(in, out, err) ||
             prepare_docs(in->brown, in->n_brown, 1, in->heldout_every, out, &out->brown_train,
                          &out->brown_heldout, err) ||
             prepare_docs(in->sotu, in->n_sotu, 0, in->heldout_every, out, &out->sotu_train,
                          &out->sotu_heldout, err) ||
             prepare_moby(in, out, err);
    if (rc) {
        corpus_demo_free(out);
        return -1;
    }
    CorpusBuf *all[] = {&out->forget, &out->target_heldout, &out->general_train,
                        &out->general_heldout};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        out->controls_replaced += corpus_replace_controls(all[i]->data, all[i]->len);
    for (int k = 0; k < out->n_parts; k++)
        corpus_replace_controls(out->parts[k].data, out->parts[k].len);
    return 0;
}

void corpus_demo_free(CorpusDemoOut *out) {
    for (int k = 0; k < out->n_parts; k++) corpus_buf_free(&out->parts[k]);
    free(out->parts);
    corpus_buf_free(&out->forget);
    corpus_buf_free(&out->target_heldout);
    corpus_buf_free(&out->general_train);
    corpus_buf_free(&out->general_heldout);
    memset(out, 0, sizeof *out);
}
