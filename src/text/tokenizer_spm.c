/* SentencePiece-style BPE: merge by score (see tokenizer_spm.h).
 *
 * Symbols are a doubly linked list over the escaped text; candidate merges
 * wait in a max-heap ordered by (score, leftmost position). A popped
 * candidate is stale when either side has since been merged away or grown,
 * which its recorded byte length detects. O(n log n) per text. */
#include "text/tokenizer_spm.h"
#include "util/hash.h"
#include "util/heap.h"

#include <stdlib.h>
#include <string.h>

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK */

struct SpmVocab {
    const char *const *tokens;
    const float *scores;
    size_t *lens;
    uint32_t *slots; /* open addressing: id + 1, 0 = empty */
    size_t mask;
    int n, unk_id;
    int32_t byte_id[256];
};

static uint32_t hash(const char *s, size_t n) {
    return ob_hash32(s, n);
}

int spm_find(const SpmVocab *v, const char *s, size_t n) {
    for (size_t i = hash(s, n) & v->mask;; i = (i + 1) & v->mask) {
        uint32_t id = v->slots[i];
        if (!id) return -1;
        id--;
        if (v->lens[id] == n && !memcmp(v->tokens[id], s, n)) return (int)id;
    }
}

int spm_byte_id(const SpmVocab *v, int b) {
    return b >= 0 && b < 256 ? v->byte_id[b] : -1;
}

/* "<0xAB>" -> 0xAB, else -1. */
static int byte_token(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    if (strlen(s) != 6 || strncmp(s, "<0x", 3) || s[5] != '>') return -1;
    const char *a = strchr(hex, s[3]), *b = strchr(hex, s[4]);
    return a && b && s[3] && s[4] ? (int)((a - hex) * 16 + (b - hex)) : -1;
}

SpmVocab *spm_new(const char *const *tokens, const float *scores, const int32_t *types, int n,
                  int unk_id, ObErr *err) {
    SpmVocab *v = ob_calloc(1, sizeof *v, "tokenizer", err);
    if (!v) return NULL;
    size_t cap = 1024;
    while (cap < 2 * (size_t)n) cap *= 2;
    v->tokens = tokens;
    v->scores = scores;
    v->n = n;
    v->unk_id = unk_id;
    v->mask = cap - 1;
    v->lens = ob_malloc((size_t)n * sizeof *v->lens, "token lengths", err);
    v->slots = ob_calloc(cap, sizeof *v->slots, "token table", err);
    if (!v->lens || !v->slots) return spm_free(v), NULL;
    for (int b = 0; b < 256; b++) v->byte_id[b] = -1;
    for (int id = 0; id < n; id++) {
        v->lens[id] = strlen(tokens[id]);
        int b = types[id] == 6 ? byte_token(tokens[id]) : -1;
        if (b >= 0 && v->byte_id[b] < 0) v->byte_id[b] = id;
        if (spm_find(v, tokens[id], v->lens[id]) >= 0) continue; /* the first wins */
        size_t i = hash(tokens[id], v->lens[id]) & v->mask;
        while (v->slots[i]) i = (i + 1) & v->mask;
        v->slots[i] = (uint32_t)id + 1;
    }
    return v;
}

void spm_free(SpmVocab *v) {
    if (!v) return;
    free(v->lens);
    free(v->slots);
    free(v);
}

typedef struct {
    size_t off, n;  /* bytes of the escaped text; n = 0: merged away */
    int prev, next; /* -1 at the ends */
} Sym;

typedef struct {
    float score;
    int left, right;
    size_t size; /* bytes of the merged text when the candidate was made */
} Bigram;

