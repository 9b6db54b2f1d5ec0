#include "model/llama.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gemm_bf16.h"
#include "model/ops.h"
#include "util/rng.h"

/* ---- weights: fp32 parameters or frozen matrices in a map ---- */

void llama_mat_dims(const LlamaConfig *c, int dims[MAT_N][2]) {
    int C = c->dim, F = c->ffn_dim, QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    const int d[MAT_N][2] = {{QD, C}, {KD, C}, {KD, C}, {C, QD}, {F, C}, {F, C}, {C, F}};
    memcpy(dims, d, sizeof d);
}

/* The fp32 parameter block of matrix kind in layer l. */
static float *param_mat(const LlamaConfig *c, const LlamaParams *p, int kind, int l) {
    int dims[MAT_N][2];
    llama_mat_dims(c, dims);
    size_t n = (size_t)dims[kind][0] * dims[kind][1] * l;
    float *const base[MAT_N] = {p->wq, p->wk, p->wv, p->wo, p->w_gate, p->w_up, p->w_down};
    return base[kind] + n;
}

/* n values of a BF16, F16 or F32 array to fp32 (serial; callers split work). */
static void to_f32(float *out, const void *src, uint32_t type, size_t n) {
    if (type == GGML_TYPE_BF16) {
        const uint16_t *h = src;
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)h[i] << 16;
            memcpy(out + i, &b, sizeof b);
        }
    } else if (type == GGML_TYPE_F16) {
        const uint16_t *h = src;
        for (size_t i = 0; i < n; i++) out[i] = ob_fp16_to_fp32(h[i]);
    } else {
        memcpy(out, src, sizeof(float) * n);
    }
}

/* A frozen (rows, cols) matrix as fp32: in place when stored as F32, else
 * converted into the scratch. Conversion reads 2 bytes and writes 4 per
 * weight; the matmul that follows does 2 N flops per weight, so for N >= 64
 * rows it is a small share of the time. */
static const float *frozen_f32(const LlamaFrozen *fz, const FrozenMat *fm, size_t rows,
                               size_t cols) {
    if (fm->type == GGML_TYPE_F32) return fm->data;
    size_t esz = 2;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)rows; r++)
        to_f32(fz->scratch + (size_t)r * cols, (const char *)fm->data + (size_t)r * cols * esz,
               fm->type, cols);
    return fz->scratch;
}

const float *llama_weight(const Llama *m, int kind, int l) {
    if (!m->frozen) return param_mat(&m->cfg, &m->w, kind, l);
    int dims[MAT_N][2];
    llama_mat_dims(&m->cfg, dims);
    return frozen_f32(m->frozen, &m->frozen->mats[(size_t)l * MAT_N + kind], (size_t)dims[kind][0],
                      (size_t)dims[kind][1]);
}

const float *llama_output_weight(const Llama *m) {
    if (!m->frozen) return m->w.output;
    return frozen_f32(m->frozen, &m->frozen->output, (size_t)m->cfg.vocab, (size_t)m->cfg.dim);
}

void llama_embed(const Llama *m, float *out, const int32_t *tok, int N) {
    int C = m->cfg.dim;
    if (!m->frozen) {
        embedding_forward(out, tok, m->w.tok_embd, N, C);
        return;
    }
    const FrozenMat *e = &m->frozen->tok_embd;
    size_t esz = e->type == GGML_TYPE_F32 ? 4 : 2;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        to_f32(out + (size_t)n * C, (const char *)e->data + (size_t)tok[n] * C * esz, e->type,
               (size_t)C);
}

/* Rows (OC) and columns (IC) of matrix kind (LLAMA_OUTPUT: the head). */
static void kind_dims(const LlamaConfig *c, int kind, int *OC, int *IC) {
    int dims[MAT_N][2];
    llama_mat_dims(c, dims);
    *OC = kind == LLAMA_OUTPUT ? c->vocab : dims[kind][0];
    *IC = kind == LLAMA_OUTPUT ? c->dim : dims[kind][1];
}

/* The two places a weight matrix meets a GEMM. A frozen matrix arrives here
 * converted to fp32, or as stored when it is BF16 and the run is bf16. */
/* A frozen BF16 matrix under --precision bf16 goes to the bf16 GEMM as it is
 * stored (no fp32 copy); the fp32 path rounds nothing, as with fp32 weights. */
