/* A new model with random weights and a given tokenizer, written as GGUF. */
#ifndef OB_INIT_H
#define OB_INIT_H

#include <stdint.h>

#include "model/llama.h"

typedef struct {
    const char *preset; /* tiny | d128 | d288 | d512 | d768, or NULL */
    /* dim, n_layers, n_heads, n_kv_heads, ffn_dim: non-zero ones override the preset's;
     * n_kv_heads 0: = n_heads; head_dim 0: dim / n_heads; ctx_len 256, rope_base 10000,
     * norm_eps 1e-5; vocab and tied are set from the tokenizer and untied */
    LlamaConfig shape;
    int untied;                 /* a separate output head (default: tied to the embedding) */
    const char *tokenizer_path; /* GGUF, required */
    const char *out_path;       /* required */
    uint32_t type;              /* matrices stored as GGML_TYPE_F32 (default), F16 or BF16 */
    uint64_t seed;              /* 1 */
    int stream; /* write tensor by tensor, never holding the model (llama_save_random) */
} InitConfig;

void init_config_defaults(InitConfig *c);

/* Sets the preset's dim, layers, heads, kv heads and ffn; -1 if unknown. */
int llama_preset(const char *name, LlamaConfig *c);

typedef struct {
    LlamaConfig cfg; /* the model written */
    size_t n_params;
} InitResult;

/* N(0, 0.02) weights, residual projections scaled by 1/sqrt(2 layers)
 * (llama_init_random); with stream, uniform ones of that deviation. */
int init_run(const InitConfig *c, InitResult *res, ObErr *err);

#endif
