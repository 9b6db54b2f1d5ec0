/* Generic labels (WHP step 4) and the labels file; see labels.h. */
#include "unlearn/labels.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/ops.h"
#include "unlearn/translate.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/progress.h"

static_assert(sizeof(LabelsHeader) == 128, "LabelsHeader must be 128 bytes");

#define LABELS_VERSION 1
#define LABELS_FLAG_FORBID_KEYS 1u
#define LABELS_FLAG_INKEY 2u
#define LABELS_FLAG_FORBID_WHOLE 4u

/* Bytes of one position's soft record: k ids, k probabilities, the rest. */
static size_t soft_rec_bytes(int k) {
    return (size_t)k * 8 + 4;
}

/* ---------------------------------------------------------------- labels */

/* Everything labels_generate allocates, once, before the first block. */
typedef struct {
    int B, T, V, A, K; /* K: slots per soft record, top-k then suppression */
    int Z;             /* suppression slots (the last Z of K) */
    Translation *tr;   /* (B) translations of the current group */
    int32_t *in_orig;  /* (B, T) original blocks, eot-padded */
    int32_t *in_trans; /* (B, T) translated blocks, eot-padded */
    int *valid;        /* (B) text tokens in each block of the group */
    int32_t *hard;     /* (B, A, T) */
    uint8_t *soft;     /* (B, A, T, soft record) */
    float *scratch;    /* (threads, V) */
    int n_threads;
    int32_t *key_first; /* first token of every key, both forms, sorted unique */
    int n_key_first;
    /* In-key labels: the baseline's logits on the original block, at the
     * group's in-key positions only (row inkey_row[b * T + i], or -1). */
    float *g_orig;
    size_t g_orig_cap; /* rows allocated */
    int *inkey_row;    /* (B, T) */
} LabelWork;

