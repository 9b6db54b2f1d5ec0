#include "model/lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ops.h"
#include "util/rng.h"

const char *const mat_gguf_names[MAT_N] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                           "ffn_gate", "ffn_up", "ffn_down"};
/* The short names the command line takes. */
static const char *const short_names[MAT_N] = {"q", "k", "v", "o", "gate", "up", "down"};

int lora_parse_targets(const char *s, unsigned *mask) {
    *mask = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        int hit = -1;
        for (int t = 0; t < MAT_N; t++)
            if (strlen(short_names[t]) == n && !strncmp(s, short_names[t], n)) hit = t;
        if (hit < 0) return -1;
        *mask |= 1u << hit;
        s += n;
        if (*s == ',') s++;
    }
    return *mask ? 0 : -1;
}

void lora_targets_str(unsigned mask, char *buf, size_t n) {
    size_t at = 0;
    if (n) buf[0] = 0;
    for (int t = 0; t < MAT_N; t++)
        if (mask & (1u << t) && at < n)
            at += (size_t)snprintf(buf + at, n - at, "%s%s", at ? "," : "", short_names[t]);
}

void lora_config_defaults(LoraConfig *c) {
    *c = (LoraConfig){.rank = 16,
                      .alpha = 32.0f,
                      .targets = 1u << MAT_Q | 1u << MAT_K | 1u << MAT_V | 1u << MAT_O};
}

int lora_create(Lora *lo, const LoraConfig *c, int n_layers, const int dims[MAT_N][2], ObErr *err) {
    memset(lo, 0, sizeof *lo);
    if (c->rank < 1 || c->rank > LORA_RANK_MAX)
        return ob_errf(err, "LoRA rank %d must be 1..%d", c->rank, LORA_RANK_MAX);
    if (!(c->alpha > 0.0f) || !isfinite(c->alpha))
        return ob_errf(err, "LoRA alpha %g must be positive", c->alpha);
    if (!c->targets || c->targets >> MAT_N) return ob_errf(err, "LoRA needs target matrices");
    lo->cfg = *c;
    lo->n_layers = n_layers;
    lo->scale = c->alpha / (float)c->rank;
    memcpy(lo->dims, dims, sizeof lo->dims);
    lo->off = ob_malloc(sizeof(size_t) * (size_t)n_layers * MAT_N, "LoRA layout", err);
    if (!lo->off) return -1;
    size_t at = 0, r = (size_t)c->rank;
    for (int l = 0; l < n_layers; l++)
        for (int t = 0; t < MAT_N; t++) {
            int on = (c->targets >> t) & 1;
            lo->off[l * MAT_N + t] = on ? at : SIZE_MAX;
            if (on) at += r * (size_t)dims[t][1] + (size_t)dims[t][0] * r;
        }
    lo->n_params = at;
    lo->params = ob_calloc(at, sizeof(float), "LoRA parameters", err);
    if (!lo->params) return lora_free(lo), -1;
    return 0;
}

void lora_init_random(Lora *lo, uint64_t seed) {
    ObRng rng;
    ob_rng_seed(&rng, seed);
    for (int l = 0; l < lo->n_layers; l++)
        for (int t = 0; t < MAT_N; t++) {
            float *A = lora_a(lo, l, t), *B = lora_b(lo, l, t);
            if (!A) continue;
            size_t IC = (size_t)lo->dims[t][1], n = (size_t)lo->cfg.rank * IC;
            float bound = 1.0f / sqrtf((float)IC);
            for (size_t i = 0; i < n; i++)
                A[i] = bound * (2.0f * (float)(ob_rng_u64(&rng) >> 40) / 16777216.0f - 1.0f);
            memset(B, 0, sizeof(float) * (size_t)lo->dims[t][0] * lo->cfg.rank);
        }
}

int lora_alloc_grads(Lora *lo, ObErr *err) {
    if (lo->grads) return 0;
    lo->grads = ob_calloc(lo->n_params, sizeof(float), "LoRA gradients", err);
    return lo->grads ? 0 : -1;
}

int lora_alloc_batch(Lora *lo, int rows, ObErr *err) {
    if (lo->mid && lo->max_rows >= rows) return 0;
    free(lo->mid);
    size_t r = (size_t)lo->cfg.rank, per = (size_t)rows * r;
    lo->mid =
        ob_calloc(per * ((size_t)lo->n_layers * MAT_N + 1), sizeof(float), "LoRA activations", err);
    if (!lo->mid) return lo->max_rows = 0, -1;
    lo->dmid = lo->mid + per * (size_t)lo->n_layers * MAT_N;
    lo->max_rows = rows;
    return 0;
}

