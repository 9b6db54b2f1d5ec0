/* Generic labels (unlearn/labels.c): every label of a small run checked
 * against a direct computation on tiny random models (translation with the
 * same seed sequence, one block at a time through each model, the formula,
 * forbidding, argmax and softmax top-k); a multi-alpha file equals the
 * single-alpha files; output does not depend on the thread count; alpha 0
 * without anchors gives the baseline's argmax and the right "changed" count;
 * bad inputs and bad files (every truncation, corrupted headers, another
 * tokenizer) are refused with one-line errors naming the file. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "helpers.h"
#include "tiny.h"
#include "tmpdir.h"
#include "unlearn/labels.h"
#include "unlearn/translate.h"
#include "util/fileio.h"

static const char *SENTENCES[] = {
    "Harry walked to Hogwarts with Hermione. ",   "Hermione raised her wand and Harry smiled. ",
    "Ron said that Hogwarts was far away. ",      "The old man sat by the fire and read. ",
    "Rain fell on the quiet town all night. ",    "Harry gave Ron his wand at Hogwarts. ",
    "A dog ran along the river in the morning. ",
};
#define N_SENT (int)(sizeof SENTENCES / sizeof SENTENCES[0])

static const char *DICT = "{\"Harry\": [\"Jon\", \"Tom\"], \"Hermione\": \"Anna\", "
                          "\"Hogwarts\": \"Mystic Academy\", \"wand\": \"staff\", "
                          "\"Ron\": \"Bob\", \"old man\": \"young woman\"}";

/* n sentences in a fixed pseudo-random order. */
static char *make_text(int n, unsigned seed, size_t *len) {
    size_t cap = (size_t)n * 64 + 1, used = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        used += (size_t)sprintf(buf + used, "%s", SENTENCES[(seed >> 16) % N_SENT]);
    }
    *len = used;
    return buf;
}

typedef struct {
    Tokenizer tok;
    AnchorDict dict;
    TokenStream target;
    Llama base, reinf;
} World;

/* Random weights with the (tied) output head scaled up, so the logits are far
 * from flat and r - g matters. */
static int random_model(Llama *m, int vocab, uint64_t seed, ObErr *err) {
    LlamaConfig c = tiny_config(vocab);
    if (llama_create(m, &c, err)) return -1;
    llama_init_random(m, seed);
    for (size_t i = 0; i < (size_t)vocab * c.dim; i++) m->w.output[i] *= 40.0f;
    return 0;
}

static int world_init(World *w, int n_target_sentences) {
    ObErr err;
    memset(w, 0, sizeof *w);
    size_t len, tlen;
    char *text = make_text(400, 7, &len), *target = make_text(n_target_sentences, 11, &tlen);
    const char *texts[1] = {text};
    int rc = tok_train_texts(&w->tok, texts, &len, 1, 400, 0, &err) ||
             anchors_parse(&w->dict, DICT, strlen(DICT), "dict.json", &err) ||
             anchors_tokenize(&w->dict, &w->tok, &err) ||
             dataset_append_text(&w->target, &w->tok, target, tlen, &err) ||
             random_model(&w->base, w->tok.n_vocab, 1, &err) ||
             random_model(&w->reinf, w->tok.n_vocab, 2, &err);
    free(text), free(target);
    if (rc) fprintf(stderr, "world: %s\n", err.msg);
    return rc;
}

static void world_free(World *w) {
    tok_free(&w->tok);
    anchors_free(&w->dict);
    dataset_free(&w->target);
    llama_free(&w->base);
    llama_free(&w->reinf);
}

static LabelConfig config(int block, int batch, int soft_k, int forbid_keys) {
    LabelConfig c = {.n_alphas = 3, .soft_k = soft_k, .forbid_keys = forbid_keys};
    c.alphas[0] = 0.0f, c.alphas[1] = 2.5f, c.alphas[2] = 5.0f;
    c.block = block, c.batch = batch, c.seed = 42;
    return c;
}

/* Logits (T, V) of model m reading one block of T tokens (B = 1). */
static float *block_logits(Llama *m, const int32_t *in, int T) {
    ObErr err;
    if (llama_alloc_batch(m, 1, T, &err)) return NULL;
    llama_forward(m, in, NULL, T, NULL);
    size_t n = (size_t)T * m->cfg.vocab;
    float *out = malloc(n * sizeof(float));
    memcpy(out, m->acts.logits, n * sizeof(float));
    return out;
}

/* qsort takes no context argument: the probabilities being sorted by. */
static const double *g_sort_p;

static int by_prob_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    if (g_sort_p[x] != g_sort_p[y]) return g_sort_p[x] > g_sort_p[y] ? -1 : 1;
    return x - y;
}

