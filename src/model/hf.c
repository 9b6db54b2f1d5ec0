/* Hugging Face folders <-> GGUF (see hf.h). */
#include "model/hf.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/gguf.h"
#include "io/hfconfig.h"
#include "io/quant.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "text/tokenizer_gguf.h"
#include "text/tokenizer_hf.h"
#include "util/fileio.h"
#include "util/jsonfile.h"

#define DEFAULT_SHARD 5000000000ull

/* ---- The tensor map ---- */

typedef struct {
    char hf[96], gg[64];
    int n_dims;
    uint64_t rows, cols; /* HF shape [rows, cols]; 1-D: [rows] */
    int heads;           /* > 0: rotary rows permuted per head (Q, K) */
    int is_norm;
} TMap;

static int tensor_map(const LlamaConfig *c, TMap *t) {
    uint64_t C = c->dim, F = c->ffn_dim, V = c->vocab;
    uint64_t QD = (uint64_t)c->n_heads * c->head_dim, KD = (uint64_t)c->n_kv_heads * c->head_dim;
    int n = 0;
#define MAP(h, g, nd, r, cl, hd, norm)                                                             \
    do {                                                                                           \
        snprintf(t[n].hf, sizeof t[n].hf, "%s", h);                                                \
        snprintf(t[n].gg, sizeof t[n].gg, "%s", g);                                                \
        t[n].n_dims = nd, t[n].rows = r, t[n].cols = cl, t[n].heads = hd, t[n].is_norm = norm;     \
        n++;                                                                                       \
    } while (0)
    MAP("model.embed_tokens.weight", "token_embd.weight", 2, V, C, 0, 0);
    for (int l = 0; l < c->n_layers; l++) {
        char h[96], g[64];
#define LAYER(hs, gs, nd, r, cl, hd, norm)                                                         \
    do {                                                                                           \
        snprintf(h, sizeof h, "model.layers.%d.%s.weight", l, hs);                                 \
        snprintf(g, sizeof g, "blk.%d.%s.weight", l, gs);                                          \
        MAP(h, g, nd, r, cl, hd, norm);                                                            \
    } while (0)
        LAYER("input_layernorm", "attn_norm", 1, C, 1, 0, 1);
        LAYER("self_attn.q_proj", "attn_q", 2, QD, C, c->n_heads, 0);
        LAYER("self_attn.k_proj", "attn_k", 2, KD, C, c->n_kv_heads, 0);
        LAYER("self_attn.v_proj", "attn_v", 2, KD, C, 0, 0);
        LAYER("self_attn.o_proj", "attn_output", 2, C, QD, 0, 0);
        LAYER("post_attention_layernorm", "ffn_norm", 1, C, 1, 0, 1);
        LAYER("mlp.gate_proj", "ffn_gate", 2, F, C, 0, 0);
        LAYER("mlp.up_proj", "ffn_up", 2, F, C, 0, 0);
        LAYER("mlp.down_proj", "ffn_down", 2, C, F, 0, 0);
#undef LAYER
    }
    MAP("model.norm.weight", "output_norm.weight", 1, C, 1, 0, 1);
    if (!c->tied) MAP("lm_head.weight", "output.weight", 2, V, C, 0, 0);
#undef MAP
    return n;
}

static TMap *new_map(const LlamaConfig *c, int *n, ObErr *err) {
    TMap *t = ob_malloc(sizeof(TMap) * (9 * (size_t)c->n_layers + 3), "tensor map", err);
    if (t) *n = tensor_map(c, t);
    return t;
}

/* ---- Element types ---- */

static int st_to_ggml(const char *dtype) {
    return !strcmp(dtype, "F32")    ? GGML_TYPE_F32
           : !strcmp(dtype, "F16")  ? GGML_TYPE_F16
           : !strcmp(dtype, "BF16") ? GGML_TYPE_BF16
                                    : -1;
}

static const char *ggml_to_st(uint32_t type) {
    return type == GGML_TYPE_F32 ? "F32" : type == GGML_TYPE_F16 ? "F16" : "BF16";
}

static const char *torch_name(uint32_t type) {
    return type == GGML_TYPE_F32 ? "float32" : type == GGML_TYPE_F16 ? "float16" : "bfloat16";
}

static size_t type_size(uint32_t type) {
    return type == GGML_TYPE_F32 ? 4 : 2;
}

