/* GGUF v3: the model file format of llama.cpp, and obliviate's native one.
 *
 * This file knows the format only (header, metadata, tensor infos, tensor
 * data); it knows nothing about Llama. model/checkpoint.c maps weights and
 * tokenizers onto it.
 *
 * Reading: gguf_open() maps the file read-only and validates everything up
 * front -- every length, count, offset and dimension is checked against the
 * file size by arithmetic before anything is allocated -- so a truncated or
 * corrupt file gives a one-line error naming the file and the offset, never a
 * crash. Tensor data pointers point into the map and live until gguf_close().
 *
 * Writing: build a GGUFWriter (it copies everything it is given), then
 * gguf_writer_save() writes "<path>.tmp.<pid>" and renames it (util/fileio.h).
 * Tensors are laid out back to back in insertion order, each aligned to
 * general.alignment (32), as llama.cpp requires. */
#ifndef OB_GGUF_H
#define OB_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum {
    GGUF_TYPE_U8 = 0,
    GGUF_TYPE_I8 = 1,
    GGUF_TYPE_U16 = 2,
    GGUF_TYPE_I16 = 3,
    GGUF_TYPE_U32 = 4,
    GGUF_TYPE_I32 = 5,
    GGUF_TYPE_F32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_U64 = 10,
    GGUF_TYPE_I64 = 11,
    GGUF_TYPE_F64 = 12,
};

/* ggml tensor types obliviate reads and writes; the block-quantised ones are
 * described in io/quant.h (gguf_add_tensor_f32 writes F32, F16 and BF16;
 * model/quantize.h the others). */
enum {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_BF16 = 30,
};

/* "Q4_K", "F32"...; "?" for a type not above. */
const char *ggml_type_name(uint32_t type);

typedef struct {
    const char *ptr; /* not NUL-terminated; points into the map */
    uint64_t len;
} GGUFStr;

typedef struct {
    char *key;         /* NUL-terminated copy */
    uint32_t type;     /* GGUF_TYPE_* */
    uint32_t arr_type; /* element type when type == GGUF_TYPE_ARRAY */
    uint64_t arr_n;    /* element count when type == GGUF_TYPE_ARRAY */
    union {
        uint64_t u; /* unsigned integers and bool */
        int64_t i;  /* signed integers */
        double f;   /* f32 and f64 */
        GGUFStr s;  /* string */
    } v;
    const uint8_t *arr; /* raw little-endian elements (numeric arrays), in the map */
    GGUFStr *arr_str;   /* decoded elements of string arrays (owned) */
} GGUFKV;

typedef struct {
    char *name;       /* NUL-terminated copy */
    uint32_t n_dims;  /* 1..4 */
    uint64_t dims[4]; /* ggml order: dims[0] is the contiguous one; unused = 1 */
    uint32_t type;    /* GGML_TYPE_* */
    uint64_t offset;  /* from the start of the data section */
    uint64_t n_elems;
    uint64_t n_bytes;
    const void *data; /* in the map */
} GGUFTensor;

typedef struct {
    char *path;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv, n_tensors;
    GGUFKV *kv;
    GGUFTensor *tensors;
    const uint8_t *map;
    size_t map_size;
    bool owns_map;        /* gguf_close unmaps (gguf_open), or not (_buffer) */
    uint64_t data_offset; /* file offset of the data section */
} GGUFFile;

/* Opens and validates a GGUF file. On failure *f is left empty (safe to
 * gguf_close) and err says e.g. "m.gguf: bad magic (not a GGUF file)". */
int gguf_open(GGUFFile *f, const char *path, ObErr *err);
/* Same, from a caller-owned buffer that must outlive *f (used by tests and
 * fuzzers); `name` is used in error messages. */
int gguf_open_buffer(GGUFFile *f, const void *buf, size_t size, const char *name, ObErr *err);
void gguf_close(GGUFFile *f);

const GGUFKV *gguf_find_kv(const GGUFFile *f, const char *key);
const GGUFTensor *gguf_find_tensor(const GGUFFile *f, const char *name);

/* Typed getters. They fail with "<path>: key K missing" or "<path>: key K
 * has type T, expected ..." errors. Integer getters accept any integer width
 * and signedness as long as the value fits. */