static const uint16_t *frozen_bf16(const Llama *m, int kind, int l) {
    if (!m->frozen || m->prec != OB_PREC_BF16) return NULL;
    const FrozenMat *fm =
        kind == LLAMA_OUTPUT ? &m->frozen->output : &m->frozen->mats[(size_t)l * MAT_N + kind];
    return fm->type == GGML_TYPE_BF16 ? fm->data : NULL;
}

static void weight_matmul_forward(const Llama *m, int kind, int l, float *out, const float *inp,
                                  int N, float beta) {
    int OC, IC;
    kind_dims(&m->cfg, kind, &OC, &IC);
    const uint16_t *wb = frozen_bf16(m, kind, l);
    if (wb) {
        matmul_forward_wb(out, inp, wb, N, IC, OC, beta);
        return;
    }
    const float *W = kind == LLAMA_OUTPUT ? llama_output_weight(m) : llama_weight(m, kind, l);
    matmul_forward(out, inp, W, N, IC, OC, beta, m->prec);
}

static void weight_matmul_backward(const Llama *m, int kind, int l, float *dinp, float *dw,
                                   const float *dout, const float *inp, int N, float beta) {
    int OC, IC;
    kind_dims(&m->cfg, kind, &OC, &IC);
    const uint16_t *wb = dw ? NULL : frozen_bf16(m, kind, l);
    if (wb) {
        if (dinp) matmul_backward_wb(dinp, dout, wb, N, IC, OC, beta);
        return;
    }
    const float *W = kind == LLAMA_OUTPUT ? llama_output_weight(m) : llama_weight(m, kind, l);
    matmul_backward(dinp, dw, dout, inp, W, N, IC, OC, beta, m->prec);
}

void llama_linear_forward(const Llama *m, int kind, int l, float *out, const float *inp, int N,
                          float beta, float *mid) {
    weight_matmul_forward(m, kind, l, out, inp, N, beta);
    const Lora *lo = m->lora;
    if (kind != LLAMA_OUTPUT && lo && lora_a(lo, l, kind))
        lora_forward(out, mid, inp, lora_a(lo, l, kind), lora_b(lo, l, kind), N, lo->dims[kind][1],
                     lo->dims[kind][0], lo->cfg.rank, lo->scale, m->prec);
}

/* dinp (N, IC) = dout @ W + beta * dinp; the weight's gradient when it has
 * one (fp32 without adapter); the adapter's gradients and its share of dinp. */
static void linear_backward(Llama *m, int kind, int l, float *dinp, const float *dout,
                            const float *inp, int N, float beta) {
    float *dw = !m->grads              ? NULL
                : kind == LLAMA_OUTPUT ? m->g.output
                                       : param_mat(&m->cfg, &m->g, kind, l);
    weight_matmul_backward(m, kind, l, dinp, dw, dout, inp, N, beta);
    const Lora *lo = m->lora;
    if (kind != LLAMA_OUTPUT && lo && lora_a(lo, l, kind))
        lora_backward(dinp, lora_grad_a(lo, l, kind), lora_grad_b(lo, l, kind), lo->dmid, dout, inp,
                      lora_mid(lo, l, kind), lora_a(lo, l, kind), lora_b(lo, l, kind), N,
                      lo->dims[kind][1], lo->dims[kind][0], lo->cfg.rank, lo->scale, m->prec);
}

void llama_config_json(const LlamaConfig *c, cJSON *j) {
    const struct {
        const char *key;
        int value;
    } shape[] = {{"dim", c->dim},       {"layers", c->n_layers},
                 {"heads", c->n_heads}, {"kv_heads", c->n_kv_heads},
                 {"ffn", c->ffn_dim},   {"vocab", c->vocab}};
    for (size_t i = 0; i < sizeof shape / sizeof *shape; i++)
        cJSON_AddNumberToObject(j, shape[i].key, shape[i].value);
    cJSON_AddBoolToObject(j, "tied", c->tied);
}

