/* Model weights <-> GGUF files llama.cpp can load (general.architecture
 * "llama", the llama.* keys, blk.N.* tensors; see ../shared/guide/formats.md). */
#ifndef OB_CHECKPOINT_H
#define OB_CHECKPOINT_H

#include "io/gguf.h"
#include "model/llama.h"
#include "text/tokenizer.h"

/* Writes m (and tok, whose vocabulary must match m's) to path. Matrices are
 * stored as `type` (GGML_TYPE_F32, F16 or BF16); norm scales stay F32, as
 * llama.cpp expects. Written atomically. */
int llama_save(const Llama *m, const Tokenizer *tok, const char *name, uint32_t type,
               const char *path, ObErr *err);
/* The general.* and llama.* keys of a config (no tensors); -1 on out of memory. */
int llama_config_to_gguf(const LlamaConfig *c, uint32_t type, GGUFWriter *w);
/* Reads and checks those keys, and the vocabulary and tying from the tensors. */
int llama_config_from_gguf(const GGUFFile *f, LlamaConfig *c, ObErr *err);
/* Adds the model's keys and tensors to a writer (for callers adding more). */
int llama_to_gguf(const Llama *m, uint32_t type, GGUFWriter *w, ObErr *err);

/* Loads a llama GGUF (F32, F16, BF16 or block-quantised tensors: Q4_0, Q8_0,
 * Q4_K, Q5_K, Q6_K) into a new fp32 model;
 * with tok non-NULL also its tokenizer, whose size must equal the model's
 * vocabulary. Errors name the file and the tensor or key. */
int llama_load(Llama *m, Tokenizer *tok, const char *path, ObErr *err);
int llama_from_gguf(Llama *m, const GGUFFile *f, ObErr *err);

/* Loads a llama GGUF as a frozen model (llama.h): the file stays mapped and
 * BF16, F16 and F32 matrices are read in place (block-quantised ones are
 * dequantised to BF16 once); fp32 copies are made of the norm scales only. Such a model
 * runs forward and trains only through a LoRA adapter. */
int llama_load_frozen(Llama *m, Tokenizer *tok, const char *path, ObErr *err);
/* Writes m with its adapter (if any) folded in: W + (alpha / r) B A for
 * every adapted matrix, in the type the base stores it in (F32 for an fp32
 * model); the other tensors are copied as they are. Matrices are made one
 * at a time, so a frozen 7B model is written without holding it in fp32. */
/* Writes a model with random weights straight to disk, one tensor at a
 * time (a 7B model never exists in memory): matrices uniform with standard
 * deviation 0.02 (0.02 / sqrt(2 L) for attn_output and ffn_down, as
 * llama_init_random), norms 1, in `type`. Not the same numbers as
 * llama_init_random. tok may be NULL. */
int llama_save_random(const LlamaConfig *c, const Tokenizer *tok, uint32_t type, uint64_t seed,
                      const char *path, ObErr *err);
int llama_save_merged(const Llama *m, const Tokenizer *tok, const char *name, const char *path,
                      ObErr *err);

#endif
