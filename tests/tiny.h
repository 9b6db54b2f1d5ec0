/* Small model shapes for the tests: tiny_shape() for a test's own, and
 * tiny_config(), the one most tests train and check (d64, 2 layers,
 * grouped-query attention, tied head, context 64). */
#ifndef OB_TEST_TINY_H
#define OB_TEST_TINY_H

#include "model/llama.h"

/* head_dim is dim / n_heads; RMSNorm epsilon 1e-5, RoPE base 10000. */
static inline LlamaConfig tiny_shape(int dim, int n_layers, int n_heads, int n_kv_heads,
                                     int ffn_dim, int vocab, int ctx_len, int tied) {
    return (LlamaConfig){.dim = dim,
                         .n_layers = n_layers,
                         .n_heads = n_heads,
                         .n_kv_heads = n_kv_heads,
                         .head_dim = dim / n_heads,
                         .ffn_dim = ffn_dim,
                         .vocab = vocab,
                         .ctx_len = ctx_len,
                         .norm_eps = 1e-5f,
                         .rope_base = 10000.0f,
                         .tied = tied};
}

static inline LlamaConfig tiny_config(int vocab) {
    return tiny_shape(64, 2, 4, 2, 128, vocab, 64, 1);
}

#endif
