/* LoRA adapters (Hu et al. 2021): a frozen weight W (OC, IC) is used as
 * W + (alpha / r) B A with A (r, IC) and B (OC, r) trained in fp32. The
 * matrices that get one are chosen among the seven of every block (q, k, v,
 * o, gate, up, down).
 *
 * Defaults: rank 16 on q, k, v and o with alpha = 2 r (scale 2). Attention
 * projections carry most of what fine-tuning a Llama changes at the lowest
 * cost (the LoRA paper's own recipe); alpha = 2 r is the usual choice of
 * QLoRA/PEFT recipes, and keeping alpha / r fixed keeps the learning rate
 * meaningful when the rank changes.
 *
 * Initialisation as PEFT does it: A ~ U(-1/sqrt(IC), 1/sqrt(IC)) (Kaiming
 * uniform with a = sqrt(5)), B = 0, so a new adapter changes nothing.
 *
 * All adapter parameters live in one fp32 allocation (`params`): for each
 * layer, for each target in the order q, k, v, o, gate, up, down, A then B.
 * Gradients use the same layout (`grads`). Activations for up to `max_rows`
 * rows are one more allocation (lora_alloc_batch).
 *
 * On disk an adapter is a llama.cpp LoRA adapter GGUF: general.type
 * "adapter", general.architecture "llama", adapter.type "lora",
 * adapter.lora.alpha (f32); tensors "blk.N.attn_q.weight.lora_a" with ggml
 * dims {IC, r} (row-major A) and ".lora_b" with dims {r, OC} (row-major B),
 * F32. llama.cpp scales by alpha / r with r read from lora_b. */
#ifndef OB_LORA_H
#define OB_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "io/gguf.h"
#include "model/ops.h"
#include "util/err.h"

#define LORA_RANK_MAX 256

/* The seven matrices of a Llama block, in this order everywhere. */
enum { MAT_Q, MAT_K, MAT_V, MAT_O, MAT_GATE, MAT_UP, MAT_DOWN, MAT_N };
/* Their GGUF names: "attn_q" ... "ffn_down" (blk.N.<name>.weight). */
extern const char *const mat_gguf_names[MAT_N];

typedef struct {
    int rank;         /* r, 1..LORA_RANK_MAX */
    float alpha;      /* the update is scaled by alpha / r */
    unsigned targets; /* bit t: matrix t of every block (MAT_Q .. MAT_DOWN) */
} LoraConfig;

typedef struct {
    LoraConfig cfg;
    int n_layers;
    float scale;        /* alpha / rank */
    int dims[MAT_N][2]; /* per matrix kind: OC, IC */
    size_t *off;        /* (L, MAT_N) offset of A in params; B follows; SIZE_MAX if none */
    float *params;      /* (n_params) */
    float *grads;       /* (n_params) or NULL until lora_alloc_grads */
    size_t n_params;
    float *mid;  /* (L, MAT_N, max_rows, r) s * inp @ A^T of the last forward */
    float *dmid; /* (max_rows, r) scratch for backward */
    int max_rows;
} Lora;

/* "q,k,v,o,gate,up,down" (any subset, any order) -> bit mask; -1 on a bad name. */
int lora_parse_targets(const char *s, unsigned *mask);
/* The mask back as "q,k,v,o" into buf. */
void lora_targets_str(unsigned mask, char *buf, size_t n);
/* rank 16, alpha 32, q,k,v,o */
void lora_config_defaults(LoraConfig *c);

/* dims: per matrix kind (q, k, v, o, gate, up, down) its OC and IC. Zeroed
 * parameters (B = 0); lora_init_random draws A. */
int lora_create(Lora *lo, const LoraConfig *c, int n_layers, const int dims[MAT_N][2], ObErr *err);
void lora_init_random(Lora *lo, uint64_t seed);
int lora_alloc_grads(Lora *lo, ObErr *err);
int lora_alloc_batch(Lora *lo, int rows, ObErr *err);
void lora_free(Lora *lo);

/* A (r, IC) and B (OC, r) of matrix `kind` in layer l, or NULL when that
 * matrix has no adapter. The _grad variants point into grads. */
float *lora_a(const Lora *lo, int l, int kind);
float *lora_b(const Lora *lo, int l, int kind);
float *lora_grad_a(const Lora *lo, int l, int kind);
float *lora_grad_b(const Lora *lo, int l, int kind);
/* The kept activation (max_rows, r) of matrix `kind` in layer l. */
float *lora_mid(const Lora *lo, int l, int kind);

/* The ops, as forward/backward pairs (tests/test_lora.c checks gradients).
 * out (N, OC) += (mid = scale * inp (N, IC) @ A^T) (N, r) @ B^T; mid is
 * kept for the backward pass. */
void lora_forward(float *out, float *mid, const float *inp, const float *A, const float *B, int N,
                  int IC, int OC, int r, float scale, ObPrecision prec);
/* dA (r, IC) += scale * (dout @ B)^T @ inp; dB (OC, r) += dout^T @ mid;
 * dinp (N, IC) += scale * (dout @ B) @ A. dmid (N, r) is scratch. dA, dB
 * or dinp may be NULL to skip them. */
void lora_backward(float *dinp, float *dA, float *dB, float *dmid, const float *dout,
                   const float *inp, const float *mid, const float *A, const float *B, int N,
                   int IC, int OC, int r, float scale, ObPrecision prec);
/* W (OC, IC) += scale * B @ A: the adapter folded into a full matrix. */
void lora_merge_matrix(float *W, const float *A, const float *B, int IC, int OC, int r,
                       float scale);

/* The adapter as a llama.cpp LoRA adapter: keys and tensors into w. */
int lora_to_gguf(const Lora *lo, GGUFWriter *w, ObErr *err);
/* Writes the adapter to path (atomically), name as general.name. */
int lora_save(const Lora *lo, const char *name, const char *path, ObErr *err);
/* Whether an open GGUF is an adapter (general.type "adapter"). */
int gguf_is_adapter(const GGUFFile *f);
/* Reads an adapter written by lora_save (or llama.cpp's converter, F32, F16
 * or BF16 tensors) for a model of n_layers with the given dims: rank from
 * the tensors, alpha from adapter.lora.alpha (absent: alpha = rank). */
int lora_load(Lora *lo, const char *path, int n_layers, const int dims[MAT_N][2], ObErr *err);
/* The same from an open GGUF (for the fuzzer and callers holding the file). */
int lora_from_gguf(Lora *lo, const GGUFFile *f, int n_layers, const int dims[MAT_N][2], ObErr *err);

#endif
