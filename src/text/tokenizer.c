/* Byte-level BPE tokenizer (GPT-2 style): training, encoding, decoding.
 *
 * Training counts unique pre-tokenized pieces ("words"), then runs standard
 * BPE with incremental pair counts: a pair -> count map, per pair the list of
 * words that may contain it, and a max-heap with lazy invalidation. Encoding
 * applies merges by rank per piece (GPT-2's bpe()); long pieces use a linked
 * list and a min-heap so that a megabyte-long word stays n log n.
 *
 * Deviations worth knowing:
 *  - Training stops early when no pair occurs at least twice; n_vocab is
 *    then smaller than the vocab_size asked for.
 *  - If a merge produces a byte string that is already a token (reachable
 *    by two merge paths), it reuses that token's id instead of adding a
 *    duplicate, so n_merges may exceed n_vocab - 257 (HF tokenizers do the
 *    same). Without such repeats ids 256.. follow merge order exactly. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/tokenizer.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/tokenizer_spm.h"
#include "util/fileio.h"
#include "util/hash.h"
#include "util/heap.h"
#include "util/log.h"

#define EOT_TEXT "<|endoftext|>"
#define SMALL_PIECE 64 /* longer pieces use the linked-list + heap merger */

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char DIGIT_PATTERN[] = "\\p{N}";

/* The regexes of each pre-tokenizer, applied in turn to the pieces of the
 * previous one (TOK_PRE_* order). */
static const char *const PRE_STAGES[3][2] = {
    {GPT2_PATTERN, NULL},
    {LLAMA3_PATTERN, NULL},
    {DIGIT_PATTERN, GPT2_PATTERN},
};
static const char *const PRE_NAMES[3] = {"gpt-2", "llama-bpe", "smollm"};

const char *tok_pre_name(int pre) {
    return pre >= 0 && pre < 3 ? PRE_NAMES[pre] : "?";
}

int tok_pre_from_name(const char *name) {
    if (!strcmp(name, "default")) return TOK_PRE_GPT2;
    if (!strcmp(name, "llama3")) return TOK_PRE_LLAMA3;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, PRE_NAMES[i])) return i;
    return -1;
}

/* ---- GPT-2 byte <-> unicode mapping ---------------------------------- */

/* Printable bytes map to themselves; the 68 others (0..32, 127..160, 173)
 * map in byte order to U+0100.. so every token string is printable. */
static int byte_to_cp(int b) {
    if (b <= 32) return 256 + b;
    if (b >= 127 && b <= 160) return b + 162;
    if (b == 173) return 323;
    return b;
}

static int cp_to_byte(long cp) {
    if (cp >= 256 && cp <= 288) return (int)cp - 256;
    if (cp >= 289 && cp <= 322) return (int)cp - 162;
    if (cp == 323) return 173;
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 255 && cp != 173)) return (int)cp;
    return -1;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 if invalid. */
static int utf8_decode(const unsigned char *s, long *cp) {
    int n = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] >= 0xF5) return 0;
    long v = n == 1 ? s[0] : s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const long min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

/* Token string (UTF-8 of mapped code points) for raw bytes. */
static char *bytes_to_unicode(const char *s, size_t n, ObErr *err) {
    char *out = ob_malloc(2 * n + 1, "token string", err);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int cp = byte_to_cp((unsigned char)s[i]);
        if (cp < 0x80) {
            out[k++] = (char)cp;
        } else {
            out[k++] = (char)(0xC0 | (cp >> 6));
            out[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[k] = 0;
    return out;
}

/* Inverse of bytes_to_unicode into out (room for strlen(s) bytes). */
static int unicode_to_bytes(int id, const char *s, char *out, size_t *n, ObErr *err) {
    const unsigned char *u = (const unsigned char *)s;
    size_t k = 0;
    while (*u) {
        long cp;
        int len = utf8_decode(u, &cp);
        if (len == 0) return ob_errf(err, "token %d: invalid UTF-8 in token string", id);
        int b = cp_to_byte(cp);
        if (b < 0) {
            return ob_errf(err,
                           "token %d '%.64s': code point U+%04lX is not in the "
                           "byte-to-unicode map",
                           id, s, cp);
        }
        out[k++] = (char)b;
        u += len;
    }
    *n = k;
    return 0;
}

/* ---- small containers ------------------------------------------------ */

static void *resize(void *p, size_t count, size_t elem, const char *what, ObErr *err) {
    if (elem && count > (size_t)-1 / elem) {
        ob_errf(err, "allocation of %zu x %zu bytes for %s overflows", count, elem, what);
        return NULL;
    }
    size_t bytes = count * elem;
    void *np = realloc(p, bytes ? bytes : 1);
    if (!np) ob_errf(err, "out of memory allocating %zu bytes for %s", bytes, what);
    return np;
}

static size_t next_cap(size_t cap, size_t need) {
    size_t c = cap ? cap : 16;
    while (c < need) c *= 2;
    return c;
}

static uint32_t hash_bytes(const char *s, size_t n) {
    return ob_hash32(s, n);
}

/* Byte-string set: slots hold (hash << 32) | (index + 1), 0 = empty; the
 * keys live in caller-owned arrays passed to each lookup. */
typedef struct {
    uint64_t *slots;
    size_t mask, n;
} StrTab;

static long strtab_find(const StrTab *t, const char *const *keys, const size_t *lens, const char *k,
                        size_t n, uint32_t h) {
    if (!t->slots) return -1;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (!s) return -1;
        size_t idx = (uint32_t)s - 1;
        if ((uint32_t)(s >> 32) == h && lens[idx] == n && memcmp(keys[idx], k, n) == 0) {
            return (long)idx;
        }
    }
}

static void strtab_place(uint64_t *slots, size_t mask, uint64_t v) {
    size_t i = (v >> 32) & mask;
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = v;
}

/* Adds index idx (not yet present) with hash h. */
static int strtab_add(StrTab *t, uint32_t h, size_t idx, ObErr *err) {
    if (idx >= UINT32_MAX) return ob_errf(err, "too many distinct strings");
    if (2 * (t->n + 1) > t->mask + 1 || !t->slots) {
        size_t cap = t->slots ? 2 * (t->mask + 1) : 1024;
        uint64_t *ns = ob_calloc(cap, sizeof *ns, "string table", err);
        if (!ns) return -1;
        for (size_t i = 0; t->slots && i <= t->mask; i++) {
            if (t->slots[i]) strtab_place(ns, cap - 1, t->slots[i]);
        }
        free(t->slots);
        t->slots = ns;
        t->mask = cap - 1;
    }
    strtab_place(t->slots, t->mask, ((uint64_t)h << 32) | (idx + 1));
    t->n++;
    return 0;
}

/* (a, b) id pair -> int32 value, open addressing with Fibonacci hashing. */
typedef struct {
    uint64_t key;
    int32_t val;
} PairSlot;

typedef struct {
    PairSlot *slots;
    size_t mask, n;
    int shift;
} PairMap;

#define PAIR_EMPTY UINT64_MAX

static uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

static size_t pair_slot(const PairMap *m, uint64_t key) {
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> m->shift);
}

