#include "text/tokenizer_gguf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int tokenizer_to_gguf(const Tokenizer *t, GGUFWriter *w) {
    int rc = 0;
    rc |= gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    rc |= gguf_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    rc |= gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)t->tokens,
                           (uint64_t)t->n_vocab);
    rc |= gguf_set_arr_i32(w, "tokenizer.ggml.token_type", t->types, (uint64_t)t->n_vocab);
    rc |= gguf_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)t->merges,
                           (uint64_t)t->n_merges);
    rc |= gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->eot_id);
    rc |= gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eot_id);
    rc |= gguf_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)t->eot_id);
    rc |= gguf_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    rc |= gguf_set_bool(w, "tokenizer.ggml.add_eos_token", false);
    return rc ? -1 : 0;
}

/* Copies a GGUF string array into NUL-terminated strings. */
static char **str_array(const GGUFKV *kv, ObErr *err) {
    char **out = ob_calloc(kv->arr_n ? kv->arr_n : 1, sizeof(char *), "token strings", err);
    for (uint64_t i = 0; out && i < kv->arr_n; i++) {
        const GGUFStr *s = &kv->arr_str[i];
        out[i] = ob_malloc(s->len + 1, "token string", err);
        if (!out[i]) {
            for (uint64_t j = 0; j < i; j++) free(out[j]);
            free(out);
            return NULL;
        }
        memcpy(out[i], s->ptr, s->len);
        out[i][s->len] = 0;
    }
    return out;
}

static void free_strs(char **s, uint64_t n) {
    for (uint64_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

static const GGUFKV *array_kv(const GGUFFile *f, const char *key, uint32_t type, ObErr *err) {
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv) return ob_errf(err, "%s: no %s (not a model or tokenizer file?)", f->path, key), NULL;
    if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != type)
        return ob_errf(err, "%s: %s has the wrong type", f->path, key), NULL;
    return kv;
}

int tokenizer_from_gguf(Tokenizer *t, const GGUFFile *f, ObErr *err) {
    memset(t, 0, sizeof *t);
    char *model = gguf_get_str(f, "tokenizer.ggml.model", err);
    if (!model) return -1;
    if (strcmp(model, "gpt2") != 0) {
        ob_errf(err,
                "%s: tokenizer model '%s' is not supported (obliviate reads byte-level "
                "BPE, \"gpt2\")",
                f->path, model);
        free(model);
        return -1;
    }
    free(model);
    const GGUFKV *tk = array_kv(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, err);
    const GGUFKV *mk = tk ? array_kv(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, err) : NULL;
    if (!mk) return -1;
    if (tk->arr_n < 257 || tk->arr_n > 1u << 24)
        return ob_errf(err, "%s: tokenizer has %llu tokens (expected 257 to 2^24)", f->path,
                       (unsigned long long)tk->arr_n);
    if (mk->arr_n > INT32_MAX) /* counts are ints below; only a 16 GiB file could get here */
        return ob_errf(err, "%s: tokenizer has %llu merges, too many", f->path,
                       (unsigned long long)mk->arr_n);
    int n = (int)tk->arr_n;
    uint32_t eot;
    if (gguf_get_u32(f, "tokenizer.ggml.eos_token_id", &eot, err)) return -1;
    if (eot >= (uint32_t)n)
        return ob_errf(err, "%s: eos token id %u out of range (%d tokens)", f->path, eot, n);
    int32_t *types = ob_malloc(sizeof(int32_t) * n, "token types", err);
    if (!types) return -1;
    const GGUFKV *ty = gguf_find_kv(f, "tokenizer.ggml.token_type");
    int typed = ty && ty->type == GGUF_TYPE_ARRAY && ty->arr_type == GGUF_TYPE_I32 &&
                ty->arr_n == (uint64_t)n;
    for (int i = 0; i < n; i++) {
        if (typed)
            memcpy(&types[i], ty->arr + 4 * (size_t)i, 4);
        else
            types[i] = (uint32_t)i == eot ? 3 : 1;
    }
    char **tokens = str_array(tk, err), **merges = tokens ? str_array(mk, err) : NULL;
    int rc = -1;
    if (merges) {
        rc = tok_from_arrays(t, (const char *const *)tokens, types, n, (const char *const *)merges,
                             (int)mk->arr_n, (int)eot, err);
        if (rc) ob_err_prefix(err, "%s", f->path);
    }
    free_strs(tokens, tk->arr_n);
    free_strs(merges, mk->arr_n);
    free(types);
    return rc;
}

int tokenizer_save(const Tokenizer *t, const char *path, ObErr *err) {
    GGUFWriter *w = gguf_writer_new(err);
    if (!w) return -1;
    int rc = gguf_set_str(w, "general.name", "obliviate tokenizer") || tokenizer_to_gguf(t, w)
                 ? ob_errf(err, "out of memory building %s", path)
                 : gguf_writer_save(w, path, err);
    gguf_writer_free(w);
    return rc;
}

int tokenizer_load(Tokenizer *t, const char *path, ObErr *err) {
    GGUFFile f;
    if (gguf_open(&f, path, err)) return -1;
    int rc = tokenizer_from_gguf(t, &f, err);
    gguf_close(&f);
    return rc;
}
