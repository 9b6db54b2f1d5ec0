#include "model/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_gguf.h"
#include "util/rng.h"

/* One GGUF tensor: its name, where it lives in LlamaParams, its ggml dims. */
typedef struct {
    char name[64];
    float *data;
    uint32_t n_dims;
    uint64_t dims[2]; /* ggml order: {in, out} */
    int is_norm;
} TensorSpec;

/* A model with a NaN or infinite weight yields NaN logits, which the label
 * and sampling code would index by: it is refused at load, naming the
 * tensor. The exponent bits all set mean non-finite in each float type. */
static int check_finite(const char *path, const char *name, const void *data, uint32_t type,
                        size_t n, ObErr *err) {
    size_t i = 0;
    if (type == GGML_TYPE_F32) {
        const uint32_t *u = data;
        while (i < n && (u[i] & 0x7f800000u) != 0x7f800000u) i++;
    } else if (type == GGML_TYPE_F16 || type == GGML_TYPE_BF16) {
        const uint16_t *u = data;
        uint16_t e = type == GGML_TYPE_F16 ? 0x7c00 : 0x7f80;
        while (i < n && (u[i] & e) != e) i++;
    } else {
        return 0; /* converted to BF16 first, and checked as that */
    }
    if (i == n) return 0;
    return ob_errf(err, "%s: tensor %s holds a non-finite value (element %zu): refusing the model",
                   path, name, i);
}

/* Lists the model's tensors in llama.cpp's order. Returns the count. */
static int tensor_specs(const LlamaConfig *c, const LlamaParams *p, TensorSpec *s) {
    uint64_t C = c->dim, F = c->ffn_dim, V = c->vocab;
    uint64_t QD = (uint64_t)c->n_heads * c->head_dim, KD = (uint64_t)c->n_kv_heads * c->head_dim;
    int n = 0;
#define SPEC(nm, ptr, nd, d0, d1, norm)                                                            \
    do {                                                                                           \
        snprintf(s[n].name, sizeof s[n].name, "%s", nm);                                           \
        s[n].data = (ptr), s[n].n_dims = (nd), s[n].dims[0] = (d0), s[n].dims[1] = (d1);           \
        s[n].is_norm = (norm), n++;                                                                \
    } while (0)
    SPEC("token_embd.weight", p->tok_embd, 2, C, V, 0);
    for (int l = 0; l < c->n_layers; l++) {
        char nm[64];
#define LAYER(suffix, ptr, nd, d0, d1, norm)                                                       \
    do {                                                                                           \
        snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, suffix);                                    \
        SPEC(nm, ptr, nd, d0, d1, norm);                                                           \
    } while (0)
        LAYER("attn_norm", p->attn_norm + l * C, 1, C, 1, 1);
        LAYER("attn_q", p->wq + l * QD * C, 2, C, QD, 0);
        LAYER("attn_k", p->wk + l * KD * C, 2, C, KD, 0);
        LAYER("attn_v", p->wv + l * KD * C, 2, C, KD, 0);
        LAYER("attn_output", p->wo + l * C * QD, 2, QD, C, 0);
        LAYER("ffn_norm", p->ffn_norm + l * C, 1, C, 1, 1);
        LAYER("ffn_gate", p->w_gate + l * F * C, 2, C, F, 0);
        LAYER("ffn_up", p->w_up + l * F * C, 2, C, F, 0);
        LAYER("ffn_down", p->w_down + l * C * F, 2, F, C, 0);
#undef LAYER
    }
    SPEC("output_norm.weight", p->out_norm, 1, C, 1, 1);
    if (!c->tied) SPEC("output.weight", p->output, 2, C, V, 0);
#undef SPEC
    return n;
}

static int file_type_of(uint32_t type) {
    return type == GGML_TYPE_F16 ? 1 : type == GGML_TYPE_BF16 ? 32 : 0;
}