static int32_t pairmap_get(const PairMap *m, uint64_t key) {
    if (!m->slots) return -1;
    for (size_t i = pair_slot(m, key);; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) return m->slots[i].val;
        if (m->slots[i].key == PAIR_EMPTY) return -1;
    }
}

static int pairmap_grow(PairMap *m, ObErr *err) {
    size_t cap = m->slots ? 2 * (m->mask + 1) : 1024;
    PairSlot *ns = ob_malloc(cap * sizeof *ns, "pair table", err);
    if (!ns) return -1;
    for (size_t i = 0; i < cap; i++) ns[i].key = PAIR_EMPTY;
    PairMap nm = {ns, cap - 1, 0, 64};
    for (size_t c = cap; c > 1; c >>= 1) nm.shift--;
    for (size_t i = 0; m->slots && i <= m->mask; i++) {
        if (m->slots[i].key == PAIR_EMPTY) continue;
        size_t j = pair_slot(&nm, m->slots[i].key);
        while (ns[j].key != PAIR_EMPTY) j = (j + 1) & nm.mask;
        ns[j] = m->slots[i];
    }
    nm.n = m->n;
    free(m->slots);
    *m = nm;
    return 0;
}

/* Inserts key -> val unless key is present (the first value wins). */
static int pairmap_put(PairMap *m, uint64_t key, int32_t val, ObErr *err) {
    if ((!m->slots || 2 * (m->n + 1) > m->mask + 1) && pairmap_grow(m, err) < 0) return -1;
    size_t i = pair_slot(m, key);
    while (m->slots[i].key != PAIR_EMPTY) {
        if (m->slots[i].key == key) return 0;
        i = (i + 1) & m->mask;
    }
    m->slots[i] = (PairSlot){key, val};
    m->n++;
    return 0;
}

/* ---- pre-tokenizer --------------------------------------------------- */

static pcre2_code *compile_regex(const char *pattern, ObErr *err) {
    int code;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        ob_errf(err, "tokenizer regex: %s at offset %zu", (const char *)msg, (size_t)off);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: the interpreter is the fallback */
    return re;
}

/* Finds the next match at or after pos: 1 found, 0 none, -1 error. A JIT
 * failure (e.g. its stack limit) is retried with the interpreter. */
static int next_match(const pcre2_code *re, pcre2_match_data *md, const char *s, size_t len,
                      size_t pos, size_t *ms, size_t *me, ObErr *err) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, pos, 0, md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        rc = pcre2_match(re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_JIT, md, NULL);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return ob_errf(err, "tokenizer regex match at byte %zu: %s", pos, (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

typedef int (*PieceFn)(void *ctx, const char *p, size_t n, ObErr *err);

/* Calls fn on every piece in order. With one regex, bytes no match covers
 * (invalid UTF-8) become one-byte pieces, so the pieces always tile the
 * input exactly. With more, each match and each gap between matches of the
 * first regex is split again by the rest (HF's "Isolated" splits). */
static int for_each_piece_n(pcre2_code *const *re, int n_re, const char *s, size_t len, PieceFn fn,
                            void *ctx, ObErr *err) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re[0], NULL);
    if (!md) return ob_errf(err, "out of memory for regex match data");
    size_t pos = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        size_t ms = len, me = len;
        int found = next_match(re[0], md, s, len, pos, &ms, &me, err);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (!found) ms = me = len;
        if (me == ms && ms < len) me = ms + 1; /* never with these regexes; keeps progress */
        if (n_re > 1) {
            if (ms > pos) rc = for_each_piece_n(re + 1, n_re - 1, s + pos, ms - pos, fn, ctx, err);
            if (rc == 0 && me > ms)
                rc = for_each_piece_n(re + 1, n_re - 1, s + ms, me - ms, fn, ctx, err);
            pos = me;
            continue;
        }
        for (; pos < ms && rc == 0; pos++) rc = fn(ctx, s + pos, 1, err);
        if (rc == 0 && me > ms) rc = fn(ctx, s + ms, me - ms, err);
        pos = me;
    }
    pcre2_match_data_free(md);
    return rc;
}

static int for_each_piece(pcre2_code *re, const char *s, size_t len, PieceFn fn, void *ctx,
                          ObErr *err) {
    return for_each_piece_n(&re, 1, s, len, fn, ctx, err);
}

/* ---- tokenizer internals --------------------------------------------- */

struct TokImpl {
    char *arena;           /* raw bytes of all tokens */
    size_t *off, *len;     /* [n_vocab] slice of arena */
    int32_t byte_id[256];  /* token id of each single byte */
    PairMap ranks;         /* (left, right) -> merge rank */
    int32_t *merge_result; /* [n_merges] id a rank produces */
    pcre2_code *re[2];     /* the pre-tokenizer's stages */
    int n_re;
    int ignore_merges; /* llama-bpe: a piece that is a token stays whole */
    StrTab raw_tab;    /* normal tokens by raw bytes (ignore_merges) */
    const char **raw;  /* [n_vocab] arena pointers, keys of raw_tab */
    SpmVocab *spm;     /* kind TOK_SPM */
};

static void impl_free(TokImpl *im) {
    if (!im) return;
    free(im->arena);
    free(im->off);
    free(im->len);
    free(im->ranks.slots);
    free(im->merge_result);
    for (int i = 0; i < 2; i++)
        if (im->re[i]) pcre2_code_free(im->re[i]);
    free(im->raw_tab.slots);
    free(im->raw);
    spm_free(im->spm);
    free(im);
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    for (int i = 0; t->tokens && i < t->n_vocab; i++) free(t->tokens[i]);
    for (int i = 0; t->merges && i < t->n_merges; i++) free(t->merges[i]);
    free(t->tokens);
    free(t->types);
    free(t->scores);
    free(t->merges);
    impl_free(t->impl);
    memset(t, 0, sizeof *t);
}

/* Control, user-defined, unknown and unused tokens keep their text as
 * bytes; normal (and byte) tokens are in byte-unicode form. */
static int is_plain_text_type(int32_t type) {
    return type == 2 || type == 3 || type == 4 || type == 5;
}

/* Raw bytes of an SPM token into out (room for strlen(s)): a byte token is
 * its byte, "▁" is a space elsewhere; returns the length. */
static size_t spm_token_bytes(const char *s, int32_t type, char *out) {
    unsigned v;
    char end;
    if (type == 6 && strlen(s) == 6 && sscanf(s, "<0x%2X%c", &v, &end) == 2 && end == '>') {
        out[0] = (char)v;
        return 1;
    }
    size_t k = 0;
    for (; *s; s++) {
        if (type != 3 && !strncmp(s, "\xe2\x96\x81", 3)) {
            out[k++] = ' ';
            s += 2;
        } else {
            out[k++] = *s;
        }
    }
    return k;
}