static void work_free(LabelWork *w) {
    if (w->tr)
        for (int b = 0; b < w->B; b++) translation_free(&w->tr[b]);
    OB_FREE_ALL(w->tr, w->in_orig, w->in_trans, w->valid, w->hard, w->soft, w->scratch,
                w->key_first, w->g_orig, w->inkey_row);
    memset(w, 0, sizeof *w);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int work_init(LabelWork *w, const AnchorDict *d, const LabelConfig *c, int V, ObErr *err) {
    memset(w, 0, sizeof *w);
    w->B = c->batch, w->T = c->block, w->V = V, w->A = c->n_alphas;
    w->Z = c->soft_k ? c->suppress : 0, w->K = c->soft_k + w->Z;
#ifdef _OPENMP
    w->n_threads = omp_get_max_threads();
#else
    w->n_threads = 1;
#endif
    size_t BT = (size_t)w->B * w->T;
    w->tr = ob_calloc((size_t)w->B, sizeof(Translation), "translations", err);
    w->in_orig = ob_malloc(BT * sizeof(int32_t), "label inputs", err);
    w->in_trans = ob_malloc(BT * sizeof(int32_t), "label inputs", err);
    w->valid = ob_calloc((size_t)w->B, sizeof(int), "label inputs", err);
    w->hard = ob_malloc(BT * w->A * sizeof(int32_t), "hard labels", err);
    w->soft = w->K ? ob_malloc(BT * w->A * soft_rec_bytes(w->K), "soft labels", err) : NULL;
    w->scratch = ob_malloc((size_t)w->n_threads * V * sizeof(float), "label scratch", err);
    if (c->inkey) w->inkey_row = ob_malloc(BT * sizeof(int), "in-key positions", err);
    if (!w->tr || !w->in_orig || !w->in_trans || !w->valid || !w->hard || (w->K && !w->soft) ||
        !w->scratch || (c->inkey && !w->inkey_row))
        return work_free(w), -1;
    for (int b = 0; b < w->B; b++)
        if (translation_init(&w->tr[b], w->T, w->T, err)) return work_free(w), -1;
    if (d && c->forbid_keys) {
        w->key_first = ob_malloc(sizeof(int32_t) * (2 * (size_t)d->n + 1), "key tokens", err);
        if (!w->key_first) return work_free(w), -1;
        for (int a = 0; a < d->n; a++)
            for (int f = 0; f < 2; f++)
                if (d->items[a].key_tok[f].n == 1 ||
                    (d->items[a].key_tok[f].n > 1 && c->forbid_keys == LABELS_FORBID_FIRST))
                    w->key_first[w->n_key_first++] = d->items[a].key_tok[f].ids[0];
        qsort(w->key_first, (size_t)w->n_key_first, sizeof(int32_t), cmp_i32);
        int u = 0;
        for (int i = 0; i < w->n_key_first; i++)
            if (u == 0 || w->key_first[u - 1] != w->key_first[i])
                w->key_first[u++] = w->key_first[i];
        w->n_key_first = u;
    }
    return 0;
}

/* Without a dictionary: tokens unchanged, map[i] = i except the last
 * position, nothing forbidden (translate.h's rules with no key matched). */
static void identity_translation(Translation *tr, const int32_t *orig, int n) {
    memcpy(tr->tokens, orig, sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) tr->map[i] = i < n - 1 ? i : -1;
    memset(tr->inkey, 0, (size_t)n);
    tr->n_orig = n, tr->n_trans = n, tr->n_forbid = 0, tr->n_matches = 0;
}

/* Reductions in fixed lanes: the same bits on every run and thread count,
 * and loops the compiler vectorises without -ffast-math. */
#define LANES 64 /* four 16-float vectors, to hide the add latency */
#define CHUNK 256

/* sum(v): float lanes per chunk of CHUNK, the chunks added in double. */
static double lane_sum(const float *v, int V) {
    double s = 0.0;
    int j = 0;
    for (; j + CHUNK <= V; j += CHUNK) {
        float acc[LANES] = {0};
        for (int i = j; i < j + CHUNK; i += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += v[i + l];
        for (int l = 0; l < LANES; l++) s += acc[l];
    }
    for (; j < V; j++) s += v[j];
    return s;
}

/* v = g - alpha * max(r - g, 0) over the vocabulary; returns sum(v). */
static double generic_logits(const float *g, const float *r, float alpha, int V, float *v) {
    for (int j = 0; j < V; j++) {
        float d = r[j] - g[j];
        v[j] = g[j] - alpha * (d > 0.0f ? d : 0.0f);
    }
    return lane_sum(v, V);
}

/* v = exp(v - vmax) in place; returns the sum. */
static double exp_shifted(float *v, int V, float vmax) {
    for (int j = 0; j < V; j++) v[j] = ob_expf(v[j] - vmax);
    return lane_sum(v, V);
}

static float max_lanes(const float *x, int n) {
    float acc[LANES], m = x[0];
    for (int l = 0; l < LANES; l++) acc[l] = x[0];
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    for (int l = 0; l < LANES; l++) m = acc[l] > m ? acc[l] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* The first index j < n with x[j] == m (m must occur). */
static int first_equal(const float *x, int n, float m) {
    int j = 0;
    for (; j + LANES <= n; j += LANES) {
        int hit = 0;
        for (int l = 0; l < LANES; l++) hit |= x[j + l] == m;
        if (hit) break;
    }
    while (x[j] != m) j++;
    return j;
}

/* Keeps the z forbidden tokens the reinforced model believes most (highest
 * r), strongest first, in ids[z] (-1 = empty) with their r in top[z]. */
static void suppress_insert(int32_t *ids, float *top, int z, int32_t id, float rj) {
    for (int i = 0; i < z; i++)
        if (ids[i] == id) return;
    if (ids[z - 1] >= 0 && rj <= top[z - 1]) return;
    int at = z - 1;
    while (at > 0 && (ids[at - 1] < 0 || top[at - 1] < rj)) {
        ids[at] = ids[at - 1], top[at] = top[at - 1];
        at--;
    }
    ids[at] = id, top[at] = rj;
}

/* The label record of one position for one alpha: hard label, and with
 * k > 0 the soft record (ids[k + z], p[k + z], rest) at rec: the top k of
 * softmax(v), then z suppression slots naming forbidden tokens with target
 * 0. v is V floats of scratch. g, r: baseline and reinforced logits. extra:
 * one more token forbidden here (an in-key position's next key token), or
 * -1; it takes the first suppression slot. */
static int32_t label_position(const float *g, const float *r, float alpha, int V, const Forbid *fb,
                              int n_fb, int pos, const int32_t *keys, int n_keys, int32_t extra,
                              int k, int z, float *v, uint8_t *rec) {
    float mean = (float)(generic_logits(g, r, alpha, V, v) / V);
    for (int f = 0; f < n_fb && fb[f].from <= pos; f++) v[fb[f].token] = mean;
    for (int f = 0; f < n_keys; f++) v[keys[f]] = mean;
    if (extra >= 0) v[extra] = mean;
    float vmax = max_lanes(v, V);
    int32_t best = first_equal(v, V, vmax); /* the lowest id among ties */
    if (!k) return best;
    /* p = softmax(v) = exp(v - vmax) / z, then the k most probable tokens
     * (ties: lower id first) */
    float inv_z = (float)(1.0 / exp_shifted(v, V, vmax));
    int32_t *ids = (int32_t *)rec;
    float *p = (float *)(rec + (size_t)(k + z) * 4);
    int n = 0, j = 0;
    for (; n < k; j++) topk_insert(ids, p, &n, k, j, v[j] * inv_z);
    /* Later ids only enter when strictly more probable than the k-th: skip
     * chunks where none is. */
    for (; j < V; j += LANES) {
        int e = j + LANES < V ? j + LANES : V, hit = e - j < LANES;
        float t = p[k - 1];
        if (!hit)
            for (int l = 0; l < LANES; l++) hit |= v[j + l] * inv_z > t;
        for (int i = j; hit && i < e; i++) topk_insert(ids, p, &n, k, i, v[i] * inv_z);
    }
    double kept = 0.0;
    for (int i = 0; i < k; i++) kept += p[i];
    float rest = (float)(1.0 - kept);
    memcpy(rec + (size_t)(k + z) * 8, &(float){rest > 0.0f ? rest : 0.0f}, 4);
    if (!z) return best;
    /* Suppression: a forbidden token left in the rest bucket keeps whatever
     * share of the bucket the model gives it; listed with target 0, the loss
     * pushes it down on its own. */
    int32_t *zid = ids + k;
    float *zp = p + k, *top = v; /* v is spent: reuse it for the ranking */
    for (int i = 0; i < z; i++) zid[i] = -1, zp[i] = 0.0f;
    int z0 = 0;
    if (extra >= 0) zid[0] = extra, z0 = 1;
    if (z0 < z) {
        for (int f = 0; f < n_fb && fb[f].from <= pos; f++)
            if (fb[f].token != extra)
                suppress_insert(zid + z0, top, z - z0, fb[f].token, r[fb[f].token]);
        for (int f = 0; f < n_keys; f++)
            if (keys[f] != extra) suppress_insert(zid + z0, top, z - z0, keys[f], r[keys[f]]);
    }
    /* A token among the top k (a tiny vocabulary) is not listed twice. */
    for (int i = 0; i < z; i++)
        for (int t = 0; zid[i] >= 0 && t < k; t++)
            if (ids[t] == zid[i]) zid[i] = -1;
    return best;
}

static void masked_record(int k, uint8_t *rec) {
    int32_t *ids = (int32_t *)rec;
    for (int i = 0; i < k; i++) ids[i] = -1;
    memset(rec + (size_t)k * 4, 0, (size_t)k * 4 + 4);
}

/* Labels every position of the nb blocks in the group from the logits the
 * two forward passes left in base/reinf. */
static void label_group(LabelWork *w, const Llama *base, const Llama *reinf, const LabelConfig *c,
                        int nb) {
    const int T = w->T, V = w->V, A = w->A, K = w->K;
    const size_t rec = soft_rec_bytes(K);
    const float *gl = base->acts.logits, *rl = reinf->acts.logits;
    long n = (long)nb * T;
#pragma omp parallel for schedule(dynamic, 16)
    for (long idx = 0; idx < n; idx++) {
        int b = (int)(idx / T), i = (int)(idx % T);
#ifdef _OPENMP
        float *v = w->scratch + (size_t)omp_get_thread_num() * V;
#else
        float *v = w->scratch;
#endif
        const Translation *tr = &w->tr[b];
        int m = i < w->valid[b] ? tr->map[i] : -1;
        if (m >= T) m = -1;
        int inkey = m < 0 && w->inkey_row && w->inkey_row[b * T + i] >= 0;
        for (int a = 0; a < A; a++) {
            size_t o = ((size_t)b * A + a) * T + i;
            uint8_t *sr = K ? w->soft + o * rec : NULL;
            if (m < 0 && !inkey) {
                w->hard[o] = -1;
                if (K) masked_record(K, sr);
                continue;
            }
            const float *g = m >= 0 ? gl + ((size_t)b * T + m) * V
                                    : w->g_orig + (size_t)w->inkey_row[b * T + i] * V;
            const float *r = rl + ((size_t)b * T + i) * V;
            int32_t extra = m >= 0 ? -1 : w->in_orig[(size_t)b * T + i + 1];
            w->hard[o] = label_position(g, r, c->alphas[a], V, tr->forbid, tr->n_forbid, i,
                                        w->key_first, w->n_key_first, extra, K - w->Z, w->Z, v, sr);
        }
    }
}

static int check_config(const Llama *base, const Llama *reinf, const Tokenizer *tok,
                        const AnchorDict *d, const TokenStream *target, const LabelConfig *c,
                        ObErr *err) {
    int Vb = base->cfg.vocab, Vr = reinf->cfg.vocab, Vt = tok->n_vocab;
    if (Vb != Vr || Vb != Vt)
        return ob_errf(err,
                       "vocabulary sizes differ: baseline %d, reinforced %d, tokenizer %d "
                       "(all three must be the same)",
                       Vb, Vr, Vt);
    if (c->block < 2) return ob_errf(err, "block %d must be at least 2", c->block);
    if (c->block > base->cfg.ctx_len || c->block > reinf->cfg.ctx_len)
        return ob_errf(err, "block %d is longer than the context (baseline %d, reinforced %d)",
                       c->block, base->cfg.ctx_len, reinf->cfg.ctx_len);
    if (c->batch < 1) return ob_errf(err, "batch %d must be at least 1", c->batch);
    if (c->n_alphas < 1 || c->n_alphas > LABELS_MAX_ALPHAS)
        return ob_errf(err, "%d alphas given; 1 to %d allowed", c->n_alphas, LABELS_MAX_ALPHAS);
    for (int a = 0; a < c->n_alphas; a++)
        if (!isfinite(c->alphas[a]) || c->alphas[a] < 0.0f)
            return ob_errf(err, "alpha %g must be finite and >= 0", c->alphas[a]);
    if (c->soft_k < 0 || c->soft_k > Vb)
        return ob_errf(err, "soft-k %d outside 0..%d (the vocabulary)", c->soft_k, Vb);
    if (c->suppress < 0 || (c->soft_k && c->soft_k + c->suppress > Vb))
        return ob_errf(err, "suppress %d: soft-k plus suppression slots must be 0..%d", c->suppress,
                       Vb);
    if (!target->n) return ob_errf(err, "the target text has no tokens");
    if (d && (!d->tokenized || d->n_vocab != Vb))
        return ob_errf(err, "the anchor dictionary is not tokenized with this vocabulary");
    for (size_t i = 0; i < target->n; i++)
        if (target->tokens[i] < 0 || target->tokens[i] >= Vb)
            return ob_errf(err, "target token %zu is %d, outside the vocabulary", i,
                           target->tokens[i]);
    return 0;
}

static void fill_header(LabelsHeader *h, const Tokenizer *tok, const LabelConfig *c,
                        uint64_t n_blocks) {
    memset(h, 0, sizeof *h);
    memcpy(h->magic, "OBLABELS", 8);
    h->version = LABELS_VERSION;
    h->block = (uint32_t)c->block;
    h->vocab_hash = tok_vocab_hash(tok);
    h->vocab_size = (uint32_t)tok->n_vocab;
    h->n_alphas = (uint32_t)c->n_alphas;
    h->n_blocks = n_blocks;
    h->soft_k = (uint32_t)(c->soft_k ? c->soft_k + c->suppress : 0);
    h->soft_zero = (uint32_t)(c->soft_k ? c->suppress : 0);
    h->flags = (c->forbid_keys ? LABELS_FLAG_FORBID_KEYS : 0) | (c->inkey ? LABELS_FLAG_INKEY : 0) |
               (c->forbid_keys == LABELS_FORBID_WHOLE ? LABELS_FLAG_FORBID_WHOLE : 0);
    for (int a = 0; a < c->n_alphas; a++) h->alphas[a] = c->alphas[a];
}

/* Fills the group's input rows: original blocks (eot-padded), translations
 * and the translated rows (eot-padded). Unused rows are all eot. */
static int prepare_group(LabelWork *w, const AnchorDict *d, const TokenStream *target,
                         uint64_t first, int nb, int eot, ObRng *rng, ObErr *err) {
    const int T = w->T;
    for (int b = 0; b < w->B; b++) {
        int32_t *orig = w->in_orig + (size_t)b * T, *trans = w->in_trans + (size_t)b * T;
        size_t start = (size_t)(first + b) * T;
        int n = b < nb ? (int)(target->n - start < (size_t)T ? target->n - start : (size_t)T) : 0;
        w->valid[b] = n;
        if (n > 0) memcpy(orig, target->tokens + start, sizeof(int32_t) * (size_t)n);
        for (int i = n; i < T; i++) orig[i] = eot;
        int nt = 0;
        if (n > 0) {
            Translation *tr = &w->tr[b];
            if (!d)
                identity_translation(tr, orig, n);
            else if (translate_block(d, orig, n, rng, tr, err))
                return ob_err_prefix(err, "block %llu", (unsigned long long)(first + b));
            nt = tr->n_trans < T ? tr->n_trans : T;
            memcpy(trans, tr->tokens, sizeof(int32_t) * (size_t)nt);
        }
        for (int i = nt; i < T; i++) trans[i] = eot;
    }
    return 0;
}

/* In-key labels: numbers the group's in-key positions and keeps the
 * baseline's logits there from a forward pass over the original blocks. */
static int inkey_logits(LabelWork *w, Llama *base, int nb, int *passes, ObErr *err) {
    const int T = w->T;
    size_t rows = 0;
    for (int b = 0; b < w->B; b++)
        for (int i = 0; i < T; i++) {
            const Translation *tr = &w->tr[b];
            int on = b < nb && i + 1 < w->valid[b] && tr->inkey[i];
            w->inkey_row[b * T + i] = on ? (int)rows++ : -1;
        }
    if (!rows) return 0;
    if (rows > w->g_orig_cap) {
        float *g = realloc(w->g_orig, rows * (size_t)w->V * sizeof(float));
        if (!g) return ob_errf(err, "out of memory for in-key logits (%zu rows)", rows);
        w->g_orig = g, w->g_orig_cap = rows;
    }
    llama_forward(base, w->in_orig, NULL, T, NULL);
    (*passes)++;
    for (size_t bi = 0; bi < (size_t)w->B * T; bi++)
        if (w->inkey_row[bi] >= 0)
            memcpy(w->g_orig + (size_t)w->inkey_row[bi] * w->V,
                   base->acts.logits + bi * (size_t)w->V, sizeof(float) * (size_t)w->V);
    return 0;
}

static int write_group(const LabelWork *w, FILE *fp, int nb) {
    const size_t T = (size_t)w->T, A = (size_t)w->A, rec = soft_rec_bytes(w->K);
    for (int b = 0; b < nb; b++) {
        if (fwrite(w->in_orig + b * T, sizeof(int32_t), T, fp) != T) return -1;
        if (fwrite(w->hard + b * A * T, sizeof(int32_t), A * T, fp) != A * T) return -1;
        if (w->K && fwrite(w->soft + b * A * T * rec, rec, A * T, fp) != A * T) return -1;
    }
    return 0;
}

/* The group's rows as write_group reads them, between ranks (same B, so
 * the same layout on both sides). */
static int send_group(const LabelWork *w, int nb, ObErr *err) {
    const size_t T = (size_t)w->T, A = (size_t)w->A, rec = soft_rec_bytes(w->K);
    return dist_send(w->in_orig, sizeof(int32_t) * nb * T, 0, err) ||
                   dist_send(w->hard, sizeof(int32_t) * nb * A * T, 0, err) ||
                   (w->K && dist_send(w->soft, rec * nb * A * T, 0, err))
               ? -1
               : 0;
}

static int recv_group(LabelWork *w, int nb, int from, ObErr *err) {
    const size_t T = (size_t)w->T, A = (size_t)w->A, rec = soft_rec_bytes(w->K);
    return dist_recv(w->in_orig, sizeof(int32_t) * nb * T, from, err) ||
                   dist_recv(w->hard, sizeof(int32_t) * nb * A * T, from, err) ||
                   (w->K && dist_recv(w->soft, rec * nb * A * T, from, err))
               ? -1
               : 0;
}

static void count_group(const LabelWork *w, int nb, LabelStats *st) {
    const int T = w->T;
    for (int b = 0; b < nb; b++) {
        const int32_t *orig = w->in_orig + (size_t)b * T;
        st->positions += w->valid[b];
        for (int i = 0; i < T; i++)
            if (w->hard[((size_t)b * w->A) * T + i] >= 0) st->labelled++;
        for (int a = 0; a < w->A; a++) {
            const int32_t *h = w->hard + ((size_t)b * w->A + a) * T;
            for (int i = 0; i + 1 < T; i++)
                if (h[i] >= 0 && h[i] != orig[i + 1]) st->changed[a]++;
        }
    }
}

static void progress_line(Progress *p, uint64_t done, uint64_t total, double fwd_tokens,
                          int final) {
    double now = ob_now();
    if (now - p->t_last < 2.0 && !(final && now - p->t0 >= 2.0)) return;
    double el = now - p->t0, tok_s = el > 0 ? fwd_tokens / el : 0;
    char eta[32];
    ob_format_duration(done ? el / (double)done * (double)(total - done) : 0, eta, sizeof eta);
    ob_logf("%s: block %llu/%llu | %.0f tok/s | ETA %s\n", p->what, (unsigned long long)done,
            (unsigned long long)total, tok_s, eta);
    p->t_last = now;
}

int labels_generate(Llama *base, Llama *reinf, const Tokenizer *tok, const AnchorDict *d,
                    const TokenStream *target, const LabelConfig *c, const char *path,
                    LabelStats *st, ObErr *err) {
    memset(st, 0, sizeof *st);
    if (check_config(base, reinf, tok, d, target, c, err)) return -1;
    const int T = c->block;
    const uint64_t n_blocks = (target->n + (size_t)T - 1) / (size_t)T;
    if (llama_alloc_batch(base, c->batch, T, err) || llama_alloc_batch(reinf, c->batch, T, err))
        return -1;
    LabelWork w;
    if (work_init(&w, d, c, tok->n_vocab, err)) return -1;
    LabelsHeader h;
    fill_header(&h, tok, c, n_blocks);
    /* Under MPI group g (c->batch blocks, as one process groups them) is
     * rank g % size's; rank 0 alone writes, receiving the others' groups in
     * order. A group's labels do not depend on which rank makes them, so the
     * file is the one a single process writes. */
    const int rank = dist_rank(), size = dist_size();
    ObAtomicFile af;
    if (rank == 0 && ob_atomic_open(&af, path, err)) return work_free(&w), -1;
    int rc = rank == 0 && fwrite(&h, sizeof h, 1, af.fp) != 1 ? -1 : 0;
    ObRng rng;
    ob_rng_seed(&rng, c->seed);
    Progress prog;
    progress_start(&prog, "labels", 0, (long)n_blocks);
    double t0 = ob_now(), fwd_tokens = 0; /* tokens through a model, all passes */
    for (uint64_t first = 0, g = 0; !rc && first < n_blocks; first += (uint64_t)c->batch, g++) {
        int nb = n_blocks - first < (uint64_t)c->batch ? (int)(n_blocks - first) : c->batch;
        int owner = (int)(g % (uint64_t)size);
        if (owner != rank) {
            /* the same rng draws as translating the group's blocks */
            for (int b = 0; d && b < nb; b++) translate_skip_block(d, &rng);
            if (rank == 0 && (rc = recv_group(&w, nb, owner, err))) break;
        } else {
            rc = prepare_group(&w, d, target, first, nb, tok->eot_id, &rng, err);
            if (rc) break;
            int passes = 2;
            if (c->inkey && (rc = inkey_logits(&w, base, nb, &passes, err))) break;
            fwd_tokens += (double)passes * T * nb;
            llama_forward(base, w.in_trans, NULL, T, NULL);
            llama_forward(reinf, w.in_orig, NULL, T, NULL);
            label_group(&w, base, reinf, c, nb);
            count_group(&w, nb, st);
            if (rank != 0 && (rc = send_group(&w, nb, err))) break;
        }
        if (rank != 0) continue;
        if (write_group(&w, af.fp, nb))
            rc = ob_errf(err, "%s: write failed: %s", path, strerror(errno));
        progress_line(&prog, first + (uint64_t)nb, n_blocks, fwd_tokens, first + nb == n_blocks);
    }
    work_free(&w);
    if (rc) {
        if (rank == 0) ob_atomic_abort(&af);
        return size > 1 ? ob_err_prefix(err, "rank %d", rank) : -1;
    }
    if (rank == 0 && ob_atomic_commit(&af, err)) return -1;
    /* Counts summed over ranks (exact in double); the file exists for all. */
    double sums[3 + LABELS_MAX_ALPHAS] = {(double)st->positions, (double)st->labelled, fwd_tokens};
    for (int a = 0; a < LABELS_MAX_ALPHAS; a++) sums[3 + a] = (double)st->changed[a];
    if (dist_allreduce_sum_f64(sums, 3 + LABELS_MAX_ALPHAS, err) || dist_barrier(err)) return -1;
    st->positions = (long)sums[0], st->labelled = (long)sums[1], fwd_tokens = sums[2];
    for (int a = 0; a < LABELS_MAX_ALPHAS; a++) st->changed[a] = (long)sums[3 + a];
    st->blocks = (long)n_blocks, st->block = c->block;
    st->seconds = ob_now() - t0;
    st->tokens_per_s = st->seconds > 0 ? fwd_tokens / st->seconds : 0;
    return 0;
}

/* ------------------------------------------------------------ labels file */

/* Checks the ids and probabilities of every block, so a reader (the trainer)
 * can index with them without further checks. */
static int check_contents(const LabelsFile *lf, const char *path, ObErr *err) {
    const LabelsHeader *h = &lf->h;
    const int T = (int)h->block, K = (int)h->soft_k;
    const int32_t V = (int32_t)h->vocab_size;
    const size_t rec = soft_rec_bytes(K);
    for (uint64_t b = 0; b < h->n_blocks; b++) {
        const int32_t *tk = labels_tokens(lf, b);
        for (int i = 0; i < T; i++)
            if (tk[i] < 0 || tk[i] >= V)
                return ob_errf(err, "%s: block %llu position %d: token %d outside the vocabulary",
                               path, (unsigned long long)b, i, tk[i]);
        for (int a = 0; a < (int)h->n_alphas; a++) {
            const int32_t *hd = labels_hard(lf, b, a);
            for (int i = 0; i < T; i++)
                if (hd[i] < -1 || hd[i] >= V)
                    return ob_errf(err, "%s: block %llu position %d: label %d out of range", path,
                                   (unsigned long long)b, i, hd[i]);
            const uint8_t *s = K ? labels_soft(lf, b, a) : NULL;
            for (int i = 0; K && i < T; i++) {
                const int32_t *ids = (const int32_t *)(s + (size_t)i * rec);
                const float *p = (const float *)(s + (size_t)i * rec + (size_t)K * 4);
                for (int j = 0; j <= K; j++) {
                    int bad = j < K ? ids[j] < -1 || ids[j] >= V : 0;
                    bad |= !(p[j] >= 0.0f && p[j] <= 1.0f);
                    if (bad)
                        return ob_errf(err,
                                       "%s: block %llu position %d: soft entry %d out of range",
                                       path, (unsigned long long)b, i, j);
                }
            }
        }
    }
    return 0;
}

/* Validates the header against the file's size; fills block_bytes. */
static int check_header(LabelsFile *lf, const char *path, const Tokenizer *tok, ObErr *err) {
    const LabelsHeader *h = &lf->h;
    if (memcmp(h->magic, "OBLABELS", 8))
        return ob_errf(err, "%s: not a labels file (bad magic)", path);
    if (h->version != LABELS_VERSION)
        return ob_errf(err, "%s: labels version %u, this build reads %d", path, h->version,
                       LABELS_VERSION);
    if (h->block < 2) return ob_errf(err, "%s: block %u must be at least 2", path, h->block);
    if (h->vocab_size < 1 || h->vocab_size > INT32_MAX)
        return ob_errf(err, "%s: vocabulary size %u is invalid", path, h->vocab_size);
    if (h->n_alphas < 1 || h->n_alphas > LABELS_MAX_ALPHAS)
        return ob_errf(err, "%s: %u alphas, 1 to %d allowed", path, h->n_alphas, LABELS_MAX_ALPHAS);
    if (h->soft_k > h->vocab_size)
        return ob_errf(err, "%s: soft-k %u exceeds the vocabulary (%u)", path, h->soft_k,
                       h->vocab_size);
    if (h->flags & ~(LABELS_FLAG_FORBID_KEYS | LABELS_FLAG_INKEY | LABELS_FLAG_FORBID_WHOLE))
        return ob_errf(err, "%s: unknown flags 0x%x", path, h->flags);
    for (int a = 0; a < LABELS_MAX_ALPHAS; a++) {
        int used = a < (int)h->n_alphas;
        if (used ? !isfinite(h->alphas[a]) || h->alphas[a] < 0.0f : h->alphas[a] != 0.0f)
            return ob_errf(err, "%s: alpha %d is invalid (%g)", path, a, h->alphas[a]);
    }
    if (h->soft_zero && h->soft_zero >= h->soft_k)
        return ob_errf(err, "%s: %u suppression slots of %u soft slots", path, h->soft_zero,
                       h->soft_k);
    for (size_t i = 0; i < sizeof h->reserved; i++)
        if (h->reserved[i]) return ob_errf(err, "%s: reserved header bytes are not zero", path);
    if (h->n_blocks == 0) return ob_errf(err, "%s: holds no blocks", path);
    /* per position: token, n_alphas hard labels, n_alphas soft records */
    uint64_t per_pos = 4 + 4 * (uint64_t)h->n_alphas, bb, body, total;
    if (h->soft_k) per_pos += (uint64_t)h->n_alphas * soft_rec_bytes((int)h->soft_k);
    if (__builtin_mul_overflow(per_pos, (uint64_t)h->block, &bb) ||
        __builtin_mul_overflow(bb, h->n_blocks, &body) ||
        __builtin_add_overflow(body, (uint64_t)sizeof(LabelsHeader), &total) || total > SIZE_MAX)
        return ob_errf(err, "%s: header sizes overflow (%llu blocks of %u tokens)", path,
                       (unsigned long long)h->n_blocks, h->block);
    if (total != lf->size)
        return ob_errf(err,
                       "%s: file is %zu bytes, the header needs %llu (%llu blocks of %u tokens): "
                       "truncated or corrupted",
                       path, lf->size, (unsigned long long)total, (unsigned long long)h->n_blocks,
                       h->block);
    lf->block_bytes = (size_t)bb;
    if (tok) {
        uint64_t mine = tok_vocab_hash(tok);
        if (mine != h->vocab_hash)
            return ob_errf(err,
                           "%s: made for another tokenizer (vocabulary hash 0x%016llx, this "
                           "model's is 0x%016llx)",
                           path, (unsigned long long)h->vocab_hash, (unsigned long long)mine);
        if (h->vocab_size != (uint32_t)tok->n_vocab)
            return ob_errf(err, "%s: made for another tokenizer (%u tokens, this model's has %d)",
                           path, h->vocab_size, tok->n_vocab);
    }
    return 0;
}

int labels_open(LabelsFile *lf, const char *path, const Tokenizer *tok, ObErr *err) {
    memset(lf, 0, sizeof *lf);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ob_errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ob_errf(err, "%s: not a regular file", path);
    }
    lf->size = (size_t)sb.st_size;
    if (lf->size < sizeof(LabelsHeader)) {
        close(fd);
        return ob_errf(err, "%s: not a labels file (%zu bytes, shorter than the %zu-byte header)",
                       path, lf->size, sizeof(LabelsHeader));
    }
    void *m = mmap(NULL, lf->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return ob_errf(err, "%s: cannot map: %s", path, strerror(errno));
    lf->map = m;
    memcpy(&lf->h, lf->map, sizeof lf->h);
    int rc = check_header(lf, path, tok, err);
    if (!rc) rc = check_contents(lf, path, err);
    if (!rc) {
        lf->path = strdup(path);
        if (!lf->path) rc = ob_errf(err, "%s: out of memory", path);
    }
    if (rc) {
        munmap(m, lf->size);
        memset(lf, 0, sizeof *lf);
        return -1;
    }
    return 0;
}

void labels_close(LabelsFile *lf) {
    if (lf->map) munmap((void *)lf->map, lf->size);
    free(lf->path);
    memset(lf, 0, sizeof *lf);
}

int labels_alpha_index(const LabelsFile *lf, float alpha) {
    for (int a = 0; a < (int)lf->h.n_alphas; a++) {
        float x = lf->h.alphas[a];
        if (fabsf(x - alpha) <= 1e-6f * fmaxf(1.0f, fabsf(alpha))) return a;
    }
    return -1;
}

static const uint8_t *block_at(const LabelsFile *lf, uint64_t b) {
    return lf->map + sizeof(LabelsHeader) + b * lf->block_bytes;
}

const int32_t *labels_tokens(const LabelsFile *lf, uint64_t b) {
    return (const int32_t *)block_at(lf, b);
}

const int32_t *labels_hard(const LabelsFile *lf, uint64_t b, int a) {
    return (const int32_t *)(block_at(lf, b) + (size_t)lf->h.block * 4 * (1 + (size_t)a));
}

const uint8_t *labels_soft(const LabelsFile *lf, uint64_t b, int a) {
    size_t T = lf->h.block;
    return block_at(lf, b) + T * 4 * (1 + (size_t)lf->h.n_alphas) +
           (size_t)a * T * soft_rec_bytes((int)lf->h.soft_k);
}