/* LABELS_FORBID_* of the file being checked: which keys' first tokens are
 * forbidden everywhere. */
static int g_forbid_mode;

static int key_forbidden(const AnchorDict *keys, int a, int f) {
    const TokSeq *t = &keys->items[a].key_tok[f];
    return t->n == 1 || (t->n > 1 && g_forbid_mode == LABELS_FORBID_FIRST);
}

/* The label of one position computed directly from the two logit rows. */
typedef struct {
    int hard;
    double *p;  /* (V) softmax(v) */
    int *order; /* (V) ids by p desc, id asc */
} RefLabel;

static void ref_label(const float *g, const float *r, float alpha, int V, const Translation *tr,
                      int pos, const AnchorDict *keys, int extra, float *v, RefLabel *out) {
    double sum = 0;
    for (int j = 0; j < V; j++) {
        float d = r[j] - g[j];
        v[j] = g[j] - alpha * fmaxf(d, 0.0f);
        sum += v[j];
    }
    float mean = (float)(sum / V);
    for (int f = 0; tr && f < tr->n_forbid; f++)
        if (tr->forbid[f].from <= pos) v[tr->forbid[f].token] = mean;
    for (int a = 0; keys && a < keys->n; a++)
        for (int f = 0; f < 2; f++)
            if (key_forbidden(keys, a, f)) v[keys->items[a].key_tok[f].ids[0]] = mean;
    if (extra >= 0) v[extra] = mean;
    out->hard = 0;
    for (int j = 0; j < V; j++)
        if (v[j] > v[out->hard]) out->hard = j;
    double z = 0;
    for (int j = 0; j < V; j++) z += exp((double)v[j] - v[out->hard]);
    for (int j = 0; j < V; j++) {
        out->p[j] = exp((double)v[j] - v[out->hard]) / z;
        out->order[j] = j;
    }
    g_sort_p = out->p;
    qsort(out->order, (size_t)V, sizeof(int), by_prob_desc);
}

/* Compares one soft record with the direct computation; returns 1 if good.
 * Ids must form a top-k of p (up to probability ties within 1e-6), sorted,
 * with each probability and the rest within 1e-5. */
static int soft_matches(const uint8_t *rec, int k, int z, const RefLabel *ref, int *exact_ids) {
    const int32_t *ids = (const int32_t *)rec;
    const float *p = (const float *)(rec + (size_t)(k + z) * 4);
    double kept = 0, kth = ref->p[ref->order[k - 1]];
    int ok = 1;
    for (int i = 0; i < k; i++) {
        kept += ref->p[ref->order[i]];
        double want = ref->p[ids[i]];
        ok &= fabs(p[i] - want) < 1e-5;
        ok &= want < 1e-30 || fabs(p[i] - want) < 1e-4 * want; /* small ones too */
        ok &= ref->p[ids[i]] >= kth - 1e-6;
        ok &= i == 0 || p[i] <= p[i - 1];
        for (int j = 0; j < i; j++) ok &= ids[j] != ids[i];
        *exact_ids += ids[i] == ref->order[i];
    }
    ok &= fabs(p[k + z] - fmax(0.0, 1.0 - kept)) < 1e-5;
    return ok;
}

/* qsort context for suppression candidates: the reinforced logits. */
static const float *g_sort_r;

static int by_r_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return g_sort_r[x] != g_sort_r[y] ? (g_sort_r[x] > g_sort_r[y] ? -1 : 1) : 0;
}

/* The z suppression slots after the top k: extra first, then the other
 * forbidden tokens by r descending, the first z taken; those among the top k
 * ids are -1; all targets 0. Returns 1 if good. */
static int suppression_matches(const uint8_t *rec, int k, int z, const float *r,
                               const Translation *tr, int pos, const AnchorDict *keys, int extra) {
    const int32_t *ids = (const int32_t *)rec;
    const float *p = (const float *)(rec + (size_t)(k + z) * 4);
    int cand[512], n = 0, ok = 1;
    for (int f = 0; tr && f < tr->n_forbid; f++)
        if (tr->forbid[f].from <= pos) cand[n++] = tr->forbid[f].token;
    for (int a = 0; keys && a < keys->n; a++)
        for (int f = 0; f < 2; f++)
            if (key_forbidden(keys, a, f)) cand[n++] = keys->items[a].key_tok[f].ids[0];
    int u = 0; /* unique, extra removed */
    for (int i = 0; i < n; i++) {
        int dup = cand[i] == extra;
        for (int j = 0; j < u; j++) dup |= cand[j] == cand[i];
        if (!dup) cand[u++] = cand[i];
    }
    g_sort_r = r;
    qsort(cand, (size_t)u, sizeof(int), by_r_desc);
    int want[64], w = 0;
    if (extra >= 0) want[w++] = extra;
    for (int i = 0; i < u && w < z; i++) want[w++] = cand[i];
    for (int i = 0; i < z; i++) {
        int id = i < w ? want[i] : -1;
        for (int t = 0; id >= 0 && t < k; t++)
            if (ids[t] == id) id = -1;
        ok &= ids[k + i] == id && p[k + i] == 0.0f;
    }
    return ok;
}