/* Fills arena/off/len with every token's raw bytes. */
static int build_token_bytes(const Tokenizer *t, TokImpl *im, ObErr *err) {
    size_t total = 0;
    for (int i = 0; i < t->n_vocab; i++) total += strlen(t->tokens[i]);
    im->arena = ob_malloc(total, "token bytes", err);
    im->off = ob_calloc((size_t)t->n_vocab, sizeof *im->off, "token offsets", err);
    im->len = ob_calloc((size_t)t->n_vocab, sizeof *im->len, "token lengths", err);
    if (!im->arena || !im->off || !im->len) return -1;
    size_t pos = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        const char *s = t->tokens[i];
        im->off[i] = pos;
        if (t->kind == TOK_SPM) {
            im->len[i] = spm_token_bytes(s, t->types[i], im->arena + pos);
        } else if (is_plain_text_type(t->types[i])) {
            im->len[i] = strlen(s);
            memcpy(im->arena + pos, s, im->len[i]);
        } else if (unicode_to_bytes(i, s, im->arena + pos, &im->len[i], err) < 0) {
            return -1;
        }
        pos += im->len[i];
    }
    return 0;
}

/* Index of normal-token strings -> id; the first of duplicates wins. */
static int index_tokens(const Tokenizer *t, StrTab *tab, size_t *lens, ObErr *err) {
    const char *const *keys = (const char *const *)t->tokens;
    for (int i = 0; i < t->n_vocab; i++) {
        lens[i] = strlen(t->tokens[i]);
        if (is_plain_text_type(t->types[i])) continue;
        uint32_t h = hash_bytes(keys[i], lens[i]);
        if (strtab_find(tab, keys, lens, keys[i], lens[i], h) >= 0) continue;
        if (strtab_add(tab, h, (size_t)i, err) < 0) return -1;
    }
    return 0;
}

static long find_token(const Tokenizer *t, const StrTab *tab, const size_t *lens, const char *s,
                       size_t n) {
    const char *const *keys = (const char *const *)t->tokens;
    return strtab_find(tab, keys, lens, s, n, hash_bytes(s, n));
}

static int find_byte_tokens(const Tokenizer *t, TokImpl *im, const StrTab *tab, const size_t *lens,
                            ObErr *err) {
    for (int b = 0; b < 256; b++) {
        char c = (char)b, *s = bytes_to_unicode(&c, 1, err);
        if (!s) return -1;
        long id = find_token(t, tab, lens, s, strlen(s));
        if (id < 0) {
            ob_errf(err, "byte 0x%02X has no token (expected a normal token '%s')", b, s);
            free(s);
            return -1;
        }
        free(s);
        im->byte_id[b] = (int32_t)id;
    }
    return 0;
}

/* Parses merge r "A B" and records (A, B) -> rank r and its result id. */
static int parse_merge(const Tokenizer *t, TokImpl *im, const StrTab *tab, const size_t *lens,
                       int r, ObErr *err) {
    const char *m = t->merges[r], *sp = strchr(m, ' ');
    if (!sp || sp == m || !sp[1] || strchr(sp + 1, ' ')) {
        return ob_errf(err, "merge %d '%.64s': expected two tokens separated by one space", r, m);
    }
    size_t na = (size_t)(sp - m), nb = strlen(sp + 1);
    long a = find_token(t, tab, lens, m, na), b = find_token(t, tab, lens, sp + 1, nb);
    if (a < 0 || b < 0) {
        const char *bad = a < 0 ? m : sp + 1;
        int nbad = (int)(a < 0 ? na : nb);
        return ob_errf(err, "merge %d '%.64s': unknown token '%.*s'", r, m, nbad, bad);
    }
    char *cat = ob_malloc(na + nb + 1, "merge string", err);
    if (!cat) return -1;
    memcpy(cat, m, na);
    memcpy(cat + na, sp + 1, nb + 1);
    long c = find_token(t, tab, lens, cat, na + nb);
    free(cat);
    if (c < 0)
        return ob_errf(err, "merge %d '%.64s': '%.*s%s' is not a token", r, m, (int)na, m, sp + 1);
    im->merge_result[r] = (int32_t)c;
    return pairmap_put(&im->ranks, pair_key((int32_t)a, (int32_t)b), r, err);
}

static int build_merges(const Tokenizer *t, TokImpl *im, ObErr *err) {
    StrTab tab = {0};
    size_t *lens = ob_calloc((size_t)t->n_vocab, sizeof *lens, "token lengths", err);
    im->merge_result = ob_calloc((size_t)t->n_merges, sizeof *im->merge_result, "merges", err);
    int rc = lens && im->merge_result ? index_tokens(t, &tab, lens, err) : -1;
    if (rc == 0) rc = find_byte_tokens(t, im, &tab, lens, err);
    for (int r = 0; rc == 0 && r < t->n_merges; r++) rc = parse_merge(t, im, &tab, lens, r, err);
    free(tab.slots);
    free(lens);
    return rc;
}

/* Indexes normal tokens by their raw bytes (the first of duplicates wins). */
static int index_raw(const Tokenizer *t, TokImpl *im, ObErr *err) {
    im->raw = ob_calloc((size_t)t->n_vocab, sizeof *im->raw, "token index", err);
    if (!im->raw) return -1;
    for (int i = 0; i < t->n_vocab; i++) im->raw[i] = im->arena + im->off[i];
    for (int i = 0; i < t->n_vocab; i++) {
        if (is_plain_text_type(t->types[i])) continue;
        uint32_t h = hash_bytes(im->raw[i], im->len[i]);
        if (strtab_find(&im->raw_tab, im->raw, im->len, im->raw[i], im->len[i], h) >= 0) continue;
        if (strtab_add(&im->raw_tab, h, (size_t)i, err) < 0) return -1;
    }
    return 0;
}

/* Builds t->impl from t's own token/type/merge arrays. */
static int build_impl(Tokenizer *t, ObErr *err) {
    if (t->eot_id < 0 || t->eot_id >= t->n_vocab) {
        return ob_errf(err, "eot_id %d out of range (n_vocab %d)", t->eot_id, t->n_vocab);
    }
    if (t->types[t->eot_id] != 3) {
        return ob_errf(err, "eot token %d '%.64s' is not a control token (type %d)", t->eot_id,
                       t->tokens[t->eot_id], (int)t->types[t->eot_id]);
    }
    TokImpl *im = ob_calloc(1, sizeof *im, "tokenizer", err);
    if (!im) return -1;
    t->impl = im;
    if (build_token_bytes(t, im, err) < 0) return -1;
    if (t->kind == TOK_SPM) {
        if (!t->scores) return ob_errf(err, "a SentencePiece vocabulary needs scores");
        im->spm = spm_new((const char *const *)t->tokens, t->scores, t->types, t->n_vocab,
                          t->unk_id, err);
        return im->spm ? 0 : -1;
    }
    if (t->pre < 0 || t->pre > 2) return ob_errf(err, "unknown pre-tokenizer %d", t->pre);
    if (build_merges(t, im, err) < 0) return -1;
    for (int i = 0; i < 2 && PRE_STAGES[t->pre][i]; i++)
        if (!(im->re[im->n_re++] = compile_regex(PRE_STAGES[t->pre][i], err))) return -1;
    im->ignore_merges = t->pre == TOK_PRE_LLAMA3;
    return im->ignore_merges ? index_raw(t, im, err) : 0;
}