int llama_config_to_gguf(const LlamaConfig *c, uint32_t type, GGUFWriter *w) {
    int rc = 0;
    rc |= gguf_set_str(w, "general.architecture", "llama");
    rc |= gguf_set_u32(w, "general.file_type", (uint32_t)file_type_of(type));
    rc |= gguf_set_u32(w, "llama.context_length", (uint32_t)c->ctx_len);
    rc |= gguf_set_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    rc |= gguf_set_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    rc |= gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)c->ffn_dim);
    rc |= gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    rc |= gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    rc |= gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    rc |= gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    rc |= gguf_set_f32(w, "llama.rope.freq_base", c->rope_base);
    rc |= gguf_set_u32(w, "llama.vocab_size", (uint32_t)c->vocab);
    if (c->head_dim * c->n_heads != c->dim) {
        rc |= gguf_set_u32(w, "llama.attention.key_length", (uint32_t)c->head_dim);
        rc |= gguf_set_u32(w, "llama.attention.value_length", (uint32_t)c->head_dim);
    }
    return rc ? -1 : 0;
}

int llama_to_gguf(const Llama *m, uint32_t type, GGUFWriter *w, ObErr *err) {
    const LlamaConfig *c = &m->cfg;
    if (type != GGML_TYPE_F32 && type != GGML_TYPE_F16 && type != GGML_TYPE_BF16)
        return ob_errf(err, "cannot write tensors of ggml type %u (F32, F16, BF16 only)", type);
    int rc = 0;
    if (llama_config_to_gguf(c, type, w))
        return ob_errf(err, "out of memory building GGUF metadata");
    TensorSpec *specs =
        ob_malloc(sizeof(TensorSpec) * (9 * (size_t)c->n_layers + 3), "tensor list", err);
    if (!specs) return -1;
    int n = tensor_specs(c, &m->w, specs);
    for (int i = 0; i < n && !rc; i++)
        rc = gguf_add_tensor_f32(w, specs[i].name, specs[i].is_norm ? GGML_TYPE_F32 : type,
                                 specs[i].n_dims, specs[i].dims, specs[i].data, err);
    free(specs);
    return rc;
}

int llama_save(const Llama *m, const Tokenizer *tok, const char *name, uint32_t type,
               const char *path, ObErr *err) {
    if (tok && tok->n_vocab != m->cfg.vocab)
        return ob_errf(err, "%s: tokenizer has %d tokens but the model's vocabulary is %d", path,
                       tok->n_vocab, m->cfg.vocab);
    GGUFWriter *w = gguf_writer_new(err);
    if (!w) return -1;
    int rc = gguf_set_str(w, "general.name", name ? name : "obliviate model")
                 ? ob_errf(err, "out of memory")
                 : llama_to_gguf(m, type, w, err);
    if (!rc && tok && tokenizer_to_gguf(tok, w)) rc = ob_errf(err, "out of memory");
    return gguf_writer_finish(w, rc, path, err);
}

static int get_dim(const GGUFFile *f, const char *key, int *out, ObErr *err) {
    uint32_t v;
    if (gguf_get_u32(f, key, &v, err)) return -1;
    if (v == 0 || v > LLAMA_DIM_MAX)
        return ob_errf(err, "%s: %s = %u is out of range", f->path, key, v);
    *out = (int)v;
    return 0;
}