/* Recomputes every label of the file at path from scratch and compares.
 * Returns the number of labelled positions checked, -1 on a mismatch. */
static long check_file_directly(const char *path, World *w, const AnchorDict *d,
                                const LabelConfig *c, int *n_matches, int *n_forbid, int *n_inkey) {
    ObErr err;
    LabelsFile lf;
    if (labels_open(&lf, path, &w->tok, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return -1;
    }
    const int T = c->block, V = w->tok.n_vocab, K = c->soft_k, Z = K ? c->suppress : 0;
    const size_t rec = (size_t)(K + Z) * 8 + 4;
    Translation tr;
    translation_init(&tr, T, T, &err);
    ObRng rng;
    ob_rng_seed(&rng, c->seed);
    float *v = malloc(sizeof(float) * V);
    RefLabel ref = {0, malloc(sizeof(double) * V), malloc(sizeof(int) * V)};
    int32_t *orig = malloc(4 * (size_t)T), *trans = malloc(4 * (size_t)T);
    long checked = 0, bad = 0;
    int exact_ids = 0, soft_checked = 0;
    *n_matches = *n_forbid = *n_inkey = 0;
    g_forbid_mode = c->forbid_keys;
    for (uint64_t b = 0; b < lf.h.n_blocks; b++) {
        size_t start = (size_t)b * T;
        int n = w->target.n - start < (size_t)T ? (int)(w->target.n - start) : T;
        for (int i = 0; i < T; i++) orig[i] = i < n ? w->target.tokens[start + i] : w->tok.eot_id;
        bad += memcmp(orig, labels_tokens(&lf, b), 4 * (size_t)T) != 0;
        translate_block(d, orig, n, &rng, &tr, &err);
        *n_matches += tr.n_matches, *n_forbid += tr.n_forbid;
        for (int i = 0; i < T; i++) trans[i] = i < tr.n_trans ? tr.tokens[i] : w->tok.eot_id;
        float *gl = block_logits(&w->base, trans, T), *rl = block_logits(&w->reinf, orig, T);
        float *go = c->inkey ? block_logits(&w->base, orig, T) : NULL;
        for (int a = 0; a < c->n_alphas; a++) {
            const int32_t *hard = labels_hard(&lf, b, a);
            const uint8_t *soft = K ? labels_soft(&lf, b, a) : NULL;
            for (int i = 0; i < T; i++) {
                int m = i < n ? tr.map[i] : -1;
                int inkey = c->inkey && m < 0 && i + 1 < n && tr.inkey[i];
                if (m < 0 && !inkey) {
                    bad += hard[i] != -1;
                    if (K) bad += ((const int32_t *)(soft + i * rec))[0] != -1;
                    continue;
                }
                const float *g = inkey ? go + (size_t)i * V : gl + (size_t)m * V;
                int extra = inkey ? orig[i + 1] : -1;
                *n_inkey += inkey;
                ref_label(g, rl + (size_t)i * V, c->alphas[a], V, &tr, i, c->forbid_keys ? d : NULL,
                          extra, v, &ref);
                if (inkey && hard[i] == extra) bad++;
                if (Z && !suppression_matches(soft + i * rec, K, Z, rl + (size_t)i * V, &tr, i,
                                              c->forbid_keys ? d : NULL, extra)) {
                    fprintf(stderr, "  block %llu pos %d alpha %g: suppression slots differ\n",
                            (unsigned long long)b, i, c->alphas[a]);
                    bad++;
                }
                if (hard[i] != ref.hard) {
                    fprintf(stderr, "  block %llu pos %d alpha %g: label %d, direct %d\n",
                            (unsigned long long)b, i, c->alphas[a], hard[i], ref.hard);
                    bad++;
                }
                if (K && !soft_matches(soft + i * rec, K, Z, &ref, &exact_ids)) {
                    fprintf(stderr, "  block %llu pos %d alpha %g: soft record differs\n",
                            (unsigned long long)b, i, c->alphas[a]);
                    bad++;
                }
                soft_checked += K > 0;
                checked++;
            }
        }
        free(gl), free(rl), free(go);
    }
    /* with a short top-k, near-ties that order ids differently should be rare */
    if (K && K < V / 4 && exact_ids < soft_checked * K * 99 / 100) bad++;
    labels_close(&lf);
    translation_free(&tr);
    free(v), free(ref.p), free(ref.order), free(orig), free(trans);
    return bad ? -1 : checked;
}

static void test_labels_match_direct_computation(void) {
    World w;
    if (world_init(&w, 40)) {
        CHECK(0, "world");
        return;
    }
    ObErr err;
    LabelStats st;
    LabelConfig c = config(32, 3, 8, 1);
    CHECK(w.target.n > 4 * 32 && w.target.n % 32 != 0, "target of %zu tokens", w.target.n);
    int rc =
        labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("l.bin"), &st, &err);
    CHECK(rc == 0, "%s", err.msg);
    int n_matches, n_forbid, n_inkey;
    long checked =
        check_file_directly(tmp("l.bin"), &w, &w.dict, &c, &n_matches, &n_forbid, &n_inkey);
    CHECK(checked > 0, "labels differ from the direct computation");
    CHECK(checked == st.labelled * c.n_alphas, "checked %ld, labelled %ld", checked, st.labelled);
    CHECK(n_matches > 5 && n_forbid > 5, "the text exercised too little: %d matches, %d forbids",
          n_matches, n_forbid);
    CHECK(st.blocks == (long)((w.target.n + 31) / 32) && st.positions == (long)w.target.n,
          "blocks %ld positions %ld", st.blocks, st.positions);
    LabelsFile lf;
    CHECK(labels_open(&lf, tmp("l.bin"), &w.tok, &err) == 0, "%s", err.msg);
    long differ = 0;
    for (uint64_t b = 0; b < lf.h.n_blocks; b++)
        for (int i = 0; i < c.block; i++)
            differ += labels_hard(&lf, b, 0)[i] != labels_hard(&lf, b, 2)[i];
    CHECK(differ > 0, "alpha made no difference");
    labels_close(&lf);
    /* Without forbid_keys, with a hard-only file and another batch size. */
    c = config(32, 2, 0, 0);
    c.alphas[0] = 10.0f;
    rc = labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("l2.bin"), &st,
                         &err);
    CHECK(rc == 0, "%s", err.msg);
    checked = check_file_directly(tmp("l2.bin"), &w, &w.dict, &c, &n_matches, &n_forbid, &n_inkey);
    CHECK(checked > 0, "hard-only labels differ from the direct computation");
    /* The whole distribution kept (soft-k = vocabulary): every probability,
     * forbidden tokens included, is compared. */
    c = config(32, 1, w.tok.n_vocab, 1);
    c.n_alphas = 1, c.alphas[0] = 5.0f;
    rc = labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("l3.bin"), &st,
                         &err);
    CHECK(rc == 0, "%s", err.msg);
    checked = check_file_directly(tmp("l3.bin"), &w, &w.dict, &c, &n_matches, &n_forbid, &n_inkey);
    CHECK(checked > 0, "full soft labels differ from the direct computation");
    /* Suppression slots and in-key labels: the positions inside multi-token
     * keys get labels from the baseline on the original, never the key's own
     * next token, and the forbidden tokens the reinforced model believes
     * most are listed with target 0. */
    c = config(32, 3, 8, 1);
    c.suppress = 4, c.inkey = 1;
    LabelStats st0 = st;
    rc = labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("l4.bin"), &st,
                         &err);
    CHECK(rc == 0, "%s", err.msg);
    checked = check_file_directly(tmp("l4.bin"), &w, &w.dict, &c, &n_matches, &n_forbid, &n_inkey);
    CHECK(checked > 0, "suppression / in-key labels differ from the direct computation");
    CHECK(n_inkey > 5, "only %d in-key positions", n_inkey);
    CHECK(st.labelled > st0.labelled, "in-key labelled %ld, without %ld", st.labelled,
          st0.labelled);
    CHECK(labels_open(&lf, tmp("l4.bin"), &w.tok, &err) == 0, "%s", err.msg);
    CHECK(lf.h.soft_k == 12 && lf.h.soft_zero == 4 && lf.h.flags == 3,
          "header k %u zero %u flags %u", lf.h.soft_k, lf.h.soft_zero, lf.h.flags);
    labels_close(&lf);
    world_free(&w);
}

