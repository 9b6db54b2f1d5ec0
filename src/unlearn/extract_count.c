/* Counting: each word's occurrences in T and G by case and position, the
 * runs of capitalised words in T (the evidence about people, the multi-word
 * names) and every occurrence of those names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"

static const char *text_of(const Ctx *x, int32_t file) {
    return x->in->target[file].data;
}

static char *word_surface(const Ctx *x, const Word *w, char *buf) {
    ex_norm_word(text_of(x, w->file) + w->start, w->len, 0, buf);
    return buf;
}

static int count_text(Ctx *x, Word *w, size_t nw, const char *text, int g, ObErr *err) {
    char fold[MAX_WORD + 1], surf[MAX_WORD + 1];
    for (size_t i = 0; i < nw; i++) {
        ex_norm_word(text + w[i].start, w[i].len, 1, fold);
        int32_t e = ex_word_get(&x->t, fold, err);
        if (e < 0) return -1;
        w[i].ent = e;
        WordEnt *we = &x->t.w[e];
        if (w[i].cls == W_CAP || w[i].cls == W_LOW) {
            we->cnt[g][w[i].cls == W_LOW]++;
            if (!w[i].init) we->mid[g][w[i].cls == W_LOW]++;
        }
        if (g && w[i].cls == W_CAP && w[i].join == 1 && i + 1 < nw && w[i + 1].cls == W_CAP)
            we->g_lead++;
        if (w[i].cls == W_CAP && !we->cap) {
            ex_norm_word(text + w[i].start, w[i].len, 0, surf);
            if (!(we->cap = strdup(surf))) return ob_errf(err, "out of memory");
        }
    }
    if (g)
        x->n_g += (long)nw;
    else
        x->n_t += (long)nw;
    return 0;
}

static int cap_word(const Ctx *x, const Word *w) {
    if (w->cls != W_CAP || w->ent < 0) return 0;
    const WordEnt *e = &x->t.w[w->ent];
    return !(e->flags & F_STOP) && !e->title;
}

static int is_st(const Ctx *x, const Word *w) {
    return w->ent >= 0 && (x->t.w[w->ent].flags & F_ST);
}

/* Can word j be followed by word j + 1 inside a name? */
static int continues(const Ctx *x, const Word *w, size_t j, size_t n) {
    if (j + 1 >= n || w[j].file != w[j + 1].file) return 0;
    return w[j].join == 1 || (w[j].join == 2 && is_st(x, &w[j]));
}

/* The title class before word i (0 female, 1 male, 2 either), or -1. */
static int title_before(const Ctx *x, const Word *w, size_t i) {
    if (i == 0 || w[i - 1].file != w[i].file || !w[i - 1].join || w[i - 1].ent < 0) return -1;
    return x->t.w[w[i - 1].ent].title - 1;
}

static void join_surface(char *buf, size_t size, const char *add, int join) {
    size_t k = strlen(buf);
    snprintf(buf + k, size - k, "%s%s", join == 2 ? ". " : " ", add);
}

/* Runs of capitalised words in T: the evidence about people and the
 * multi-word names (2-3 words). */
int ex_find_runs(Ctx *x, ObErr *err) {
    Word *w = x->tw;
    size_t n = x->n_tw;
    char buf[4 * MAX_WORD + 16], surf[MAX_WORD + 1];
    for (size_t i = 0; i < n;) {
        if (!cap_word(x, &w[i]) || (w[i].init && !x->t.w[w[i].ent].is_name && !is_st(x, &w[i]))) {
            i++;
            continue;
        }
        size_t j = i;
        while (continues(x, w, j, n) && cap_word(x, &w[j + 1])) j++;
        size_t next = j + 1;
        while (j > i && is_st(x, &w[j])) j--;
        if (is_st(x, &w[j])) {
            i = next;
            continue;
        }
        int L = (int)(j - i + 1), tb = title_before(x, w, i);
        int place = (x->t.w[w[j].ent].flags & F_PLACE) != 0;
        int speech = (i > 0 && w[i - 1].join && w[i - 1].ent >= 0 &&
                      (x->t.w[w[i - 1].ent].flags & F_SPEECH)) +
                     (j + 1 < n && w[j].join && w[j + 1].ent >= 0 &&
                      (x->t.w[w[j + 1].ent].flags & F_SPEECH));
        int he = 0, she = 0;
        for (size_t k = j + 1; k < n && k <= j + PRON_WINDOW && w[k].file == w[j].file; k++) {
            int f = w[k].ent >= 0 ? x->t.w[w[k].ent].flags : 0;
            he += (f & F_HE) != 0;
            she += (f & F_SHE) != 0;
        }
        WordEnt *first = &x->t.w[w[i].ent];
        for (size_t k = i; k <= j && !place; k++) {
            WordEnt *e = &x->t.w[w[k].ent];
            e->titled += tb >= 0;
            e->speech += speech;
            e->he += he;
            e->she += she;
            if (k > i && (first->flags & (F_FEMALE | F_MALE))) e->after_first++;
        }
        if (tb >= 0 && !place) first->title_n[tb]++;
        if (L == 1) first->titled_single += tb >= 0;
        if (L >= 2 && !place) first->run_first++, x->t.w[w[j].ent].run_last++;
        if (L >= 2 && L <= 3) {
            buf[0] = 0;
            for (size_t k = i; k <= j; k++) {
                word_surface(x, &w[k], surf);
                if (k == i)
                    snprintf(buf, sizeof buf, "%s", surf);
                else
                    join_surface(buf, sizeof buf, surf, w[k - 1].join);
            }
            int32_t p = ex_phrase_get(&x->t, buf, err);
            if (p < 0) return -1;
            Phrase *ph = &x->t.ph[p];
            ph->n_words = L;
            for (int k = 0; k < L; k++) ph->went[k] = w[i + (size_t)k].ent;
            ph->titled += tb >= 0;
            if (tb >= 0) ph->title_n[tb]++;
            ph->speech += speech;
        }
        i = next;
    }
    return 0;
}