int llama_config_from_gguf(const GGUFFile *f, LlamaConfig *c, ObErr *err) {
    memset(c, 0, sizeof *c);
    char *arch = gguf_get_str(f, "general.architecture", err);
    if (!arch) return -1;
    int is_llama = strcmp(arch, "llama") == 0;
    if (!is_llama)
        ob_errf(err, "%s: architecture '%s' is not supported (llama only)", f->path, arch);
    free(arch);
    if (!is_llama) return -1;
    if (get_dim(f, "llama.embedding_length", &c->dim, err) ||
        get_dim(f, "llama.block_count", &c->n_layers, err) ||
        get_dim(f, "llama.feed_forward_length", &c->ffn_dim, err) ||
        get_dim(f, "llama.attention.head_count", &c->n_heads, err) ||
        get_dim(f, "llama.context_length", &c->ctx_len, err) ||
        gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps, err))
        return -1;
    c->n_kv_heads = c->n_heads;
    if (gguf_find_kv(f, "llama.attention.head_count_kv") &&
        get_dim(f, "llama.attention.head_count_kv", &c->n_kv_heads, err))
        return -1;
    c->rope_base = 10000.0f;
    if (gguf_find_kv(f, "llama.rope.freq_base") &&
        gguf_get_f32(f, "llama.rope.freq_base", &c->rope_base, err))
        return -1;
    c->head_dim = c->dim / c->n_heads;
    if (gguf_find_kv(f, "llama.attention.key_length") &&
        get_dim(f, "llama.attention.key_length", &c->head_dim, err))
        return -1;
    int rot = c->head_dim;
    if (gguf_find_kv(f, "llama.rope.dimension_count") &&
        get_dim(f, "llama.rope.dimension_count", &rot, err))
        return -1;
    if (rot != c->head_dim)
        return ob_errf(err,
                       "%s: partial rotary embeddings (rope dimension %d of head size %d) "
                       "are not supported",
                       f->path, rot, c->head_dim);
    const GGUFTensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb || emb->n_dims != 2)
        return ob_errf(err, "%s: missing or malformed tensor token_embd.weight", f->path);
    if (emb->dims[1] > (1u << 24)) return ob_errf(err, "%s: vocabulary too large", f->path);
    c->vocab = (int)emb->dims[1];
    c->tied = gguf_find_tensor(f, "output.weight") == NULL;
    if (llama_config_check(c, err)) return ob_err_prefix(err, "%s", f->path);
    /* The parameters are allocated before the tensors are looked up, and the
     * header's counts alone could ask for terabytes (a 1 KB file claiming
     * 2^30 layers). Every parameter comes from a tensor the GGUF reader has
     * checked against the file's size, so a config needing more than the
     * file's tensors hold is refused here, by arithmetic. */
    if ((uint64_t)c->n_layers > f->n_tensors / 9)
        return ob_errf(err, "%s: llama.block_count = %d, but the file has only %llu tensors",
                       f->path, c->n_layers, (unsigned long long)f->n_tensors);
    uint64_t have = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        have =
            f->tensors[i].n_elems > UINT64_MAX - have ? UINT64_MAX : have + f->tensors[i].n_elems;
    size_t want = llama_param_count(c);
    if (want > have)
        return ob_errf(err,
                       "%s: the header describes %zu parameters, but the file's tensors hold "
                       "only %llu values",
                       f->path, want, (unsigned long long)have);
    return 0;
}

int llama_from_gguf(Llama *m, const GGUFFile *f, ObErr *err) {
    LlamaConfig c;
    if (llama_config_from_gguf(f, &c, err) || llama_create(m, &c, err)) return -1;
    TensorSpec *specs =
        ob_malloc(sizeof(TensorSpec) * (9 * (size_t)c.n_layers + 3), "tensor list", err);
    if (!specs) goto fail;
    int n = tensor_specs(&c, &m->w, specs);
    for (int i = 0; i < n; i++) {
        const GGUFTensor *t = gguf_find_tensor(f, specs[i].name);
        if (!t) {
            ob_errf(err, "%s: missing tensor %s", f->path, specs[i].name);
            goto fail_specs;
        }
        int same = t->n_dims == specs[i].n_dims && t->dims[0] == specs[i].dims[0] &&
                   (specs[i].n_dims == 1 || t->dims[1] == specs[i].dims[1]);
        if (!same) {
            ob_errf(err, "%s: tensor %s has shape {%llu, %llu}, expected {%llu, %llu}", f->path,
                    specs[i].name, (unsigned long long)t->dims[0],
                    (unsigned long long)(t->n_dims > 1 ? t->dims[1] : 1),
                    (unsigned long long)specs[i].dims[0], (unsigned long long)specs[i].dims[1]);
            goto fail_specs;
        }
        if (gguf_tensor_to_f32(f, t, specs[i].data, err) ||
            check_finite(f->path, specs[i].name, specs[i].data, GGML_TYPE_F32, (size_t)t->n_elems,
                         err))
            goto fail_specs;
    }
    free(specs);
    return 0;
fail_specs:
    free(specs);
fail:
    llama_free(m);
    return -1;
}

int llama_load(Llama *m, Tokenizer *tok, const char *path, ObErr *err) {
    GGUFFile f;
    memset(m, 0, sizeof *m);
    if (tok) memset(tok, 0, sizeof *tok);
    if (gguf_open(&f, path, err)) return -1;
    int rc = llama_from_gguf(m, &f, err);
    if (!rc && tok) {
        rc = tokenizer_from_gguf(tok, &f, err);
        if (!rc && tok->n_vocab != m->cfg.vocab) {
            rc = ob_errf(err, "%s: tokenizer has %d tokens but token_embd has %d rows", path,
                         tok->n_vocab, m->cfg.vocab);
            tok_free(tok);
        }
        if (rc) llama_free(m);
    }
    gguf_close(&f);
    return rc;
}