/* Output rows duplicated in pairs (2j, 2j+1) in both models give exactly
 * tied logits: the hard label and the soft ranking take the lower id. Each
 * row has one nonzero weight, so a logit is one product plus exact zeros and
 * the tie holds whatever order a BLAS kernel sums in (OpenBLAS's Haswell
 * kernels, used on Zen 4, give twin columns of a dense row other bits). */
static void test_ties_take_lower_id(void) {
    World w;
    if (world_init(&w, 12)) {
        CHECK(0, "world");
        return;
    }
    Llama *ms[2] = {&w.base, &w.reinf};
    const int V = w.tok.n_vocab, C = w.base.cfg.dim;
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < V; j++) {
            float *row = ms[k]->w.output + (size_t)j * C;
            memset(row, 0, sizeof(float) * C);
            row[(j / 2) % C] = (1.0f + 0.01f * (float)(j / 2)) * (k ? 1.1f : 1.0f);
        }
    ObErr err;
    LabelStats st;
    LabelConfig c = config(32, 2, 5, 0);
    CHECK(labels_generate(&w.base, &w.reinf, &w.tok, NULL, &w.target, &c, tmp("t.bin"), &st,
                          &err) == 0,
          "%s", err.msg);
    LabelsFile lf;
    CHECK(labels_open(&lf, tmp("t.bin"), &w.tok, &err) == 0, "%s", err.msg);
    long bad = 0, n = 0;
    const size_t rec = 5 * 8 + 4;
    for (uint64_t b = 0; b < lf.h.n_blocks; b++)
        for (int a = 0; a < c.n_alphas; a++) {
            const int32_t *hard = labels_hard(&lf, b, a);
            const uint8_t *soft = labels_soft(&lf, b, a);
            for (int i = 0; i < c.block; i++) {
                if (hard[i] < 0) continue;
                const int32_t *ids = (const int32_t *)(soft + i * rec);
                const float *p = (const float *)(soft + i * rec + 20);
                bad += hard[i] % 2 != 0 || ids[0] != hard[i];
                /* an odd id follows its even twin; an even one precedes it */
                for (int k = 0; k < 5; k++) {
                    if (ids[k] % 2) bad += k == 0 || ids[k - 1] != ids[k] - 1 || p[k - 1] != p[k];
                    if (ids[k] % 2 == 0 && ids[k] + 1 < V && k < 4) bad += ids[k + 1] != ids[k] + 1;
                }
                n++;
            }
        }
    CHECK(n > 0 && bad == 0, "%ld of %ld positions break ties toward the higher id", bad, n);
    labels_close(&lf);
    world_free(&w);
}