static char *dup_str(const char *s, ObErr *err) {
    size_t n = strlen(s);
    char *d = ob_malloc(n + 1, "token string", err);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static int copy_arrays(Tokenizer *t, const char *const *tokens, const int32_t *types,
                       const char *const *merges, const float *scores, ObErr *err) {
    if (scores) {
        t->scores = ob_malloc((size_t)t->n_vocab * sizeof *scores, "token scores", err);
        if (!t->scores) return -1;
        memcpy(t->scores, scores, (size_t)t->n_vocab * sizeof *scores);
    }
    t->tokens = ob_calloc((size_t)t->n_vocab, sizeof *t->tokens, "tokens", err);
    t->types = ob_calloc((size_t)t->n_vocab, sizeof *t->types, "token types", err);
    t->merges = ob_calloc((size_t)t->n_merges, sizeof *t->merges, "merges", err);
    if (!t->tokens || !t->types || !t->merges) return -1;
    memcpy(t->types, types, (size_t)t->n_vocab * sizeof *types);
    for (int i = 0; i < t->n_vocab; i++) {
        if (!tokens[i]) return ob_errf(err, "token %d is NULL", i);
        if (!(t->tokens[i] = dup_str(tokens[i], err))) return -1;
    }
    for (int i = 0; i < t->n_merges; i++) {
        if (!merges[i]) return ob_errf(err, "merge %d is NULL", i);
        if (!(t->merges[i] = dup_str(merges[i], err))) return -1;
    }
    return 0;
}

int tok_from_arrays(Tokenizer *t, const char *const *tokens, const int32_t *types, int n_vocab,
                    const char *const *merges, int n_merges, int eot_id, ObErr *err) {
    memset(t, 0, sizeof *t);
    if (n_vocab < 256 || !tokens || !types) {
        return ob_errf(err, "vocabulary needs at least 256 tokens with types (got %d)", n_vocab);
    }
    if (n_merges < 0 || (n_merges > 0 && !merges)) return ob_errf(err, "bad merge list");
    TokSpec s = {.kind = TOK_BPE,
                 .pre = TOK_PRE_GPT2,
                 .n_vocab = n_vocab,
                 .tokens = tokens,
                 .types = types,
                 .merges = merges,
                 .n_merges = n_merges,
                 .bos_id = eot_id,
                 .eos_id = eot_id,
                 .unk_id = -1,
                 .pad_id = eot_id};
    return tok_build(t, &s, err);
}

static int check_id(int id, int n, const char *what, ObErr *err) {
    if (id >= -1 && id < n) return 0;
    return ob_errf(err, "%s token id %d out of range (%d tokens)", what, id, n);
}

TokSpec tok_spec_llama(int n, const char *const *tokens, const float *scores,
                       const int32_t *types) {
    return (TokSpec){.kind = TOK_SPM,
                     .n_vocab = n,
                     .tokens = tokens,
                     .scores = scores,
                     .types = types,
                     .bos_id = 1,
                     .eos_id = 2,
                     .unk_id = 0,
                     .pad_id = -1,
                     .add_bos = 1,
                     .add_space_prefix = 1};
}

int tok_build(Tokenizer *t, const TokSpec *s, ObErr *err) {
    memset(t, 0, sizeof *t);
    int min = s->kind == TOK_SPM ? 1 : 256;
    if (s->n_vocab < min || !s->tokens || !s->types)
        return ob_errf(err, "vocabulary needs at least %d tokens with types (got %d)", min,
                       s->n_vocab);
    if (s->kind != TOK_BPE && s->kind != TOK_SPM) return ob_errf(err, "unknown tokenizer kind");
    if (s->kind == TOK_SPM && !s->scores)
        return ob_errf(err, "a SentencePiece vocabulary needs scores");
    if (s->n_merges < 0 || (s->n_merges > 0 && !s->merges)) return ob_errf(err, "bad merge list");
    if (check_id(s->bos_id, s->n_vocab, "BOS", err) ||
        check_id(s->eos_id, s->n_vocab, "EOS", err) ||
        check_id(s->unk_id, s->n_vocab, "unknown", err) ||
        check_id(s->pad_id, s->n_vocab, "padding", err))
        return -1;
    if (s->bos_id < 0 && s->eos_id < 0) return ob_errf(err, "tokenizer has neither BOS nor EOS");
    t->kind = s->kind;
    t->pre = s->kind == TOK_BPE ? s->pre : 0;
    t->n_vocab = s->n_vocab;
    t->n_merges = s->kind == TOK_BPE ? s->n_merges : 0;
    t->bos_id = s->bos_id, t->eos_id = s->eos_id, t->unk_id = s->unk_id, t->pad_id = s->pad_id;
    t->add_bos = s->add_bos, t->add_eos = s->add_eos, t->add_space_prefix = s->add_space_prefix;
    t->eot_id = s->bos_id >= 0 ? s->bos_id : s->eos_id;
    if (copy_arrays(t, s->tokens, s->types, s->merges, s->kind == TOK_SPM ? s->scores : NULL, err) <
            0 ||
        build_impl(t, err) < 0) {
        tok_free(t);
        return -1;
    }
    return 0;
}

/* ---- encoding -------------------------------------------------------- */

typedef struct {
    const TokImpl *im;
    int32_t *ids;
    size_t n, cap;
} EncBuf;

static int32_t rank_of(const TokImpl *im, int32_t a, int32_t b) {
    return pairmap_get(&im->ranks, pair_key(a, b));
}

static int emit(EncBuf *eb, const int32_t *ids, size_t n, ObErr *err) {
    if (ob_grow(&eb->ids, &eb->cap, eb->n + n, sizeof *eb->ids, 16, "token ids", err)) return -1;
    if (n) memcpy(eb->ids + eb->n, ids, n * sizeof *ids);
    eb->n += n;
    return 0;
}

/* GPT-2's bpe(): merge every occurrence of the lowest-ranked pair, left to
 * right, until no pair has a rank. Quadratic, so only for short pieces. */
static int encode_small(EncBuf *eb, const char *p, size_t n, ObErr *err) {
    const TokImpl *im = eb->im;
    int32_t ids[SMALL_PIECE];
    for (size_t i = 0; i < n; i++) ids[i] = im->byte_id[(unsigned char)p[i]];
    for (;;) {
        int32_t best = -1, a = 0, b = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            int32_t r = rank_of(im, ids[i], ids[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r, a = ids[i], b = ids[i + 1];
        }
        if (best < 0) break;
        size_t j = 0;
        for (size_t i = 0; i < n;) {
            if (i + 1 < n && ids[i] == a && ids[i + 1] == b) {
                ids[j++] = im->merge_result[best];
                i += 2;
            } else {
                ids[j++] = ids[i++];
            }
        }
        n = j;
    }
    return emit(eb, ids, n, err);
}

typedef struct {
    int32_t rank, pos, a, b; /* candidate merge of node pos with its successor */
} Cand;

typedef struct {
    int32_t id, prev, next; /* id -1: merged into its predecessor */
} Node;

static int cand_less(const Cand *x, const Cand *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

OB_HEAP(cand, Cand, cand_less) /* cand_push, cand_pop */

static void push_cand(const TokImpl *im, const Node *nd, Cand *h, size_t *nh, int32_t pos) {
    if (pos < 0 || nd[pos].next < 0) return;
    int32_t a = nd[pos].id, b = nd[nd[pos].next].id, r = rank_of(im, a, b);
    if (r >= 0) cand_push(h, nh, (Cand){r, pos, a, b});
}

/* Same result as encode_small for any well-formed merge list (a merge's
 * inputs exist before it), in O(n log n): lowest (rank, position) first. */
static int encode_large(EncBuf *eb, const char *p, size_t n, ObErr *err) {
    const TokImpl *im = eb->im;
    if (n > INT32_MAX / 3) return ob_errf(err, "piece of %zu bytes is too long to encode", n);
    Node *nd = ob_malloc(n * sizeof *nd, "encode nodes", err);
    Cand *h = ob_malloc(3 * n * sizeof *h, "encode heap", err);
    int32_t *out = ob_malloc(n * sizeof *out, "encode ids", err);
    int rc = nd && h && out ? 0 : -1;
    size_t nh = 0, k = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        nd[i] = (Node){im->byte_id[(unsigned char)p[i]], (int32_t)i - 1, (int32_t)i + 1};
    }
    if (rc == 0) nd[n - 1].next = -1;
    for (size_t i = 0; rc == 0 && i + 1 < n; i++) push_cand(im, nd, h, &nh, (int32_t)i);
    while (rc == 0 && nh) {
        Cand c = cand_pop(h, &nh);
        Node *l = &nd[c.pos];
        if (l->id != c.a || l->next < 0 || nd[l->next].id != c.b) continue; /* stale */
        Node *r = &nd[l->next];
        l->id = im->merge_result[c.rank];
        l->next = r->next;
        if (r->next >= 0) nd[r->next].prev = c.pos;
        r->id = -1;
        push_cand(im, nd, h, &nh, l->prev);
        push_cand(im, nd, h, &nh, c.pos);
    }
    for (int32_t i = 0; rc == 0 && i >= 0; i = nd[i].next) out[k++] = nd[i].id;
    if (rc == 0) rc = emit(eb, out, k, err);
    free(nd);
    free(h);
    free(out);
    return rc;
}

static int encode_piece(void *ctx, const char *p, size_t n, ObErr *err) {
    EncBuf *eb = ctx;
    if (n == 1) return emit(eb, &eb->im->byte_id[(unsigned char)p[0]], 1, err);
    const TokImpl *im = eb->im;
    if (im->ignore_merges) {
        long id = strtab_find(&im->raw_tab, im->raw, im->len, p, n, hash_bytes(p, n));
        if (id >= 0) {
            int32_t one = (int32_t)id;
            return emit(eb, &one, 1, err);
        }
    }
    return n <= SMALL_PIECE ? encode_small(eb, p, n, err) : encode_large(eb, p, n, err);
}

int tok_encode(const Tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
               ObErr *err) {
    *ids = NULL;
    *n = 0;
    if (!t || !t->impl) return ob_errf(err, "tokenizer not initialised");
    EncBuf eb = {t->impl, NULL, 0, len / 4 + 16}; /* a real buffer even for empty text */
    eb.ids = resize(NULL, eb.cap, sizeof *eb.ids, "token ids", err);
    if (!eb.ids) return -1;
    if (t->kind == TOK_SPM) {
        if (spm_encode(t->impl->spm, text, len, t->add_space_prefix, &eb.ids, &eb.n, &eb.cap, err) <
            0) {
            free(eb.ids);
            return -1;
        }
        *ids = eb.ids;
        *n = eb.n;
        return 0;
    }
    if (for_each_piece_n(t->impl->re, t->impl->n_re, text, len, encode_piece, &eb, err) < 0) {
        free(eb.ids);
        return -1;
    }
    *ids = eb.ids;
    *n = eb.n;
    return 0;
}

/* ---- decoding -------------------------------------------------------- */

const char *tok_token_bytes(const Tokenizer *t, int id, size_t *len) {
    if (!t || !t->impl || id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->impl->len[id];
    return t->impl->arena + t->impl->off[id];
}

int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len,
               ObErr *err) {
    *out = NULL;
    *len = 0;
    if (!t || !t->impl) return ob_errf(err, "tokenizer not initialised");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            return ob_errf(err, "token id %d at position %zu out of range (n_vocab %d)",
                           (int)ids[i], i, t->n_vocab);
        }
        total += t->impl->len[ids[i]];
    }
    char *buf = ob_malloc(total + 1, "decoded text", err);
    if (!buf) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + k, t->impl->arena + t->impl->off[ids[i]], t->impl->len[ids[i]]);
        k += t->impl->len[ids[i]];
    }
    buf[k] = 0;
    *out = buf;
    *len = k;
    return 0;
}

