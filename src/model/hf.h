/* Hugging Face Llama folders <-> llama GGUF files.
 *
 * A folder holds config.json (io/hfconfig.h), tokenizer.json
 * (text/tokenizer_hf.h) and the weights in model.safetensors, or sharded in
 * model-0000k-of-0000N.safetensors with model.safetensors.index.json
 * ({"weight_map": {tensor: file}}).
 *
 * Tensors map one to one (model.layers.N.self_attn.q_proj.weight <->
 * blk.N.attn_q.weight, ...); a row-major [out, in] matrix keeps its bytes, the
 * shapes are written in opposite orders. Q and K rows are permuted: Hugging
 * Face stores each head's rotary pairs as (first half, second half), llama.cpp
 * as adjacent pairs, so HF row h*hd + s*hd/2 + i is GGUF row h*hd + 2i + s
 * (h a head, s in {0, 1}, i < hd/2). Matrices keep their dtype (F32, F16,
 * BF16) unless one is asked for; norm scales are F32 in GGUF, as llama.cpp
 * expects, and go back to the matrices' dtype on export (exact for values
 * that came from that dtype). Tensors the source does not change are written
 * straight from its memory map. */
#ifndef OB_HF_H
#define OB_HF_H

#include <stdint.h>

#include "model/llama.h"
#include "util/err.h"

typedef struct {
    int dtype;          /* -1: keep; else GGML_TYPE_F32, F16 or BF16 */
    uint64_t max_shard; /* export: bytes per safetensors file; 0 = 5 GB */
} HFOptions;

typedef struct {
    LlamaConfig cfg;
    int n_tensors, n_shards;
    uint64_t bytes; /* tensor data written */
    int tok_kind;   /* TOK_BPE or TOK_SPM */
    int n_vocab;    /* tokenizer size */
} HFInfo;

/* Converts the folder dir into the GGUF file out (written atomically). Both
 * this and hf_export zero *info, then fill it in. */
int hf_import(const char *dir, const char *out, const HFOptions *o, HFInfo *info, ObErr *err);
/* Writes the GGUF model in as a new folder dir: built in "dir.tmp-XXXXXX" and
 * renamed, so dir appears complete or not at all. dir must not exist or be
 * empty. */
int hf_export(const char *in, const char *dir, const HFOptions *o, HFInfo *info, ObErr *err);

#endif