static int read_all(const char *path, char **data, size_t *len) {
    ObErr err;
    return ob_read_file(path, data, len, &err);
}

static int same_file(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    if (read_all(a, &x, &nx)) return 0;
    if (read_all(b, &y, &ny)) return free(x), 0;
    int eq = nx == ny && memcmp(x, y, nx) == 0;
    free(x), free(y);
    return eq;
}

static void test_multi_alpha_equals_single(void) {
    World w;
    if (world_init(&w, 30)) {
        CHECK(0, "world");
        return;
    }
    ObErr err;
    LabelStats st, st1;
    LabelConfig c = config(32, 2, 6, 1);
    CHECK(labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("m.bin"), &st,
                          &err) == 0,
          "%s", err.msg);
    LabelsFile lf, l1;
    CHECK(labels_open(&lf, tmp("m.bin"), &w.tok, &err) == 0, "%s", err.msg);
    for (int a = 0; a < c.n_alphas; a++) {
        LabelConfig c1 = c;
        c1.n_alphas = 1, c1.alphas[0] = c.alphas[a];
        memset(c1.alphas + 1, 0, sizeof(float) * (LABELS_MAX_ALPHAS - 1));
        CHECK(labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c1, tmp("s.bin"),
                              &st1, &err) == 0,
              "%s", err.msg);
        CHECK(st1.changed[0] == st.changed[a] && st1.labelled == st.labelled, "stats of alpha %g",
              c.alphas[a]);
        CHECK(labels_open(&l1, tmp("s.bin"), &w.tok, &err) == 0, "%s", err.msg);
        int ai = labels_alpha_index(&lf, c.alphas[a]);
        CHECK(ai == a && labels_alpha_index(&l1, c.alphas[a]) == 0, "alpha index");
        int same = l1.h.n_blocks == lf.h.n_blocks;
        size_t soft_bytes = (size_t)c.block * (c.soft_k * 8 + 4);
        for (uint64_t b = 0; same && b < lf.h.n_blocks; b++) {
            same &= !memcmp(labels_tokens(&lf, b), labels_tokens(&l1, b), 4 * (size_t)c.block);
            same &= !memcmp(labels_hard(&lf, b, a), labels_hard(&l1, b, 0), 4 * (size_t)c.block);
            same &= !memcmp(labels_soft(&lf, b, a), labels_soft(&l1, b, 0), soft_bytes);
        }
        CHECK(same, "alpha %g: the multi-alpha file differs from the single-alpha one",
              c.alphas[a]);
        labels_close(&l1);
    }
    CHECK(labels_alpha_index(&lf, 7.0f) == -1, "alpha 7 found");
    labels_close(&lf);
    /* The same seed gives the same file; any thread count gives the same file. */
    CHECK(labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("m2.bin"), &st,
                          &err) == 0,
          "%s", err.msg);
    CHECK(same_file(tmp("m.bin"), tmp("m2.bin")), "two runs differ");