void lora_free(Lora *lo) {
    free(lo->off);
    free(lo->params);
    free(lo->grads);
    free(lo->mid);
    memset(lo, 0, sizeof *lo);
}

float *lora_a(const Lora *lo, int l, int kind) {
    size_t o = lo->off[l * MAT_N + kind];
    return o == SIZE_MAX ? NULL : lo->params + o;
}

float *lora_b(const Lora *lo, int l, int kind) {
    float *A = lora_a(lo, l, kind);
    return A ? A + (size_t)lo->cfg.rank * lo->dims[kind][1] : NULL;
}

float *lora_grad_a(const Lora *lo, int l, int kind) {
    float *A = lora_a(lo, l, kind);
    return A && lo->grads ? lo->grads + (A - lo->params) : NULL;
}

float *lora_grad_b(const Lora *lo, int l, int kind) {
    float *B = lora_b(lo, l, kind);
    return B && lo->grads ? lo->grads + (B - lo->params) : NULL;
}

float *lora_mid(const Lora *lo, int l, int kind) {
    return lo->mid + ((size_t)l * MAT_N + kind) * lo->max_rows * lo->cfg.rank;
}

/* ---- ops ---- */

void lora_forward(float *out, float *mid, const float *inp, const float *A, const float *B, int N,
                  int IC, int OC, int r, float scale, ObPrecision prec) {
    matmul_forward(mid, inp, A, N, IC, r, 0.0f, prec); /* (N, r) */
    for (long i = 0; i < (long)N * r; i++) mid[i] *= scale;
    matmul_forward(out, mid, B, N, r, OC, 1.0f, prec); /* out += mid @ B^T */
}

void lora_backward(float *dinp, float *dA, float *dB, float *dmid, const float *dout,
                   const float *inp, const float *mid, const float *A, const float *B, int N,
                   int IC, int OC, int r, float scale, ObPrecision prec) {
    /* out += mid @ B^T: dB += dout^T @ mid; dmid = dout @ B */
    matmul_backward(dmid, dB, dout, mid, B, N, r, OC, 0.0f, prec);
    /* mid = scale * inp @ A^T */
    for (long i = 0; i < (long)N * r; i++) dmid[i] *= scale;
    matmul_backward(dinp, dA, dmid, inp, A, N, IC, r, 1.0f, prec);
}

void lora_merge_matrix(float *W, const float *A, const float *B, int IC, int OC, int r,
                       float scale) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
        float *w = W + (size_t)o * IC;
        for (int j = 0; j < r; j++) {
            float b = scale * B[(size_t)o * r + j];
            const float *a = A + (size_t)j * IC;
            for (int i = 0; i < IC; i++) w[i] += b * a[i];
        }
    }
}

/* ---- files ---- */

static void tensor_name(char *buf, size_t n, int l, int kind, const char *ab) {
    snprintf(buf, n, "blk.%d.%s.weight.lora_%s", l, mat_gguf_names[kind], ab);
}

int lora_to_gguf(const Lora *lo, GGUFWriter *w, ObErr *err) {
    if (gguf_set_str(w, "general.architecture", "llama") ||
        gguf_set_str(w, "general.type", "adapter") || gguf_set_str(w, "adapter.type", "lora") ||
        gguf_set_f32(w, "adapter.lora.alpha", lo->cfg.alpha))
        return ob_errf(err, "out of memory");
    uint64_t r = (uint64_t)lo->cfg.rank;
    for (int l = 0; l < lo->n_layers; l++)
        for (int t = 0; t < MAT_N; t++) {
            const float *A = lora_a(lo, l, t), *B = lora_b(lo, l, t);
            if (!A) continue;
            char name[64];
            uint64_t da[2] = {(uint64_t)lo->dims[t][1], r}, db[2] = {r, (uint64_t)lo->dims[t][0]};
            tensor_name(name, sizeof name, l, t, "a");
            if (gguf_add_tensor_f32(w, name, GGML_TYPE_F32, 2, da, A, err)) return -1;
            tensor_name(name, sizeof name, l, t, "b");
            if (gguf_add_tensor_f32(w, name, GGML_TYPE_F32, 2, db, B, err)) return -1;
        }
    return 0;
}

int lora_save(const Lora *lo, const char *name, const char *path, ObErr *err) {
    GGUFWriter *w = gguf_writer_new(err);
    if (!w) return -1;
    int rc = gguf_set_str(w, "general.name", name ? name : "obliviate adapter")
                 ? ob_errf(err, "out of memory")
                 : lora_to_gguf(lo, w, err);
    return gguf_writer_finish(w, rc, path, err);
}

int gguf_is_adapter(const GGUFFile *f) {
    const GGUFKV *kv = gguf_find_kv(f, "general.type");
    return kv && kv->type == GGUF_TYPE_STRING && kv->v.s.len == 7 &&
           !memcmp(kv->v.s.ptr, "adapter", 7);
}