/* ---- training -------------------------------------------------------- */

/* Unique pieces of the training text (keys point into the texts). */
typedef struct {
    const char **keys;
    size_t *lens;
    int64_t *counts;
    size_t n, cap, total;
    StrTab tab;
} PieceCount;

static int count_piece(void *ctx, const char *p, size_t n, ObErr *err) {
    PieceCount *pc = ctx;
    uint32_t h = hash_bytes(p, n);
    long i = strtab_find(&pc->tab, pc->keys, pc->lens, p, n, h);
    pc->total++;
    if (i >= 0) {
        pc->counts[i]++;
        return 0;
    }
    if (pc->n == pc->cap) {
        size_t cap = next_cap(pc->cap, pc->n + 1);
        const char **k = resize(pc->keys, cap, sizeof *k, "pieces", err);
        if (k) pc->keys = k;
        size_t *l = k ? resize(pc->lens, cap, sizeof *l, "pieces", err) : NULL;
        if (l) pc->lens = l;
        int64_t *c = l ? resize(pc->counts, cap, sizeof *c, "pieces", err) : NULL;
        if (!c) return -1;
        pc->counts = c;
        pc->cap = cap;
    }
    pc->keys[pc->n] = p;
    pc->lens[pc->n] = n;
    pc->counts[pc->n] = 1;
    return strtab_add(&pc->tab, h, pc->n++, err);
}

typedef struct {
    int32_t a, b;
    int32_t merged;
    int32_t stamp;  /* last merge step that raised count (dirty marker) */
    int64_t count;  /* occurrences weighted by word counts */
    int32_t *words; /* words that may contain the pair (stale entries ok) */
    int32_t n_words, cap_words;
} Pair;