#ifdef _OPENMP
    int nt = omp_get_max_threads();
    omp_set_num_threads(nt > 1 ? 1 : 3);
    CHECK(labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("m3.bin"), &st,
                          &err) == 0,
          "%s", err.msg);
    omp_set_num_threads(nt);
    /* BLAS may round differently with another thread count (OpenBLAS's
     * Haswell kernels do), which can flip a near-tied label; the tokens and
     * nearly every label must still agree. */
    {
        LabelsFile l3;
        int rc = labels_open(&lf, tmp("m.bin"), &w.tok, &err);
        CHECK(rc == 0, "%s", err.msg);
        int rc3 = rc ? -1 : labels_open(&l3, tmp("m3.bin"), &w.tok, &err);
        CHECK(rc3 == 0, "%s", err.msg);
        long diff = 0, n = 0, tok_diff = 0;
        for (uint64_t b = 0; rc3 == 0 && b < lf.h.n_blocks && b < l3.h.n_blocks; b++) {
            tok_diff += memcmp(labels_tokens(&lf, b), labels_tokens(&l3, b), 4 * (size_t)c.block);
            for (int a = 0; a < c.n_alphas; a++)
                for (int i = 0; i < c.block; i++, n++)
                    diff += labels_hard(&lf, b, a)[i] != labels_hard(&l3, b, a)[i];
        }
        CHECK(rc3 == 0 && l3.h.n_blocks == lf.h.n_blocks && tok_diff == 0 && n > 0 &&
                  diff * 100 <= n,
              "another thread count: %ld of %ld labels differ", diff, n);
        if (rc3 == 0) labels_close(&l3);
        if (rc == 0) labels_close(&lf);
    }
#endif
    c.seed = 43;
    CHECK(labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("m4.bin"), &st,
                          &err) == 0,
          "%s", err.msg);
    CHECK(!same_file(tmp("m.bin"), tmp("m4.bin")), "another seed gave the same translations");
    world_free(&w);
}

static int argmax_row(const float *x, int V) {
    int best = 0;
    for (int j = 1; j < V; j++)
        if (x[j] > x[best]) best = j;
    return best;
}

/* A stream of blocks of T tokens (and a tail of T/2) where two of every three
 * next tokens are the baseline's greedy choice given the block so far. */
static void half_greedy_stream(Llama *m, int T, int n_blocks, int V, TokenStream *ds) {
    ObErr err;
    ds->n = (size_t)n_blocks * T + (size_t)T / 2;
    ds->tokens = malloc(sizeof(int32_t) * ds->n);
    llama_alloc_batch(m, 1, T, &err);
    uint64_t x = 12345;
    for (size_t start = 0; start < ds->n; start += (size_t)T) {
        int32_t *t = ds->tokens + start;
        int n = ds->n - start < (size_t)T ? (int)(ds->n - start) : T;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            if (i == 0 || i % 3 == 0) {
                t[i] = (int32_t)((x >> 33) % (uint64_t)(V - 1));
                continue;
            }
            llama_forward(m, t, NULL, i, NULL);
            t[i] = argmax_row(m->acts.logits + (size_t)(i - 1) * V, V);
        }
    }
}

/* Alpha 0 and no anchors: the label is the baseline's argmax on the original
 * block, and "changed" counts where it is not the next token. */
static void test_alpha0_no_anchors(void) {
    World w;
    if (world_init(&w, 20)) {
        CHECK(0, "world");
        return;
    }
    ObErr err;
    LabelStats st;
    LabelConfig c = config(32, 4, 4, 1);
    c.n_alphas = 1;
    c.alphas[1] = c.alphas[2] = 0.0f;
    const int T = c.block, V = w.tok.n_vocab;
    TokenStream ds = {0};
    half_greedy_stream(&w.base, T, 6, V, &ds);
    CHECK(labels_generate(&w.base, &w.reinf, &w.tok, NULL, &ds, &c, tmp("a0.bin"), &st, &err) == 0,
          "%s", err.msg);
    LabelsFile lf;
    CHECK(labels_open(&lf, tmp("a0.bin"), &w.tok, &err) == 0, "%s", err.msg);
    long labelled = 0, changed = 0, bad = 0;
    for (uint64_t b = 0; b < lf.h.n_blocks; b++) {
        const int32_t *in = labels_tokens(&lf, b), *hard = labels_hard(&lf, b, 0);
        int n = ds.n - b * T < (size_t)T ? (int)(ds.n - b * T) : T;
        float *g = block_logits(&w.base, in, T);
        for (int i = 0; i < T; i++) {
            if (i >= n - 1) {
                bad += hard[i] != -1;
                continue;
            }
            int best = argmax_row(g + (size_t)i * V, V);
            bad += hard[i] != best;
            labelled++;
            changed += best != in[i + 1];
        }
        free(g);
    }
    CHECK(bad == 0, "%ld labels are not the baseline's argmax", bad);
    CHECK(st.labelled == labelled && st.changed[0] == changed && st.positions == (long)ds.n,
          "stats %ld/%ld, direct %ld/%ld", st.changed[0], st.labelled, changed, labelled);
    /* a third of the next tokens are random, the rest greedy */
    CHECK(changed > labelled / 5 && changed < labelled / 2, "changed %ld of %ld", changed,
          labelled);
    labels_close(&lf);
    dataset_free(&ds);
    world_free(&w);
}

