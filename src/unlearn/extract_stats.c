/* The candidates and their statistics: log-odds with an informative
 * Dirichlet prior, the lower bound they are first ranked by, their
 * occurrences in T, the final standardised score and the selection of the
 * best keys. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"

double extract_log_odds(double y_t, double y_g, double n_t, double n_g, double alpha0,
                        double *delta, double *sigma) {
    double a = alpha0 * (y_t + y_g) / (n_t + n_g);
    double d =
        log((y_t + a) / (n_t + alpha0 - y_t - a)) - log((y_g + a) / (n_g + alpha0 - y_g - a));
    double s = sqrt(1.0 / (y_t + a) + 1.0 / (y_g + a));
    if (delta) *delta = d;
    if (sigma) *sigma = s;
    return d / s;
}

static int key_letters_ok(const char *key) {
    int letters = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        letters += is_upper(*p) || is_lower(*p) || *p >= 0xC0;
    return letters >= 2;
}

static int add_cand(Ctx *x, Cand *c, ObErr *err) {
    if (x->n_cand == x->cap_cand) {
        int cap = x->cap_cand ? 2 * x->cap_cand : 1024;
        Cand *n = realloc(x->cand, (size_t)cap * sizeof *n);
        if (!n) return free(c->key), ob_errf(err, "out of memory for %d candidates", cap);
        x->cand = n;
        x->cap_cand = cap;
    }
    x->cand[x->n_cand++] = *c;
    return 0;
}

static int cmp_cand_lb(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->lb != y->lb) return x->lb > y->lb ? -1 : 1;
    if (x->yt != y->yt) return x->yt > y->yt ? -1 : 1;
    return strcmp(x->key, y->key);
}

int ex_make_candidates(Ctx *x, double alpha0, ObErr *err) {
    const ExtractConfig *c = x->c;
    double nt = (double)x->n_t, ng = (double)(x->n_g > 0 ? x->n_g : 1);
    for (int32_t i = 0; i < x->t.n; i++) {
        WordEnt *e = &x->t.w[i];
        if (!(e->cnt[0][0] + e->cnt[0][1]) || (e->flags & (F_STOP | F_ST | F_PLACE)) || e->title)
            continue;
        long yt = e->is_name ? e->cnt[0][0] : e->cnt[0][0] + e->cnt[0][1];
        long yg = e->is_name ? e->cnt[1][0] : e->cnt[1][0] + e->cnt[1][1];
        const char *key = e->occ_cls == W_CAP ? e->cap : e->fold;
        if (yt < c->min_count || !key || !key_letters_ok(key)) continue;
        Cand k = {0};
        k.z = extract_log_odds((double)yt, (double)yg, nt, ng, alpha0, &k.delta, &k.sigma);
        k.lb = k.delta - LB_SIGMAS * k.sigma;
        if (!(k.lb > 0)) continue;
        k.key = strdup(key);
        if (!k.key) return ob_errf(err, "out of memory");
        k.phrase = -1;
        k.ent = i;
        k.n_words = 1;
        k.went[0] = i;
        k.yt = yt;
        k.yg = yg;
        if (add_cand(x, &k, err)) return -1;
    }
    for (int32_t i = 0; i < x->t.n_ph; i++) {
        Phrase *p = &x->t.ph[i];
        if (p->cnt[0] < c->min_count) continue;
        Cand k = {0};
        k.z = extract_log_odds((double)p->cnt[0], (double)p->cnt[1], nt, ng, alpha0, &k.delta,
                               &k.sigma);
        k.lb = k.delta - LB_SIGMAS * k.sigma;
        if (!(k.lb > 0)) continue;
        k.key = strdup(p->text);
        if (!k.key) return ob_errf(err, "out of memory");
        k.phrase = i;
        k.ent = -1;
        k.n_words = p->n_words;
        memcpy(k.went, p->went, sizeof k.went);
        k.yt = p->cnt[0];
        k.yg = p->cnt[1];
        if (add_cand(x, &k, err)) return -1;
    }
    if (x->n_cand) /* qsort must not get NULL, even for no elements */
        qsort(x->cand, (size_t)x->n_cand, sizeof *x->cand, cmp_cand_lb);
    return 0;
}

