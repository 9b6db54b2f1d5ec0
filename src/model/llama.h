/* The Llama architecture: forward, backward and cached inference on CPU.
 *
 * x = embed[tok]; per layer: x += Wo attn(rope(Wq n1(x)), rope(Wk n1(x)), Wv n1(x));
 * x += Wd (silu(Wg n2(x)) * Wu n2(x)); logits = Wout nf(x). n = RMSNorm with a
 * learned scale; RoPE rotates adjacent pairs (x[2i], x[2i+1]) of each head by
 * pos * base^(-2i/head_dim) (llama.cpp's "llama" layout); query head h reads
 * key/value head h / (n_heads / n_kv_heads).
 *
 * All parameters live in one allocation (`params`), in this order, each
 * row-major [out, in] like the GGUF tensors they come from:
 *   tok_embd (V, C) | attn_norm (L, C) | wq (L, H*hd, C) | wk (L, KV*hd, C) |
 *   wv (L, KV*hd, C) | wo (L, C, H*hd) | ffn_norm (L, C) | w_gate (L, F, C) |
 *   w_up (L, F, C) | w_down (L, C, F) | out_norm (C) | output (V, C) unless tied
 * Gradients and Adam moments use the same layout. Activations for a (B, T)
 * batch are one more allocation made by llama_alloc_batch; nothing is
 * allocated inside llama_forward / llama_backward.
 *
 * A frozen model (llama_load_frozen) has no `params`: its matrices stay in
 * the memory-mapped GGUF as stored (BF16, F16 or F32; other types are
 * converted to BF16 once) and each matmul converts its weight into one
 * reusable fp32 scratch matrix; only the norm scales are fp32 copies. Such a
 * model trains through a LoRA adapter (`lora`, model/lora.h), which an fp32
 * model may carry too: then the base weights get no gradients at all. */
#ifndef OB_LLAMA_H
#define OB_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "io/gguf.h"
#include "model/lora.h"
#include "model/ops.h"
#include "util/err.h"

typedef struct {
    int dim;        /* C, embedding width */
    int n_layers;   /* L */
    int n_heads;    /* H */
    int n_kv_heads; /* KV, divides H */
    int head_dim;   /* hd, even; usually C / H */
    int ffn_dim;    /* F */
    int vocab;      /* V */
    int ctx_len;    /* longest sequence the model is meant for */
    float norm_eps;
    float rope_base;
    int tied; /* output head shares tok_embd */
} LlamaConfig;

typedef struct {
    float *tok_embd;  /* (V, C) */
    float *attn_norm; /* (L, C) */
    float *wq;        /* (L, H*hd, C) */
    float *wk;        /* (L, KV*hd, C) */
    float *wv;        /* (L, KV*hd, C) */
    float *wo;        /* (L, C, H*hd) */
    float *ffn_norm;  /* (L, C) */
    float *w_gate;    /* (L, F, C) */
    float *w_up;      /* (L, F, C) */
    float *w_down;    /* (L, C, F) */
    float *out_norm;  /* (C) */
    float *output;    /* (V, C); equals tok_embd when tied */
} LlamaParams;

/* Activations of one (B, T) batch, kept for the backward pass. */
typedef struct {
    int B, T;         /* allocated batch shape */
    int T_cur;        /* sequence length of the last llama_forward */
    float *x;         /* (L+1, B, T, C) residual stream entering each layer, and final */
    float *n1;        /* (L, B, T, C) attn_norm output */
    float *rstd1;     /* (L, B, T) */
    float *q;         /* (L, B, T, H*hd) after RoPE */
    float *k;         /* (L, B, T, KV*hd) after RoPE */
    float *v;         /* (L, B, T, KV*hd) */
    float *att;       /* (L, B, H, T, T) softmax probabilities */
    float *ao;        /* (L, B, T, H*hd) attention output before Wo */
    float *xa;        /* (L, B, T, C) residual stream after attention */
    float *n2;        /* (L, B, T, C) ffn_norm output */
    float *rstd2;     /* (L, B, T) */
    float *gate;      /* (L, B, T, F) pre-activation */
    float *up;        /* (L, B, T, F) */
    float *hmid;      /* (L, B, T, F) silu(gate) * up */
    float *nf;        /* (B, T, C) final norm output */
    float *rstdf;     /* (B, T) */
    float *logits;    /* (B, T, V); overwritten by dlogits in llama_backward */
    float *lse;       /* (B, T) log-sum-exp of each logits row */
    float *losses;    /* (B, T) per-position cross-entropy, 0 where masked */
    float *prest;     /* (B, T) model mass outside the soft targets' listed tokens */
    SoftTargets soft; /* soft targets of the last forward (k = 0: hard); caller-owned */
    float *rope_cos;  /* (T, hd/2) */
    float *rope_sin;  /* (T, hd/2) */
    int32_t *inputs;  /* (B, T) copy */
    int32_t *targets; /* (B, T) copy; -1 = no target */
    /* scratch for backward */
    float *dx;    /* (B, T, C) gradient of the residual stream */
    float *dn;    /* (B, T, C) */
    float *dq;    /* (B, T, H*hd) */
    float *dk;    /* (B, T, KV*hd) */
    float *dv;    /* (B, T, KV*hd) */
    float *dao;   /* (B, T, H*hd) */
    float *datt;  /* (B, H, T, T) */
    float *dgate; /* (B, T, F) */
    float *dup;   /* (B, T, F) */
    float *dhmid; /* (B, T, F) */
    float *mem;
    size_t n_floats;
} LlamaActs;