int gguf_get_u64(const GGUFFile *f, const char *key, uint64_t *out, ObErr *err);
int gguf_get_u32(const GGUFFile *f, const char *key, uint32_t *out, ObErr *err);
int gguf_get_f32(const GGUFFile *f, const char *key, float *out, ObErr *err); /* f32 or f64 */
int gguf_get_bool(const GGUFFile *f, const char *key, bool *out, ObErr *err);
/* Returns a new NUL-terminated copy the caller frees, or NULL on error. */
char *gguf_get_str(const GGUFFile *f, const char *key, ObErr *err);

/* Converts any readable tensor (F32, F16, BF16 and io/quant.h's types) to
 * n_elems floats. */
int gguf_tensor_to_f32(const GGUFFile *f, const GGUFTensor *t, float *out, ObErr *err);

/* Drops the mapped pages wholly inside t's bytes from the process's resident
 * set, once t has been converted and will not be read soon (they are
 * read-only file pages: a later read brings them back). A no-op for a
 * buffer opened with gguf_open_buffer. */
void gguf_release_tensor(const GGUFFile *f, const GGUFTensor *t);

typedef struct GGUFWriter GGUFWriter;

GGUFWriter *gguf_writer_new(ObErr *err);
void gguf_writer_free(GGUFWriter *w);
/* Setters copy their arguments. Setting an existing key replaces it. They
 * return -1 only on out of memory. */
int gguf_set_u32(GGUFWriter *w, const char *key, uint32_t v);
int gguf_set_i32(GGUFWriter *w, const char *key, int32_t v);
int gguf_set_u64(GGUFWriter *w, const char *key, uint64_t v);
int gguf_set_f32(GGUFWriter *w, const char *key, float v);
int gguf_set_bool(GGUFWriter *w, const char *key, bool v);
int gguf_set_str(GGUFWriter *w, const char *key, const char *v);
int gguf_set_arr_str(GGUFWriter *w, const char *key, const char *const *v, uint64_t n);
int gguf_set_arr_f32(GGUFWriter *w, const char *key, const float *v, uint64_t n);
int gguf_set_arr_i32(GGUFWriter *w, const char *key, const int32_t *v, uint64_t n);
/* A key and value as read from another file (the value copied). */
int gguf_set_kv_from(GGUFWriter *w, const GGUFKV *kv);
/* Adds a tensor converted from fp32 to `type` (F32, F16 or BF16; round to
 * nearest even). dims in ggml order. Fails on a duplicate name. */
int gguf_add_tensor_f32(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const float *data, ObErr *err);
/* Adds a tensor's raw bytes as they are (any readable type, quantised ones too). */
int gguf_add_tensor_raw(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const void *data, ObErr *err);
/* The same without a copy: data must stay valid until the writer is freed
 * (a large model is written from its source file's map). */
int gguf_add_tensor_ref(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const void *data, ObErr *err);
/* A tensor whose bytes are made while the file is written: fill(ctx, buf,
 * n_bytes, err) writes all n_bytes into buf and returns 0, or -1 with err
 * set (the save then fails and leaves nothing). The writer holds one buffer,
 * the size of the largest such tensor, so a model larger than memory can be
 * written tensor by tensor. ctx must stay valid until the save. */
typedef int (*GGUFFillFn)(void *ctx, void *buf, uint64_t n_bytes, ObErr *err);
int gguf_add_tensor_gen(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, GGUFFillFn fill, void *ctx, ObErr *err);
int gguf_writer_save(GGUFWriter *w, const char *path, ObErr *err);
/* Ends a write that filled w with status rc: saves w to path when rc is 0,
 * else puts path before err's message; frees w. Returns rc or the save's. */
int gguf_writer_finish(GGUFWriter *w, int rc, const char *path, ObErr *err);

/* Scalar conversions (round to nearest even; NaN stays NaN). */
uint16_t ob_fp32_to_fp16(float x);
float ob_fp16_to_fp32(uint16_t h);
uint16_t ob_fp32_to_bf16(float x);
float ob_bf16_to_fp32(uint16_t h);

#endif
