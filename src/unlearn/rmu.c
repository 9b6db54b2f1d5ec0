#include "unlearn/rmu.h"

#include <math.h>
#include <string.h>

#include "util/rng.h"

int rmu_layer(int n_layers, int layer) {
    if (layer >= 0) return layer;
    int l = (int)lround(7.0 * n_layers / 32.0);
    return l < n_layers ? l : n_layers - 1;
}

int rmu_lowest(int layer) {
    return layer >= 2 ? layer - 2 : 0;
}

void rmu_direction(float *u, int C, uint64_t seed) {
    ObRng rng;
    ob_rng_seed(&rng, seed ^ 0x726d75u); /* "rmu": apart from the batches' stream */
    double n2 = 0;
    for (int i = 0; i < C; i++) u[i] = (float)ob_rng_uniform(&rng), n2 += (double)u[i] * u[i];
    double inv = n2 > 0 ? 1.0 / sqrt(n2) : 0.0;
    for (int i = 0; i < C; i++) u[i] = (float)(u[i] * inv);
}

double rmu_mse(const float *h, const float *target, size_t tstride, size_t N, int C, double weight,
               float *dh) {
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (size_t n = 0; n < N; n++) {
        const float *hn = h + n * C, *tn = target + n * tstride;
        float *dn = dh + n * C;
        for (int i = 0; i < C; i++) {
            double d = (double)hn[i] - tn[i];
            sum += d * d;
            dn[i] = (float)(2.0 * weight * d);
        }
    }
    return weight * sum;
}

static int is_mlp(int kind) {
    return kind == MAT_GATE || kind == MAT_UP || kind == MAT_DOWN;
}

void rmu_keep_mlp_grads(Llama *m, int lo, int hi) {
    const LlamaConfig *c = &m->cfg;
    if (m->lora) {
        Lora *a = m->lora;
        for (int l = 0; l < c->n_layers; l++)
            for (int k = 0; k < MAT_N; k++) {
                if (!lora_a(a, l, k) || (is_mlp(k) && l >= lo && l <= hi)) continue;
                memset(lora_grad_a(a, l, k), 0, sizeof(float) * a->cfg.rank * a->dims[k][1]);
                memset(lora_grad_b(a, l, k), 0, sizeof(float) * a->dims[k][0] * a->cfg.rank);
            }
        return;
    }
    if (!m->grads) return;
    size_t C = (size_t)c->dim, L = (size_t)c->n_layers, V = (size_t)c->vocab;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    const LlamaParams *g = &m->g;
    struct {
        float *p;
        size_t n;
    } none[] = {{g->tok_embd, V * C}, {g->attn_norm, L * C}, {g->wq, L * QD * C},
                {g->wk, L * KD * C},  {g->wv, L * KD * C},   {g->wo, L * C * QD},
                {g->ffn_norm, L * C}, {g->out_norm, C},      {c->tied ? NULL : g->output, V * C}};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (none[i].p) memset(none[i].p, 0, sizeof(float) * none[i].n);
    size_t per = (size_t)c->ffn_dim * C; /* one block's matrix */
    float *mlp[3] = {g->w_gate, g->w_up, g->w_down};
    for (int t = 0; t < 3; t++) {
        memset(mlp[t], 0, sizeof(float) * per * lo);
        memset(mlp[t] + per * (hi + 1), 0, sizeof(float) * per * (L - hi - 1));
    }
}
