#include "text/tokenizer_hf.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_spm.h"
#include "util/fileio.h"
#include "util/jsonfile.h"

#define SPACE_MARK "\xe2\x96\x81" /* "▁" */

/* Hugging Face's Split regex for Llama-3 (as its tokenizer.json spells it). */
static const char LLAMA3_SPLIT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const cJSON *item(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = item(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "";
}

static int is_type(const cJSON *o, const char *type) {
    return cJSON_IsObject(o) && !strcmp(type_of(o), type);
}

/* ---- Reading ---- */

typedef struct {
    const char *path;
    int n;         /* vocabulary size */
    char **tokens; /* [n] borrowed from the JSON tree, or owned pads */
    int32_t *types;
    int n_pad; /* tokens[n - n_pad ..] are owned "[PADn]" strings */
} Vocab;

static int put_token(Vocab *v, const cJSON *idj, const char *s, ObErr *err) {
    double d = cJSON_IsNumber(idj) ? idj->valuedouble : -1;
    if (!(d >= 0 && d < v->n) || floor(d) != d)
        return ob_errf(err, "%s: token \"%.32s\" has a bad id", v->path, s);
    int id = (int)d;
    if (v->tokens[id] && strcmp(v->tokens[id], s))
        return ob_errf(err, "%s: token id %d is both \"%.32s\" and \"%.32s\"", v->path, id,
                       v->tokens[id], s);
    v->tokens[id] = (char *)s;
    return 0;
}

/* The largest id in the vocabulary and added_tokens, plus one. */
static int count_ids(const cJSON *vocab, const cJSON *added) {
    double mx = -1;
    for (const cJSON *e = vocab->child; e; e = e->next)
        if (cJSON_IsNumber(e) && e->valuedouble > mx) mx = e->valuedouble;
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *id = item(a, "id");
        if (cJSON_IsNumber(id) && id->valuedouble > mx) mx = id->valuedouble;
    }
    return mx < (double)(1 << 24) ? (int)mx + 1 : -1;
}

static int read_vocab(Vocab *v, const cJSON *model, const cJSON *added, int n_min, ObErr *err) {
    const cJSON *vocab = item(model, "vocab");
    if (!cJSON_IsObject(vocab)) return ob_errf(err, "%s: model.vocab is not an object", v->path);
    int n = count_ids(vocab, added);
    if (n <= 0) return ob_errf(err, "%s: empty or oversized vocabulary", v->path);
    v->n_pad = n < n_min ? n_min - n : 0;
    v->n = n + v->n_pad;
    v->tokens = ob_calloc((size_t)v->n, sizeof *v->tokens, "tokens", err);
    v->types = ob_calloc((size_t)v->n, sizeof *v->types, "token types", err);
    if (!v->tokens || !v->types) return -1;
    for (const cJSON *e = vocab->child; e; e = e->next)
        if (put_token(v, e, e->string, err)) return -1;
    for (int i = 0; i < v->n; i++) v->types[i] = 1;
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *c = item(a, "content");
        if (!cJSON_IsString(c)) return ob_errf(err, "%s: an added token has no content", v->path);
        if (put_token(v, item(a, "id"), c->valuestring, err)) return -1;
        v->types[(int)item(a, "id")->valuedouble] = cJSON_IsTrue(item(a, "special")) ? 3 : 4;
    }
    for (int i = 0; i < n; i++)
        if (!v->tokens[i]) return ob_errf(err, "%s: no token has id %d", v->path, i);
    for (int i = n; i < v->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "[PAD%d]", i);
        if (!(v->tokens[i] = strdup(name))) return ob_errf(err, "out of memory");
        v->types[i] = 5;
    }
    return 0;
}

static void vocab_free(Vocab *v) {
    for (int i = v->n - v->n_pad; v->tokens && i < v->n; i++) free(v->tokens[i]);
    free(v->tokens);
    free(v->types);
}