int llama_config_check(const LlamaConfig *c, ObErr *err) {
    if (c->dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->head_dim <= 0 || c->ffn_dim <= 0 || c->vocab <= 0 || c->ctx_len <= 0)
        return ob_errf(err,
                       "model dimensions must be positive (dim %d, layers %d, heads %d, "
                       "kv heads %d, head dim %d, ffn %d, vocab %d, context %d)",
                       c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->ffn_dim,
                       c->vocab, c->ctx_len);
    const int dims[] = {c->dim,      c->n_layers, c->n_heads, c->n_kv_heads,
                        c->head_dim, c->ffn_dim,  c->vocab,   c->ctx_len};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i] > LLAMA_DIM_MAX) /* what a file may hold (checkpoint.c reads no more) */
            return ob_errf(err,
                           "model dimensions must be at most %d (dim %d, layers %d, heads %d, "
                           "kv heads %d, head dim %d, ffn %d, vocab %d, context %d)",
                           LLAMA_DIM_MAX, c->dim, c->n_layers, c->n_heads, c->n_kv_heads,
                           c->head_dim, c->ffn_dim, c->vocab, c->ctx_len);
    if (c->n_heads % c->n_kv_heads)
        return ob_errf(err, "n_kv_heads %d does not divide n_heads %d", c->n_kv_heads, c->n_heads);
    if (c->head_dim % 2) return ob_errf(err, "head_dim %d must be even for RoPE", c->head_dim);
    if (!(c->norm_eps > 0.0f) || !(c->rope_base > 0.0f) || !isfinite(c->rope_base))
        return ob_errf(err, "norm epsilon (%g) and RoPE base (%g) must be positive", c->norm_eps,
                       c->rope_base);
    /* Keep every (rows x cols) product inside int for BLAS and indexing. */
    double big = (double)c->vocab * c->dim + (double)c->ffn_dim * c->dim +
                 (double)c->n_heads * c->head_dim * c->dim;
    if (big > 2e9) return ob_errf(err, "model matrices too large (%.3g elements)", big);
    return 0;
}

size_t llama_param_count(const LlamaConfig *c) {
    size_t C = c->dim, L = c->n_layers, QD = (size_t)c->n_heads * c->head_dim;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim, F = c->ffn_dim, V = c->vocab;
    size_t per_layer = 2 * C + QD * C + 2 * KD * C + C * QD + 3 * F * C;
    return V * C + L * per_layer + C + (c->tied ? 0 : V * C);
}

void llama_param_layout(const LlamaConfig *c, float *base, LlamaParams *p) {
    size_t C = c->dim, L = c->n_layers, QD = (size_t)c->n_heads * c->head_dim;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim, F = c->ffn_dim, V = c->vocab;
    float *at = base;
    p->tok_embd = at, at += V * C;
    p->attn_norm = at, at += L * C;
    p->wq = at, at += L * QD * C;
    p->wk = at, at += L * KD * C;
    p->wv = at, at += L * KD * C;
    p->wo = at, at += L * C * QD;
    p->ffn_norm = at, at += L * C;
    p->w_gate = at, at += L * F * C;
    p->w_up = at, at += L * F * C;
    p->w_down = at, at += L * C * F;
    p->out_norm = at, at += C;
    p->output = c->tied ? p->tok_embd : at;
}

int llama_create(Llama *m, const LlamaConfig *c, ObErr *err) {
    memset(m, 0, sizeof *m);
    if (llama_config_check(c, err)) return -1;
    m->cfg = *c;
    m->n_params = llama_param_count(c);
    m->params = ob_calloc(m->n_params, sizeof(float), "model parameters", err);
    if (!m->params) return -1;
    llama_param_layout(c, m->params, &m->w);
    return 0;
}

static void fill_normal(float *x, size_t n, float std, ObRng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = std * ob_rng_normal(rng);
}

