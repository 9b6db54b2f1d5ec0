/* Anchor dictionaries: parsing (one JSON object or JSON Lines), merging into
 * key -> unique values, pruning, tokenization in both forms, the first-token
 * index and whole-word matching. See anchors.h for the contract. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "unlearn/anchors.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/jsonfile.h"
#include "util/strindex.h"
#include "util/utf8.h"

/* ---- small helpers --------------------------------------------------- */

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int only_space(const char *p, const char *end) {
    for (; p < end; p++)
        if (!is_space(*p)) return 0;
    return 1;
}

static char *dup_n(const char *s, size_t n, ObErr *err) {
    char *c = ob_malloc(n + 1, "anchor text", err);
    if (!c) return NULL;
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

/* A copy of s without surrounding ASCII whitespace. */
static char *trim_dup(const char *s, ObErr *err) {
    size_t n = strlen(s);
    while (n && is_space(s[n - 1])) n--;
    while (n && is_space(*s)) s++, n--;
    return dup_n(s, n, err);
}

/* s in double quotes for a message: control characters, quotes and
 * backslashes escaped, cut (at a character boundary) after about 60 bytes. */
static const char *quoted(char *buf, size_t size, const char *s) {
    size_t k = 0;
    buf[k++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && k + 8 < size; p++) {
        if (k > 60 && (*p & 0xC0) != 0x80) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
        if (*p < 0x20 || *p == '"' || *p == '\\')
            k += (size_t)snprintf(buf + k, size - k,
                                  *p == '"'    ? "\\\""
                                  : *p == '\\' ? "\\\\"
                                               : "\\x%02x",
                                  *p);
        else
            buf[k++] = (char)*p;
    }
    buf[k++] = '"';
    buf[k] = 0;
    return buf;
}

/* 1-based line of byte offset off. */
static int line_of(const char *text, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off; i++) line += text[i] == '\n';
    return line;
}

static int column_of(const char *text, size_t off) {
    size_t start = off;
    while (start > 0 && text[start - 1] != '\n') start--;
    return (int)(off - start) + 1;
}

typedef struct {
    char *s;
    size_t n, cap;
} StrBuf;

static int sb_addf(StrBuf *b, ObErr *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int sb_addf(StrBuf *b, ObErr *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return ob_errf(err, "anchors: formatting failed");
    if (b->n + (size_t)k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + (size_t)k + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) return ob_errf(err, "out of memory for the pruning report");
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
    return 0;
}

/* ---- merging: key -> unique values in first-seen order ---------------- */

typedef struct {
    char *key;
    char **values;
    int n_values, cap;
} Entry;

typedef struct {
    Entry *e;
    int n, cap;
    StrIndex idx; /* key -> entry */
} Merge;

static const char *merge_key_of(const void *ctx, int32_t i) {
    return ((const Merge *)ctx)->e[i].key;
}

static int merge_find(const Merge *m, const char *key) {
    return strindex_find(&m->idx, key, merge_key_of, m);
}

static void merge_free(Merge *m) {
    for (int i = 0; i < m->n; i++) {
        free(m->e[i].key);
        for (int k = 0; k < m->e[i].n_values; k++) free(m->e[i].values[k]);
        free(m->e[i].values);
    }
    free(m->e);
    strindex_free(&m->idx);
    memset(m, 0, sizeof *m);
}

/* The entry for key (taken over: freed if the key is already there), or -1. */
static int merge_key(Merge *m, char *key, ObErr *err) {
    int k = merge_find(m, key);
    if (k >= 0) {
        free(key);
        return k;
    }
    if (strindex_reserve(&m->idx, m->n, m->n + 1, merge_key_of, m, err)) return free(key), -1;
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 64;
        Entry *e = realloc(m->e, (size_t)cap * sizeof *e);
        if (!e) return free(key), ob_errf(err, "out of memory for %d anchor keys", cap);
        m->e = e;
        m->cap = cap;
    }
    m->e[m->n] = (Entry){key, NULL, 0, 0};
    strindex_put(&m->idx, key, m->n);
    return m->n++;
}