/* Merges as "a b" strings (both spellings: "a b" and ["a", "b"]). */
static char **read_merges(const cJSON *model, int *n_out, const char *path, ObErr *err) {
    const cJSON *m = item(model, "merges");
    int n = cJSON_IsArray(m) ? cJSON_GetArraySize(m) : -1;
    if (n < 0) return ob_errf(err, "%s: model.merges is not an array", path), NULL;
    char **out = ob_calloc((size_t)n + 1, sizeof *out, "merges", err);
    int k = 0;
    for (const cJSON *e = m->child; out && e; e = e->next, k++) {
        if (cJSON_IsString(e)) {
            out[k] = strdup(e->valuestring);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            size_t a = strlen(e->child->valuestring), b = strlen(e->child->next->valuestring);
            if ((out[k] = malloc(a + b + 2)))
                sprintf(out[k], "%s %s", e->child->valuestring, e->child->next->valuestring);
        } else {
            ob_errf(err, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]", path, k);
            goto fail;
        }
        if (!out[k]) {
            ob_errf(err, "out of memory reading merges");
            goto fail;
        }
    }
    *n_out = n;
    return out;
fail:
    for (int i = 0; i < k; i++) free(out[i]);
    free(out);
    return NULL;
}

static void free_merges(char **m, int n) {
    for (int i = 0; m && i < n; i++) free(m[i]);
    free(m);
}

/* Finds the " ▁" replacement and whether a "▁" is prepended: in the
 * normalizer (Prepend + Replace) or a Metaspace pre-tokenizer. */
static int spm_spaces(const cJSON *root, int *prefix, const char *path, ObErr *err) {
    const cJSON *norm = item(root, "normalizer"), *pre = item(root, "pre_tokenizer");
    int replace = 0;
    *prefix = 0;
    const cJSON *list = is_type(norm, "Sequence") ? item(norm, "normalizers") : NULL;
    const cJSON *one = list ? list->child : (cJSON_IsObject(norm) ? norm : NULL);
    for (const cJSON *n = one; n; n = list ? n->next : NULL) {
        const cJSON *pat = item(n, "pattern"), *str = pat ? item(pat, "String") : NULL;
        const cJSON *content = item(n, "content"), *pp = item(n, "prepend");
        if (is_type(n, "Prepend") && cJSON_IsString(pp) && !strcmp(pp->valuestring, SPACE_MARK))
            *prefix = 1;
        else if (is_type(n, "Replace") && cJSON_IsString(str) && !strcmp(str->valuestring, " ") &&
                 cJSON_IsString(content) && !strcmp(content->valuestring, SPACE_MARK))
            replace = 1;
        else
            return ob_errf(err, "%s: normalizer %.32s is not supported", path, type_of(n));
        if (!list) break;
    }
    if (is_type(pre, "Metaspace")) {
        const cJSON *scheme = item(pre, "prepend_scheme");
        replace = 1;
        *prefix = cJSON_IsString(scheme) ? strcmp(scheme->valuestring, "never") != 0
                                         : cJSON_IsTrue(item(pre, "add_prefix_space"));
    } else if (pre && !cJSON_IsNull(pre)) {
        return ob_errf(err, "%s: pre_tokenizer %.32s is not supported with byte_fallback", path,
                       type_of(pre));
    }
    if (!replace)
        return ob_errf(err,
                       "%s: byte-fallback BPE without the \" \" -> \"" SPACE_MARK
                       "\" replacement is not supported",
                       path);
    return 0;
}

static int bytelevel_ok(const cJSON *b, int use_regex) {
    return is_type(b, "ByteLevel") && !cJSON_IsTrue(item(b, "add_prefix_space")) &&
           (item(b, "use_regex") ? cJSON_IsTrue(item(b, "use_regex")) == use_regex : use_regex);
}