static void fill_const(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

void llama_init_random(Llama *m, uint64_t seed) {
    const LlamaConfig *c = &m->cfg;
    size_t C = c->dim, L = c->n_layers, QD = (size_t)c->n_heads * c->head_dim;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim, F = c->ffn_dim, V = c->vocab;
    ObRng rng;
    ob_rng_seed(&rng, seed);
    float std = 0.02f, std_out = 0.02f / sqrtf(2.0f * L); /* GPT-2's residual scaling */
    fill_normal(m->w.tok_embd, V * C, std, &rng);
    fill_const(m->w.attn_norm, L * C, 1.0f);
    fill_normal(m->w.wq, L * QD * C, std, &rng);
    fill_normal(m->w.wk, L * KD * C, std, &rng);
    fill_normal(m->w.wv, L * KD * C, std, &rng);
    fill_normal(m->w.wo, L * C * QD, std_out, &rng);
    fill_const(m->w.ffn_norm, L * C, 1.0f);
    fill_normal(m->w.w_gate, L * F * C, std, &rng);
    fill_normal(m->w.w_up, L * F * C, std, &rng);
    fill_normal(m->w.w_down, L * C * F, std_out, &rng);
    fill_const(m->w.out_norm, C, 1.0f);
    if (!c->tied) fill_normal(m->w.output, V * C, std, &rng);
}

int llama_alloc_grads(Llama *m, ObErr *err) {
    if (m->lora) return lora_alloc_grads(m->lora, err);
    if (m->frozen || m->borrowed)
        return ob_errf(err, "a frozen or shared model trains only through a LoRA adapter");
    if (m->grads) return 0;
    m->grads = ob_calloc(m->n_params, sizeof(float), "parameter gradients", err);
    if (!m->grads) return -1;
    llama_param_layout(&m->cfg, m->grads, &m->g);
    return 0;
}

void llama_zero_grads(Llama *m) {
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
    if (m->lora && m->lora->grads) memset(m->lora->grads, 0, sizeof(float) * m->lora->n_params);
}

/* Carves the activation buffers out of one allocation (or just counts when
 * base is NULL). Returns the number of floats. */
static size_t acts_layout(LlamaActs *a, const LlamaConfig *c, int B, int T, float *base) {
    size_t L = c->n_layers, BT = (size_t)B * T, C = c->dim, F = c->ffn_dim, V = c->vocab;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t HTT = (size_t)B * c->n_heads * T * T, half = c->head_dim / 2;
    struct {
        float **p;
        size_t n;
    } parts[] = {
        {&a->x, (L + 1) * BT * C},
        {&a->n1, L * BT * C},
        {&a->rstd1, L * BT},
        {&a->q, L * BT * QD},
        {&a->k, L * BT * KD},
        {&a->v, L * BT * KD},
        {&a->att, L * HTT},
        {&a->ao, L * BT * QD},
        {&a->xa, L * BT * C},
        {&a->n2, L * BT * C},
        {&a->rstd2, L * BT},
        {&a->gate, L * BT * F},
        {&a->up, L * BT * F},
        {&a->hmid, L * BT * F},
        {&a->nf, BT * C},
        {&a->rstdf, BT},
        {&a->logits, BT * V},
        {&a->lse, BT},
        {&a->losses, BT},
        {&a->prest, BT},
        {&a->rope_cos, T * half},
        {&a->rope_sin, T * half},
        {(float **)&a->inputs, BT},
        {(float **)&a->targets, BT},
        {&a->dx, BT * C},
        {&a->dn, BT * C},
        {&a->dq, BT * QD},
        {&a->dk, BT * KD},
        {&a->dv, BT * KD},
        {&a->dao, BT * QD},
        {&a->datt, HTT},
        {&a->dgate, BT * F},
        {&a->dup, BT * F},
        {&a->dhmid, BT * F},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (base) *parts[i].p = base + total;
        total += (parts[i].n + 15) & ~(size_t)15; /* keep each buffer 64-byte aligned */
    }
    return total;
}

int llama_alloc_batch(Llama *m, int B, int T, ObErr *err) {
    const LlamaConfig *c = &m->cfg;
    if (B <= 0 || T <= 0) return ob_errf(err, "batch %d x %d must be positive", B, T);
    if ((double)B * T * c->vocab > 2e9 || (double)B * c->n_heads * T * T > 2e9)
        return ob_errf(err, "batch %d x %d is too large for this model", B, T);
    free(m->acts.mem);
    memset(&m->acts, 0, sizeof m->acts);
    size_t n = acts_layout(&m->acts, c, B, T, NULL);
    float *mem = NULL;
    if (posix_memalign((void **)&mem, 64, n * sizeof(float)) || !mem)
        return ob_errf(err, "out of memory allocating %zu MB of activations for batch %d x %d",
                       n * sizeof(float) >> 20, B, T);
    memset(mem, 0, n * sizeof(float));
    acts_layout(&m->acts, c, B, T, mem);
    m->acts.mem = mem;
    m->acts.n_floats = n;
    m->acts.B = B;
    m->acts.T = T;
    rope_tables(m->acts.rope_cos, m->acts.rope_sin, T, c->head_dim, c->rope_base, 0);
    return m->lora ? lora_alloc_batch(m->lora, B * T, err) : 0;
}

void llama_free(Llama *m) {
    if (!m->borrowed) {
        free(m->params);
        if (m->frozen) {
            free(m->frozen->mats);
            free(m->frozen->norms);
            free(m->frozen->scratch);
            free(m->frozen->owned);
            gguf_close(&m->frozen->file);
            free(m->frozen);
        }
    }
    if (m->lora) lora_free(m->lora), free(m->lora);
    free(m->grads);
    free(m->acts.mem);
    memset(m, 0, sizeof *m);
}

int llama_share(Llama *dst, const Llama *src, ObErr *err) {
    (void)err;
    *dst = (Llama){.cfg = src->cfg,
                   .w = src->w,
                   .params = src->params,
                   .n_params = src->n_params,
                   .frozen = src->frozen,
                   .borrowed = 1,
                   .prec = src->prec};
    return 0;
}

static int attach_lora(Llama *m, Lora *lo, ObErr *err) {
    Lora *p = ob_malloc(sizeof *p, "LoRA adapter", err);
    if (!p) return lora_free(lo), -1;
    *p = *lo;
    if (m->lora) lora_free(m->lora), free(m->lora);
    m->lora = p;
    /* activations already allocated: the adapter needs its share */
    return m->acts.mem ? lora_alloc_batch(p, m->acts.B * m->acts.T, err) : 0;
}

int llama_add_lora(Llama *m, const LoraConfig *c, uint64_t seed, ObErr *err) {
    int dims[MAT_N][2];
    Lora lo;
    llama_mat_dims(&m->cfg, dims);
    if (lora_create(&lo, c, m->cfg.n_layers, dims, err)) return -1;
    lora_init_random(&lo, seed);
    return attach_lora(m, &lo, err);
}

int llama_load_lora(Llama *m, const char *path, ObErr *err) {
    int dims[MAT_N][2];
    Lora lo;
    llama_mat_dims(&m->cfg, dims);
    if (lora_load(&lo, path, m->cfg.n_layers, dims, err)) return -1;
    return attach_lora(m, &lo, err);
}

int llama_merge_lora(Llama *m, ObErr *err) {
    if (!m->lora) return 0;
    if (m->frozen || m->borrowed)
        return ob_errf(err, "cannot merge an adapter into frozen or shared weights in place");
    const Lora *lo = m->lora;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < MAT_N; k++)
            if (lora_a(lo, l, k))
                lora_merge_matrix(param_mat(&m->cfg, &m->w, k, l), lora_a(lo, l, k),
                                  lora_b(lo, l, k), lo->dims[k][1], lo->dims[k][0], lo->cfg.rank,
                                  lo->scale);
    lora_free(m->lora);
    free(m->lora);
    m->lora = NULL;
    return 0;
}

