/* Cached inference: evaluates tokens one batch at a time against a key/value
 * cache, for generation and for scoring long texts without recomputing the
 * prefix. Matches llama_forward's numbers (tests/test_model.c checks it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/llama.h"
#include "model/ops.h"

/* Per-call scratch layout for n_batch tokens. */
typedef struct {
    float *x, *nb, *rstd, *q, *ao, *gate, *up, *att, *cos_t, *sin_t;
    float *lmid; /* (nb, LORA_RANK_MAX) an adapter's intermediate */
} KVScratch;

static size_t scratch_layout(KVScratch *s, const LlamaConfig *c, int nb, int n_ctx, float *base) {
    size_t C = c->dim, F = c->ffn_dim, QD = (size_t)c->n_heads * c->head_dim;
    size_t half = c->head_dim / 2;
    struct {
        float **p;
        size_t n;
    } parts[] = {{&s->x, nb * C},
                 {&s->nb, nb * C},
                 {&s->rstd, nb},
                 {&s->q, nb * QD},
                 {&s->ao, nb * QD},
                 {&s->gate, nb * F},
                 {&s->up, nb * F},
                 {&s->att, (size_t)nb * c->n_heads * n_ctx},
                 {&s->cos_t, nb * half},
                 {&s->sin_t, nb * half},
                 {&s->lmid, nb * LORA_RANK_MAX}};
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (base) *parts[i].p = base + total;
        total += (parts[i].n + 15) & ~(size_t)15;
    }
    return total;
}

int llama_kv_create(LlamaKV *kv, const LlamaConfig *c, int n_ctx, int n_batch, ObErr *err) {
    memset(kv, 0, sizeof *kv);
    if (n_ctx <= 0 || n_batch <= 0)
        return ob_errf(err, "context %d and batch %d must be positive", n_ctx, n_batch);
    if (n_batch > n_ctx) n_batch = n_ctx;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t cache = (size_t)c->n_layers * n_ctx * KD;
    KVScratch s;
    size_t ns = scratch_layout(&s, c, n_batch, n_ctx, NULL);
    kv->k = ob_calloc(cache, sizeof(float), "key cache", err);
    kv->v = kv->k ? ob_calloc(cache, sizeof(float), "value cache", err) : NULL;
    kv->scratch = kv->v ? ob_calloc(ns, sizeof(float), "inference scratch", err) : NULL;
    if (!kv->scratch) {
        llama_kv_free(kv);
        return -1;
    }
    kv->n_ctx = n_ctx;
    kv->n_batch = n_batch;
    return 0;
}

void llama_kv_reset(LlamaKV *kv) {
    kv->pos = 0;
}

void llama_kv_free(LlamaKV *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->scratch);
    memset(kv, 0, sizeof *kv);
}

/* Attention of n new queries (positions pos..pos+n-1) over cache rows
 * 0..pos+i. q (n, H*hd); kc, vc (n_ctx, KV*hd); out (n, H*hd). */
static void cached_attention(float *out, float *att, const float *q, const float *kc,
                             const float *vc, int n, int pos, int n_ctx, int H, int KV, int hd) {
    int QD = H * hd, KD = KV * hd, rep = H / KV;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; i++)
        for (int h = 0; h < H; h++) {
            const float *qi = q + (size_t)i * QD + (size_t)h * hd;
            const float *kb = kc + (size_t)(h / rep) * hd, *vb = vc + (size_t)(h / rep) * hd;
            float *p = att + ((size_t)i * H + h) * n_ctx;
            int last = pos + i;
            float mx = -INFINITY;
            for (int u = 0; u <= last; u++) {
                const float *ku = kb + (size_t)u * KD;
                float s = 0.0f;
                for (int d = 0; d < hd; d++) s += qi[d] * ku[d];
                p[u] = s * scale;
                mx = p[u] > mx ? p[u] : mx;
            }
            float sum = 0.0f;
            for (int u = 0; u <= last; u++) sum += (p[u] = ob_expf(p[u] - mx));
            float *o = out + (size_t)i * QD + (size_t)h * hd;
            memset(o, 0, sizeof(float) * hd);
            for (int u = 0; u <= last; u++) {
                float pu = p[u] / sum;
                const float *vu = vb + (size_t)u * KD;
                for (int d = 0; d < hd; d++) o[d] += pu * vu[d];
            }
        }
}

int llama_eval(const Llama *m, LlamaKV *kv, const int32_t *tokens, int n, float *logits,
               int all_logits, ObErr *err) {
    const LlamaConfig *c = &m->cfg;
    const LlamaParams *w = &m->w;
    if (n <= 0 || n > kv->n_batch)
        return ob_errf(err, "cannot evaluate %d tokens at once (batch size %d)", n, kv->n_batch);
    if (kv->pos + n > kv->n_ctx)
        return ob_errf(err, "context full: %d + %d tokens exceed %d", kv->pos, n, kv->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab)
            return ob_errf(err, "token id %d out of range (vocabulary %d)", tokens[i], c->vocab);
    int C = c->dim, F = c->ffn_dim, hd = c->head_dim, H = c->n_heads, KV = c->n_kv_heads;
    int KD = KV * hd, pos = kv->pos;
    KVScratch s;
    scratch_layout(&s, c, kv->n_batch, kv->n_ctx, kv->scratch);
    rope_tables(s.cos_t, s.sin_t, n, hd, c->rope_base, pos);
    llama_embed(m, s.x, tokens, n);
    for (int l = 0; l < c->n_layers; l++) {
        float *kc = kv->k + (size_t)l * kv->n_ctx * KD, *vc = kv->v + (size_t)l * kv->n_ctx * KD;
        float *kn = kc + (size_t)pos * KD, *vn = vc + (size_t)pos * KD;
        rmsnorm_forward(s.nb, s.rstd, s.x, w->attn_norm + (size_t)l * C, n, C, c->norm_eps);
        llama_linear_forward(m, MAT_Q, l, s.q, s.nb, n, 0.0f, s.lmid);
        llama_linear_forward(m, MAT_K, l, kn, s.nb, n, 0.0f, s.lmid);
        llama_linear_forward(m, MAT_V, l, vn, s.nb, n, 0.0f, s.lmid);
        rope_forward(s.q, s.cos_t, s.sin_t, 1, n, H, hd);
        rope_forward(kn, s.cos_t, s.sin_t, 1, n, KV, hd);
        cached_attention(s.ao, s.att, s.q, kc, vc, n, pos, kv->n_ctx, H, KV, hd);
        llama_linear_forward(m, MAT_O, l, s.x, s.ao, n, 1.0f, s.lmid);
        rmsnorm_forward(s.nb, s.rstd, s.x, w->ffn_norm + (size_t)l * C, n, C, c->norm_eps);
        llama_linear_forward(m, MAT_GATE, l, s.gate, s.nb, n, 0.0f, s.lmid);
        llama_linear_forward(m, MAT_UP, l, s.up, s.nb, n, 0.0f, s.lmid);
        swiglu_forward(s.gate, s.gate, s.up, (long)n * F);
        llama_linear_forward(m, MAT_DOWN, l, s.x, s.gate, n, 1.0f, s.lmid);
    }
    int first = all_logits ? 0 : n - 1, rows = n - first;
    rmsnorm_forward(s.nb, s.rstd, s.x + (size_t)first * C, w->out_norm, rows, C, c->norm_eps);
    llama_linear_forward(m, LLAMA_OUTPUT, 0, logits, s.nb, rows, 0.0f, NULL);
    kv->pos += n;
    return 0;
}