/* The byte-level pre-tokenizer: GPT-2, Llama-3 or SmolLM. */
static int bpe_pre(const cJSON *root, int *pre, const char *path, ObErr *err) {
    const cJSON *norm = item(root, "normalizer"), *p = item(root, "pre_tokenizer");
    if (norm && !cJSON_IsNull(norm))
        return ob_errf(err, "%s: normalizer %.32s is not supported (byte-level BPE)", path,
                       type_of(norm));
    const cJSON *seq = is_type(p, "Sequence") ? item(p, "pretokenizers") : NULL;
    const cJSON *a = seq ? seq->child : NULL, *b = a ? a->next : NULL;
    if (bytelevel_ok(p, 1)) {
        *pre = TOK_PRE_GPT2;
        return 0;
    }
    if (a && b && !b->next && is_type(a, "Split") && bytelevel_ok(b, 0)) {
        const cJSON *pat = item(a, "pattern"), *re = pat ? item(pat, "Regex") : NULL;
        if (cJSON_IsString(re) && !strcmp(re->valuestring, LLAMA3_SPLIT)) {
            *pre = TOK_PRE_LLAMA3;
            return 0;
        }
        return ob_errf(err,
                       "%s: pre_tokenizer Split with an unknown regex is not supported "
                       "(GPT-2, Llama-3, SmolLM)",
                       path);
    }
    if (a && b && !b->next && is_type(a, "Digits") && cJSON_IsTrue(item(a, "individual_digits")) &&
        bytelevel_ok(b, 1)) {
        *pre = TOK_PRE_SMOLLM;
        return 0;
    }
    return ob_errf(err,
                   "%s: pre_tokenizer %.32s is not supported (GPT-2, Llama-3 or SmolLM "
                   "byte-level BPE)",
                   path, p ? type_of(p) : "(none)");
}

static int find_named(const Vocab *v, const char *const *names) {
    for (; *names; names++)
        for (int i = 0; i < v->n; i++)
            if (v->types[i] == 3 && !strcmp(v->tokens[i], *names)) return i;
    return -1;
}

/* A TemplateProcessing post-processor that starts with a special token. */
static int adds_bos(const cJSON *root) {
    const cJSON *pp = item(root, "post_processor");
    if (is_type(pp, "Sequence")) {
        const cJSON *l = item(pp, "processors");
        for (pp = l ? l->child : NULL; pp && !is_type(pp, "TemplateProcessing"); pp = pp->next) {
        }
    }
    if (!is_type(pp, "TemplateProcessing")) return 0;
    const cJSON *single = item(pp, "single");
    return cJSON_IsArray(single) && single->child && item(single->child, "SpecialToken") != NULL;
}

static size_t n_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Scores for a SentencePiece vocabulary from merge ranks (see header). */
static float *spm_scores(const Vocab *v, char **merges, int n_merges, ObErr *err) {
    float *sc = ob_malloc((size_t)v->n * sizeof *sc, "token scores", err);
    float *zero = ob_calloc((size_t)v->n, sizeof *zero, "token scores", err);
    SpmVocab *sv =
        sc && zero ? spm_new((const char *const *)v->tokens, zero, v->types, v->n, -1, err) : NULL;
    int rc = sv ? 0 : -1;
    for (int i = 0; !rc && i < v->n; i++)
        sc[i] = v->types[i] == 1 && n_chars(v->tokens[i]) > 1 ? -1e9f : 0.0f; /* no merge */
    for (int r = n_merges - 1; !rc && r >= 0; r--) { /* the first merge making a token wins */
        const char *sp = strchr(merges[r], ' ');
        if (!sp) {
            rc = ob_errf(err, "%s: merge %d '%.32s' has no space", v->path, r, merges[r]);
            break;
        }
        size_t la = (size_t)(sp - merges[r]), lb = strlen(sp + 1);
        char *cat = malloc(la + lb + 1);
        if (!cat) {
            rc = ob_errf(err, "out of memory");
            break;
        }
        memcpy(cat, merges[r], la);
        memcpy(cat + la, sp + 1, lb + 1);
        int id = spm_find(sv, cat, la + lb);
        free(cat);
        if (id < 0)
            rc = ob_errf(err, "%s: merge %d '%.32s' makes no token", v->path, r, merges[r]);
        else
            sc[id] = -(float)r;
    }
    spm_free(sv);
    free(zero);
    if (rc) free(sc);
    return rc ? NULL : sc;
}

