/* safetensors: Hugging Face's tensor file format (format only; model/hf.c maps
 * Llama weights onto it).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 *   {"__metadata__": {str: str}, NAME: {"dtype": "BF16", "shape": [outer, ...,
 *    inner], "data_offsets": [begin, end]}, ...}
 * (possibly padded with spaces), then the data buffer; offsets are relative to
 * its first byte, data is C order, little-endian.
 *
 * Reading: st_open() maps the file read-only and validates the whole header
 * before returning: JSON shape, known dtypes, dims, begin <= end, end - begin
 * equal to the element count times the dtype size (by overflow-checked
 * arithmetic), offsets inside the file, and tensors tiling the data buffer
 * without overlaps or holes, as the reference implementation requires.
 * Errors are one line naming the file ("m.safetensors: tensor \"x\": data
 * offsets [0, 12] hold 12 bytes, shape [2, 3] of F32 needs 24").
 *
 * Writing: st_write() writes a header and the tensors' bytes atomically
 * (util/fileio.h); tensor bytes come from a pointer or from a callback, so a
 * large model is converted one tensor at a time. */
#ifndef OB_SAFETENSORS_H
#define OB_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* the reference reader's limit */

typedef struct {
    char *name;     /* NUL-terminated copy */
    char dtype[16]; /* as written: "F32", "F16", "BF16", "I64", ... */
    int elem_size;  /* bytes per element */
    int n_dims;     /* 0..ST_MAX_DIMS; 0 is a scalar */
    uint64_t shape[ST_MAX_DIMS];
    uint64_t n_elems, n_bytes;
    uint64_t begin;   /* offset in the data buffer */
    const void *data; /* in the map; not aligned */
} STTensor;

typedef struct {
    char *path;
    const uint8_t *map;
    size_t map_size;
    bool owns_map;
    uint64_t data_start; /* 8 + header length */
    STTensor *tensors;   /* in header order */
    size_t n_tensors;
    char **meta; /* __metadata__ as key, value, key, value, ... */
    size_t n_meta;
} STFile;

/* Bytes per element of a safetensors dtype name; 0 if unknown. */
int st_dtype_size(const char *dtype);

int st_open(STFile *f, const char *path, ObErr *err);
/* The same over a caller-owned buffer (tests, fuzzers); name is for messages. */
int st_open_buffer(STFile *f, const void *buf, size_t size, const char *name, ObErr *err);
void st_close(STFile *f);

const STTensor *st_find(const STFile *f, const char *name);
/* The __metadata__ value for key, or NULL. */
const char *st_meta(const STFile *f, const char *key);

typedef struct STWriteTensor STWriteTensor;
/* Fills buf (t->n_bytes bytes) with tensor t's data. */
typedef int (*STFillFn)(void *ctx, const STWriteTensor *t, void *buf, ObErr *err);

struct STWriteTensor {
    const char *name;
    const char *dtype; /* "F32", "F16", "BF16", ... */
    int n_dims;
    uint64_t shape[ST_MAX_DIMS];
    const void *data; /* the bytes, or NULL to call fill */
    STFillFn fill;
    void *ctx;
    size_t index; /* free for the caller (which tensor this is) */
};

/* Bytes of data a tensor takes (0 on an unknown dtype). */
uint64_t st_tensor_bytes(const STWriteTensor *t);
/* Writes the tensors in the given order, with __metadata__ from meta (key,
 * value pairs; n_meta pairs). Names must be unique. Atomic. */
int st_write(const char *path, const STWriteTensor *t, size_t n, const char *const *meta,
             size_t n_meta, ObErr *err);

#endif
