/* Replacement names: the first-name lists read from files, the pools of
 * names and fallback words drawn from, and the seeded draws. */
#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"
#include "util/hash.h"
#include "util/rng.h"

int ex_ascii_name(const char *s) {
    size_t n = strlen(s);
    if (n < 3 || !is_upper((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_lower((unsigned char)s[i])) return 0;
    return 1;
}

static int lower_word(const char *s) {
    size_t n = strlen(s);
    if (n < 4) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower((unsigned char)s[i])) return 0;
    return 1;
}

typedef struct {
    const char *s;
    long g;
    int order;
} PoolEnt;

static int cmp_pool(const void *a, const void *b) {
    const PoolEnt *x = a, *y = b;
    if (x->g != y->g) return x->g > y->g ? -1 : 1;
    return x->order - y->order;
}

long ex_g_count(const Ctx *x, const char *word, int cap) {
    char fold[MAX_WORD + 1];
    if (strlen(word) > MAX_WORD) return 0;
    ex_norm_word(word, strlen(word), 1, fold);
    int32_t e = ex_word_find(&x->t, fold);
    return e < 0 ? 0 : x->t.w[e].cnt[1][cap ? 0 : 1];
}

/* Does the word occur in T, in any case? */
static int in_target(const Ctx *x, const char *word) {
    char fold[MAX_WORD + 1];
    if (strlen(word) > MAX_WORD) return 0;
    ex_norm_word(word, strlen(word), 1, fold);
    int32_t e = ex_word_find(&x->t, fold);
    return e >= 0 && (x->t.w[e].cnt[0][0] || x->t.w[e].cnt[0][1]);
}

/* Sorts e (most frequent in G first), keeps at most max of them (only
 * those seen POOL_MIN_G times in G when there are POOL_ENOUGH such) and
 * copies them into p. Frees e. */
static int pool_fill(Pool *p, PoolEnt *e, int k, int max, ObErr *err) {
    qsort(e, (size_t)k, sizeof *e, cmp_pool);
    int common = 0;
    while (common < k && e[common].g >= POOL_MIN_G) common++;
    if (common >= POOL_ENOUGH) k = common;
    if (k > max) k = max;
    p->s = ob_calloc((size_t)(k ? k : 1), sizeof *p->s, "names", err);
    p->used = ob_calloc((size_t)(k ? k : 1), 1, "names", err);
    int rc = p->s && p->used ? 0 : -1;
    for (int i = 0; !rc && i < k; i++, p->n++)
        if (!(p->s[i] = strdup(e[i].s))) rc = ob_errf(err, "out of memory");
    free(e);
    return rc;
}

/* Is the name in both first-name lists? */
static int both_lists(const Ctx *x, const char *name) {
    char fold[MAX_WORD + 1];
    if (strlen(name) > MAX_WORD) return 0;
    ex_norm_word(name, strlen(name), 1, fold);
    int32_t e = ex_word_find(&x->t, fold);
    return e >= 0 && (x->t.w[e].flags & (F_FEMALE | F_MALE)) == (F_FEMALE | F_MALE);
}

/* Names of a list that do not occur in T (nor in both first-name lists),
 * the most frequent in G first (list order among equals), at most
 * POOL_MAX. */
int ex_build_pool(Ctx *x, Pool *p, const char *const *names, int n, ObErr *err) {
    PoolEnt *e = ob_malloc((size_t)(n ? n : 1) * sizeof *e, "names", err);
    if (!e) return -1;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (ex_ascii_name(names[i]) && !in_target(x, names[i]) && !both_lists(x, names[i]))
            e[k] = (PoolEnt){names[i], ex_g_count(x, names[i], 1), i}, k++;
    return pool_fill(p, e, k, POOL_MAX, err);
}

/* Fallback values: [1] generic place names not in T; [0] the lower-case
 * words most frequent in G that T does not use. */
int ex_build_fallback(Ctx *x, ObErr *err) {
    int np = 0;
    while (ex_place_name_list[np]) np++;
    if (ex_build_pool(x, &x->fallback[1], ex_place_name_list, np, err)) return -1;
    PoolEnt *e = ob_malloc((size_t)(x->t.n ? x->t.n : 1) * sizeof *e, "words", err);
    if (!e) return -1;
    int k = 0;
    for (int32_t i = 0; i < x->t.n; i++) {
        const WordEnt *w = &x->t.w[i];
        if ((w->flags & (F_STOP | F_FEMALE | F_MALE | F_ST)) || w->title || w->cnt[0][0] ||
            w->cnt[0][1])
            continue;
        if (lower_word(w->fold) && w->cnt[1][1] > w->cnt[1][0])
            e[k++] = (PoolEnt){w->fold, w->cnt[1][1], (int)i};
    }
    return pool_fill(&x->fallback[0], e, k, FALLBACK_POOL, err);
}

void ex_pool_free(Pool *p) {
    for (int i = 0; i < p->n; i++) free(p->s[i]);
    free(p->s);
    free(p->used);
    memset(p, 0, sizeof *p);
}

/* Draws up to n distinct entries for `what` (seeded by seed and what); when
 * `exclusive`, prefers entries no earlier exclusive draw took. out[i] point
 * into the pool; returns how many. */
int ex_pool_draw(Pool *p, uint64_t seed, const char *what, int n, int exclusive, const char **out) {
    ObRng r;
    /* The offset these draws have always been seeded with: a digit short of
     * FNV's own (14695981039346656037), kept so dictionaries stay the same. */
    ob_rng_seed(&r, seed ^ ob_fnv1a(1469598103934665603ULL, what, strlen(what)));
    int got = 0;
    int *pick = malloc((size_t)(n ? n : 1) * sizeof *pick);
    if (!pick) return 0;
    for (int tries = 0; got < n && got < p->n && tries < 8 * p->n + 64; tries++) {
        int k = (int)ob_rng_below(&r, (uint64_t)p->n), dup = 0;
        for (int j = 0; j < got; j++) dup |= pick[j] == k;
        if (dup || (exclusive && p->used[k])) continue;
        pick[got++] = k;
    }
    for (int tries = 0; got < n && got < p->n && tries < 8 * p->n + 64; tries++) {
        int k = (int)ob_rng_below(&r, (uint64_t)p->n), dup = 0; /* all taken: any */
        for (int j = 0; j < got; j++) dup |= pick[j] == k;
        if (!dup) pick[got++] = k;
    }
    for (int j = 0; j < got; j++) p->used[pick[j]] |= exclusive, out[j] = p->s[pick[j]];
    free(pick);
    return got;
}

/* The replacements of one word of a person's name, drawn once. */
char **ex_word_map(Ctx *x, int32_t ent, ObErr *err) {
    WordEnt *e = &x->t.w[ent];
    int nv = x->c->n_values;
    if (e->map) return e->map;
    e->map = ob_calloc((size_t)nv, sizeof *e->map, "names", err);
    if (!e->map) return NULL;
    const char *got[64];
    int n = 0;
    if (e->flags & F_ST) {
        for (int i = 0; i < nv; i++) got[i] = "St.";
        n = nv;
    } else {
        int first = ex_first_name_role(e);
        e->map_role = first ? 1 + ex_word_gender(e) : 0;
        Pool *p = &x->pool[first ? (ex_word_gender(e) ? 0 : 1) : 2];
        n = ex_pool_draw(p, x->c->seed, e->fold, nv, 1, got);
    }
    for (int i = 0; i < nv; i++) {
        const char *s = n ? got[i < n ? i : i % n] : "Smith";
        if (!(e->map[i] = strdup(s))) return ob_errf(err, "out of memory"), NULL;
    }
    return e->map;
}

int extract_names_parse(NameList *l, const char *text, size_t len, ObErr *err) {
    memset(l, 0, sizeof *l);
    size_t cap = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, s = i;
        i = e + 1;
        while (s < e && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r')) s++;
        size_t f = e;
        while (f > s && (text[f - 1] == ' ' || text[f - 1] == '\t' || text[f - 1] == '\r')) f--;
        if (f == s) continue;
        if (ob_grow(&l->names, &cap, (size_t)l->n + 1, sizeof *l->names, 256, "names", err))
            return extract_names_free(l), -1;
        char *s1 = malloc(f - s + 1);
        if (!s1) return extract_names_free(l), ob_errf(err, "out of memory for names");
        memcpy(s1, text + s, f - s);
        s1[f - s] = 0;
        l->names[l->n++] = s1;
    }
    if (!l->n) return ob_errf(err, "no names");
    return 0;
}

void extract_names_free(NameList *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}