int tokenizer_hf_parse(Tokenizer *t, const char *json, size_t len, const char *path, int bos_id,
                       int eos_id, int n_vocab_min, ObErr *err) {
    memset(t, 0, sizeof *t);
    cJSON *root = ob_json_parse_object(json, len, path, err);
    if (!root) return -1;
    const cJSON *model = item(root, "model");
    Vocab v = {.path = path};
    char **merges = NULL;
    float *scores = NULL;
    int n_merges = 0, rc = 0;
    TokSpec s = {.unk_id = -1, .pad_id = -1};
    if (!is_type(model, "BPE"))
        rc = ob_errf(err, "%s: tokenizer model type %.32s is not supported (BPE only)", path,
                     cJSON_IsObject(model) ? type_of(model) : "(missing)");
    int spm = !rc && cJSON_IsTrue(item(model, "byte_fallback"));
    if (!rc) rc = read_vocab(&v, model, item(root, "added_tokens"), n_vocab_min, err);
    if (!rc) rc = (merges = read_merges(model, &n_merges, path, err)) ? 0 : -1;
    if (!rc)
        rc = spm ? spm_spaces(root, &s.add_space_prefix, path, err)
                 : bpe_pre(root, &s.pre, path, err);
    if (!rc) {
        const cJSON *unk = item(model, "unk_token");
        for (int i = 0; i < v.n; i++) {
            if (cJSON_IsString(unk) && !strcmp(v.tokens[i], unk->valuestring)) {
                v.types[i] = 2;
                s.unk_id = i;
            } else if (spm && v.types[i] == 1 && strlen(v.tokens[i]) == 6 &&
                       !strncmp(v.tokens[i], "<0x", 3) && v.tokens[i][5] == '>') {
                v.types[i] = 6;
            }
        }
        static const char *const bos_names[] = {"<s>", "<|begin_of_text|>", "<|endoftext|>", NULL};
        static const char *const eos_names[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", NULL};
        s.bos_id = bos_id >= 0 && bos_id < v.n ? bos_id : find_named(&v, bos_names);
        s.eos_id = eos_id >= 0 && eos_id < v.n ? eos_id : find_named(&v, eos_names);
        int eot = s.bos_id >= 0 ? s.bos_id : s.eos_id;
        if (eot < 0)
            rc = ob_errf(err, "%s: no BOS or EOS token (set bos_token_id in config.json)", path);
        else if (v.types[eot] != 3)
            v.types[eot] = 3; /* a document separator must never come from text */
        s.add_bos = adds_bos(root);
    }
    if (!rc && spm) rc = (scores = spm_scores(&v, merges, n_merges, err)) ? 0 : -1;
    if (!rc) {
        s.kind = spm ? TOK_SPM : TOK_BPE;
        s.n_vocab = v.n;
        s.tokens = (const char *const *)v.tokens;
        s.types = v.types;
        s.scores = scores;
        s.merges = (const char *const *)merges;
        s.n_merges = n_merges;
        if ((rc = tok_build(t, &s, err))) ob_err_prefix(err, "%s", path);
    }
    free(scores);
    free_merges(merges, n_merges);
    vocab_free(&v);
    cJSON_Delete(root);
    return rc;
}

int tokenizer_hf_read(Tokenizer *t, const char *path, int bos_id, int eos_id, int n_vocab_min,
                      ObErr *err) {
    char *text;
    size_t len;
    memset(t, 0, sizeof *t);
    if (ob_read_file(path, &text, &len, err)) return -1;
    int rc = tokenizer_hf_parse(t, text, len, path, bos_id, eos_id, n_vocab_min, err);
    free(text);
    return rc;
}

/* ---- Writing ---- */

typedef struct {
    float score;
    int piece, a, b;
} SpmMerge;

static int cmp_merge(const void *x, const void *y) {
    const SpmMerge *p = x, *q = y;
    if (p->score != q->score) return p->score > q->score ? -1 : 1;
    if (p->piece != q->piece) return p->piece < q->piece ? -1 : 1;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* Every split of a normal token into two tokens, best score first. */
static cJSON *spm_merges_json(const Tokenizer *t, ObErr *err) {
    SpmVocab *sv =
        spm_new((const char *const *)t->tokens, t->scores, t->types, t->n_vocab, -1, err);
    size_t n = 0, cap = 1024;
    SpmMerge *m = sv ? malloc(cap * sizeof *m) : NULL;
    if (!m) return spm_free(sv), ob_errf(err, "out of memory"), NULL;
    for (int id = 0; id < t->n_vocab; id++) {
        const char *s = t->tokens[id];
        if (t->types[id] != 1) continue;
        size_t len = strlen(s);
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)s[k] & 0xC0) == 0x80) continue; /* split characters, not bytes */
            int a = spm_find(sv, s, k), b = spm_find(sv, s + k, len - k);
            if (a < 0 || b < 0) continue;
            if (n == cap) {
                SpmMerge *p = realloc(m, 2 * cap * sizeof *m);
                if (!p) return free(m), spm_free(sv), ob_errf(err, "out of memory"), NULL;
                m = p, cap *= 2;
            }
            m[n++] = (SpmMerge){t->scores[id], id, a, b};
        }
    }
    qsort(m, n, sizeof *m, cmp_merge);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(t->tokens[m[i].a]));
        cJSON_AddItemToArray(pair, cJSON_CreateString(t->tokens[m[i].b]));
        cJSON_AddItemToArray(arr, pair);
    }
    free(m);
    spm_free(sv);
    return arr;
}