static float load(uint32_t type, const uint8_t *p) {
    uint32_t u;
    uint16_t h;
    float f;
    if (type == GGML_TYPE_F32) return memcpy(&u, p, 4), memcpy(&f, &u, 4), f;
    memcpy(&h, p, 2);
    return type == GGML_TYPE_F16 ? ob_fp16_to_fp32(h) : ob_bf16_to_fp32(h);
}

static void store(uint32_t type, uint8_t *p, float x) {
    uint16_t h;
    if (type == GGML_TYPE_F32) {
        memcpy(p, &x, 4);
        return;
    }
    h = type == GGML_TYPE_F16 ? ob_fp32_to_fp16(x) : ob_fp32_to_bf16(x);
    memcpy(p, &h, 2);
}

/* Row r of the GGUF layout holds HF row perm_row(r) (or the reverse with
 * to_hf): within each head, adjacent pairs <-> two halves. */
static uint64_t perm_row(uint64_t r, uint64_t rows, int heads, int to_hf) {
    if (heads <= 0) return r;
    uint64_t hd = rows / (uint64_t)heads, h = r / hd, j = r % hd, half = hd / 2;
    if (to_hf) /* HF row j = s*half + i comes from GGUF row 2i + s */
        return h * hd + 2 * (j % half) + j / half;
    return h * hd + (j % 2) * half + j / 2; /* GGUF row j = 2i + s from HF row s*half + i */
}

/* dst (rows x cols of dst_type) = src (of src_type, rows permuted). */
static void convert(uint8_t *dst, uint32_t dst_type, const uint8_t *src, uint32_t src_type,
                    uint64_t rows, uint64_t cols, int heads, int to_hf) {
    size_t ds = type_size(dst_type), ss = type_size(src_type);
    for (uint64_t r = 0; r < rows; r++) {
        const uint8_t *s = src + perm_row(r, rows, heads, to_hf) * cols * ss;
        uint8_t *d = dst + r * cols * ds;
        if (dst_type == src_type)
            memcpy(d, s, cols * ds);
        else
            for (uint64_t k = 0; k < cols; k++)
                store(dst_type, d + k * ds, load(src_type, s + k * ss));
    }
}

/* ---- Import ---- */

typedef struct {
    char *dir;
    STFile *files;
    char **names; /* file names inside dir */
    int n_files;
    cJSON *index; /* weight_map, or NULL for one file */
} Shards;

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) sprintf(p, "%s/%s", dir, name);
    return p;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void shards_close(Shards *s) {
    for (int i = 0; i < s->n_files; i++) st_close(&s->files[i]), free(s->names[i]);
    free(s->files);
    free(s->names);
    cJSON_Delete(s->index);
    memset(s, 0, sizeof *s);
}

static int open_shard(Shards *s, const char *name, ObErr *err) {
    for (int i = 0; i < s->n_files; i++)
        if (!strcmp(s->names[i], name)) return 0;
    if (!*name || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."))
        return ob_errf(err,
                       "%s/model.safetensors.index.json: file name \"%.64s\" is not a plain "
                       "file in the folder",
                       s->dir, name);
    STFile *f = realloc(s->files, (size_t)(s->n_files + 1) * sizeof *f);
    if (f) s->files = f;
    char **n = realloc(s->names, (size_t)(s->n_files + 1) * sizeof *n);
    if (n) s->names = n;
    char *path = join(s->dir, name);
    if (!f || !n || !path) return free(path), ob_errf(err, "out of memory");
    int rc = st_open(&s->files[s->n_files], path, err);
    free(path);
    if (rc) return -1;
    s->names[s->n_files++] = strdup(name);
    return 0;
}

static int shards_open(Shards *s, const char *dir, ObErr *err) {
    memset(s, 0, sizeof *s);
    s->dir = (char *)dir;
    char *ix = join(dir, "model.safetensors.index.json");
    if (!ix) return ob_errf(err, "out of memory");
    if (!file_exists(ix)) {
        free(ix);
        return open_shard(s, "model.safetensors", err);
    }
    char *text;
    size_t len;
    int rc = ob_read_file(ix, &text, &len, err);
    if (!rc) {
        cJSON *root = cJSON_ParseWithLength(text, len);
        free(text);
        cJSON *wm = root ? cJSON_DetachItemFromObjectCaseSensitive(root, "weight_map") : NULL;
        cJSON_Delete(root);
        if (!cJSON_IsObject(wm)) {
            cJSON_Delete(wm);
            rc = ob_errf(err, "%s: no weight_map object", ix);
        }
        s->index = wm;
        for (const cJSON *e = wm ? wm->child : NULL; !rc && e; e = e->next)
            rc = cJSON_IsString(e) ? open_shard(s, e->valuestring, err)
                                   : ob_errf(err, "%s: weight_map entry is not a file name", ix);
    }
    free(ix);
    return rc;
}

/* Finds an HF tensor and the file it is in (NULL: missing). */
static const STTensor *shard_find(const Shards *s, const char *name, int *file) {
    int lo = 0, hi = s->n_files;
    if (s->index) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(s->index, name);
        if (!cJSON_IsString(e)) return NULL;
        for (lo = 0; lo < s->n_files && strcmp(s->names[lo], e->valuestring); lo++) {
        }
        hi = lo + 1;
    }
    for (int i = lo; i < hi && i < s->n_files; i++) {
        const STTensor *t = st_find(&s->files[i], name);
        if (t) return *file = i, t;
    }
    return NULL;
}