typedef struct {
    int64_t count;
    int32_t a, b, pair;
} HeapEnt;

typedef struct {
    /* words: unique pieces as id arrays, shrinking in place as merges apply */
    int32_t *ids, *wlen, *wstamp;
    size_t *woff;
    int64_t *wcount;
    int32_t n_words;
    /* pair statistics */
    Pair *pairs;
    size_t n_pairs, cap_pairs;
    PairMap pair_ix;
    HeapEnt *heap;
    size_t n_heap, cap_heap;
    int32_t *dirty;
    size_t n_dirty, cap_dirty;
    int32_t step;
    /* tokens and merges produced */
    char **tok;
    size_t *tok_len;
    size_t n_tok, cap_tok;
    StrTab tok_ix;
    int32_t *merge_ab; /* 2 per merge */
    size_t n_merges, cap_merges;
} Trainer;

static void trainer_free(Trainer *tr) {
    free(tr->ids);
    free(tr->wlen);
    free(tr->wstamp);
    free(tr->woff);
    free(tr->wcount);
    for (size_t i = 0; i < tr->n_pairs; i++) free(tr->pairs[i].words);
    free(tr->pairs);
    free(tr->pair_ix.slots);
    free(tr->heap);
    free(tr->dirty);
    for (size_t i = 0; i < tr->n_tok; i++) free(tr->tok[i]);
    free(tr->tok);
    free(tr->tok_len);
    free(tr->tok_ix.slots);
    free(tr->merge_ab);
}