/* Heap order: higher score first, then the leftmost. */
static int before(const Bigram *a, const Bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

OB_HEAP(heap, Bigram, before) /* heap_push, heap_pop */

typedef struct {
    const SpmVocab *v;
    const char *s; /* escaped text */
    Sym *sym;
    Bigram *heap;
    size_t n_heap;
} Work;

static void try_bigram(Work *w, int left, int right) {
    if (left < 0 || right < 0) return;
    size_t size = w->sym[left].n + w->sym[right].n;
    int id = spm_find(w->v, w->s + w->sym[left].off, size);
    if (id < 0) return;
    heap_push(w->heap, &w->n_heap, (Bigram){w->v->scores[id], left, right, size});
}

static int push_id(int32_t **ids, size_t *n, size_t *cap, int32_t id, ObErr *err) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        int32_t *p = realloc(*ids, c * sizeof *p);
        if (!p) return ob_errf(err, "out of memory for token ids");
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

/* Bytes of the UTF-8 character starting with byte c (1 for a stray byte). */
static size_t char_len(unsigned char c) {
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
}

/* Text with an optional leading space and every space as "▁". */
static char *escape(const char *text, size_t len, int prefix, size_t *out_len, ObErr *err) {
    size_t spaces = prefix;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    char *s = ob_malloc(len + 2 * spaces + 1, "escaped text", err);
    if (!s) return NULL;
    size_t k = 0;
    if (prefix) memcpy(s, SPACE_MARK, 3), k = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            memcpy(s + k, SPACE_MARK, 3), k += 3;
        else
            s[k++] = text[i];
    }
    *out_len = k;
    return s;
}

static int emit_symbol(const Work *w, const Sym *y, int32_t **ids, size_t *n, size_t *cap,
                       ObErr *err) {
    int id = spm_find(w->v, w->s + y->off, y->n);
    if (id >= 0) return push_id(ids, n, cap, id, err);
    for (size_t i = 0; i < y->n; i++) { /* byte fallback */
        int b = w->v->byte_id[(unsigned char)w->s[y->off + i]];
        if (b < 0 && w->v->unk_id < 0)
            return ob_errf(err, "cannot encode byte 0x%02X: no byte token and no unknown token",
                           (unsigned char)w->s[y->off + i]);
        if (push_id(ids, n, cap, b >= 0 ? b : w->v->unk_id, err)) return -1;
        if (b < 0) break; /* one unknown token for the whole character */
    }
    return 0;
}

int spm_encode(const SpmVocab *v, const char *text, size_t len, int add_space_prefix, int32_t **ids,
               size_t *n, size_t *cap, ObErr *err) {
    if (len == 0) return 0;
    size_t slen;
    Work w = {.v = v};
    char *s = escape(text, len, add_space_prefix, &slen, err);
    if (!s) return -1;
    if (slen > (size_t)1 << 30) return free(s), ob_errf(err, "text of %zu bytes too long", len);
    w.s = s;
    w.sym = ob_malloc(slen * sizeof *w.sym, "symbols", err);
    w.heap = ob_malloc(3 * slen * sizeof *w.heap, "merge queue", err);
    int rc = w.sym && w.heap ? 0 : -1, n_sym = 0;
    for (size_t off = 0; !rc && off < slen; n_sym++) {
        size_t k = char_len((unsigned char)s[off]);
        if (k > slen - off) k = slen - off;
        w.sym[n_sym] = (Sym){off, k, n_sym - 1, off + k == slen ? -1 : n_sym + 1};
        off += k;
    }
    for (int i = 1; !rc && i < n_sym; i++) try_bigram(&w, i - 1, i);
    while (!rc && w.n_heap) {
        Bigram b = heap_pop(w.heap, &w.n_heap);
        Sym *l = &w.sym[b.left], *r = &w.sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w.sym[r->next].prev = b.left;
        try_bigram(&w, l->prev, b.left);
        try_bigram(&w, b.left, l->next);
    }
    for (int i = 0; !rc && i >= 0; i = w.sym[i].next)
        rc = emit_symbol(&w, &w.sym[i], ids, n, cap, err);
    free(w.sym);
    free(w.heap);
    free(s);
    return rc;
}
