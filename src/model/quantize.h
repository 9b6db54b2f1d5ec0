/* obliviate quantize: a GGUF model rewritten with its matrices in one of
 * llama.cpp's quantisation schemes, every key and every other tensor kept.
 *
 *   QuantStats st;
 *   if (model_quantize("m.gguf", "m.q4_k_m.gguf", "q4_k_m", &st, &err)) ...
 *
 * A scheme names a file type as llama.cpp's quantize tool does, and picks a
 * type per tensor by its rules: q8_0, q4_0, q5_0, q5_1 and q6_k use that type
 * for every matrix; q4_k_m and q5_k_m use Q4_K / Q5_K except for attn_v and
 * ffn_down in the layers that get more bits (the first and last eighth and
 * every third between), which take Q6_K. The output matrix (the token
 * embedding when the two are tied) takes Q6_K in every scheme but q8_0.
 * Where a row is not a multiple of 256, a K type falls back as llama.cpp's
 * does (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0), and where it is not a
 * multiple of 32 the matrix stays as it is. Vectors (norms) stay as they are.
 *
 * Memory: the source is mapped and each matrix is dequantised and quantised
 * while the file is written, one at a time, so the peak is one matrix in
 * fp32 beside its blocks. The output is written whole or not at all. */
#ifndef OB_QUANTIZE_H
#define OB_QUANTIZE_H

#include <stdint.h>

#include "util/err.h"

/* The schemes' names, comma-separated, for messages and --help. */
extern const char QUANT_SCHEMES[];

/* Does name name a scheme? */
int quant_scheme_known(const char *name);

typedef struct {
    uint64_t n_tensors, n_by_type[32]; /* tensors written, per GGML_TYPE_* (< 32) */
    uint64_t in_bytes, out_bytes;      /* tensor data, source and written */
    uint64_t n_weights;                /* elements of all tensors */
} QuantStats;

/* Writes in's model to out quantised by scheme. stats may be NULL. Fails
 * (one line naming the file) on an unknown scheme, an unreadable model, a
 * non-finite weight. out may be in (it is replaced when the write is done). */
int model_quantize(const char *in, const char *out, const char *scheme, QuantStats *stats,
                   ObErr *err);

/* The type scheme gives the tensor `name` with rows `width` wide in a model
 * of n_layers blocks (has_output: the model has its own output.weight), for
 * a tensor of n_dims dimensions stored as src_type. Exposed for tests. */
uint32_t quant_tensor_type(const char *scheme, const char *name, uint64_t width, uint32_t n_dims,
                           uint32_t src_type, int n_layers, int has_output);

#endif
