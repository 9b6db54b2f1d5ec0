/* config.json of a Hugging Face Llama-family model (format only).
 *
 * Accepts LlamaForCausalLM / MistralForCausalLM configs (Llama, TinyLlama,
 * Mistral-style, SmolLM-style) and refuses, with one line naming the feature,
 * anything obliviate's Llama cannot run: other architectures, rope_scaling,
 * attention or MLP biases, activations other than SiLU, mixtures of experts,
 * partial rotary embeddings, quantized checkpoints, and a sliding window
 * shorter than the context. */
#ifndef OB_HFCONFIG_H
#define OB_HFCONFIG_H

#include "util/err.h"

typedef struct {
    char model_type[32];   /* "llama" or "mistral" */
    int hidden_size;       /* C */
    int intermediate_size; /* F */
    int n_layers;          /* num_hidden_layers */
    int n_heads;           /* num_attention_heads */
    int n_kv_heads;        /* num_key_value_heads (default n_heads) */
    int head_dim;          /* default hidden_size / n_heads */
    int max_pos;           /* max_position_embeddings */
    int vocab_size;
    double rms_norm_eps; /* default 1e-6 */
    double rope_theta;   /* default 10000 */
    int tie_word_embeddings;
    int bos_token_id; /* -1 when absent; the first of a list */
    int eos_token_id;
    char torch_dtype[16]; /* "float32", "bfloat16", ... or "" */
} HFConfig;

/* Parses config.json text; `path` names the file in messages. */
int hfconfig_parse(HFConfig *c, const char *json, size_t len, const char *path, ObErr *err);
int hfconfig_read(HFConfig *c, const char *path, ObErr *err);
/* Writes a LlamaForCausalLM config.json atomically. */
int hfconfig_write(const HFConfig *c, const char *path, ObErr *err);

#endif