/* Occurrences of each candidate's key form in T (word indices). */
int ex_candidate_occurrences(Ctx *x, ObErr *err) {
    x->next_occ = ob_malloc((x->n_tw + 1) * sizeof *x->next_occ, "occurrences", err);
    if (!x->next_occ) return -1;
    for (size_t i = 0; i < x->n_tw; i++) {
        Word *w = &x->tw[i];
        x->next_occ[i] = -1;
        if (w->ent < 0) continue;
        WordEnt *e = &x->t.w[w->ent];
        if (w->cls != e->occ_cls) continue;
        if (e->last_occ >= 0)
            x->next_occ[e->last_occ] = (int32_t)i;
        else
            e->first_occ = (int32_t)i;
        e->last_occ = (int32_t)i;
    }
    for (int i = 0; i < x->n_cand; i++) {
        Cand *k = &x->cand[i];
        if (k->phrase >= 0) {
            k->occ = x->t.ph[k->phrase].occ;
            k->n_occ = x->t.ph[k->phrase].n_occ;
            continue;
        }
        int n = 0;
        for (int32_t o = x->t.w[k->ent].first_occ; o >= 0; o = x->next_occ[o]) n++;
        k->occ = ob_malloc((size_t)(n ? n : 1) * sizeof *k->occ, "occurrences", err);
        if (!k->occ) return -1;
        for (int32_t o = x->t.w[k->ent].first_occ; o >= 0; o = x->next_occ[o])
            k->occ[k->n_occ++] = o;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ex_key_firsts(Ctx *x, ObErr *err) {
    x->key_firsts =
        ob_malloc((size_t)(x->n_cand ? x->n_cand : 1) * sizeof *x->key_firsts, "keys", err);
    if (!x->key_firsts) return -1;
    for (int i = 0; i < x->n_cand; i++) x->key_firsts[i] = x->cand[i].key;
    qsort(x->key_firsts, (size_t)x->n_cand, sizeof *x->key_firsts, cmp_str);
    return 0;
}

static int cmp_cand_final(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->final != y->final) return x->final > y->final ? -1 : 1;
    return cmp_cand_lb(a, b);
}

static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double m = 0, q = 0;
    for (int i = 0; i < n; i++) m += v[i];
    m = n ? m / n : 0;
    for (int i = 0; i < n; i++) q += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = n > 1 && q > 0 ? sqrt(q / (n - 1)) : 1.0;
}

int ex_rank_candidates(Ctx *x, int n_scored, ObErr *err) {
    int n = x->n_cand;
    double *v = ob_malloc((size_t)(n ? n : 1) * sizeof *v, "scores", err);
    if (!v) return -1;
    double lb_m, lb_s, e_m = 0, e_s = 1;
    int ne = 0;
    for (int i = 0; i < n; i++) v[i] = x->cand[i].lb;
    mean_sd(v, n_scored ? n_scored : n, &lb_m, &lb_s);
    for (int i = 0; i < n; i++)
        if (x->cand[i].n_e) v[ne++] = x->cand[i].e_sum / x->cand[i].n_e;
    if (ne) mean_sd(v, ne, &e_m, &e_s);
    for (int i = 0; i < n; i++) {
        Cand *k = &x->cand[i];
        k->final = (k->lb - lb_m) / lb_s;
        if (k->n_e) k->final += x->c->model_weight * ((k->e_sum / k->n_e - e_m) / e_s);
    }
    free(v);
    if (n) qsort(x->cand, (size_t)n, sizeof *x->cand, cmp_cand_final);
    return 0;
}

/* Is key (split at spaces) made only of selected keys? */
static int all_words_selected(const Ctx *x, const char *key) {
    char w[4 * MAX_WORD + 16];
    int words = 0;
    for (const char *p = key; *p;) {
        size_t n = strcspn(p, " ");
        if (n >= sizeof w) return 0;
        memcpy(w, p, n);
        w[n] = 0;
        int found = 0;
        for (int i = 0; i < x->n_cand && !found; i++)
            found = x->cand[i].selected && !strcmp(x->cand[i].key, w);
        if (!found) return 0;
        words++;
        p += n;
        while (*p == ' ') p++;
    }
    return words > 1;
}

/* The best `top` candidates, leaving out multi-word keys whose words are all
 * selected keys themselves (anchors_load would prune them). */
void ex_select_top(Ctx *x, int top) {
    for (int changed = 1; changed;) {
        changed = 0;
        int n = 0;
        for (int i = 0; i < x->n_cand; i++) n += x->cand[i].selected == 1;
        for (int i = 0; i < x->n_cand && n < top; i++)
            if (!x->cand[i].selected) x->cand[i].selected = 1, n++;
        for (int i = 0; i < x->n_cand; i++) {
            Cand *k = &x->cand[i];
            if (k->selected == 1 && k->n_words > 1 && all_words_selected(x, k->key))
                k->selected = -1, changed = 1;
        }
    }
}

void ex_free_cands(Ctx *x) {
    for (int i = 0; i < x->n_cand; i++) {
        Cand *k = &x->cand[i];
        free(k->key);
        if (k->phrase < 0) free(k->occ);
        for (int j = 0; j < k->n_sub; j++) free(k->sub[j].word);
        free(k->sub);
    }
    free(x->cand);
    x->cand = NULL;
    x->n_cand = 0;
}
