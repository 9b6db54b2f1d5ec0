/* The tiny model shape the tests train and check (d64, 2 layers, grouped-query
 * attention, tied head, context 64). */
#ifndef OB_TEST_TINY_H
#define OB_TEST_TINY_H

#include "model/llama.h"

static inline LlamaConfig tiny_config(int vocab) {
    return (LlamaConfig){.dim = 64,
                         .n_layers = 2,
                         .n_heads = 4,
                         .n_kv_heads = 2,
                         .head_dim = 16,
                         .ffn_dim = 128,
                         .vocab = vocab,
                         .ctx_len = 64,
                         .norm_eps = 1e-5f,
                         .rope_base = 10000.0f,
                         .tied = 1};
}

#endif