/* A frozen matrix read in place: row-major (rows, cols) of `type`. */
typedef struct {
    const void *data;
    uint32_t type; /* GGML_TYPE_F32, F16 or BF16 */
} FrozenMat;

typedef struct {
    FrozenMat tok_embd, output; /* (V, C); output == tok_embd when tied */
    FrozenMat *mats;            /* (L, MAT_N) */
    float *norms;               /* attn_norm (L, C) | ffn_norm (L, C) | out_norm (C) */
    float *scratch;             /* (largest matrix) fp32 copy of the matrix in use */
    uint16_t *owned;            /* BF16 copies of matrices stored in other types */
    GGUFFile file;              /* the map the matrices point into */
} LlamaFrozen;

typedef struct {
    LlamaConfig cfg;
    LlamaParams w; /* pointers into params (frozen: only the norms, into frozen->norms) */
    float *params;
    size_t n_params;
    float *grads;        /* (n_params) or NULL until llama_alloc_grads */
    LlamaParams g;       /* pointers into grads */
    LlamaActs acts;      /* empty until llama_alloc_batch */
    LlamaFrozen *frozen; /* NULL: every weight in params */
    int borrowed;        /* params / frozen belong to another Llama (llama_share) */
    Lora *lora;          /* optional adapter (owned); NULL: none */
    /* The matmuls' precision: fp32 after loading; the caller may set bf16
     * where ops_precision_supported says the CPU runs it. */
    ObPrecision prec;
} Llama;

/* The largest dimension (width, layers, heads, vocabulary, context) a model
 * file may hold. */
#define LLAMA_DIM_MAX (1 << 30)

/* Checks a config for consistency ("n_kv_heads 3 does not divide n_heads 8"). */
int llama_config_check(const LlamaConfig *c, ObErr *err);
/* The shape as JSON keys of object j: dim, layers, heads, kv_heads, ffn,
 * vocab, tied (what init prints). */
struct cJSON;
void llama_config_json(const LlamaConfig *c, struct cJSON *j);
size_t llama_param_count(const LlamaConfig *c);
/* Points p at the parameter blocks inside base (n_params floats). */
void llama_param_layout(const LlamaConfig *c, float *base, LlamaParams *p);

/* Allocates zeroed parameters; fills with llama_init_random if wanted. */
int llama_create(Llama *m, const LlamaConfig *c, ObErr *err);
/* N(0, 0.02) matrices (output projections scaled by 1/sqrt(2L)), norms 1. */
void llama_init_random(Llama *m, uint64_t seed);
/* Gradients of what trains: the adapter's when m->lora, else params'. */
int llama_alloc_grads(Llama *m, ObErr *err);
int llama_alloc_batch(Llama *m, int B, int T, ObErr *err);
void llama_free(Llama *m);

/* Per matrix kind (MAT_Q .. MAT_DOWN): rows (OC) and columns (IC). */
void llama_mat_dims(const LlamaConfig *c, int dims[MAT_N][2]);
/* dst becomes a second model over src's weights (no copy): its own
 * activations and adapter, src's parameters or frozen map. src must outlive
 * dst and not change while dst is used. */