/* ---- frozen models: matrices read in place from the map ---- */

/* Points fm at tensor t (a (rows, cols) matrix) or, for types the matmuls
 * do not read directly, converts it to BF16 at *owned (advanced). */
static int frozen_mat(const GGUFFile *f, const char *name, uint64_t cols, uint64_t rows,
                      FrozenMat *fm, uint16_t **owned, size_t *scratch, ObErr *err) {
    const GGUFTensor *t = gguf_find_tensor(f, name);
    if (!t) return ob_errf(err, "%s: missing tensor %s", f->path, name);
    if (t->n_dims != 2 || t->dims[0] != cols || t->dims[1] != rows)
        return ob_errf(err, "%s: tensor %s has shape {%llu, %llu}, expected {%llu, %llu}", f->path,
                       name, (unsigned long long)t->dims[0],
                       (unsigned long long)(t->n_dims > 1 ? t->dims[1] : 1),
                       (unsigned long long)cols, (unsigned long long)rows);
    size_t n = (size_t)(rows * cols);
    if (t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16) {
        *fm = (FrozenMat){t->data, t->type};
    } else {
        /* one row at a time through a small fp32 buffer would do; a whole
         * matrix keeps the code short and is freed at once */
        float *tmp = ob_malloc(sizeof(float) * n, name, err);
        if (!tmp || gguf_tensor_to_f32(f, t, tmp, err)) return free(tmp), -1;
        for (size_t i = 0; i < n; i++) (*owned)[i] = ob_fp32_to_bf16(tmp[i]);
        free(tmp);
        gguf_release_tensor(f, t); /* its mapped pages would stay counted beside the copy */
        *fm = (FrozenMat){*owned, GGML_TYPE_BF16};
        *owned += n;
    }
    if (check_finite(f->path, name, fm->data, fm->type, n, err)) return -1;
    if (fm->type != GGML_TYPE_F32 && n > *scratch) *scratch = n;
    return 0;
}

static int frozen_norm(const GGUFFile *f, const char *name, uint64_t C, float *out, ObErr *err) {
    const GGUFTensor *t = gguf_find_tensor(f, name);
    if (!t) return ob_errf(err, "%s: missing tensor %s", f->path, name);
    if (t->n_elems != C)
        return ob_errf(err, "%s: tensor %s has %llu values, expected %llu", f->path, name,
                       (unsigned long long)t->n_elems, (unsigned long long)C);
    if (gguf_tensor_to_f32(f, t, out, err)) return -1;
    return check_finite(f->path, name, out, GGML_TYPE_F32, (size_t)C, err);
}

