#include "text/tokenizer_gguf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int tokenizer_to_gguf(const Tokenizer *t, GGUFWriter *w) {
    int rc = 0, spm = t->kind == TOK_SPM;
    rc |= gguf_set_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
    if (!spm) rc |= gguf_set_str(w, "tokenizer.ggml.pre", tok_pre_name(t->pre));
    rc |= gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)t->tokens,
                           (uint64_t)t->n_vocab);
    if (spm) rc |= gguf_set_arr_f32(w, "tokenizer.ggml.scores", t->scores, (uint64_t)t->n_vocab);
    rc |= gguf_set_arr_i32(w, "tokenizer.ggml.token_type", t->types, (uint64_t)t->n_vocab);
    if (!spm)
        rc |= gguf_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)t->merges,
                               (uint64_t)t->n_merges);
    const struct {
        const char *key;
        int id;
    } ids[] = {{"tokenizer.ggml.bos_token_id", t->bos_id},
               {"tokenizer.ggml.eos_token_id", t->eos_id},
               {"tokenizer.ggml.unknown_token_id", t->unk_id},
               {"tokenizer.ggml.padding_token_id", t->pad_id}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].id >= 0) rc |= gguf_set_u32(w, ids[i].key, (uint32_t)ids[i].id);
    rc |= gguf_set_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos);
    rc |= gguf_set_bool(w, "tokenizer.ggml.add_eos_token", t->add_eos);
    if (spm) rc |= gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", t->add_space_prefix);
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

/* An optional token id key: -1 when absent, or when it holds 4294967295,
 * which llama.cpp's converter writes for "no such token" (its -1 as u32). */
static int opt_id(const GGUFFile *f, const char *key, uint64_t n, int *out, ObErr *err) {
    uint32_t v;
    *out = -1;
    if (!gguf_find_kv(f, key)) return 0;
    if (gguf_get_u32(f, key, &v, err)) return -1;
    if (v == UINT32_MAX) return 0;
    if (v >= n)
        return ob_errf(err, "%s: %s = %u out of range (%llu tokens)", f->path, key, v,
                       (unsigned long long)n);
    *out = (int)v;
    return 0;
}

static int opt_bool(const GGUFFile *f, const char *key, int def, int *out, ObErr *err) {
    bool b;
    *out = def;
    if (!gguf_find_kv(f, key)) return 0;
    if (gguf_get_bool(f, key, &b, err)) return -1;
    *out = b;
    return 0;
}

/* tokenizer.ggml.model and .pre -> kind and pre-tokenizer. */
static int read_kind(const GGUFFile *f, TokSpec *s, ObErr *err) {
    char *model = gguf_get_str(f, "tokenizer.ggml.model", err);
    if (!model) return -1;
    int rc = 0;
    if (!strcmp(model, "llama"))
        s->kind = TOK_SPM;
    else if (!strcmp(model, "gpt2"))
        s->kind = TOK_BPE;
    else
        rc = ob_errf(err,
                     "%s: tokenizer model '%.32s' is not supported (\"gpt2\" byte-level BPE or "
                     "\"llama\" SentencePiece)",
                     f->path, model);
    free(model);
    if (rc || s->kind == TOK_SPM || !gguf_find_kv(f, "tokenizer.ggml.pre")) return rc;
    char *pre = gguf_get_str(f, "tokenizer.ggml.pre", err);
    if (!pre) return -1;
    s->pre = tok_pre_from_name(pre);
    if (s->pre < 0)
        rc = ob_errf(err, "%s: pre-tokenizer '%.32s' is not supported (gpt-2, llama-bpe, smollm)",
                     f->path, pre);
    free(pre);
    return rc;
}

int tokenizer_from_gguf(Tokenizer *t, const GGUFFile *f, ObErr *err) {
    memset(t, 0, sizeof *t);
    TokSpec s = {0};
    if (read_kind(f, &s, err)) return -1;
    int spm = s.kind == TOK_SPM;
    const GGUFKV *tk = array_kv(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, err);
    const GGUFKV *mk = NULL, *sk = NULL;
    if (!tk) return -1;
    if (!spm && !(mk = array_kv(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, err))) return -1;
    if (spm && !(sk = array_kv(f, "tokenizer.ggml.scores", GGUF_TYPE_F32, err))) return -1;
    uint64_t lo = spm ? 1 : 257;
    if (tk->arr_n < lo || tk->arr_n > 1u << 24)
        return ob_errf(err, "%s: tokenizer has %llu tokens (expected %llu to 2^24)", f->path,
                       (unsigned long long)tk->arr_n, (unsigned long long)lo);
    if (sk && sk->arr_n != tk->arr_n)
        return ob_errf(err, "%s: %llu scores for %llu tokens", f->path,
                       (unsigned long long)sk->arr_n, (unsigned long long)tk->arr_n);
    if (mk && mk->arr_n > INT32_MAX) /* counts are ints below; only a 16 GiB file could get here */
        return ob_errf(err, "%s: tokenizer has %llu merges, too many", f->path,
                       (unsigned long long)mk->arr_n);
    int n = (int)tk->arr_n;
    if (opt_id(f, "tokenizer.ggml.bos_token_id", tk->arr_n, &s.bos_id, err) ||
        opt_id(f, "tokenizer.ggml.eos_token_id", tk->arr_n, &s.eos_id, err) ||
        opt_id(f, "tokenizer.ggml.unknown_token_id", tk->arr_n, &s.unk_id, err) ||
        opt_id(f, "tokenizer.ggml.padding_token_id", tk->arr_n, &s.pad_id, err) ||
        opt_bool(f, "tokenizer.ggml.add_bos_token", spm, &s.add_bos, err) ||
        opt_bool(f, "tokenizer.ggml.add_eos_token", 0, &s.add_eos, err) ||
        opt_bool(f, "tokenizer.ggml.add_space_prefix", spm, &s.add_space_prefix, err))
        return -1;
    if (s.eos_id < 0 && s.bos_id < 0)
        return ob_errf(err, "%s: key tokenizer.ggml.eos_token_id missing", f->path);
    int eot = s.bos_id >= 0 ? s.bos_id : s.eos_id;
    int32_t *types = ob_malloc(sizeof(int32_t) * n, "token types", err);
    float *scores = spm ? ob_malloc(sizeof(float) * n, "token scores", err) : NULL;
    if (!types || (spm && !scores)) return free(types), free(scores), -1;
    const GGUFKV *ty = gguf_find_kv(f, "tokenizer.ggml.token_type");
    int typed = ty && ty->type == GGUF_TYPE_ARRAY && ty->arr_type == GGUF_TYPE_I32 &&
                ty->arr_n == (uint64_t)n;
    for (int i = 0; i < n; i++) {
        if (typed)
            memcpy(&types[i], ty->arr + 4 * (size_t)i, 4);
        else
            types[i] = i == eot || i == s.eos_id ? 3 : 1;
        if (spm) memcpy(&scores[i], sk->arr + 4 * (size_t)i, 4);
    }
    char **tokens = str_array(tk, err), **merges = tokens && mk ? str_array(mk, err) : NULL;
    int rc = -1;
    if (tokens && (merges || !mk)) {
        s.n_vocab = n;
        s.tokens = (const char *const *)tokens;
        s.types = types;
        s.scores = scores;
        s.merges = (const char *const *)merges;
        s.n_merges = mk ? (int)mk->arr_n : 0;
        rc = tok_build(t, &s, err);
        if (rc) ob_err_prefix(err, "%s", f->path);
    }
    free_strs(tokens, tk->arr_n);
    if (mk) free_strs(merges, mk->arr_n);
    free(types);
    free(scores);
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