int llama_share(Llama *dst, const Llama *src, ObErr *err);
/* Gives m a new adapter (A random, B zero: m computes what it did). */
int llama_add_lora(Llama *m, const LoraConfig *c, uint64_t seed, ObErr *err);
/* Reads an adapter GGUF for m (lora_load) and attaches it. */
int llama_load_lora(Llama *m, const char *path, ObErr *err);
/* Folds the adapter into an fp32 model's matrices and drops it. Fails on a
 * frozen model (see llama_save_merged). */
int llama_merge_lora(Llama *m, ObErr *err);
/* The weight of matrix kind (MAT_*) of layer l as fp32 (OC, IC): params
 * directly, or a frozen matrix converted into the shared scratch (valid
 * until the next call on any model sharing it). */
const float *llama_weight(const Llama *m, int kind, int l);
/* The output head (V, C) as fp32 (the same scratch rule). */
const float *llama_output_weight(const Llama *m);
/* out (N, C) = the embedding rows of tok. */
void llama_embed(const Llama *m, float *out, const int32_t *tok, int N);
/* The output head as a matrix kind for llama_linear_forward. */
#define LLAMA_OUTPUT MAT_N
/* out (N, OC) = inp (N, IC) @ W^T + beta * out for matrix kind of layer l
 * (or the head, LLAMA_OUTPUT), plus the adapter's term when it has one
 * (mid (N, r): its activation, kept for the backward pass). Every forward
 * matmul with a weight goes through here (llama_forward and llama_eval). */
void llama_linear_forward(const Llama *m, int kind, int l, float *out, const float *inp, int N,
                          float beta, float *mid);

/* Forward over inputs (B, T) with the batch size given at alloc (T may be
 * shorter than allocated). Fills acts.logits (B, T, V). With targets
 * (B, T; -1 = skip) it returns the mean cross-entropy over unmasked positions
 * and sets *n_valid; otherwise returns 0. */
float llama_forward(Llama *m, const int32_t *inputs, const int32_t *targets, int T, int *n_valid);
/* The same with soft targets (ops.h): targets still mark which positions
 * count (>= 0); the loss at those is the soft cross-entropy. soft's arrays
 * must stay valid until llama_backward. soft = NULL: llama_forward. */
float llama_forward_soft(Llama *m, const int32_t *inputs, const int32_t *targets,
                         const SoftTargets *soft, int T, int *n_valid);
/* Backward of sum over unmasked positions of CE * scale (scale = 1/n_valid
 * for the mean; 1/(total over micro-batches) for accumulation). Adds into
 * grads; call llama_zero_grads first. Destroys acts.logits. */
void llama_backward(Llama *m, float scale);
/* The same with a weight per position (B, T): the backward of
 * sum over unmasked n of CE_n * scale * row_scale[n]. Weights may be
 * negative (ascent on those positions). */
void llama_backward_rows(Llama *m, float scale, const float *row_scale);
void llama_zero_grads(Llama *m);

/* The residual stream entering block `upto` (0 <= upto <= L; L: the final
 * one before the output norm), (B, T, C), from a forward through blocks
 * 0..upto-1 only: what representation-level objectives (RMU) act on. The
 * pointer is into acts and valid until the next forward. */
const float *llama_forward_hidden(Llama *m, const int32_t *inputs, int T, int upto);
/* Backward of that forward from dh = dL/d(hidden) (B, T, C) through blocks
 * upto-1 down to `lowest`: their gradients are added, nothing below
 * (embeddings included) gets any. */
void llama_backward_hidden(Llama *m, int upto, const float *dh, int lowest);

/* Key/value cache for generation. */
typedef struct {
    int n_ctx;
    float *k;       /* (L, n_ctx, KV*hd) after RoPE */
    float *v;       /* (L, n_ctx, KV*hd) */
    float *scratch; /* per-call activations for up to n_batch tokens */
    int n_batch;
    int pos; /* tokens already in the cache */
} LlamaKV;

int llama_kv_create(LlamaKV *kv, const LlamaConfig *c, int n_ctx, int n_batch, ObErr *err);
void llama_kv_free(LlamaKV *kv);
/* Empties the cache for a new sequence (keeps its memory). */
void llama_kv_reset(LlamaKV *kv);
/* Evaluates n tokens (n <= n_batch) at positions kv->pos.. and appends them to
 * the cache. logits gets (n, V) floats when all_logits, else the last
 * position's V floats. Fails when the cache is full. */
int llama_eval(const Llama *m, LlamaKV *kv, const int32_t *tokens, int n, float *logits,
               int all_logits, ObErr *err);

#endif