/* Every tensor in the files is one we convert, or one we may ignore. */
static int check_unused(const Shards *s, const TMap *m, int n, int tied, ObErr *err) {
    for (int f = 0; f < s->n_files; f++)
        for (size_t i = 0; i < s->files[f].n_tensors; i++) {
            const char *name = s->files[f].tensors[i].name;
            int known = (tied && !strcmp(name, "lm_head.weight")) ||
                        strstr(name, "rotary_emb.inv_freq") != NULL;
            for (int k = 0; k < n && !known; k++) known = !strcmp(m[k].hf, name);
            if (!known)
                return ob_errf(err, "%s: tensor %.96s is not part of a plain Llama model%s",
                               s->files[f].path, name,
                               strstr(name, ".bias") ? " (biases are not supported)" : "");
        }
    return 0;
}

/* The int fields of config.json (HFConfig) and the LlamaConfig fields that
 * hold them: one list for import and export. */
#define INT_FIELD(hf, llama)                                                                       \
    { offsetof(HFConfig, hf), offsetof(LlamaConfig, llama) }
static const struct {
    size_t hf, llama; /* offsets of an int in each */
} INT_FIELDS[] = {
    INT_FIELD(hidden_size, dim),          INT_FIELD(intermediate_size, ffn_dim),
    INT_FIELD(n_layers, n_layers),        INT_FIELD(n_heads, n_heads),
    INT_FIELD(n_kv_heads, n_kv_heads),    INT_FIELD(head_dim, head_dim),
    INT_FIELD(max_pos, ctx_len),          INT_FIELD(vocab_size, vocab),
    INT_FIELD(tie_word_embeddings, tied),
};
#define N_INT_FIELDS (sizeof INT_FIELDS / sizeof INT_FIELDS[0])

/* The int at offset from in src, to the int at offset to in dst. */
static void copy_int(void *dst, size_t to, const void *src, size_t from) {
    memcpy((char *)dst + to, (const char *)src + from, sizeof(int));
}

static int config_from_hf(const HFConfig *h, LlamaConfig *c, ObErr *err) {
    *c = (LlamaConfig){.norm_eps = (float)h->rms_norm_eps, .rope_base = (float)h->rope_theta};
    for (size_t i = 0; i < N_INT_FIELDS; i++) copy_int(c, INT_FIELDS[i].llama, h, INT_FIELDS[i].hf);
    return llama_config_check(c, err);
}

typedef struct {
    void **bufs; /* converted tensors, freed after the GGUF is written */
    int n;
} Bufs;

static void *keep_buf(Bufs *b, size_t n, ObErr *err) {
    void **p = realloc(b->bufs, (size_t)(b->n + 1) * sizeof *p);
    if (!p) return ob_errf(err, "out of memory"), NULL;
    b->bufs = p;
    return (b->bufs[b->n++] = ob_malloc(n, "converted tensor", err));
}