/* Everything but opening the file; m->frozen->file is open. */
static int load_frozen(Llama *m, ObErr *err) {
    LlamaFrozen *fz = m->frozen;
    const GGUFFile *f = &fz->file;
    LlamaConfig *c = &m->cfg;
    if (llama_config_from_gguf(f, c, err)) return -1;
    size_t L = (size_t)c->n_layers, C = (size_t)c->dim, V = (size_t)c->vocab;
    int dims[MAT_N][2];
    llama_mat_dims(c, dims);
    /* room for the matrices that must be converted: the block-quantised ones
     * (io/quant.h's types) are dequantised once, here, to BF16, the
     * narrowest type the matmuls read (so such a base costs 2 bytes a weight
     * in memory; matmuls on the blocks themselves would not) */
    size_t convert = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        if (t->n_dims == 2 && t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 &&
            t->type != GGML_TYPE_BF16)
            convert += (size_t)t->n_elems;
    }
    fz->mats = ob_calloc(L * MAT_N, sizeof(FrozenMat), "frozen matrices", err);
    fz->norms = fz->mats ? ob_malloc(sizeof(float) * (2 * L + 1) * C, "norm scales", err) : NULL;
    if (convert && fz->norms) fz->owned = ob_malloc(2 * convert, "converted matrices", err);
    if (!fz->norms || (convert && !fz->owned)) return -1;
    m->w.attn_norm = fz->norms, m->w.ffn_norm = fz->norms + L * C;
    m->w.out_norm = fz->norms + 2 * L * C;
    uint16_t *owned = fz->owned;
    size_t scratch = 1;
    char name[96];
    if (frozen_mat(f, "token_embd.weight", C, V, &fz->tok_embd, &owned, &scratch, err)) return -1;
    for (size_t l = 0; l < L; l++) {
        snprintf(name, sizeof name, "blk.%zu.attn_norm.weight", l);
        if (frozen_norm(f, name, C, m->w.attn_norm + l * C, err)) return -1;
        snprintf(name, sizeof name, "blk.%zu.ffn_norm.weight", l);
        if (frozen_norm(f, name, C, m->w.ffn_norm + l * C, err)) return -1;
        for (int k = 0; k < MAT_N; k++) {
            snprintf(name, sizeof name, "blk.%zu.%s.weight", l, mat_gguf_names[k]);
            if (frozen_mat(f, name, (uint64_t)dims[k][1], (uint64_t)dims[k][0],
                           &fz->mats[l * MAT_N + k], &owned, &scratch, err))
                return -1;
        }
    }
    if (frozen_norm(f, "output_norm.weight", C, m->w.out_norm, err)) return -1;
    if (c->tied)
        fz->output = fz->tok_embd;
    else if (frozen_mat(f, "output.weight", C, V, &fz->output, &owned, &scratch, err))
        return -1;
    fz->scratch = ob_malloc(sizeof(float) * scratch, "weight scratch", err);
    return fz->scratch ? 0 : -1;
}

int llama_load_frozen(Llama *m, Tokenizer *tok, const char *path, ObErr *err) {
    memset(m, 0, sizeof *m);
    if (tok) memset(tok, 0, sizeof *tok);
    m->frozen = ob_calloc(1, sizeof *m->frozen, "frozen model", err);
    if (!m->frozen) return -1;
    int rc = gguf_open(&m->frozen->file, path, err);
    if (!rc) rc = load_frozen(m, err);
    if (!rc && tok) {
        rc = tokenizer_from_gguf(tok, &m->frozen->file, err);
        if (!rc && tok->n_vocab != m->cfg.vocab) {
            rc = ob_errf(err, "%s: tokenizer has %d tokens but token_embd has %d rows", path,
                         tok->n_vocab, m->cfg.vocab);
            tok_free(tok);
        }
    }
    if (rc) llama_free(m);
    return rc;
}

/* ---- merged models ---- */

typedef struct {
    const Llama *m;
    int kind, l;
    uint32_t type;
} MergeJob;

/* GGUFFillFn: base matrix + adapter, as the job's type. */
static int fill_merged(void *ctx, void *buf, uint64_t n_bytes, ObErr *err) {
    const MergeJob *j = ctx;
    const Lora *lo = j->m->lora;
    size_t OC = (size_t)lo->dims[j->kind][0], IC = (size_t)lo->dims[j->kind][1], n = OC * IC;
    float *w = ob_malloc(sizeof(float) * n, "merged matrix", err);
    if (!w) return -1;
    memcpy(w, llama_weight(j->m, j->kind, j->l), sizeof(float) * n);
    lora_merge_matrix(w, lora_a(lo, j->l, j->kind), lora_b(lo, j->l, j->kind), (int)IC, (int)OC,
                      lo->cfg.rank, lo->scale);
    uint8_t *out = buf;
    if (j->type == GGML_TYPE_F32) {
        memcpy(out, w, (size_t)n_bytes);
    } else {
        uint16_t (*conv)(float) = j->type == GGML_TYPE_F16 ? ob_fp32_to_fp16 : ob_fp32_to_bf16;
        for (size_t i = 0; i < n; i++) {
            uint16_t h = conv(w[i]);
            out[2 * i] = (uint8_t)h, out[2 * i + 1] = (uint8_t)(h >> 8);
        }
    }
    free(w);
    return 0;
}

