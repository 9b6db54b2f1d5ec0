/* A tokenizer's place in a GGUF file: the tokenizer.ggml.* keys llama.cpp
 * reads (model "gpt2", pre "gpt-2", tokens, token_type, merges, bos/eos). */
#ifndef OB_TOKENIZER_GGUF_H
#define OB_TOKENIZER_GGUF_H

#include "io/gguf.h"
#include "text/tokenizer.h"

int tokenizer_to_gguf(const Tokenizer *t, GGUFWriter *w);
/* Reads the tokenizer of an open GGUF file. Errors name f->path. */
int tokenizer_from_gguf(Tokenizer *t, const GGUFFile *f, ObErr *err);

/* A GGUF file holding only a tokenizer (what `tokenizer train` writes). */
int tokenizer_save(const Tokenizer *t, const char *path, ObErr *err);
/* Loads the tokenizer of any GGUF file (tokenizer-only or a model). */
int tokenizer_load(Tokenizer *t, const char *path, ObErr *err);

#endif