/* Adds value (taken over) unless e already has it. */
static int entry_add_value(Entry *e, char *v, ObErr *err) {
    for (int i = 0; i < e->n_values; i++)
        if (!strcmp(e->values[i], v)) return free(v), 0;
    if (e->n_values == e->cap) {
        int cap = e->cap ? e->cap * 2 : 4;
        char **vals = realloc(e->values, (size_t)cap * sizeof *vals);
        if (!vals) return free(v), ob_errf(err, "out of memory for anchor values");
        e->values = vals;
        e->cap = cap;
    }
    e->values[e->n_values++] = v;
    return 0;
}

/* A trimmed, non-empty, valid UTF-8 copy of a key or value; `where` and
 * `key` name it in errors (key NULL: s is the key). */
static char *clean_text(const char *s, const char *where, const char *key, ObErr *err) {
    char q[96];
    char *c = trim_dup(s, err);
    if (!c) return NULL;
    size_t n = strlen(c);
    if (!n) {
        free(c);
        if (key)
            ob_errf(err, "%s: empty value for key %s", where, quoted(q, sizeof q, key));
        else
            ob_errf(err, "%s: empty key", where);
        return NULL;
    }
    if (utf8_invalid_at(c, n) < n) {
        ob_errf(err, "%s: %s %s is not valid UTF-8", where, key ? "value" : "key",
                quoted(q, sizeof q, c));
        free(c);
        return NULL;
    }
    return c;
}

/* Merges one JSON object {key: value | [values]} into m. */
static int add_object(Merge *m, const cJSON *obj, const char *where, ObErr *err) {
    char q[96];
    for (const cJSON *it = obj->child; it; it = it->next) {
        char *key = clean_text(it->string ? it->string : "", where, NULL, err);
        if (!key) return -1;
        int ok = cJSON_IsString(it) || cJSON_IsArray(it);
        for (const cJSON *v = cJSON_IsArray(it) ? it->child : NULL; v && ok; v = v->next)
            ok = cJSON_IsString(v);
        if (!ok) {
            ob_errf(err, "%s: value of %s is not a string or an array of strings", where,
                    quoted(q, sizeof q, key));
            return free(key), -1;
        }
        if (cJSON_IsArray(it) && !it->child) {
            ob_errf(err, "%s: key %s has no values", where, quoted(q, sizeof q, key));
            return free(key), -1;
        }
        int k = merge_key(m, key, err);
        if (k < 0) return -1;
        const cJSON *v = cJSON_IsString(it) ? it : it->child;
        for (; v; v = cJSON_IsString(it) ? NULL : v->next) {
            char *val = clean_text(v->valuestring, where, m->e[k].key, err);
            if (!val || entry_add_value(&m->e[k], val, err)) return -1;
        }
    }
    return 0;
}

/* Parses text[0, n) as one JSON value followed by nothing but whitespace.
 * *at: where parsing stopped (the error position on failure). */
static cJSON *parse_exact(const char *text, size_t n, size_t *at) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    *at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
    if (j && !only_space(text + *at, text + n)) {
        while (is_space(text[*at])) (*at)++; /* point at the extra text */
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* The next line of text at *pos (without '\n'); 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, const char **s, size_t *n) {
    if (*pos >= len) return 0;
    *s = text + *pos;
    const char *nl = memchr(*s, '\n', len - *pos);
    *n = nl ? (size_t)(nl - *s) : len - *pos;
    *pos += *n + (nl != NULL);
    return 1;
}

static int parse_lines(Merge *m, const char *text, size_t len, const char *name, ObErr *err) {
    size_t pos = 0, n, at;
    const char *s;
    for (int line = 1; next_line(text, len, &pos, &s, &n); line++) {
        if (only_space(s, s + n)) continue;
        char where[320];
        snprintf(where, sizeof where, "%.280s:%d", name, line);
        cJSON *j = parse_exact(s, n, &at);
        if (!j) return ob_errf(err, "%s: invalid JSON at column %zu", where, at + 1);
        int rc = cJSON_IsObject(j) ? add_object(m, j, where, err)
                                   : ob_errf(err, "%s: expected a JSON object", where);
        cJSON_Delete(j);
        if (rc) return -1;
    }
    return 0;
}

/* Object form when the whole text is one JSON object, else JSON Lines. A
 * text that is neither and whose first line is not JSON either (a broken
 * multi-line object) is reported at the whole text's error position. */