/* Adds a matrix as stored (frozen) or as fp32 parameters, without a copy. */
static int add_matrix_ref(GGUFWriter *w, const char *name, const FrozenMat *fm, const float *p,
                          uint64_t cols, uint64_t rows, ObErr *err) {
    uint64_t dims[2] = {cols, rows};
    return fm ? gguf_add_tensor_ref(w, name, fm->type, 2, dims, fm->data, err)
              : gguf_add_tensor_ref(w, name, GGML_TYPE_F32, 2, dims, p, err);
}

int llama_save_merged(const Llama *m, const Tokenizer *tok, const char *name, const char *path,
                      ObErr *err) {
    const LlamaConfig *c = &m->cfg;
    const LlamaFrozen *fz = m->frozen;
    const Lora *lo = m->lora;
    size_t L = (size_t)c->n_layers, C = (size_t)c->dim, V = (size_t)c->vocab;
    int dims[MAT_N][2];
    llama_mat_dims(c, dims);
    uint32_t main_type = fz ? fz->mats[0].type : GGML_TYPE_F32;
    MergeJob *jobs = ob_malloc(sizeof(MergeJob) * L * MAT_N, "merge jobs", err);
    GGUFWriter *w = jobs ? gguf_writer_new(err) : NULL;
    if (!w) return free(jobs), -1;
    int rc = gguf_set_str(w, "general.name", name ? name : "obliviate model") ||
                     llama_config_to_gguf(c, main_type, w) || (tok && tokenizer_to_gguf(tok, w))
                 ? ob_errf(err, "out of memory")
                 : 0;
    uint64_t d1[1] = {C};
    char nm[96];
    if (!rc)
        rc = add_matrix_ref(w, "token_embd.weight", fz ? &fz->tok_embd : NULL, m->w.tok_embd, C, V,
                            err);
    for (size_t l = 0; l < L && !rc; l++) {
        snprintf(nm, sizeof nm, "blk.%zu.attn_norm.weight", l);
        rc = gguf_add_tensor_f32(w, nm, GGML_TYPE_F32, 1, d1, m->w.attn_norm + l * C, err);
        for (int k = 0; k < MAT_N && !rc; k++) {
            snprintf(nm, sizeof nm, "blk.%zu.%s.weight", l, mat_gguf_names[k]);
            uint64_t dd[2] = {(uint64_t)dims[k][1], (uint64_t)dims[k][0]};
            const FrozenMat *fm = fz ? &fz->mats[l * MAT_N + k] : NULL;
            if (lo && lora_a(lo, (int)l, k)) {
                MergeJob *j = &jobs[l * MAT_N + k];
                *j = (MergeJob){m, k, (int)l, fm ? fm->type : GGML_TYPE_F32};
                rc = gguf_add_tensor_gen(w, nm, j->type, 2, dd, fill_merged, j, err);
            } else {
                rc = add_matrix_ref(w, nm, fm, fz ? NULL : llama_weight(m, k, (int)l), dd[0], dd[1],
                                    err);
            }
            if (!rc && k == MAT_O) { /* llama.cpp's order: ffn_norm after attn_output */
                snprintf(nm, sizeof nm, "blk.%zu.ffn_norm.weight", l);
                rc = gguf_add_tensor_f32(w, nm, GGML_TYPE_F32, 1, d1, m->w.ffn_norm + l * C, err);
            }
        }
    }
    if (!rc)
        rc = gguf_add_tensor_f32(w, "output_norm.weight", GGML_TYPE_F32, 1, d1, m->w.out_norm, err);
    if (!rc && !c->tied)
        rc = add_matrix_ref(w, "output.weight", fz ? &fz->output : NULL, m->w.output, C, V, err);
    rc = gguf_writer_finish(w, rc, path, err);
    free(jobs);
    return rc;
}

/* ---- random models written as they are made ---- */

typedef struct {
    uint64_t seed;
    uint32_t type;
    float std;
} RandomJob;

/* GGUFFillFn: U(-a, a) values with standard deviation std (a = std sqrt 3),
 * from a xorshift stream per 64K-value chunk, so the bits do not depend on
 * the thread count. */
