/* The tokenizer stored in a GGUF file (tokenizer.ggml.*), then a text
 * encoded and decoded with it. */
#include "fuzz.h"
#include "io/gguf.h"
#include "text/tokenizer_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GGUFFile f;
    ObErr err = {{0}};
    if (gguf_open_buffer(&f, data, size, "fuzz.gguf", &err)) return 0;
    Tokenizer tok;
    if (!tokenizer_from_gguf(&tok, &f, &err)) {
        static const char text[] = "Hello, Harry! It's 2024 -- café 東京\n\n  end<|endoftext|>";
        int32_t *ids = NULL;
        size_t n = 0;
        if (!tok_encode(&tok, text, sizeof text - 1, &ids, &n, &err)) {
            char *back = NULL;
            size_t len;
            if (!tok_decode(&tok, ids, n, &back, &len, &err)) free(back);
            free(ids);
        }
        for (int id = 0; id < tok.n_vocab; id++) {
            size_t len;
            tok_token_bytes(&tok, id, &len);
        }
        tok_vocab_hash(&tok);
        tok_free(&tok);
    }
    gguf_close(&f);
    return 0;
}