static int import_tensor(const Shards *s, const TMap *m, int dtype, GGUFWriter *w, Bufs *b,
                         HFInfo *info, ObErr *err) {
    int fi = 0;
    const STTensor *t = shard_find(s, m->hf, &fi);
    if (!t) return ob_errf(err, "%s: missing tensor %s", s->dir, m->hf);
    const char *path = s->files[fi].path;
    int src = st_to_ggml(t->dtype);
    if (src < 0)
        return ob_errf(err, "%s: tensor %s has dtype %s (F32, F16 and BF16 are supported)", path,
                       m->hf, t->dtype);
    int same = t->n_dims == m->n_dims && t->shape[0] == m->rows &&
               (m->n_dims == 1 || t->shape[1] == m->cols);
    if (!same)
        return ob_errf(err,
                       "%s: tensor %s has shape [%" PRIu64 ", %" PRIu64
                       "], config.json says [%" PRIu64 ", %" PRIu64 "]",
                       path, m->hf, t->n_dims > 0 ? t->shape[0] : 0,
                       t->n_dims > 1 ? t->shape[1] : 1, m->rows, m->cols);
    uint32_t dst = m->is_norm ? GGML_TYPE_F32 : dtype >= 0 ? (uint32_t)dtype : (uint32_t)src;
    uint64_t dims[2] = {m->n_dims == 1 ? m->rows : m->cols, m->rows};
    info->n_tensors++;
    info->bytes += m->rows * m->cols * type_size(dst);
    if (dst == (uint32_t)src && !m->heads)
        return gguf_add_tensor_ref(w, m->gg, dst, (uint32_t)m->n_dims, dims, t->data, err);
    uint8_t *buf = keep_buf(b, m->rows * m->cols * type_size(dst), err);
    if (!buf) return -1;
    convert(buf, dst, t->data, (uint32_t)src, m->rows, m->cols, m->heads, 0);
    return gguf_add_tensor_ref(w, m->gg, dst, (uint32_t)m->n_dims, dims, buf, err);
}

static const char *base_name(const char *dir, char *buf, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/') s--;
    snprintf(buf, cap, "%.*s", (int)(n - s), dir + s);
    return buf;
}

int hf_import(const char *dir, const char *out, const HFOptions *o, HFInfo *info, ObErr *err) {
    *info = (HFInfo){0};
    HFConfig hc;
    Tokenizer tok = {0};
    Shards sh = {0};
    Bufs bufs = {0};
    GGUFWriter *w = NULL;
    TMap *map = NULL;
    int n_map = 0, rc = -1;
    char *cfg_path = join(dir, "config.json"), *tok_path = join(dir, "tokenizer.json"), name[256];
    if (!cfg_path || !tok_path) {
        ob_errf(err, "out of memory");
        goto done;
    }
    if (hfconfig_read(&hc, cfg_path, err) || config_from_hf(&hc, &info->cfg, err)) {
        if (strncmp(err->msg, cfg_path, strlen(cfg_path))) ob_err_prefix(err, "%s", cfg_path);
        goto done;
    }
    if (tokenizer_hf_read(&tok, tok_path, hc.bos_token_id, hc.eos_token_id, hc.vocab_size, err))
        goto done;
    if (tok.n_vocab != hc.vocab_size) {
        ob_errf(err, "%s: %d tokens, more than config.json's vocab_size %d", tok_path, tok.n_vocab,
                hc.vocab_size);
        goto done;
    }
    if (shards_open(&sh, dir, err) || !(map = new_map(&info->cfg, &n_map, err)) ||
        check_unused(&sh, map, n_map, info->cfg.tied, err) || !(w = gguf_writer_new(err)))
        goto done;
    uint32_t file_type = (uint32_t)(o->dtype >= 0 ? o->dtype : GGML_TYPE_F32);
    if (o->dtype < 0) {
        int f0;
        const STTensor *e = shard_find(&sh, "model.embed_tokens.weight", &f0);
        if (e && st_to_ggml(e->dtype) >= 0) file_type = (uint32_t)st_to_ggml(e->dtype);
    }
    if (gguf_set_str(w, "general.name", base_name(dir, name, sizeof name)) ||
        llama_config_to_gguf(&info->cfg, file_type, w) || tokenizer_to_gguf(&tok, w)) {
        ob_errf(err, "out of memory building GGUF metadata");
        goto done;
    }
    for (int i = 0; i < n_map; i++)
        if (import_tensor(&sh, &map[i], o->dtype, w, &bufs, info, err)) goto done;
    info->n_shards = sh.n_files;
    info->tok_kind = tok.kind;
    info->n_vocab = tok.n_vocab;
    rc = gguf_writer_save(w, out, err);
done:
    gguf_writer_free(w);
    for (int i = 0; i < bufs.n; i++) free(bufs.bufs[i]);
    free(bufs.bufs);
    free(map);
    shards_close(&sh);
    tok_free(&tok);
    free(cfg_path);
    free(tok_path);
    return rc;
}

