/* Anchor dictionaries (one JSON object or JSON Lines), tokenized, then
 * matched against the tokens of the input itself. */
#include "fuzz.h"
#include "unlearn/anchors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const Tokenizer *tok = fuzz_tokenizer();
    AnchorDict d;
    ObErr err = {{0}};
    if (anchors_parse(&d, (const char *)data, size, "fuzz.json", &err)) return 0;
    int32_t *ids = NULL;
    size_t n = 0;
    if (!anchors_tokenize(&d, tok, &err) &&
        !tok_encode(tok, (const char *)data, size, &ids, &n, &err)) {
        for (int i = 0; i < (int)n; i++) {
            int form, len;
            anchors_match(&d, ids, (int)n, i, &form, &len);
        }
        if (d.n) anchors_find(&d, d.items[0].key);
    }
    free(ids);
    anchors_free(&d);
    return 0;
}