float llama_forward(Llama *m, const int32_t *inputs, const int32_t *targets, int T, int *n_valid) {
    return llama_forward_soft(m, inputs, targets, NULL, T, n_valid);
}

/* Block l of the last batch: x[l] -> x[l+1], keeping what backward needs. */
static void layer_forward(Llama *m, int l) {
    const LlamaConfig *c = &m->cfg;
    LlamaActs *a = &m->acts;
    const LlamaParams *w = &m->w;
    int B = a->B, T = a->T_cur, N = B * T, C = c->dim, F = c->ffn_dim, hd = c->head_dim;
    int H = c->n_heads, KV = c->n_kv_heads, QD = H * hd, KD = KV * hd;
    size_t sC = (size_t)N * C, sQ = (size_t)N * QD, sK = (size_t)N * KD, sF = (size_t)N * F;
    size_t sA = (size_t)B * H * T * T;
    const Lora *lo = m->lora;
    float *x = a->x + l * sC, *xa = a->xa + l * sC, *xo = a->x + (l + 1) * sC;
    float *n1 = a->n1 + l * sC, *n2 = a->n2 + l * sC;
    float *q = a->q + l * sQ, *k = a->k + l * sK, *v = a->v + l * sK;
    float *ao = a->ao + l * sQ, *att = a->att + l * sA;
    float *gate = a->gate + l * sF, *up = a->up + l * sF, *hm = a->hmid + l * sF;
#define MID(kind) (lo ? lora_mid(lo, l, kind) : NULL)
    rmsnorm_forward(n1, a->rstd1 + (size_t)l * N, x, w->attn_norm + (size_t)l * C, N, C,
                    c->norm_eps);
    llama_linear_forward(m, MAT_Q, l, q, n1, N, 0.0f, MID(MAT_Q));
    llama_linear_forward(m, MAT_K, l, k, n1, N, 0.0f, MID(MAT_K));
    llama_linear_forward(m, MAT_V, l, v, n1, N, 0.0f, MID(MAT_V));
    rope_forward(q, a->rope_cos, a->rope_sin, B, T, H, hd);
    rope_forward(k, a->rope_cos, a->rope_sin, B, T, KV, hd);
    attention_forward(ao, att, q, k, v, B, T, H, KV, hd);
    memcpy(xa, x, sizeof(float) * sC);
    llama_linear_forward(m, MAT_O, l, xa, ao, N, 1.0f, MID(MAT_O));
    rmsnorm_forward(n2, a->rstd2 + (size_t)l * N, xa, w->ffn_norm + (size_t)l * C, N, C,
                    c->norm_eps);
    llama_linear_forward(m, MAT_GATE, l, gate, n2, N, 0.0f, MID(MAT_GATE));
    llama_linear_forward(m, MAT_UP, l, up, n2, N, 0.0f, MID(MAT_UP));
    swiglu_forward(hm, gate, up, (long)sF);
    memcpy(xo, xa, sizeof(float) * sC);
    llama_linear_forward(m, MAT_DOWN, l, xo, hm, N, 1.0f, MID(MAT_DOWN));
#undef MID
}

