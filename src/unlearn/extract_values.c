/* Values: a person's name from the drawn replacements of its words, other
 * terms from the base model's substitutes or the fallback words; and the
 * proposals handed back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"

static int add_value(ExtractProposal *p, const char *v, int max, ObErr *err) {
    if (p->n_values >= max || !strcmp(v, p->key)) return 0;
    for (int i = 0; i < p->n_values; i++)
        if (!strcmp(p->values[i], v)) return 0;
    if (!(p->values[p->n_values] = strdup(v))) return ob_errf(err, "out of memory");
    p->n_values++;
    return 0;
}

/* The later words of a multi-word term kept in its values: those common in
 * G; into tail (with leading spaces). */
static void common_tail(const Ctx *x, const Cand *k, char *tail, size_t size) {
    tail[0] = 0;
    const char *p = strchr(k->key, ' ');
    while (p) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        char w[MAX_WORD + 1];
        if (n <= MAX_WORD) {
            memcpy(w, p, n);
            w[n] = 0;
            if (ex_g_count(x, w, is_upper((unsigned char)w[0])) >= TAIL_MIN_G) {
                size_t l = strlen(tail);
                snprintf(tail + l, size - l, " %s", w);
            }
        }
        p = strchr(p, ' ');
    }
}

static int person_values(Ctx *x, const Cand *k, ExtractProposal *p, ObErr *err) {
    int nv = x->c->n_values;
    char **maps[3];
    for (int i = 0; i < k->n_words; i++)
        if (!(maps[i] = ex_word_map(x, k->went[i], err))) return -1;
    for (int j = 0; j < nv; j++) {
        char v[4 * MAX_WORD + 16] = "";
        for (int i = 0; i < k->n_words; i++) {
            size_t l = strlen(v);
            snprintf(v + l, sizeof v - l, "%s%s", i ? " " : "", maps[i][j]);
        }
        if (add_value(p, v, nv, err)) return -1;
    }
    return 0;
}

static int other_values(Ctx *x, const Cand *k, ExtractProposal *p, ObErr *err) {
    int nv = x->c->n_values, cap = is_upper((unsigned char)k->key[0]);
    char tail[4 * MAX_WORD + 16], v[8 * MAX_WORD];
    common_tail(x, k, tail, sizeof tail);
    for (int i = 0; i < k->n_sub && p->n_values < nv; i++) {
        snprintf(v, sizeof v, "%s%s", k->sub[i].word, tail);
        if (add_value(p, v, nv, err)) return -1;
    }
    if (p->n_values < nv) {
        const char *got[64];
        int n = ex_pool_draw(&x->fallback[cap], x->c->seed, k->key, nv, 0, got);
        for (int i = 0; i < n && p->n_values < nv; i++) {
            snprintf(v, sizeof v, "%s%s", got[i], tail);
            if (add_value(p, v, nv, err)) return -1;
        }
    }
    if (!p->n_values) return add_value(p, cap ? "Somewhere" : "something", nv, err);
    return 0;
}

int ex_make_proposals(Ctx *x, ExtractResult *r, ObErr *err) {
    int n = 0;
    for (int i = 0; i < x->n_cand; i++) n += x->cand[i].selected == 1;
    r->p = ob_calloc((size_t)(n ? n : 1), sizeof *r->p, "proposals", err);
    if (!r->p) return -1;
    int nv = x->c->n_values;
    for (int i = 0; i < x->n_cand; i++) {
        Cand *k = &x->cand[i];
        if (k->selected != 1) continue;
        if (!k->scored) ex_classify(x, k);
        ExtractProposal *p = &r->p[r->n++];
        p->key = strdup(k->key);
        p->values = ob_calloc((size_t)nv, sizeof *p->values, "values", err);
        if (!p->key || !p->values) return ob_errf(err, "out of memory");
        p->n_words = k->n_words;
        p->kind = k->person ? EXTRACT_PERSON : EXTRACT_OTHER;
        p->gender = k->gender;
        snprintf(p->why, sizeof p->why, "%s", k->why);
        p->count_t = k->yt;
        p->count_g = k->yg;
        p->delta = k->delta;
        p->sigma = k->sigma;
        p->z = k->z;
        p->lb = k->lb;
        p->n_evidence = k->n_e;
        p->evidence = k->n_e ? k->e_sum / k->n_e : 0;
        p->final = k->final;
        if (k->n_sub) {
            p->substitutes = ob_calloc((size_t)k->n_sub, sizeof *p->substitutes, "subst", err);
            p->substitute_mass = ob_calloc((size_t)k->n_sub, sizeof *p->substitute_mass, "s", err);
            if (!p->substitutes || !p->substitute_mass) return -1;
            for (int j = 0; j < k->n_sub; j++) {
                if (!(p->substitutes[j] = strdup(k->sub[j].word))) return ob_errf(err, "oom");
                p->substitute_mass[j] = k->sub[j].mass;
                p->n_substitutes++;
            }
        }
        if (k->person ? person_values(x, k, p, err) : other_values(x, k, p, err)) return -1;
    }
    return 0;
}