static int parse_any(Merge *m, const char *text, size_t len, const char *name, ObErr *err) {
    size_t at = 0;
    cJSON *root = parse_exact(text, len, &at);
    if (root) {
        size_t first = 0;
        while (first < len && is_space(text[first])) first++;
        int rc = cJSON_IsObject(root)
                     ? add_object(m, root, name, err)
                     : ob_errf(err, "%s:%d: expected a JSON object or JSON Lines of objects", name,
                               line_of(text, first));
        cJSON_Delete(root);
        return rc;
    }
    size_t pos = 0, n, at1;
    const char *s;
    while (next_line(text, len, &pos, &s, &n)) {
        if (only_space(s, s + n)) continue;
        cJSON *j = parse_exact(s, n, &at1);
        int ok = j != NULL;
        cJSON_Delete(j);
        if (ok) break; /* JSON Lines */
        return ob_errf(err, "%s:%d: invalid JSON at column %d", name, line_of(text, at),
                       column_of(text, at));
    }
    return parse_lines(m, text, len, name, err);
}

/* ---- pruning and the dictionary -------------------------------------- */

typedef struct {
    const char *key;
    int idx, kept;
} KeyRef;

static int cmp_keyref(const void *x, const void *y) {
    return strcmp(((const KeyRef *)x)->key, ((const KeyRef *)y)->key);
}

/* Is stem (key[0, n)) a key? */
static int is_key_n(const Merge *m, const char *key, size_t n, int *found, ObErr *err) {
    char *s = dup_n(key, n, err);
    if (!s) return -1;
    *found = merge_find(m, s) >= 0;
    free(s);
    return 0;
}

/* Sets *drop when key is to be pruned, and appends the reason to rep. */
static int prune_reason(const Merge *m, const char *key, StrBuf *rep, int *drop, ObErr *err) {
    static const char *const suffix[2] = {"'s", "\xE2\x80\x99s"};
    char q1[96], q2[96];
    size_t n = strlen(key);
    *drop = 0;
    for (int s = 0; s < 2; s++) {
        size_t k = strlen(suffix[s]);
        if (n <= k || memcmp(key + n - k, suffix[s], k)) continue;
        if (is_key_n(m, key, n - k, drop, err)) return -1;
        if (!*drop) continue;
        char *stem = dup_n(key, n - k, err);
        int rc = !stem ? -1
                       : sb_addf(rep, err, "%s: possessive of the key %s\n",
                                 quoted(q1, sizeof q1, key), quoted(q2, sizeof q2, stem));
        free(stem);
        return rc;
    }
    int words = 0, all = 1;
    for (const char *p = key; all;) {
        while (is_space(*p)) p++;
        const char *w = p;
        while (*p && !is_space(*p)) p++;
        if (p == w) break;
        if (is_key_n(m, w, (size_t)(p - w), &all, err)) return -1;
        words++;
    }
    if (words < 2 || !all) return 0;
    *drop = 1;
    return sb_addf(rep, err, "%s: each of its words is a key\n", quoted(q1, sizeof q1, key));
}

/* Moves the merged entries into d, sorted by key, without the pruned ones. */
static int build_dict(AnchorDict *d, Merge *m, ObErr *err) {
    KeyRef *order = ob_malloc((size_t)m->n * sizeof *order, "anchor order", err);
    d->items = ob_calloc((size_t)m->n, sizeof *d->items, "anchors", err);
    StrBuf rep = {0};
    int rc = order && d->items ? sb_addf(&rep, err, "%s", "") : -1;
    for (int i = 0; i < m->n && rc == 0; i++) order[i] = (KeyRef){m->e[i].key, i, 0};
    if (rc == 0) qsort(order, (size_t)m->n, sizeof *order, cmp_keyref);
    for (int i = 0; i < m->n && rc == 0; i++) {
        Entry *e = &m->e[order[i].idx];
        int drop;
        rc = prune_reason(m, e->key, &rep, &drop, err);
        if (rc || drop) {
            d->n_dropped += drop;
            continue;
        }
        order[i].kept = 1;
        Anchor *a = &d->items[d->n++];
        a->key = e->key;
        a->values = e->values;
        a->n_values = e->n_values;
        e->values = NULL;
        e->n_values = 0;
    }
    /* Kept keys now belong to d; the table still needs every key above. */
    for (int i = 0; order && i < m->n; i++)
        if (order[i].kept) m->e[order[i].idx].key = NULL;
    d->dropped_report = rep.s;
    if (rc) d->dropped_report = NULL, free(rep.s);
    free(order);
    return rc;
}