static void test_refusals(void) {
    World w;
    if (world_init(&w, 10)) {
        CHECK(0, "world");
        return;
    }
    ObErr err;
    LabelStats st;
    LabelConfig c = config(32, 2, 4, 0);
    Llama other;
    CHECK(random_model(&other, w.tok.n_vocab + 1, 3, &err) == 0, "%s", err.msg);
    int rc =
        labels_generate(&w.base, &other, &w.tok, &w.dict, &w.target, &c, tmp("r.bin"), &st, &err);
    CHECK(rc == -1 && strstr(err.msg, "vocabulary sizes differ") && strstr(err.msg, "reinforced"),
          "%s", err.msg);
    llama_free(&other);
    c.block = 65;
    rc =
        labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("r.bin"), &st, &err);
    CHECK(rc == -1 && strstr(err.msg, "context"), "block > ctx: %s", err.msg);
    c = config(32, 2, 4, 0);
    c.n_alphas = 0;
    rc =
        labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("r.bin"), &st, &err);
    CHECK(rc == -1 && strstr(err.msg, "alphas"), "0 alphas: %s", err.msg);
    c.n_alphas = 9;
    rc =
        labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("r.bin"), &st, &err);
    CHECK(rc == -1 && strstr(err.msg, "alphas"), "9 alphas: %s", err.msg);
    c = config(32, 2, w.tok.n_vocab + 1, 0);
    rc =
        labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("r.bin"), &st, &err);
    CHECK(rc == -1 && strstr(err.msg, "soft-k"), "soft-k > vocab: %s", err.msg);
    TokenStream empty = {0};
    c = config(32, 2, 4, 0);
    rc = labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &empty, &c, tmp("r.bin"), &st, &err);
    CHECK(rc == -1 && strstr(err.msg, "no tokens"), "empty target: %s", err.msg);
    CHECK(access(tmp("r.bin"), F_OK) != 0, "a refused run left a file");
    world_free(&w);
}

/* A message is one line that starts with the file's path. */
static int one_line_naming(const ObErr *err, const char *path) {
    return !strncmp(err->msg, path, strlen(path)) && !strchr(err->msg, '\n');
}