static int fill_random(void *ctx, void *buf, uint64_t n_bytes, ObErr *err) {
    (void)err;
    const RandomJob *j = ctx;
    size_t esz = j->type == GGML_TYPE_F32 ? 4 : 2, n = (size_t)n_bytes / esz, chunk = 65536;
    float a = j->std * 1.7320508f;
    long n_chunks = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < n_chunks; c++) {
        uint64_t s = ob_hash64(j->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(c + 1)) | 1;
        size_t hi = (size_t)(c + 1) * chunk < n ? (size_t)(c + 1) * chunk : n;
        for (size_t i = (size_t)c * chunk; i < hi; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            float v = a * ((float)(s >> 40) * (2.0f / 16777216.0f) - 1.0f);
            if (esz == 4) {
                memcpy((char *)buf + 4 * i, &v, 4);
            } else {
                uint16_t h = j->type == GGML_TYPE_F16 ? ob_fp32_to_fp16(v) : ob_fp32_to_bf16(v);
                memcpy((char *)buf + 2 * i, &h, 2);
            }
        }
    }
    return 0;
}

int llama_save_random(const LlamaConfig *c, const Tokenizer *tok, uint32_t type, uint64_t seed,
                      const char *path, ObErr *err) {
    if (llama_config_check(c, err)) return ob_err_prefix(err, "%s", path);
    if (type != GGML_TYPE_F32 && type != GGML_TYPE_F16 && type != GGML_TYPE_BF16)
        return ob_errf(err, "cannot write tensors of ggml type %u (F32, F16, BF16 only)", type);
    if (tok && tok->n_vocab != c->vocab)
        return ob_errf(err, "%s: tokenizer has %d tokens but the model's vocabulary is %d", path,
                       tok->n_vocab, c->vocab);
    size_t L = (size_t)c->n_layers, C = (size_t)c->dim, V = (size_t)c->vocab;
    int dims[MAT_N][2];
    llama_mat_dims(c, dims);
    RandomJob *jobs = ob_malloc(sizeof(RandomJob) * (L * MAT_N + 2), "random jobs", err);
    float *ones = jobs ? ob_malloc(sizeof(float) * C, "norm scales", err) : NULL;
    GGUFWriter *w = ones ? gguf_writer_new(err) : NULL;
    if (!w) return free(jobs), free(ones), -1;
    for (size_t i = 0; i < C; i++) ones[i] = 1.0f;
    float std = 0.02f, std_out = 0.02f / sqrtf(2.0f * (float)L); /* as llama_init_random */
    int rc = gguf_set_str(w, "general.name", "obliviate random model") ||
                     llama_config_to_gguf(c, type, w) || (tok && tokenizer_to_gguf(tok, w))
                 ? ob_errf(err, "out of memory")
                 : 0;
    uint64_t d1[1] = {C}, de[2] = {C, V};
    size_t nj = 0;
    char nm[96];
#define RANDOM(name, d, sd)                                                                        \
    do {                                                                                           \
        jobs[nj] = (RandomJob){ob_hash64(seed ^ (0x51ed2701ULL * (nj + 1))), type, (sd)};          \
        if (!rc) rc = gguf_add_tensor_gen(w, name, type, 2, d, fill_random, &jobs[nj], err);       \
        nj++;                                                                                      \
    } while (0)
    RANDOM("token_embd.weight", de, std);
    for (size_t l = 0; l < L && !rc; l++) {
        snprintf(nm, sizeof nm, "blk.%zu.attn_norm.weight", l);
        rc = gguf_add_tensor_f32(w, nm, GGML_TYPE_F32, 1, d1, ones, err);
        for (int k = 0; k < MAT_N && !rc; k++) {
            snprintf(nm, sizeof nm, "blk.%zu.%s.weight", l, mat_gguf_names[k]);
            uint64_t dd[2] = {(uint64_t)dims[k][1], (uint64_t)dims[k][0]};
            RANDOM(nm, dd, k == MAT_O || k == MAT_DOWN ? std_out : std);
            if (!rc && k == MAT_O) {
                snprintf(nm, sizeof nm, "blk.%zu.ffn_norm.weight", l);
                rc = gguf_add_tensor_f32(w, nm, GGML_TYPE_F32, 1, d1, ones, err);
            }
        }
    }
    if (!rc) rc = gguf_add_tensor_f32(w, "output_norm.weight", GGML_TYPE_F32, 1, d1, ones, err);
    if (!c->tied) RANDOM("output.weight", de, std);
#undef RANDOM
    rc = gguf_writer_finish(w, rc, path, err);
    free(jobs), free(ones);
    return rc;
}
