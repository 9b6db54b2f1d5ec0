/* Hugging Face tokenizer.json: a vocabulary and merges (byte-level BPE or
 * SentencePiece-style), then a text encoded and decoded with it. */
#include "fuzz.h"
#include "text/tokenizer_hf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Tokenizer tok;
    ObErr err = {{0}};
    if (tokenizer_hf_parse(&tok, (const char *)data, size, "tokenizer.json", -1, -1, 0, &err))
        return 0;
    static const char text[] = "Hello, Harry! It's 2024 -- café 東京\n\n  end";
    int32_t *ids = NULL;
    size_t n = 0;
    if (!tok_encode(&tok, text, sizeof text - 1, &ids, &n, &err)) {
        char *back = NULL;
        size_t len;
        if (!tok_decode(&tok, ids, n, &back, &len, &err)) free(back);
        free(ids);
    }
    tok_free(&tok);
    return 0;
}
