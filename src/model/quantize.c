#include "model/quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"
#include "io/quant.h"

/* A scheme: its matrices' type, the file type llama.cpp records for it
 * (general.file_type), and whether it is a K mix with Q6_K where more bits
 * help. */
typedef struct {
    const char *name;
    uint32_t type, file_type;
    int k_mix;
} Scheme;

static const Scheme SCHEMES[] = {
    {"q8_0", GGML_TYPE_Q8_0, 7, 0},    {"q4_0", GGML_TYPE_Q4_0, 2, 0},
    {"q5_0", GGML_TYPE_Q5_0, 8, 0},    {"q5_1", GGML_TYPE_Q5_1, 9, 0},
    {"q4_k_m", GGML_TYPE_Q4_K, 15, 1}, {"q5_k_m", GGML_TYPE_Q5_K, 17, 1},
    {"q6_k", GGML_TYPE_Q6_K, 18, 0},
};
#define N_SCHEMES (int)(sizeof SCHEMES / sizeof SCHEMES[0])

const char QUANT_SCHEMES[] = "q8_0, q4_0, q5_0, q5_1, q4_k_m, q5_k_m, q6_k";

static const Scheme *find_scheme(const char *name) {
    for (int i = 0; name && i < N_SCHEMES; i++)
        if (!strcmp(SCHEMES[i].name, name)) return &SCHEMES[i];
    return NULL;
}

int quant_scheme_known(const char *name) {
    return find_scheme(name) != NULL;
}

/* llama.cpp's choice of the layers that get more bits: the first and last
 * eighth, and every third layer between. */
static int more_bits(int layer, int n_layers) {
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

uint32_t quant_tensor_type(const char *scheme, const char *name, uint64_t width, uint32_t n_dims,
                           uint32_t src_type, int n_layers, int has_output) {
    const Scheme *s = find_scheme(scheme);
    if (!s || n_dims < 2) return src_type;
    uint32_t t = s->type;
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) != 1) layer = -1;
    if (!strcmp(name, "output.weight") || (!has_output && !strcmp(name, "token_embd.weight"))) {
        if (t != GGML_TYPE_Q8_0) t = GGML_TYPE_Q6_K;
    } else if (s->k_mix && layer >= 0 &&
               (ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight")) &&
               more_bits(layer, n_layers)) {
        t = GGML_TYPE_Q6_K;
    }
    if (width % 256) { /* K types need 256-value rows */
        if (t == GGML_TYPE_Q4_K) t = GGML_TYPE_Q5_0;
        if (t == GGML_TYPE_Q5_K) t = GGML_TYPE_Q5_1;
        if (t == GGML_TYPE_Q6_K) t = GGML_TYPE_Q8_0;
    }
    return width % 32 ? src_type : t;
}

/* One tensor written as another type: dequantised and quantised while the
 * file is written (gguf_add_tensor_gen). */
typedef struct {
    const GGUFFile *f;
    const GGUFTensor *t;
    uint32_t type;
} Convert;

static int convert_fill(void *ctx, void *buf, uint64_t n_bytes, ObErr *err) {
    const Convert *c = ctx;
    uint64_t n = c->t->n_elems;
    (void)n_bytes;
    float *x = ob_malloc(sizeof(float) * (n ? n : 1), "quantisation buffer", err);
    if (!x) return -1;
    int rc = gguf_tensor_to_f32(c->f, c->t, x, err);
    for (uint64_t i = 0; !rc && i < n; i++)
        if (!isfinite(x[i]))
            rc = ob_errf(err, "non-finite value at element %llu of %s", (unsigned long long)i,
                         c->f->path); /* the writer puts the output and tensor first */
    if (!rc) quant_quantize(c->type, x, buf, n);
    free(x);
    gguf_release_tensor(c->f, c->t); /* a 7B source would otherwise stay resident */
    return rc;
}

static int is_float_type(uint32_t t) {
    return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16;
}

static int add_tensors(GGUFWriter *w, const GGUFFile *f, const Scheme *s, Convert *conv,
                       QuantStats *st, ObErr *err) {
    uint32_t n_layers = 0;
    char key[96];
    const GGUFKV *arch = gguf_find_kv(f, "general.architecture");
    if (arch && arch->type == GGUF_TYPE_STRING && arch->v.s.len < 64) {
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch->v.s.len, arch->v.s.ptr);
        if (gguf_get_u32(f, key, &n_layers, err)) return ob_err_prefix(err, "%s", f->path);
    }
    int has_output = gguf_find_tensor(f, "output.weight") != NULL;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        uint32_t type = quant_tensor_type(s->name, t->name, t->dims[0], t->n_dims, t->type,
                                          (int)n_layers, has_output);
        if (type == t->type) {
            if (gguf_add_tensor_ref(w, t->name, type, t->n_dims, t->dims, t->data, err)) return -1;
        } else { /* a block type (quant_tensor_type returns no other change) */
            conv[i] = (Convert){f, t, type};
            if (gguf_add_tensor_gen(w, t->name, type, t->n_dims, t->dims, convert_fill, &conv[i],
                                    err))
                return -1;
        }
        uint64_t bb, per = type == GGML_TYPE_F32 ? (bb = 4, 1)
                           : is_float_type(type) ? (bb = 2, 1)
                                                 : quant_block(type, &bb);
        st->n_tensors++, st->n_by_type[type < 32 ? type : 31]++;
        st->in_bytes += t->n_bytes, st->out_bytes += t->n_elems / per * bb;
        st->n_weights += t->n_elems;
    }
    return 0;
}

int model_quantize(const char *in, const char *out, const char *scheme, QuantStats *stats,
                   ObErr *err) {
    const Scheme *s = find_scheme(scheme);
    if (!s) return ob_errf(err, "unknown quantisation '%s' (one of %s)", scheme, QUANT_SCHEMES);
    QuantStats st = {0};
    GGUFFile f;
    if (gguf_open(&f, in, err)) return -1;
    GGUFWriter *w = gguf_writer_new(err);
    Convert *conv =
        w ? ob_calloc(f.n_tensors ? f.n_tensors : 1, sizeof *conv, "tensors", err) : NULL;
    int rc = conv ? 0 : -1;
    for (uint64_t i = 0; !rc && i < f.n_kv; i++)
        if (gguf_set_kv_from(w, &f.kv[i])) rc = ob_errf(err, "out of memory copying %s", in);
    if (!rc && (gguf_set_u32(w, "general.file_type", s->file_type) ||
                gguf_set_u32(w, "general.quantization_version", 2)))
        rc = ob_errf(err, "out of memory");
    if (!rc) rc = add_tensors(w, &f, s, conv, &st, err);
    if (!rc && (rc = gguf_writer_save(w, out, err)) == 0 && stats) *stats = st;
    gguf_writer_free(w);
    free(conv);
    gguf_close(&f);
    return rc;
}