int anchors_parse(AnchorDict *d, const char *text, size_t len, const char *name, ObErr *err) {
    memset(d, 0, sizeof *d);
    if (!name) name = "anchors";
    size_t bad = utf8_invalid_at(text, len);
    if (bad < len)
        return ob_errf(err, "%s:%d: invalid UTF-8 at byte %zu", name, line_of(text, bad), bad);
    const char *nul = memchr(text, 0, len);
    if (nul)
        return ob_errf(err, "%s:%d: NUL byte at byte %zu", name,
                       line_of(text, (size_t)(nul - text)), (size_t)(nul - text));
    size_t esc = ob_json_nul_escape(text, len); /* cJSON would cut the string there */
    if (esc < len)
        return ob_errf(err, "%s:%d: \\u0000 (a NUL character) at byte %zu is not supported", name,
                       line_of(text, esc), esc);
    Merge m = {0};
    int rc = parse_any(&m, text, len, name, err);
    if (rc == 0 && m.n == 0) rc = ob_errf(err, "%s: no entries", name);
    if (rc == 0) rc = build_dict(d, &m, err);
    merge_free(&m);
    if (rc) anchors_free(d);
    return rc;
}

int anchors_load(AnchorDict *d, const char *path, ObErr *err) {
    char *text;
    size_t len;
    memset(d, 0, sizeof *d);
    if (ob_read_file(path, &text, &len, err)) return -1;
    int rc = anchors_parse(d, text, len, path, err);
    free(text);
    return rc;
}

