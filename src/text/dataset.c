#include "text/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/utf8.h"

int dataset_append_text(TokenStream *ds, const Tokenizer *tok, const char *text, size_t len,
                        ObErr *err) {
    int32_t *ids;
    size_t n;
    if (tok_encode(tok, text, len, &ids, &n, err)) return -1;
    int32_t *grown = realloc(ds->tokens, sizeof(int32_t) * (ds->n + n + 1));
    if (!grown) {
        free(ids);
        return ob_errf(err, "out of memory growing the token stream to %zu tokens", ds->n + n);
    }
    ds->tokens = grown;
    ds->tokens[ds->n++] = tok->eot_id;
    memcpy(ds->tokens + ds->n, ids, sizeof(int32_t) * n);
    ds->n += n;
    free(ids);
    return 0;
}

int dataset_load(TokenStream *ds, const Tokenizer *tok, const char *const *paths, int n_paths,
                 ObErr *err) {
    memset(ds, 0, sizeof *ds);
    if (n_paths <= 0) return ob_errf(err, "no text files given");
    for (int i = 0; i < n_paths; i++) {
        char *text;
        size_t len;
        if (ob_read_file(paths[i], &text, &len, err)) goto fail;
        size_t bad = utf8_invalid_at(text, len);
        int rc = 0;
        if (len == 0)
            rc = ob_errf(err, "%s: empty text file", paths[i]);
        else if (bad < len)
            rc = ob_errf(err, "%s: not UTF-8 text (invalid byte 0x%02x at offset %zu)", paths[i],
                         (unsigned char)text[bad], bad);
        else if (dataset_append_text(ds, tok, text, len, err))
            rc = ob_err_prefix(err, "%s", paths[i]);
        free(text);
        if (rc) goto fail;
    }
    return 0;
fail:
    dataset_free(ds);
    return -1;
}

void dataset_free(TokenStream *ds) {
    free(ds->tokens);
    memset(ds, 0, sizeof *ds);
}

void dataset_sample(const TokenStream *ds, uint64_t key, int B, int T, int32_t *inputs,
                    int32_t *targets) {
    size_t span = ds->n - (size_t)T; /* number of valid window starts */
    for (int b = 0; b < B; b++) {
        const int32_t *w =
            ds->tokens + ob_hash64(key + 0x9e3779b97f4a7c15ULL * (uint64_t)(b + 1)) % span;
        memcpy(inputs + (size_t)b * T, w, sizeof(int32_t) * T);
        memcpy(targets + (size_t)b * T, w + 1, sizeof(int32_t) * T);
    }
}