static int heap_before(const HeapEnt *x, const HeapEnt *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static void heap_sift_up(HeapEnt *h, size_t i) {
    HeapEnt e = h[i];
    while (i > 0 && heap_before(&e, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static void heap_pop(Trainer *tr) {
    HeapEnt *h = tr->heap, last = h[--tr->n_heap];
    size_t n = tr->n_heap, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(&h[c + 1], &h[c])) c++;
        if (!heap_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = last;
}

static int heap_push(Trainer *tr, int32_t pi, ObErr *err) {
    if (ob_grow(&tr->heap, &tr->cap_heap, tr->n_heap + 1, sizeof *tr->heap, 16, "pair heap", err))
        return -1;
    const Pair *p = &tr->pairs[pi];
    tr->heap[tr->n_heap] = (HeapEnt){p->count, p->a, p->b, pi};
    heap_sift_up(tr->heap, tr->n_heap++);
    return 0;
}

/* Pops the most frequent live pair (ties: smallest a, then b) with count
 * >= 2. Entries whose count went stale are dropped, or re-pushed with the
 * lower current count (a raised count always got its own entry). */
static int32_t heap_best(Trainer *tr) {
    while (tr->n_heap) {
        HeapEnt top = tr->heap[0];
        heap_pop(tr);
        const Pair *p = &tr->pairs[top.pair];
        if (p->merged || p->count < 2 || p->count > top.count) continue;
        if (p->count == top.count) return top.pair;
        tr->heap[tr->n_heap] = (HeapEnt){p->count, p->a, p->b, top.pair}; /* fits: just popped */
        heap_sift_up(tr->heap, tr->n_heap++);
    }
    return -1;
}

static int32_t pair_get_or_add(Trainer *tr, int32_t a, int32_t b, ObErr *err) {
    uint64_t key = pair_key(a, b);
    int32_t pi = pairmap_get(&tr->pair_ix, key);
    if (pi >= 0) return pi;
    if (tr->n_pairs >= INT32_MAX) return ob_errf(err, "too many distinct pairs");
    if (ob_grow(&tr->pairs, &tr->cap_pairs, tr->n_pairs + 1, sizeof *tr->pairs, 16, "pairs", err))
        return -1;
    pi = (int32_t)tr->n_pairs++;
    tr->pairs[pi] = (Pair){a, b, 0, -1, 0, NULL, 0, 0};
    return pairmap_put(&tr->pair_ix, key, pi, err) < 0 ? -1 : pi;
}

static int append_i32(int32_t **arr, int32_t *n, int32_t *cap, int32_t v, ObErr *err) {
    if (*n == *cap) {
        if (*cap > INT32_MAX / 2) return ob_errf(err, "pair word list too long");
        int32_t nc = *cap ? 2 * *cap : 4;
        int32_t *p = resize(*arr, (size_t)nc, sizeof *p, "pair word list", err);
        if (!p) return -1;
        *arr = p;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

static int mark_dirty(Trainer *tr, int32_t pi, ObErr *err) {
    tr->pairs[pi].stamp = tr->step;
    if (ob_grow(&tr->dirty, &tr->cap_dirty, tr->n_dirty + 1, sizeof *tr->dirty, 16, "dirty pairs",
                err))
        return -1;
    tr->dirty[tr->n_dirty++] = pi;
    return 0;
}

/* Adds delta occurrences of (a, b); a rise also records word w and marks
 * the pair for a heap push at the end of the step. */
static int add_pair(Trainer *tr, int32_t a, int32_t b, int64_t delta, int32_t w, ObErr *err) {
    if (delta < 0) {
        int32_t pi = pairmap_get(&tr->pair_ix, pair_key(a, b));
        if (pi >= 0) tr->pairs[pi].count += delta;
        return 0;
    }
    int32_t pi = pair_get_or_add(tr, a, b, err);
    if (pi < 0) return -1;
    Pair *p = &tr->pairs[pi];
    p->count += delta;
    if ((p->n_words == 0 || p->words[p->n_words - 1] != w) &&
        append_i32(&p->words, &p->n_words, &p->cap_words, w, err) < 0) {
        return -1;
    }
    return p->stamp == tr->step ? 0 : mark_dirty(tr, pi, err);
}

static int flush_dirty(Trainer *tr, ObErr *err) {
    for (size_t i = 0; i < tr->n_dirty; i++) {
        const Pair *p = &tr->pairs[tr->dirty[i]];
        if (!p->merged && p->count >= 2 && heap_push(tr, tr->dirty[i], err) < 0) return -1;
    }
    tr->n_dirty = 0;
    return 0;
}

/* Replaces (a, b) by c in word w, left to right without overlap, and
 * adjusts the counts of the neighbouring pairs each replacement changes. */
static int merge_word(Trainer *tr, int32_t w, int32_t a, int32_t b, int32_t c, ObErr *err) {
    int32_t *ids = tr->ids + tr->woff[w];
    int32_t n = tr->wlen[w], j = 0;
    int64_t f = tr->wcount[w];
    int rc = 0;
    for (int32_t i = 0; i < n && rc == 0;) {
        if (i + 1 < n && ids[i] == a && ids[i + 1] == b) {
            if (j > 0) { /* decrements never fail: they only touch known pairs */
                add_pair(tr, ids[j - 1], a, -f, w, err);
                rc = add_pair(tr, ids[j - 1], c, f, w, err);
            }
            if (i + 2 < n && rc == 0) {
                add_pair(tr, b, ids[i + 2], -f, w, err);
                rc = add_pair(tr, c, ids[i + 2], f, w, err);
            }
            ids[j++] = c;
            i += 2;
        } else {
            ids[j++] = ids[i++];
        }
    }
    tr->wlen[w] = j;
    return rc;
}

/* Id of the token for bytes(a) + bytes(b): a new one, or the existing one
 * when another merge path already spelled the same bytes. */
static int32_t make_token(Trainer *tr, int32_t a, int32_t b, ObErr *err) {
    size_t na = tr->tok_len[a], nb = tr->tok_len[b];
    char *s = ob_malloc(na + nb, "token bytes", err);
    if (!s) return -1;
    memcpy(s, tr->tok[a], na);
    memcpy(s + na, tr->tok[b], nb);
    uint32_t h = hash_bytes(s, na + nb);
    long id = strtab_find(&tr->tok_ix, (const char *const *)tr->tok, tr->tok_len, s, na + nb, h);
    if (id >= 0) {
        free(s);
        return (int32_t)id;
    }
    if (tr->n_tok == tr->cap_tok) {
        size_t cap = next_cap(tr->cap_tok, tr->n_tok + 1);
        char **t = resize(tr->tok, cap, sizeof *t, "tokens", err);
        if (t) tr->tok = t;
        size_t *l = t ? resize(tr->tok_len, cap, sizeof *l, "tokens", err) : NULL;
        if (!l) {
            free(s);
            return -1;
        }
        tr->tok_len = l;
        tr->cap_tok = cap;
    }
    tr->tok[tr->n_tok] = s;
    tr->tok_len[tr->n_tok++] = na + nb;
    if (strtab_add(&tr->tok_ix, h, tr->n_tok - 1, err) < 0) return -1;
    return (int32_t)tr->n_tok - 1;
}

static int record_merge(Trainer *tr, int32_t a, int32_t b, ObErr *err) {
    /* two ids (a, b) a merge */
    if (ob_grow(&tr->merge_ab, &tr->cap_merges, tr->n_merges + 1, 2 * sizeof *tr->merge_ab, 16,
                "merges", err))
        return -1;
    tr->merge_ab[2 * tr->n_merges] = a;
    tr->merge_ab[2 * tr->n_merges + 1] = b;
    tr->n_merges++;
    return 0;
}

static int apply_merge(Trainer *tr, int32_t pi, ObErr *err) {
    Pair *p = &tr->pairs[pi];
    int32_t a = p->a, b = p->b, *words = p->words, n_words = p->n_words;
    p->merged = 1;
    p->words = NULL; /* detached: tr->pairs may move while we add pairs */
    p->n_words = p->cap_words = 0;
    int32_t c = make_token(tr, a, b, err);
    int rc = c < 0 ? -1 : record_merge(tr, a, b, err);
    tr->step++;
    for (int32_t i = 0; rc == 0 && i < n_words; i++) {
        int32_t w = words[i];
        if (tr->wstamp[w] == tr->step) continue;
        tr->wstamp[w] = tr->step;
        rc = merge_word(tr, w, a, b, c, err);
    }
    free(words);
    return rc == 0 ? flush_dirty(tr, err) : -1;
}

/* Words from the unique pieces of two or more bytes (one byte has no
 * pairs to merge). */
static int build_words(Trainer *tr, const PieceCount *pc, ObErr *err) {
    size_t n = 0, total = 0;
    for (size_t i = 0; i < pc->n; i++) {
        if (pc->lens[i] > 1) n++, total += pc->lens[i];
    }
    if (n > INT32_MAX || total > ((size_t)1 << 40)) return ob_errf(err, "training text too large");
    tr->ids = ob_malloc(total * sizeof *tr->ids, "training words", err);
    tr->woff = ob_malloc(n * sizeof *tr->woff, "training words", err);
    tr->wlen = ob_malloc(n * sizeof *tr->wlen, "training words", err);
    tr->wstamp = ob_calloc(n, sizeof *tr->wstamp, "training words", err);
    tr->wcount = ob_malloc(n * sizeof *tr->wcount, "training words", err);
    if (!tr->ids || !tr->woff || !tr->wlen || !tr->wstamp || !tr->wcount) return -1;
    size_t pos = 0;
    for (size_t i = 0; i < pc->n; i++) {
        if (pc->lens[i] < 2) continue;
        if (pc->lens[i] > INT32_MAX) return ob_errf(err, "training piece too long");
        int32_t w = tr->n_words++;
        tr->woff[w] = pos;
        tr->wlen[w] = (int32_t)pc->lens[i];
        tr->wcount[w] = pc->counts[i];
        for (size_t k = 0; k < pc->lens[i]; k++) tr->ids[pos++] = (unsigned char)pc->keys[i][k];
    }
    return 0;
}

static int add_byte_tokens(Trainer *tr, ObErr *err) {
    tr->tok = ob_calloc(256, sizeof *tr->tok, "tokens", err);
    tr->tok_len = ob_calloc(256, sizeof *tr->tok_len, "tokens", err);
    if (!tr->tok || !tr->tok_len) return -1;
    tr->cap_tok = 256;
    for (int b = 0; b < 256; b++) {
        if (!(tr->tok[b] = ob_malloc(1, "token bytes", err))) return -1;
        tr->tok[b][0] = (char)b;
        tr->tok_len[b] = 1;
        tr->n_tok++;
        if (strtab_add(&tr->tok_ix, hash_bytes(tr->tok[b], 1), (size_t)b, err) < 0) return -1;
    }
    return 0;
}

static int count_initial_pairs(Trainer *tr, ObErr *err) {
    for (int32_t w = 0; w < tr->n_words; w++) {
        const int32_t *ids = tr->ids + tr->woff[w];
        for (int32_t i = 0; i + 1 < tr->wlen[w]; i++) {
            if (add_pair(tr, ids[i], ids[i + 1], tr->wcount[w], w, err) < 0) return -1;
        }
    }
    return flush_dirty(tr, err);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Merges until n_tok normal tokens exist or no pair occurs twice. */
static int run_merges(Trainer *tr, size_t n_tok, int verbose, ObErr *err) {
    size_t want = n_tok - 256, every = want / 10 ? want / 10 : 1;
    while (tr->n_tok < n_tok) {
        int32_t pi = tr->n_heap ? heap_best(tr) : -1;
        if (pi < 0) break;
        int64_t count = tr->pairs[pi].count;
        if (apply_merge(tr, pi, err) < 0) return -1;
        if (verbose && tr->n_merges % every == 0) {
            ob_logf("tokenizer: merge %zu/%zu, pair count %lld\n", tr->n_merges, want,
                    (long long)count);
        }
    }
    return 0;
}

static char *merge_string(const char *a, const char *b, ObErr *err) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = ob_malloc(na + nb + 2, "merge string", err);
    if (!s) return NULL;
    memcpy(s, a, na);
    s[na] = ' ';
    memcpy(s + na + 1, b, nb + 1);
    return s;
}

/* Fills t's arrays from the trainer: the tokens, then <|endoftext|>. */
static int export_arrays(Tokenizer *t, const Trainer *tr, ObErr *err) {
    t->n_vocab = (int)tr->n_tok + 1;
    t->n_merges = (int)tr->n_merges;
    t->eot_id = (int)tr->n_tok;
    t->tokens = ob_calloc((size_t)t->n_vocab, sizeof *t->tokens, "tokens", err);
    t->types = ob_calloc((size_t)t->n_vocab, sizeof *t->types, "token types", err);
    t->merges = ob_calloc(tr->n_merges, sizeof *t->merges, "merges", err);
    if (!t->tokens || !t->types || !t->merges) return -1;
    for (size_t i = 0; i < tr->n_tok; i++) {
        t->types[i] = 1;
        if (!(t->tokens[i] = bytes_to_unicode(tr->tok[i], tr->tok_len[i], err))) return -1;
    }
    t->types[t->eot_id] = 3;
    if (!(t->tokens[t->eot_id] = dup_str(EOT_TEXT, err))) return -1;
    for (size_t i = 0; i < tr->n_merges; i++) {
        const char *a = t->tokens[tr->merge_ab[2 * i]], *b = t->tokens[tr->merge_ab[2 * i + 1]];
        if (!(t->merges[i] = merge_string(a, b, err))) return -1;
    }
    return 0;
}

static int count_all_pieces(PieceCount *pc, const char *const *texts, const size_t *lens,
                            int n_texts, ObErr *err) {
    pcre2_code *re = compile_regex(GPT2_PATTERN, err);
    if (!re) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n_texts; i++) {
        rc = for_each_piece(re, texts[i], lens[i], count_piece, pc, err);
    }
    pcre2_code_free(re);
    if (rc == 0 && pc->total == 0) rc = ob_errf(err, "no training text");
    return rc;
}

static int train(Tokenizer *t, const PieceCount *pc, int vocab_size, int verbose, ObErr *err) {
    Trainer tr = {0};
    int rc = build_words(&tr, pc, err);
    if (rc == 0) rc = add_byte_tokens(&tr, err);
    if (rc == 0) rc = count_initial_pairs(&tr, err);
    if (rc == 0) rc = run_merges(&tr, (size_t)vocab_size - 1, verbose, err);
    if (rc == 0) rc = export_arrays(t, &tr, err);
    if (rc == 0) {
        t->bos_id = t->eos_id = t->pad_id = t->eot_id;
        t->unk_id = -1;
    }
    trainer_free(&tr);
    return rc;
}

/* vocab_size counts <|endoftext|>. Training stops early, with a smaller
 * n_vocab, once no pair of tokens occurs twice in the text. */
int tok_train_texts(Tokenizer *t, const char *const *texts, const size_t *lens, int n_texts,
                    int vocab_size, int verbose, ObErr *err) {
    memset(t, 0, sizeof *t);
    if (vocab_size < 257) {
        return ob_errf(err, "vocab_size %d is below 257 (256 bytes + <|endoftext|>)", vocab_size);
    }
    double t0 = now_s();
    PieceCount pc = {0};
    int rc = count_all_pieces(&pc, texts, lens, n_texts, err);
    if (rc == 0 && verbose) {
        ob_logf("tokenizer: %zu pieces, %zu unique, %.2f s\n", pc.total, pc.n, now_s() - t0);
    }
    if (rc == 0) rc = train(t, &pc, vocab_size, verbose, err);
    if (rc == 0) rc = build_impl(t, err);
    free(pc.keys);
    free(pc.lens);
    free(pc.counts);
    free(pc.tab.slots);
    if (rc < 0) {
        tok_free(t);
        return -1;
    }
    if (verbose) {
        ob_logf("tokenizer: %d merges, vocab %d, %.2f s\n", t->n_merges, t->n_vocab, now_s() - t0);
    }
    return 0;
}

int tok_train_files(Tokenizer *t, const char *const *paths, int n_paths, int vocab_size,
                    int verbose, ObErr *err) {
    memset(t, 0, sizeof *t);
    if (n_paths <= 0) return ob_errf(err, "no training text");
    char **texts = ob_calloc((size_t)n_paths, sizeof *texts, "training texts", err);
    size_t *lens = ob_calloc((size_t)n_paths, sizeof *lens, "training texts", err);
    int rc = texts && lens ? 0 : -1;
    for (int i = 0; rc == 0 && i < n_paths; i++) {
        rc = ob_read_file(paths[i], &texts[i], &lens[i], err);
    }
    if (rc == 0) {
        rc =
            tok_train_texts(t, (const char *const *)texts, lens, n_paths, vocab_size, verbose, err);
    }
    for (int i = 0; texts && i < n_paths; i++) free(texts[i]);
    free(texts);
    free(lens);
    return rc;
}

uint64_t tok_vocab_hash(const Tokenizer *t) {
    uint64_t h = OB_FNV_OFFSET;
    int32_t counts[2] = {t->n_vocab, t->n_merges};
    h = ob_fnv1a(h, counts, sizeof counts);
    for (int i = 0; i < t->n_vocab; i++) {
        h = ob_fnv1a(h, t->tokens[i], strlen(t->tokens[i]) + 1);
        h = ob_fnv1a(h, &t->types[i], sizeof t->types[i]);
    }
    for (int i = 0; i < t->n_merges; i++) h = ob_fnv1a(h, t->merges[i], strlen(t->merges[i]) + 1);
    if (t->kind != TOK_BPE || t->pre != TOK_PRE_GPT2) { /* older files keep their hash */
        int32_t kp[3] = {t->kind, t->pre, t->add_space_prefix};
        h = ob_fnv1a(h, kp, sizeof kp);
        if (t->scores) h = ob_fnv1a(h, t->scores, (size_t)t->n_vocab * sizeof *t->scores);
    }
    return h;
}

int tok_encode_pair(const Tokenizer *t, const char *prompt, size_t lp, const char *cont, size_t lc,
                    int32_t **ids, int *n_prompt, int *n, ObErr *err) {
    int32_t *a = NULL, *c = NULL;
    size_t na = 0, nc = 0;
    *ids = NULL;
    int rc = tok_encode(t, prompt, lp, &a, &na, err) || tok_encode(t, cont, lc, &c, &nc, err);
    if (!rc && nc == 0) rc = ob_errf(err, "empty continuation");
    if (!rc && na + nc >= (size_t)INT32_MAX / 2) rc = ob_errf(err, "prompt too long");
    if (!rc && !(*ids = ob_malloc(sizeof(int32_t) * (na + nc + 1), "tokens", err))) rc = -1;
    if (!rc) {
        (*ids)[0] = t->eot_id;
        memcpy(*ids + 1, a, sizeof(int32_t) * na);
        memcpy(*ids + 1 + na, c, sizeof(int32_t) * nc);
        *n_prompt = (int)na + 1, *n = (int)(na + nc + 1);
    }
    free(a), free(c);
    return rc ? -1 : 0;
}