/* Reads the adapter's rank and targets from its tensor names and shapes. */
static int adapter_shape(const GGUFFile *f, int n_layers, const int dims[MAT_N][2], LoraConfig *c,
                         ObErr *err) {
    c->rank = 0, c->targets = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        int l, used = 0;
        char kind[32], ab = 0;
        if (sscanf(t->name, "blk.%d.%31[a-z_].weight.lora_%c%n", &l, kind, &ab, &used) != 3 ||
            t->name[used] || (ab != 'a' && ab != 'b'))
            return ob_errf(err, "%s: tensor %s is not a LoRA matrix of a block", f->path, t->name);
        int k = 0;
        while (k < MAT_N && strcmp(kind, mat_gguf_names[k])) k++;
        if (k == MAT_N || l < 0 || l >= n_layers || t->n_dims != 2)
            return ob_errf(err, "%s: tensor %s does not fit a model of %d layers", f->path, t->name,
                           n_layers);
        uint64_t r = ab == 'a' ? t->dims[1] : t->dims[0];
        uint64_t other = ab == 'a' ? t->dims[0] : t->dims[1];
        uint64_t want = (uint64_t)(ab == 'a' ? dims[k][1] : dims[k][0]);
        if (other != want || r == 0 || r > LORA_RANK_MAX || (c->rank && r != (uint64_t)c->rank))
            return ob_errf(err,
                           "%s: tensor %s has shape {%llu, %llu}, which does not fit the "
                           "model (%s %llu) or the other matrices' rank %d",
                           f->path, t->name, (unsigned long long)t->dims[0],
                           (unsigned long long)t->dims[1], ab == 'a' ? "input" : "output",
                           (unsigned long long)want, c->rank);
        c->rank = (int)r;
        c->targets |= 1u << k;
    }
    if (!c->targets) return ob_errf(err, "%s: adapter has no LoRA tensors", f->path);
    return 0;
}

int lora_from_gguf(Lora *lo, const GGUFFile *f, int n_layers, const int dims[MAT_N][2],
                   ObErr *err) {
    memset(lo, 0, sizeof *lo);
    const char *path = f->path;
    LoraConfig c;
    int rc = 0;
    char *type = NULL;
    if (!gguf_is_adapter(f) || !(type = gguf_get_str(f, "adapter.type", err)) ||
        strcmp(type, "lora"))
        rc = ob_errf(err,
                     "%s: not a LoRA adapter (general.type \"adapter\", adapter.type "
                     "\"lora\")",
                     path);
    free(type);
    if (!rc) rc = adapter_shape(f, n_layers, dims, &c, err);
    c.alpha = (float)c.rank;
    if (!rc && gguf_find_kv(f, "adapter.lora.alpha") &&
        gguf_get_f32(f, "adapter.lora.alpha", &c.alpha, err))
        rc = -1;
    if (!rc && !(c.alpha > 0 && isfinite(c.alpha)))
        c.alpha = (float)c.rank; /* llama.cpp: 0 = unscaled */
    if (!rc) rc = lora_create(lo, &c, n_layers, dims, err);
    for (int l = 0; !rc && l < n_layers; l++)
        for (int t = 0; !rc && t < MAT_N; t++) {
            if (!lora_a(lo, l, t)) continue;
            char name[64];
            for (int ab = 0; ab < 2 && !rc; ab++) {
                tensor_name(name, sizeof name, l, t, ab ? "b" : "a");
                const GGUFTensor *tt = gguf_find_tensor(f, name);
                if (!tt)
                    rc = ob_errf(err,
                                 "%s: missing tensor %s (every layer needs the same "
                                 "matrices)",
                                 path, name);
                else
                    rc = gguf_tensor_to_f32(f, tt, ab ? lora_b(lo, l, t) : lora_a(lo, l, t), err);
            }
        }
    /* every tensor was consumed: count them against the layout */
    if (!rc && f->n_tensors != 2 * (uint64_t)n_layers * (uint64_t)__builtin_popcount(c.targets))
        rc = ob_errf(err, "%s: %llu tensors, expected 2 per targeted matrix", path,
                     (unsigned long long)f->n_tensors);
    if (rc && lo->params) lora_free(lo);
    return rc;
}

int lora_load(Lora *lo, const char *path, int n_layers, const int dims[MAT_N][2], ObErr *err) {
    GGUFFile f;
    memset(lo, 0, sizeof *lo);
    if (gguf_open(&f, path, err)) return -1;
    int rc = lora_from_gguf(lo, &f, n_layers, dims, err);
    gguf_close(&f);
    return rc;
}
