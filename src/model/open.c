#include "model/open.h"

#include "model/checkpoint.h"

int llama_open(Llama *m, Tokenizer *tok, const char *path, const char *lora, ObErr *err) {
    if (!lora) return llama_load(m, tok, path, err);
    if (llama_load_frozen(m, tok, path, err)) return -1;
    if (llama_load_lora(m, lora, err)) return llama_free(m), tok_free(tok), -1;
    return 0;
}
