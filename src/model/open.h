/* Opening a model to run it: a GGUF alone, or with a LoRA adapter. */
#ifndef OB_OPEN_H
#define OB_OPEN_H

#include "model/llama.h"
#include "text/tokenizer.h"

/* Loads path (and its tokenizer) as an fp32 model; with lora non-NULL, the
 * model frozen (memory-mapped, as stored) plus that adapter, so a large
 * model runs without an fp32 copy. */
int llama_open(Llama *m, Tokenizer *tok, const char *path, const char *lora, ObErr *err);

#endif