static void test_bad_files(void) {
    World w;
    if (world_init(&w, 5)) {
        CHECK(0, "world");
        return;
    }
    ObErr err;
    LabelStats st;
    LabelConfig c = config(8, 2, 2, 0);
    c.n_alphas = 1, c.alphas[0] = 5.0f, c.alphas[1] = c.alphas[2] = 0.0f;
    CHECK(labels_generate(&w.base, &w.reinf, &w.tok, &w.dict, &w.target, &c, tmp("g.bin"), &st,
                          &err) == 0,
          "%s", err.msg);
    char *bytes;
    size_t len;
    CHECK(read_all(tmp("g.bin"), &bytes, &len) == 0, "read");
    CHECK(len == 128 + (size_t)st.blocks * 8 * (4 + 4 + 2 * 8 + 4), "file of %zu bytes", len);
    LabelsFile lf;
    const char *bad = tmp("bad.bin");
    /* Every truncation, and one byte too many. */
    int all_ok = 1;
    for (size_t cut = 0; cut <= len; cut++) {
        write_bytes(bad, bytes, cut);
        if (cut == len) {
            FILE *f = fopen(bad, "ab");
            fputc(0, f);
            fclose(f);
        }
        int rc = labels_open(&lf, bad, &w.tok, &err);
        if (rc == 0) labels_close(&lf);
        if (rc == 0 || !one_line_naming(&err, bad)) {
            fprintf(stderr, "  cut %zu: %s\n", cut, rc ? err.msg : "accepted");
            all_ok = 0;
            break;
        }
    }
    CHECK(all_ok, "a truncated labels file was accepted or gave a bad message");
    /* Named corruptions of the header and the contents. */
    struct {
        size_t off;
        uint32_t val;
        int is64;
        const char *want;
    } cases[] = {
        {0, 0x41424142, 0, "bad magic"},
        {offsetof(LabelsHeader, version), 2, 0, "version"},
        {offsetof(LabelsHeader, block), 1, 0, "block"},
        {offsetof(LabelsHeader, block), 9, 0, "truncated or corrupted"},
        {offsetof(LabelsHeader, vocab_size), 0, 0, "vocabulary size"},
        {offsetof(LabelsHeader, n_alphas), 0, 0, "alphas"},
        {offsetof(LabelsHeader, n_alphas), 9, 0, "alphas"},
        {offsetof(LabelsHeader, n_blocks), 0, 1, "no blocks"},
        {offsetof(LabelsHeader, n_blocks), 1000, 1, "truncated or corrupted"},
        {offsetof(LabelsHeader, n_blocks) + 4, 0x40000000, 0, "overflow"},
        {offsetof(LabelsHeader, soft_k), 100000, 0, "soft-k"},
        {offsetof(LabelsHeader, flags), 0x10, 0, "flags"},
        {offsetof(LabelsHeader, alphas), 0x7fc00000, 0, "alpha"},
        {offsetof(LabelsHeader, alphas) + 4, 0x3f800000, 0, "alpha"},
        {offsetof(LabelsHeader, reserved) + 7, 1, 0, "reserved"},
        {128, 100000, 0, "outside the vocabulary"},
        {128 + 8 * 4 + 4, 0x80000000, 0, "out of range"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *copy = malloc(len);
        memcpy(copy, bytes, len);
        if (cases[k].is64) {
            uint64_t v = cases[k].val;
            memcpy(copy + cases[k].off, &v, 8);
        } else {
            memcpy(copy + cases[k].off, &cases[k].val, 4);
        }
        write_bytes(bad, copy, len);
        free(copy);
        int rc = labels_open(&lf, bad, &w.tok, &err);
        if (rc == 0) labels_close(&lf);
        CHECK(rc == -1 && one_line_naming(&err, bad) && strstr(err.msg, cases[k].want),
              "case %zu (%s): %s", k, cases[k].want, rc ? err.msg : "accepted");
    }
    /* Every byte of the header flipped: refused, except bytes of the one
     * alpha, which may still be a valid alpha. */
    size_t a0 = offsetof(LabelsHeader, alphas);
    int flips_ok = 1;
    for (size_t i = 0; i < 128; i++) {
        bytes[i] ^= 0xff;
        write_bytes(bad, bytes, len);
        bytes[i] ^= 0xff;
        int rc = labels_open(&lf, bad, &w.tok, &err);
        if (rc == 0) labels_close(&lf);
        int may_pass = i >= a0 && i < a0 + 4;
        if ((rc == 0 && !may_pass) || (rc && !one_line_naming(&err, bad))) {
            fprintf(stderr, "  flip %zu: %s\n", i, rc ? err.msg : "accepted");
            flips_ok = 0;
        }
    }
    CHECK(flips_ok, "a corrupted header was accepted or gave a bad message");
    free(bytes);
    /* Another tokenizer: refused with both hashes; NULL skips the check. */
    Tokenizer t2;
    const char *texts[1] = {"some other text with other words entirely, and more words."};
    size_t tl = strlen(texts[0]);
    CHECK(tok_train_texts(&t2, texts, &tl, 1, 300, 0, &err) == 0, "%s", err.msg);
    int rc = labels_open(&lf, tmp("g.bin"), &t2, &err);
    CHECK(rc == -1 && one_line_naming(&err, tmp("g.bin")) &&
              strstr(err.msg, "made for another tokenizer (vocabulary hash 0x") &&
              strstr(err.msg, "this model's is 0x"),
          "another tokenizer: %s", rc ? err.msg : "accepted");
    CHECK(labels_open(&lf, tmp("g.bin"), NULL, &err) == 0, "%s", err.msg);
    CHECK(lf.h.n_alphas == 1 && lf.h.soft_k == 2 && lf.h.block == 8 &&
              lf.h.vocab_hash == tok_vocab_hash(&w.tok),
          "header fields");
    labels_close(&lf);
    rc = labels_open(&lf, tmp("missing.bin"), NULL, &err);
    CHECK(rc == -1 && one_line_naming(&err, tmp("missing.bin")), "%s", err.msg);
    tok_free(&t2);
    world_free(&w);
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_labels_match_direct_computation);
    RUN(test_ties_take_lower_id);
    RUN(test_multi_alpha_equals_single);
    RUN(test_alpha0_no_anchors);
    RUN(test_refusals);
    RUN(test_bad_files);
    tmpdir_remove();
    return check_main_end("labels");
}