int anchors_find(const AnchorDict *d, const char *key) {
    int lo = 0, hi = d->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(d->items[mid].key, key);
        if (!c) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int anchors_save(const AnchorDict *d, const char *path, ObErr *err) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    for (int i = 0; i < d->n && ok; i++) {
        cJSON *arr = cJSON_AddArrayToObject(root, d->items[i].key);
        ok = arr != NULL;
        for (int k = 0; k < d->items[i].n_values && ok; k++) {
            cJSON *s = cJSON_CreateString(d->items[i].values[k]);
            ok = s && cJSON_AddItemToArray(arr, s);
        }
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return ob_errf(err, "%s: out of memory writing the anchors", path);
    ObAtomicFile af;
    int rc = ob_atomic_open(&af, path, err);
    if (rc == 0 && (fputs(text, af.fp) == EOF || fputc('\n', af.fp) == EOF)) {
        ob_atomic_abort(&af);
        rc = ob_errf(err, "%s: write failed", path);
    } else if (rc == 0) {
        rc = ob_atomic_commit(&af, err);
    }
    free(text);
    return rc;
}

/* ---- tokenization and the first-token index -------------------------- */

static void untokenize(AnchorDict *d) {
    for (int i = 0; i < d->n; i++) {
        Anchor *a = &d->items[i];
        for (int f = 0; f < 2; f++) {
            free(a->key_tok[f].ids);
            a->key_tok[f] = (TokSeq){NULL, 0};
            for (int k = 0; a->val_tok[f] && k < a->n_values; k++) free(a->val_tok[f][k].ids);
            free(a->val_tok[f]);
            a->val_tok[f] = NULL;
        }
    }
    free(d->first_start);
    free(d->first_list);
    free(d->edge);
    free(d->edge_len);
    pcre2_code_free(d->char_re);
    d->first_start = d->first_list = NULL;
    d->edge = NULL;
    d->edge_len = NULL;
    d->char_re = NULL;
    d->n_vocab = 0;
    d->tokenized = 0;
}

void anchors_free(AnchorDict *d) {
    untokenize(d);
    for (int i = 0; i < d->n; i++) {
        free(d->items[i].key);
        for (int k = 0; k < d->items[i].n_values; k++) free(d->items[i].values[k]);
        free(d->items[i].values);
    }
    free(d->items);
    free(d->dropped_report);
    memset(d, 0, sizeof *d);
}

/* Tokens of s (form 0) or " " + s (form 1). */
static int encode_form(const Tokenizer *tok, const char *s, int form, TokSeq *out, ObErr *err) {
    size_t n = strlen(s);
    char *buf = ob_malloc(n + 2, "anchor text", err);
    if (!buf) return -1;
    buf[0] = ' ';
    memcpy(buf + 1, s, n + 1);
    int32_t *ids;
    size_t k;
    int rc = tok_encode(tok, buf + !form, n + (size_t)form, &ids, &k, err);
    free(buf);
    if (rc) return -1;
    if (k == 0 || k > INT_MAX) {
        char q[96];
        free(ids);
        return ob_errf(err, "anchors: %s encodes to %zu tokens", quoted(q, sizeof q, s), k);
    }
    *out = (TokSeq){ids, (int)k};
    return 0;
}

typedef struct {
    int32_t tok, len, e;
} IdxEnt;

static int cmp_idx(const void *x, const void *y) {
    const IdxEnt *a = x, *b = y;
    if (a->tok != b->tok) return a->tok < b->tok ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return (a->e > b->e) - (a->e < b->e);
}

static int build_index(AnchorDict *d, int n_vocab, ObErr *err) {
    size_t ne = 2 * (size_t)d->n;
    IdxEnt *ents = ob_malloc(ne * sizeof *ents, "anchor index", err);
    d->first_start = ob_calloc((size_t)n_vocab + 1, sizeof *d->first_start, "anchor index", err);
    d->first_list = ob_malloc(ne * sizeof *d->first_list, "anchor index", err);
    if (!ents || !d->first_start || !d->first_list) return free(ents), -1;
    for (int a = 0; a < d->n; a++)
        for (int f = 0; f < 2; f++) {
            const TokSeq *s = &d->items[a].key_tok[f];
            ents[2 * a + f] = (IdxEnt){s->ids[0], s->n, 2 * a + f};
        }
    qsort(ents, ne, sizeof *ents, cmp_idx);
    for (size_t k = 0; k < ne; k++) {
        d->first_list[k] = ents[k].e;
        d->first_start[ents[k].tok + 1]++;
    }
    for (int t = 0; t < n_vocab; t++) d->first_start[t + 1] += d->first_start[t];
    d->n_vocab = n_vocab;
    free(ents);
    return 0;
}

/* Each token's first and last 4 bytes; special tokens are word breaks. */
static int build_edges(AnchorDict *d, const Tokenizer *tok, ObErr *err) {
    d->edge = ob_calloc((size_t)tok->n_vocab, sizeof *d->edge, "token edges", err);
    d->edge_len = ob_calloc((size_t)tok->n_vocab, 1, "token edges", err);
    if (!d->edge || !d->edge_len) return -1;
    for (int id = 0; id < tok->n_vocab; id++) {
        size_t len;
        const char *b = tok_token_bytes(tok, id, &len);
        int normal = tok->types[id] == 1 || tok->types[id] == 6;
        if (!b || !normal) {
            d->edge_len[id] = 0xFF;
            continue;
        }
        size_t k = len < 4 ? len : 4;
        memcpy(d->edge[id], b, k);
        memcpy(d->edge[id] + 4, b + len - k, k);
        d->edge_len[id] = (uint8_t)k;
    }
    int code;
    PCRE2_SIZE off;
    d->char_re = pcre2_compile((PCRE2_SPTR) "\\A(?:(\\p{L})|\\p{N})", PCRE2_ZERO_TERMINATED,
                               PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    if (!d->char_re) return ob_errf(err, "anchors: cannot compile the letter/digit test");
    return 0;
}

int anchors_tokenize(AnchorDict *d, const Tokenizer *tok, ObErr *err) {
    untokenize(d);
    if (!tok || !tok->impl || tok->n_vocab < 1) return ob_errf(err, "anchors: no tokenizer");
    int rc = 0;
    for (int i = 0; i < d->n && rc == 0; i++) {
        Anchor *a = &d->items[i];
        for (int f = 0; f < 2 && rc == 0; f++) {
            rc = encode_form(tok, a->key, f, &a->key_tok[f], err);
            a->val_tok[f] =
                rc ? NULL
                   : ob_calloc((size_t)a->n_values, sizeof *a->val_tok[f], "anchor values", err);
            if (!a->val_tok[f]) rc = -1;
            for (int k = 0; k < a->n_values && rc == 0; k++)
                rc = encode_form(tok, a->values[k], f, &a->val_tok[f][k], err);
        }
    }
    if (rc == 0) rc = build_index(d, tok->n_vocab, err);
    if (rc == 0) rc = build_edges(d, tok, err);
    if (rc) {
        untokenize(d);
        return -1;
    }
    d->tokenized = 1;
    return 0;
}

/* ---- whole-word matching --------------------------------------------- */

enum { CH_OTHER, CH_LETTER, CH_DIGIT };

/* Bytes in the UTF-8 sequence led by c; 0 for a continuation or bad lead. */
static int utf8_seq_len(uint8_t c) {
    return c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
}

/* Letter, digit or other, as GPT-2's \p{L} and \p{N}, for one whole
 * character u[0, n). */
static int char_class(const AnchorDict *d, const uint8_t *u, int n) {
    if (n == 1) {
        uint8_t c = u[0];
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return CH_LETTER;
        return c >= '0' && c <= '9' ? CH_DIGIT : CH_OTHER;
    }
    pcre2_match_data *md = pcre2_match_data_create(2, NULL);
    if (!md) return CH_OTHER;
    int rc = pcre2_match(d->char_re, u, (PCRE2_SIZE)n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc == 2 ? CH_LETTER : rc == 1 ? CH_DIGIT : CH_OTHER;
}

static int usable(const AnchorDict *d, int32_t t) {
    return t >= 0 && t < d->n_vocab && d->edge_len[t] != 0xFF;
}

/* Class of the first character of the bytes of tokens orig[from, to). */
static int class_first(const AnchorDict *d, const int32_t *orig, int from, int to) {
    uint8_t u[4];
    int k = 0, need = 0;
    for (int j = from; j < to && usable(d, orig[j]); j++) {
        for (int b = 0; b < d->edge_len[orig[j]] && k < 4; b++) u[k++] = d->edge[orig[j]][b];
        if (k && !(need = utf8_seq_len(u[0]))) return CH_OTHER;
        if (k && k >= need) return char_class(d, u, need);
    }
    return CH_OTHER;
}

/* Class of the last character of the bytes of tokens orig[from, to). */
static int class_last(const AnchorDict *d, const int32_t *orig, int from, int to) {
    uint8_t u[4];
    int k = 0; /* bytes gathered, at u[4 - k, 4) */
    for (int j = to - 1; j >= from && k < 4 && usable(d, orig[j]); j--) {
        const uint8_t *tail = d->edge[orig[j]] + 4;
        int lead = 0;
        for (int b = d->edge_len[orig[j]] - 1; b >= 0 && k < 4 && !lead; b--) {
            u[3 - k++] = tail[b];
            lead = (tail[b] & 0xC0) != 0x80;
        }
        if (lead) {
            int n = utf8_seq_len(u[4 - k]);
            return n == k ? char_class(d, u + 4 - k, k) : CH_OTHER;
        }
    }
    return CH_OTHER;
}

/* Does orig[i, i + len) stand as whole words (not glued to a letter or digit
 * run on either side, looking only inside [0, n))? */
static int whole_words(const AnchorDict *d, const int32_t *orig, int n, int i, int len) {
    if (i > 0) {
        int c = class_first(d, orig, i, i + len);
        if (c != CH_OTHER && c == class_last(d, orig, 0, i)) return 0;
    }
    if (i + len < n) {
        int c = class_last(d, orig, i, i + len);
        if (c != CH_OTHER && c == class_first(d, orig, i + len, n)) return 0;
    }
    return 1;
}

int anchors_match(const AnchorDict *d, const int32_t *orig, int n, int i, int *form, int *len) {
    if (!d->tokenized || i < 0 || i >= n || orig[i] < 0 || orig[i] >= d->n_vocab) return -1;
    for (int k = d->first_start[orig[i]]; k < d->first_start[orig[i] + 1]; k++) {
        int e = d->first_list[k];
        const TokSeq *s = &d->items[e >> 1].key_tok[e & 1];
        if (s->n > n - i || memcmp(s->ids, orig + i, (size_t)s->n * sizeof *s->ids)) continue;
        if (!whole_words(d, orig, n, i, s->n)) continue;
        *form = e & 1;
        *len = s->n;
        return e >> 1;
    }
    return -1;
}