/* Block l backward: acts.dx holds dL/dx[l+1] and gets dL/dx[l]; gradients
 * of the block's weights (or adapters) are added. */
static void layer_backward(Llama *m, int l) {
    const LlamaConfig *c = &m->cfg;
    LlamaActs *a = &m->acts;
    const LlamaParams *w = &m->w;
    LlamaParams *g = m->grads ? &m->g : NULL;
    int B = a->B, T = a->T_cur, N = B * T, C = c->dim, F = c->ffn_dim, hd = c->head_dim;
    int H = c->n_heads, KV = c->n_kv_heads, QD = H * hd, KD = KV * hd;
    size_t sC = (size_t)N * C, sQ = (size_t)N * QD, sK = (size_t)N * KD, sF = (size_t)N * F;
    size_t sA = (size_t)B * H * T * T;
    float *x = a->x + l * sC, *xa = a->xa + l * sC;
    float *n1 = a->n1 + l * sC, *n2 = a->n2 + l * sC;
    float *q = a->q + l * sQ, *k = a->k + l * sK, *v = a->v + l * sK;
    float *ao = a->ao + l * sQ, *att = a->att + l * sA;
    float *gate = a->gate + l * sF, *up = a->up + l * sF, *hm = a->hmid + l * sF;
    /* x_out = xa + hm Wd^T: dx passes through to xa unchanged. */
    linear_backward(m, MAT_DOWN, l, a->dhmid, a->dx, hm, N, 0.0f);
    swiglu_backward(a->dgate, a->dup, a->dhmid, gate, up, (long)sF);
    linear_backward(m, MAT_GATE, l, a->dn, a->dgate, n2, N, 0.0f);
    linear_backward(m, MAT_UP, l, a->dn, a->dup, n2, N, 1.0f);
    rmsnorm_backward(a->dx, g ? g->ffn_norm + (size_t)l * C : NULL, a->dn, xa,
                     w->ffn_norm + (size_t)l * C, a->rstd2 + (size_t)l * N, N, C);
    /* xa = x + ao Wo^T */
    linear_backward(m, MAT_O, l, a->dao, a->dx, ao, N, 0.0f);
    attention_backward(a->dq, a->dk, a->dv, a->datt, a->dao, q, k, v, att, B, T, H, KV, hd);
    rope_backward(a->dq, a->rope_cos, a->rope_sin, B, T, H, hd);
    rope_backward(a->dk, a->rope_cos, a->rope_sin, B, T, KV, hd);
    linear_backward(m, MAT_Q, l, a->dn, a->dq, n1, N, 0.0f);
    linear_backward(m, MAT_K, l, a->dn, a->dk, n1, N, 1.0f);
    linear_backward(m, MAT_V, l, a->dn, a->dv, n1, N, 1.0f);
    rmsnorm_backward(a->dx, g ? g->attn_norm + (size_t)l * C : NULL, a->dn, x,
                     w->attn_norm + (size_t)l * C, a->rstd1 + (size_t)l * N, N, C);
}