static cJSON *bytelevel(int use_regex) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "ByteLevel");
    cJSON_AddFalseToObject(b, "add_prefix_space");
    cJSON_AddTrueToObject(b, "trim_offsets");
    cJSON_AddBoolToObject(b, "use_regex", use_regex);
    return b;
}

static cJSON *pre_json(int pre) {
    if (pre == TOK_PRE_GPT2) return bytelevel(1);
    cJSON *seq = cJSON_CreateObject(), *a = cJSON_CreateObject();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(seq, "pretokenizers");
    if (pre == TOK_PRE_LLAMA3) {
        cJSON_AddStringToObject(a, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(a, "pattern"), "Regex", LLAMA3_SPLIT);
        cJSON_AddStringToObject(a, "behavior", "Isolated");
        cJSON_AddFalseToObject(a, "invert");
    } else {
        cJSON_AddStringToObject(a, "type", "Digits");
        cJSON_AddTrueToObject(a, "individual_digits");
    }
    cJSON_AddItemToArray(list, a);
    cJSON_AddItemToArray(list, bytelevel(pre == TOK_PRE_SMOLLM));
    return seq;
}

static cJSON *spm_normalizer(int prefix) {
    cJSON *seq = cJSON_CreateObject();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(seq, "normalizers");
    if (prefix) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", "Prepend");
        cJSON_AddStringToObject(p, "prepend", SPACE_MARK);
        cJSON_AddItemToArray(list, p);
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "type", "Replace");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "pattern"), "String", " ");
    cJSON_AddStringToObject(r, "content", SPACE_MARK);
    cJSON_AddItemToArray(list, r);
    return seq;
}

static cJSON *spm_decoder(int prefix) {
    cJSON *seq = cJSON_CreateObject();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(seq, "decoders");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "type", "Replace");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "pattern"), "String", SPACE_MARK);
    cJSON_AddStringToObject(r, "content", " ");
    cJSON_AddItemToArray(list, r);
    cJSON *b = cJSON_CreateObject(), *f = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "ByteFallback");
    cJSON_AddStringToObject(f, "type", "Fuse");
    cJSON_AddItemToArray(list, b);
    cJSON_AddItemToArray(list, f);
    if (prefix) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "type", "Strip");
        cJSON_AddStringToObject(s, "content", " ");
        cJSON_AddNumberToObject(s, "start", 1);
        cJSON_AddNumberToObject(s, "stop", 0);
        cJSON_AddItemToArray(list, s);
    }
    return seq;
}