/* Counts every occurrence of the target's multi-word names in a text (and
 * records where they start, for the target). */
static int count_phrases(Ctx *x, const Word *w, size_t n, const char *text, int g, ObErr *err) {
    char buf[4 * MAX_WORD + 16], surf[MAX_WORD + 1];
    if (!x->t.n_ph) return 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i].cls != W_CAP || !continues(x, w, i, n)) continue;
        ex_norm_word(text + w[i].start, w[i].len, 0, buf);
        for (size_t k = i + 1; k <= i + 2 && k < n; k++) {
            if (!continues(x, w, k - 1, n) || w[k].cls != W_CAP) break;
            ex_norm_word(text + w[k].start, w[k].len, 0, surf);
            join_surface(buf, sizeof buf, surf, w[k - 1].join);
            int32_t p = ex_phrase_find(&x->t, buf);
            if (p < 0) continue;
            Phrase *ph = &x->t.ph[p];
            ph->cnt[g]++;
            if (g) continue;
            if (ob_grow(&ph->occ, &ph->cap_occ, (size_t)ph->n_occ + 1, sizeof *ph->occ, 16,
                        "occurrences", err))
                return -1;
            ph->occ[ph->n_occ++] = (int32_t)i;
        }
    }
    return 0;
}

/* Scans each of the n texts into words and hands them to use, which may
 * change them but not keep them. */
static int each_text(Ctx *x, const ExtractText *texts, int n,
                     int (*use)(Ctx *x, Word *w, size_t nw, const char *text, ObErr *err),
                     ObErr *err) {
    for (int f = 0; f < n; f++) {
        Word *w;
        size_t nw;
        if (ex_scan_words(texts[f].data, texts[f].len, f, &w, &nw, err))
            return ob_err_prefix(err, "%s", texts[f].name);
        int rc = use(x, w, nw, texts[f].data, err);
        free(w);
        if (rc) return -1;
    }
    return 0;
}

static int count_general(Ctx *x, Word *w, size_t nw, const char *text, ObErr *err) {
    return count_text(x, w, nw, text, 1, err) || count_phrases(x, w, nw, text, 1, err) ? -1 : 0;
}

/* Counts a target text and appends its words to x->tw. */
static int add_target(Ctx *x, Word *w, size_t nw, const char *text, ObErr *err) {
    if (count_text(x, w, nw, text, 0, err)) return -1;
    Word *all = realloc(x->tw, (x->n_tw + nw + 1) * sizeof *all);
    if (!all) return ob_errf(err, "out of memory for the target's words");
    x->tw = all;
    memcpy(x->tw + x->n_tw, w, nw * sizeof *w);
    x->n_tw += nw;
    return 0;
}

int ex_count_general(Ctx *x, ObErr *err) {
    return each_text(x, x->in->general, x->in->n_general, count_general, err);
}

int ex_scan_target(Ctx *x, ObErr *err) {
    return each_text(x, x->in->target, x->in->n_target, add_target, err);
}

int ex_count_target_phrases(Ctx *x, ObErr *err) {
    /* per file, so that word indices stay global */
    size_t i = 0;
    for (int f = 0; f < x->in->n_target; f++) {
        size_t j = i;
        while (j < x->n_tw && x->tw[j].file == f) j++;
        /* count_phrases records indices relative to its array: shift them */
        int32_t *before = ob_malloc((size_t)(x->t.n_ph ? x->t.n_ph : 1) * sizeof *before, "n", err);
        if (!before) return -1;
        for (int32_t p = 0; p < x->t.n_ph; p++) before[p] = x->t.ph[p].n_occ;
        int rc = count_phrases(x, x->tw + i, j - i, x->in->target[f].data, 0, err);
        for (int32_t p = 0; !rc && p < x->t.n_ph; p++)
            for (int o = before[p]; o < x->t.ph[p].n_occ; o++) x->t.ph[p].occ[o] += (int32_t)i;
        free(before);
        if (rc) return -1;
        i = j;
    }
    return 0;
}