const float *llama_forward_hidden(Llama *m, const int32_t *inputs, int T, int upto) {
    LlamaActs *a = &m->acts;
    int N = a->B * T;
    a->T_cur = T;
    memcpy(a->inputs, inputs, sizeof(int32_t) * N);
    llama_embed(m, a->x, inputs, N);
    for (int l = 0; l < upto; l++) layer_forward(m, l);
    return a->x + (size_t)upto * N * m->cfg.dim;
}

float llama_forward_soft(Llama *m, const int32_t *inputs, const int32_t *targets,
                         const SoftTargets *soft, int T, int *n_valid) {
    const LlamaConfig *c = &m->cfg;
    LlamaActs *a = &m->acts;
    const LlamaParams *w = &m->w;
    int N = a->B * T, C = c->dim, V = c->vocab;
    size_t sC = (size_t)N * C;
    llama_forward_hidden(m, inputs, T, c->n_layers);
    rmsnorm_forward(a->nf, a->rstdf, a->x + (size_t)c->n_layers * sC, w->out_norm, N, C,
                    c->norm_eps);
    llama_linear_forward(m, LLAMA_OUTPUT, 0, a->logits, a->nf, N, 0.0f, NULL);
    if (!targets) {
        crossentropy_forward(NULL, a->lse, a->logits, NULL, N, V);
        if (n_valid) *n_valid = 0;
        return 0.0f;
    }
    memcpy(a->targets, targets, sizeof(int32_t) * N);
    a->soft = soft ? *soft : (SoftTargets){0};
    if (soft)
        crossentropy_soft_forward(a->losses, a->lse, a->prest, a->logits, targets, soft, N, V);
    else
        crossentropy_forward(a->losses, a->lse, a->logits, targets, N, V);
    double sum = 0.0;
    int cnt = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) sum += a->losses[n], cnt++;
    if (n_valid) *n_valid = cnt;
    return cnt ? (float)(sum / cnt) : 0.0f;
}

void llama_backward(Llama *m, float scale) {
    llama_backward_rows(m, scale, NULL);
}

void llama_backward_rows(Llama *m, float scale, const float *row_scale) {
    const LlamaConfig *c = &m->cfg;
    LlamaActs *a = &m->acts;
    const LlamaParams *w = &m->w;
    LlamaParams *g = m->grads ? &m->g : NULL; /* NULL: base weights get no gradients */
    int N = a->B * a->T_cur, C = c->dim, V = c->vocab;
    size_t sC = (size_t)N * C;
    float *dlogits = a->logits;
    if (a->soft.k > 0)
        crossentropy_soft_backward(dlogits, a->logits, a->lse, a->prest, a->targets, &a->soft,
                                   scale, row_scale, N, V);
    else
        crossentropy_backward(dlogits, a->logits, a->lse, a->targets, scale, row_scale, N, V);
    linear_backward(m, LLAMA_OUTPUT, 0, a->dn, dlogits, a->nf, N, 0.0f);
    memset(a->dx, 0, sizeof(float) * sC);
    rmsnorm_backward(a->dx, g ? g->out_norm : NULL, a->dn, a->x + (size_t)c->n_layers * sC,
                     w->out_norm, a->rstdf, N, C);
    for (int l = c->n_layers - 1; l >= 0; l--) layer_backward(m, l);
    if (g) embedding_backward(g->tok_embd, a->dx, a->inputs, N, C);
}

void llama_backward_hidden(Llama *m, int upto, const float *dh, int lowest) {
    LlamaActs *a = &m->acts;
    memcpy(a->dx, dh, sizeof(float) * a->B * a->T_cur * m->cfg.dim);
    for (int l = upto - 1; l >= lowest; l--) layer_backward(m, l);
}