/* Adds BOS in front of every sequence. */
static cJSON *bos_template(const Tokenizer *t) {
    const char *bos = t->tokens[t->bos_id];
    cJSON *pp = cJSON_CreateObject();
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    const char *keys[2] = {"single", "pair"};
    for (int k = 0; k < 2; k++) {
        cJSON *arr = cJSON_AddArrayToObject(pp, keys[k]);
        for (int seq = 0; seq <= k; seq++) {
            cJSON *sp = cJSON_CreateObject(), *sq = cJSON_CreateObject();
            cJSON *st = cJSON_AddObjectToObject(sp, "SpecialToken");
            cJSON_AddStringToObject(st, "id", bos);
            cJSON_AddNumberToObject(st, "type_id", seq);
            cJSON *s = cJSON_AddObjectToObject(sq, "Sequence");
            cJSON_AddStringToObject(s, "id", seq ? "B" : "A");
            cJSON_AddNumberToObject(s, "type_id", seq);
            cJSON_AddItemToArray(arr, sp);
            cJSON_AddItemToArray(arr, sq);
        }
    }
    cJSON *sp = cJSON_AddObjectToObject(cJSON_AddObjectToObject(pp, "special_tokens"), bos);
    cJSON_AddStringToObject(sp, "id", bos);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(sp, "ids"), cJSON_CreateNumber(t->bos_id));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(sp, "tokens"), cJSON_CreateString(bos));
    return pp;
}

static cJSON *tokenizer_json(const Tokenizer *t, ObErr *err) {
    int spm = t->kind == TOK_SPM;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < t->n_vocab; i++) {
        int ty = t->types[i];
        if (ty == 1 || ty == 6) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", t->tokens[i]);
        cJSON_AddFalseToObject(a, "single_word");
        cJSON_AddFalseToObject(a, "lstrip");
        cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddBoolToObject(a, "normalized", ty == 4);
        cJSON_AddBoolToObject(a, "special", ty != 4);
        cJSON_AddItemToArray(added, a);
    }
    if (spm)
        cJSON_AddItemToObject(root, "normalizer", spm_normalizer(t->add_space_prefix));
    else
        cJSON_AddNullToObject(root, "normalizer");
    if (spm)
        cJSON_AddNullToObject(root, "pre_tokenizer");
    else
        cJSON_AddItemToObject(root, "pre_tokenizer", pre_json(t->pre));
    if (t->add_bos && t->bos_id >= 0)
        cJSON_AddItemToObject(root, "post_processor", bos_template(t));
    else if (!spm)
        cJSON_AddItemToObject(root, "post_processor", bytelevel(1));
    else
        cJSON_AddNullToObject(root, "post_processor");
    cJSON_AddItemToObject(root, "decoder", spm ? spm_decoder(t->add_space_prefix) : bytelevel(1));
    cJSON *m = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddNullToObject(m, "dropout");
    if (t->unk_id >= 0)
        cJSON_AddStringToObject(m, "unk_token", t->tokens[t->unk_id]);
    else
        cJSON_AddNullToObject(m, "unk_token");
    cJSON_AddNullToObject(m, "continuing_subword_prefix");
    cJSON_AddNullToObject(m, "end_of_word_suffix");
    cJSON_AddBoolToObject(m, "fuse_unk", spm);
    cJSON_AddBoolToObject(m, "byte_fallback", spm);
    cJSON_AddBoolToObject(m, "ignore_merges", !spm && t->pre == TOK_PRE_LLAMA3);
    cJSON *vocab = cJSON_AddObjectToObject(m, "vocab");
    for (int i = 0; i < t->n_vocab; i++)
        if (spm || t->types[i] == 1 || t->types[i] == 6)
            cJSON_AddItemToObject(vocab, t->tokens[i], cJSON_CreateNumber(i));
    cJSON *merges = spm ? spm_merges_json(t, err) : cJSON_CreateArray();
    if (!merges) return cJSON_Delete(root), NULL;
    for (int i = 0; !spm && i < t->n_merges; i++)
        cJSON_AddItemToArray(merges, cJSON_CreateString(t->merges[i]));
    cJSON_AddItemToObject(m, "merges", merges);
    return root;
}

int tokenizer_hf_write(const Tokenizer *t, const char *path, ObErr *err) {
    cJSON *root = tokenizer_json(t, err);
    if (!root) return ob_err_prefix(err, "%s", path);
    int rc = ob_json_write(path, root, err);
    cJSON_Delete(root);
    return rc;
}
