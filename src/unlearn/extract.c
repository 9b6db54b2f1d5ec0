/* Anchor extraction, the whole run: the configuration's defaults, the
 * stages in order (extract_*.c) and the result's lifetime. See extract.h for
 * the method and its heuristics. */
#include "unlearn/extract.h"

#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"
#include "util/log.h"
#include "util/progress.h"

void extract_config_default(ExtractConfig *c) {
    *c = (ExtractConfig){.top = 200,
                         .min_count = 3,
                         .alpha0 = 0,
                         .model_weight = 0.5,
                         .n_values = 3,
                         .max_occ = 32,
                         .batch = 8,
                         .seed = 1,
                         .verbose = 0};
}

static void ctx_free(Ctx *x) {
    ex_free_cands(x);
    ex_tables_free(&x->t, x->c->n_values);
    free(x->tw);
    free(x->next_occ);
    free(x->key_firsts);
    for (int i = 0; i < 3; i++) ex_pool_free(&x->pool[i]);
    for (int i = 0; i < 2; i++) ex_pool_free(&x->fallback[i]);
}

static int run(Ctx *x, ExtractResult *r, ObErr *err) {
    const ExtractInput *in = x->in;
    const ExtractConfig *c = x->c;
    double t0 = ob_now();
    const NameList *nl = in->names;
    int have_lists = nl && (nl[0].n || nl[1].n);
    const char *const *female = have_lists ? (const char *const *)nl[0].names : ex_builtin_female;
    const char *const *male = have_lists ? (const char *const *)nl[1].names : ex_builtin_male;
    int nf = have_lists ? nl[0].n : 0, nm = have_lists ? nl[1].n : 0;
    if (!have_lists) {
        while (ex_builtin_female[nf]) nf++;
        while (ex_builtin_male[nm]) nm++;
    }
    if (ex_setup_lists(x, female, nf, male, nm, err) || ex_scan_target(x, err)) return -1;
    for (int32_t i = 0; i < x->t.n; i++) {
        WordEnt *e = &x->t.w[i];
        e->is_name = e->mid[0][0] > e->mid[0][1];
        e->occ_cls = e->is_name || !e->cnt[0][1] ? W_CAP : W_LOW;
    }
    if (ex_find_runs(x, err) || ex_count_target_phrases(x, err) || ex_count_general(x, err))
        return -1;
    if (x->n_t == 0) return ob_errf(err, "the target has no words");
    double alpha0 = c->alpha0 > 0 ? c->alpha0 : (double)x->n_t;
    if (ex_make_candidates(x, alpha0, err) || ex_candidate_occurrences(x, err) ||
        ex_key_firsts(x, err))
        return -1;
    int top = c->top > 0 ? c->top : 200;
    int n_scored = in->base ? (3 * top < x->n_cand ? 3 * top : x->n_cand) : 0;
    for (int i = 0; i < n_scored; i++) ex_classify(x, &x->cand[i]);
    r->seconds_count = ob_now() - t0;
    if (c->verbose)
        ob_logf("extract: %ld target words, %ld general words, %d candidates (%.1f s); "
                "model evidence for %d\n",
                x->n_t, x->n_g, x->n_cand, r->seconds_count, n_scored);
    if (n_scored && ex_model_evidence(x, n_scored, r, err)) return -1;
    if (ex_rank_candidates(x, n_scored, err)) return -1;
    ex_select_top(x, top);
    if (ex_build_pool(x, &x->pool[0], female, nf, err) ||
        ex_build_pool(x, &x->pool[1], male, nm, err))
        return -1;
    int ns = 0;
    while (ex_surname_list[ns]) ns++;
    if (ex_build_pool(x, &x->pool[2], ex_surname_list, ns, err) || ex_build_fallback(x, err))
        return -1;
    if (ex_make_proposals(x, r, err)) return -1;
    r->n_t = x->n_t;
    r->n_g = x->n_g;
    r->alpha0 = alpha0;
    r->n_candidates = x->n_cand;
    r->n_scored = n_scored;
    r->evidence = !in->base        ? "none"
                  : in->reinforced ? "reinforced-minus-base"
                                   : "base-minus-general-unigram";
    r->seconds_total = ob_now() - t0;
    return 0;
}

int extract_run(const ExtractInput *in, const ExtractConfig *c, ExtractResult *r, ObErr *err) {
    memset(r, 0, sizeof *r);
    if (!in->n_target) return ob_errf(err, "extract: no target text");
    if (in->base && !in->tok) return ob_errf(err, "extract: a model needs its tokenizer");
    if (in->reinforced && !in->base)
        return ob_errf(err, "extract: a reinforced model needs the base");
    if (in->base && in->base->cfg.vocab != in->tok->n_vocab)
        return ob_errf(err, "extract: the base model's vocabulary (%d) is not its tokenizer's (%d)",
                       in->base->cfg.vocab, in->tok->n_vocab);
    if (in->reinforced && in->reinforced->cfg.vocab != in->base->cfg.vocab)
        return ob_errf(err,
                       "extract: the reinforced model's vocabulary (%d) differs from the "
                       "base model's (%d)",
                       in->reinforced->cfg.vocab, in->base->cfg.vocab);
    if (c->n_values < 1 || c->n_values > 16) return ob_errf(err, "extract: 1 to 16 values a key");
    Ctx x;
    memset(&x, 0, sizeof x);
    x.in = in;
    x.c = c;
    int rc = run(&x, r, err);
    ctx_free(&x);
    if (rc) extract_free(r);
    return rc;
}

void extract_free(ExtractResult *r) {
    for (int i = 0; r->p && i < r->n; i++) {
        ExtractProposal *p = &r->p[i];
        free(p->key);
        for (int j = 0; j < p->n_values; j++) free(p->values[j]);
        free(p->values);
        for (int j = 0; j < p->n_substitutes; j++) free(p->substitutes[j]);
        free(p->substitutes);
        free(p->substitute_mass);
    }
    free(r->p);
    memset(r, 0, sizeof *r);
}