/* ---- Export ---- */

typedef struct {
    const GGUFTensor *src;
    const TMap *m;
    uint32_t dst;
} ExportCtx;

static int fill_tensor(void *ctx, const STWriteTensor *t, void *buf, ObErr *err) {
    const ExportCtx *x = &((const ExportCtx *)ctx)[t->index];
    const GGUFTensor *s = x->src;
    if (quant_is_block_type(s->type)) { /* dequantize first, then permute and narrow */
        float *f = ob_malloc(s->n_elems * sizeof *f, "dequantized tensor", err);
        if (!f) return -1;
        quant_dequantize(s->type, s->data, f, s->n_elems);
        convert(buf, x->dst, (const uint8_t *)f, GGML_TYPE_F32, x->m->rows, x->m->cols, x->m->heads,
                1);
        free(f);
        return 0;
    }
    convert(buf, x->dst, s->data, s->type, x->m->rows, x->m->cols, x->m->heads, 1);
    return 0;
}

/* Removes the files we wrote into tmp, then tmp itself. */
static void remove_tmp(const char *tmp) {
    DIR *d = opendir(tmp);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = join(tmp, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    if (d) closedir(d);
    rmdir(tmp);
}

/* dir must be absent or an empty folder. */
static int check_target(const char *dir, ObErr *err) {
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return ob_errf(err, "%s: exists and is not a folder", dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = d != NULL;
    while (d && empty && (e = readdir(d)))
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    if (d) closedir(d);
    return empty ? 0 : ob_errf(err, "%s: folder exists and is not empty (choose a new one)", dir);
}

/* Writes j and frees it. */
static int write_json_file(const char *path, cJSON *j, ObErr *err) {
    int rc = ob_json_write(path, j, err);
    cJSON_Delete(j);
    return rc;
}

/* Writes the tensors into one or more safetensors files (and the index). */
static int write_shards(const char *tmp, STWriteTensor *t, int n, uint64_t max_shard, HFInfo *info,
                        ObErr *err) {
    int n_shards = 0, *shard_of = ob_malloc(sizeof(int) * (size_t)(n + 1), "shards", err);
    if (!shard_of) return -1;
    uint64_t in_shard = 0, total = 0;
    for (int i = 0; i < n; i++) {
        uint64_t b = st_tensor_bytes(&t[i]);
        if (n_shards == 0 || (in_shard > 0 && in_shard + b > max_shard)) n_shards++, in_shard = 0;
        shard_of[i] = n_shards - 1;
        in_shard += b;
        total += b;
    }
    static const char *const meta[] = {"format", "pt"};
    cJSON *wm = n_shards > 1 ? cJSON_CreateObject() : NULL;
    int rc = 0;
    for (int s = 0, first = 0; s < n_shards && !rc; s++) {
        int last = first;
        while (last < n && shard_of[last] == s) last++;
        char name[64];
        if (n_shards == 1)
            snprintf(name, sizeof name, "model.safetensors");
        else
            snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        for (int i = first; wm && i < last; i++) cJSON_AddStringToObject(wm, t[i].name, name);
        char *path = join(tmp, name);
        rc = path ? st_write(path, t + first, (size_t)(last - first), meta, 1, err)
                  : ob_errf(err, "out of memory");
        free(path);
        first = last;
    }
    free(shard_of);
    info->n_shards = n_shards;
    info->bytes = total;
    if (rc || !wm) return cJSON_Delete(wm), rc;
    cJSON *ix = cJSON_CreateObject();
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(ix, "metadata"), "total_size", (double)total);
    cJSON_AddItemToObject(ix, "weight_map", wm);
    char *path = join(tmp, "model.safetensors.index.json");
    rc = path ? write_json_file(path, ix, err) : (cJSON_Delete(ix), ob_errf(err, "out of memory"));
    free(path);
    return rc;
}

static int export_config(const char *tmp, const LlamaConfig *c, const Tokenizer *tok, uint32_t type,
                         ObErr *err) {
    HFConfig h = {.rms_norm_eps = c->norm_eps,
                  .rope_theta = c->rope_base,
                  .bos_token_id = tok->bos_id,
                  .eos_token_id = tok->eos_id};
    for (size_t i = 0; i < N_INT_FIELDS; i++)
        copy_int(&h, INT_FIELDS[i].hf, c, INT_FIELDS[i].llama);
    snprintf(h.torch_dtype, sizeof h.torch_dtype, "%s", torch_name(type));
    char *cp = join(tmp, "config.json"), *tp = join(tmp, "tokenizer.json");
    int rc = cp && tp ? 0 : ob_errf(err, "out of memory");
    if (!rc) rc = hfconfig_write(&h, cp, err) || tokenizer_hf_write(tok, tp, err) ? -1 : 0;
    free(cp);
    free(tp);
    return rc;
}

int hf_export(const char *in, const char *dir, const HFOptions *o, HFInfo *info, ObErr *err) {
    *info = (HFInfo){0};
    GGUFFile f;
    Tokenizer tok = {0};
    TMap *map = NULL;
    STWriteTensor *st = NULL;
    ExportCtx *ctx = NULL;
    int n_map = 0, rc = -1;
    char *tmp = malloc(strlen(dir) + 16);
    if (!tmp) return ob_errf(err, "out of memory");
    if (gguf_open(&f, in, err)) return free(tmp), -1;
    if (llama_config_from_gguf(&f, &info->cfg, err) || tokenizer_from_gguf(&tok, &f, err) ||
        !(map = new_map(&info->cfg, &n_map, err)))
        goto done;
    if (tok.n_vocab != info->cfg.vocab) {
        ob_errf(err, "%s: tokenizer has %d tokens but token_embd has %d rows", in, tok.n_vocab,
                info->cfg.vocab);
        goto done;
    }
    const GGUFTensor *emb = gguf_find_tensor(&f, "token_embd.weight");
    uint32_t mat = o->dtype >= 0                    ? (uint32_t)o->dtype
                   : quant_is_block_type(emb->type) ? GGML_TYPE_F16
                                                    : emb->type;
    st = ob_calloc((size_t)n_map, sizeof *st, "tensor list", err);
    ctx = ob_calloc((size_t)n_map, sizeof *ctx, "tensor list", err);
    if (!st || !ctx) goto done;
    for (int i = 0; i < n_map; i++) {
        const TMap *m = &map[i];
        const GGUFTensor *t = gguf_find_tensor(&f, m->gg);
        uint64_t d0 = m->n_dims == 1 ? m->rows : m->cols;
        if (!t || t->n_dims != (uint32_t)m->n_dims || t->dims[0] != d0 ||
            (m->n_dims == 2 && t->dims[1] != m->rows)) {
            ob_errf(err, "%s: tensor %s is missing or has the wrong shape", in, m->gg);
            goto done;
        }
        uint32_t dst = m->is_norm || o->dtype >= 0 || quant_is_block_type(t->type) ? mat : t->type;
        ctx[i] = (ExportCtx){t, m, dst};
        st[i] = (STWriteTensor){.name = m->hf,
                                .dtype = ggml_to_st(dst),
                                .n_dims = m->n_dims,
                                .shape = {m->rows, m->cols},
                                .fill = fill_tensor,
                                .ctx = ctx,
                                .index = (size_t)i};
        if (dst == t->type && !m->heads) st[i].data = t->data; /* straight from the map */
    }
    if (check_target(dir, err)) goto done;
    sprintf(tmp, "%s.tmp-XXXXXX", dir);
    if (!mkdtemp(tmp)) {
        ob_errf(err, "%s: cannot create a folder next to it: %s", dir, strerror(errno));
        goto done;
    }
    rc =
        export_config(tmp, &info->cfg, &tok, mat, err) ||
                write_shards(tmp, st, n_map, o->max_shard ? o->max_shard : DEFAULT_SHARD, info, err)
            ? -1
            : 0;
    if (!rc) rmdir(dir); /* an empty folder that was there (check_target) */
    if (!rc && rename(tmp, dir) != 0)
        rc = ob_errf(err, "%s: cannot rename %s into place: %s", dir, tmp, strerror(errno));
    if (rc) remove_tmp(tmp);
    info->n_tensors = n_map;
    info->tok_kind = tok.kind;
    info->n_vocab = tok.n_vocab;
done:
    free(st);
    free(ctx);
    free(map);
    free(tmp);
    tok_free(&tok);
    gguf_close(&f);
    return rc;
}
