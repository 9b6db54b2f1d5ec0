/* GGUF v3 reader and writer (see gguf.h for the contract).
 *
 * The reader is a bounds-checked cursor over the mapped bytes: every read asks
 * need() first, and every count is compared with the bytes left before it is
 * used to size an allocation, so a hostile file costs at most a few times its
 * own size in memory and never reads outside the map. */
#include "io/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/quant.h"
#include "util/fileio.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c assumes a little-endian host: tensor data and arrays are used in place"
#endif

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_ALIGNMENT 32u
#define GGUF_MAX_NAME 63   /* llama.cpp keeps names in char[64], NUL included */
#define HEADER_SIZE 24     /* magic, version, tensor count, kv count */
#define MIN_KV_SIZE 13     /* key length, type, a one-byte value */
#define MIN_TENSOR_SIZE 32 /* name length, n_dims, one dim, type, offset */

/* ---- Scalar conversions ---- */

static uint32_t f32_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    return b;
}

static float bits_f32(uint32_t b) {
    float x;
    memcpy(&x, &b, 4);
    return x;
}

/* m >> shift rounded to nearest, ties to even; shift in 1..31. */
static uint32_t shift_rne(uint32_t m, int shift) {
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}

uint16_t ob_fp32_to_fp16(float x) {
    uint32_t b = f32_bits(x), sign = (b >> 16) & 0x8000, a = b & 0x7fffffff;
    if (a > 0x7f800000) /* NaN: keep the top payload bits, set the quiet bit */
        return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x47800000) /* >= 65536 (or inf) */
        return (uint16_t)(sign | 0x7c00);
    if (a >= 0x38800000) /* normal: rebias 127 -> 15; a rounding carry may reach inf */
        return (uint16_t)(sign | shift_rne(a - 0x38000000, 13));
    uint32_t e = a >> 23;
    if (e < 102) /* below half the smallest subnormal (2^-25), fp32 subnormals too */
        return (uint16_t)sign;
    /* subnormal: the value in units of 2^-24 is mant * 2^(e - 126) */
    return (uint16_t)(sign | shift_rne((a & 0x7fffff) | 0x800000, (int)(126 - e)));
}

float ob_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, m = h & 0x3ff;
    int e = (h >> 10) & 0x1f;
    if (e == 0x1f) /* inf, or NaN with its payload */
        return bits_f32(sign | 0x7f800000 | (m << 13));
    if (e == 0) {
        if (m == 0) return bits_f32(sign);
        for (e = 1; !(m & 0x400); e--) m <<= 1; /* normalise a subnormal */
        m &= 0x3ff;
    }
    return bits_f32(sign | (uint32_t)(e + 112) << 23 | m << 13);
}

uint16_t ob_fp32_to_bf16(float x) {
    uint32_t b = f32_bits(x);
    if ((b & 0x7fffffff) > 0x7f800000) /* NaN: truncating could make it inf */
        return (uint16_t)((b >> 16) | 0x40);
    return (uint16_t)((b + 0x7fff + ((b >> 16) & 1)) >> 16);
}

float ob_bf16_to_fp32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

/* ---- Little-endian bytes ---- */

static uint16_t le16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> 8 * i);
}

/* ---- Types ---- */

/* Bytes of one metadata value by type; 0 for string and array. */
static const uint8_t kv_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static const char *type_name(uint32_t t) {
    static const char *const names[13] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                          "bool", "string", "array", "u64", "i64", "f64"};
    return t < 13 ? names[t] : "unknown";
}

/* Elements per block of a tensor type (0 if unknown) and the block's bytes. */
static uint64_t type_block(uint32_t type, uint64_t *block_bytes) {
    switch (type) {
    case GGML_TYPE_F32: *block_bytes = 4; return 1;
    case GGML_TYPE_F16: *block_bytes = 2; return 1;
    case GGML_TYPE_BF16: *block_bytes = 2; return 1;
    default: return quant_block(type, block_bytes);
    }
}

/* Checks a shape for a known type and computes its element and byte counts.
 * On failure writes the reason into why and returns -1. Dims are capped at
 * 2^63-1 (ggml's int64_t) and so is their product. */
static int check_shape(uint32_t type, uint32_t n_dims, const uint64_t *dims, uint64_t *n_elems,
                       uint64_t *n_bytes, char *why, size_t cap) {
    uint64_t n = 1, bb, blk = type_block(type, &bb);
    if (!blk) return snprintf(why, cap, "unsupported tensor type %u", type), -1;
    if (n_dims < 1 || n_dims > 4) return snprintf(why, cap, "n_dims %u is not in 1..4", n_dims), -1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (dims[d] > INT64_MAX)
            return snprintf(why, cap, "dimension %u is %" PRIu64 " (negative)", d, dims[d]), -1;
        if (dims[d] && n > INT64_MAX / dims[d])
            return snprintf(why, cap, "element count overflows at dimension %u (%" PRIu64 ")", d,
                            dims[d]),
                   -1;
        n *= dims[d];
    }
    if (dims[0] % blk)
        return snprintf(why, cap,
                        "dims[0] = %" PRIu64 " is not a multiple of the block size %" PRIu64,
                        dims[0], blk),
               -1;
    if (n / blk > UINT64_MAX / bb)
        return snprintf(why, cap, "byte size of %" PRIu64 " elements overflows", n), -1;
    *n_elems = n;
    *n_bytes = n / blk * bb;
    return 0;
}

/* Copies a name from the file for an error message: at most 64 characters,
 * control characters and quotes replaced so the message stays one line. */
static const char *printable(char out[72], const char *s, size_t n) {
    size_t k = n < 64 ? n : 64;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    strcpy(out + k, n > k ? "..." : "");
    return out;
}

/* ---- Reader ---- */

typedef struct {
    const uint8_t *p;
    size_t size, off;
    const char *name; /* for messages */
    ObErr *err;
    char where[160]; /* what is being read: "kv 3 (\"general.name\")" */
} Reader;

__attribute__((format(printf, 2, 3))) static int rd_err(Reader *r, const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ob_errf(r->err, "%s: %s: %s", r->name, r->where, msg);
}

static int need(Reader *r, uint64_t n) {
    if (n <= r->size - r->off) return 0;
    return ob_errf(r->err,
                   "%s: truncated: %s runs past the end of the file (needs %" PRIu64
                   " bytes at offset %zu, size %zu)",
                   r->name, r->where, n, r->off, r->size);
}

/* Like need() for n elements of esize bytes, without multiplying. */
static int need_n(Reader *r, uint64_t n, uint64_t esize) {
    if (n <= (r->size - r->off) / esize) return 0;
    return ob_errf(r->err,
                   "%s: truncated: %s: %" PRIu64 " elements of %" PRIu64
                   " bytes run past the end of the file (offset %zu, size %zu)",
                   r->name, r->where, n, esize, r->off, r->size);
}

static void *rd_calloc(Reader *r, uint64_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) rd_err(r, "out of memory allocating %" PRIu64 " x %zu bytes", n, size);
    return p;
}

static int rd_u32(Reader *r, uint32_t *v) {
    if (need(r, 4)) return -1;
    *v = le32(r->p + r->off);
    r->off += 4;
    return 0;
}

static int rd_u64(Reader *r, uint64_t *v) {
    if (need(r, 8)) return -1;
    *v = le64(r->p + r->off);
    r->off += 8;
    return 0;
}

static int rd_str(Reader *r, GGUFStr *s) {
    uint64_t n;
    if (rd_u64(r, &n) || need(r, n)) return -1;
    s->ptr = (const char *)r->p + r->off;
    s->len = n;
    r->off += n;
    return 0;
}

/* Reads a key or tensor name into a new NUL-terminated string. */
static char *rd_name(Reader *r, const char *what, uint64_t max_len) {
    GGUFStr s;
    if (rd_str(r, &s)) return NULL;
    if (s.len > max_len) {
        rd_err(r, "%s of %" PRIu64 " bytes is longer than %" PRIu64, what, s.len, max_len);
        return NULL;
    }
    if (memchr(s.ptr, 0, s.len)) {
        rd_err(r, "%s contains a NUL byte", what);
        return NULL;
    }
    char *c = rd_calloc(r, s.len + 1, 1);
    if (c) memcpy(c, s.ptr, s.len);
    return c;
}

static void decode_scalar(uint32_t type, const uint8_t *p, GGUFKV *kv) {
    uint64_t u64;
    switch (type) {
    case GGUF_TYPE_U8:
    case GGUF_TYPE_BOOL: kv->v.u = p[0]; break;
    case GGUF_TYPE_I8: kv->v.i = (int8_t)p[0]; break;
    case GGUF_TYPE_U16: kv->v.u = le16(p); break;
    case GGUF_TYPE_I16: kv->v.i = (int16_t)le16(p); break;
    case GGUF_TYPE_U32: kv->v.u = le32(p); break;
    case GGUF_TYPE_I32: kv->v.i = (int32_t)le32(p); break;
    case GGUF_TYPE_F32: kv->v.f = bits_f32(le32(p)); break;
    case GGUF_TYPE_U64: kv->v.u = le64(p); break;
    case GGUF_TYPE_I64: kv->v.i = (int64_t)le64(p); break;
    case GGUF_TYPE_F64: u64 = le64(p), memcpy(&kv->v.f, &u64, 8); break;
    }
}

static int read_array(Reader *r, GGUFKV *kv) {
    uint32_t t;
    uint64_t n;
    if (rd_u32(r, &t) || rd_u64(r, &n)) return -1;
    if (t == GGUF_TYPE_ARRAY) return rd_err(r, "nested arrays are not supported");
    if (t > GGUF_TYPE_F64) return rd_err(r, "unknown array element type %u", t);
    kv->arr_type = t;
    kv->arr_n = n;
    if (t == GGUF_TYPE_STRING) {
        if (need_n(r, n, 8) || !(kv->arr_str = rd_calloc(r, n, sizeof(GGUFStr)))) return -1;
        for (uint64_t i = 0; i < n; i++)
            if (rd_str(r, &kv->arr_str[i])) return -1;
        return 0;
    }
    if (need_n(r, n, kv_size[t])) return -1;
    kv->arr = r->p + r->off;
    for (uint64_t i = 0; t == GGUF_TYPE_BOOL && i < n; i++)
        if (kv->arr[i] > 1)
            return rd_err(r, "bool element %" PRIu64 " is %u, not 0 or 1", i, kv->arr[i]);
    r->off += n * kv_size[t];
    return 0;
}

static int read_value(Reader *r, GGUFKV *kv) {
    if (kv->type == GGUF_TYPE_STRING) return rd_str(r, &kv->v.s);
    if (kv->type == GGUF_TYPE_ARRAY) return read_array(r, kv);
    if (kv->type > GGUF_TYPE_F64)
        return rd_err(r, "unknown value type %u at offset %zu", kv->type, r->off - 4);
    if (need(r, kv_size[kv->type])) return -1;
    decode_scalar(kv->type, r->p + r->off, kv);
    if (kv->type == GGUF_TYPE_BOOL && kv->v.u > 1)
        return rd_err(r, "bool value %" PRIu64 " at offset %zu is not 0 or 1", kv->v.u, r->off);
    r->off += kv_size[kv->type];
    return 0;
}

static int read_kv(Reader *r, uint64_t i, void *entry) {
    GGUFKV *kv = entry;
    char pk[72];
    snprintf(r->where, sizeof r->where, "kv %" PRIu64, i);
    if (!(kv->key = rd_name(r, "key", UINT64_MAX))) return -1;
    snprintf(r->where, sizeof r->where, "kv %" PRIu64 " (\"%s\")", i,
             printable(pk, kv->key, strlen(kv->key)));
    return rd_u32(r, &kv->type) || read_value(r, kv) ? -1 : 0;
}

static int read_tensor_info(Reader *r, uint64_t i, void *entry) {
    GGUFTensor *t = entry;
    char pn[72], why[160];
    snprintf(r->where, sizeof r->where, "tensor info %" PRIu64, i);
    if (!(t->name = rd_name(r, "tensor name", GGUF_MAX_NAME))) return -1;
    printable(pn, t->name, strlen(t->name));
    snprintf(r->where, sizeof r->where, "tensor info %" PRIu64 " (\"%s\")", i, pn);
    if (rd_u32(r, &t->n_dims)) return -1;
    if (t->n_dims < 1 || t->n_dims > 4) return rd_err(r, "n_dims %u is not in 1..4", t->n_dims);
    for (uint32_t d = 0; d < 4; d++) t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (rd_u64(r, &t->dims[d])) return -1;
    if (rd_u32(r, &t->type) || rd_u64(r, &t->offset)) return -1;
    uint64_t bb;
    if (!type_block(t->type, &bb))
        return ob_errf(r->err, "%s: unsupported tensor type %u for tensor \"%s\"", r->name, t->type,
                       pn);
    if (check_shape(t->type, t->n_dims, t->dims, &t->n_elems, &t->n_bytes, why, sizeof why))
        return rd_err(r, "%s", why);
    return 0;
}

static int read_header(Reader *r, GGUFFile *f) {
    if (need(r, 4)) return -1;
    uint32_t magic = le32(r->p);
    if (magic != GGUF_MAGIC)
        return ob_errf(r->err, "%s: bad magic 0x%08x (not a GGUF file)", r->name, magic);
    if (need(r, HEADER_SIZE)) return -1;
    uint32_t v = le32(r->p + 4);
    f->n_tensors = le64(r->p + 8);
    f->n_kv = le64(r->p + 16);
    r->off = HEADER_SIZE;
    if (v && !(v & 0xffff))
        return ob_errf(r->err, "%s: version 0x%08x: big-endian GGUF files are not supported",
                       r->name, v);
    if (v == 1)
        return ob_errf(r->err,
                       "%s: GGUF version 1 is not supported (reconvert with a newer "
                       "llama.cpp)",
                       r->name);
    if (v != 2 && v != 3) /* v2 and v3 share the little-endian layout */
        return ob_errf(r->err, "%s: unsupported GGUF version %u (expected 3)", r->name, v);
    f->version = v;
    return 0;
}

/* Each kv and tensor info takes a minimum number of bytes, so the counts are
 * bounded by the file size before anything is allocated from them. */
static int check_counts(Reader *r, uint64_t n_tensors, uint64_t n_kv) {
    uint64_t room = r->size - HEADER_SIZE;
    if (n_tensors > room / MIN_TENSOR_SIZE)
        return ob_errf(r->err,
                       "%s: header claims %" PRIu64 " tensors, more than a %zu-byte "
                       "file can hold",
                       r->name, n_tensors, r->size);
    if (n_kv > room / MIN_KV_SIZE)
        return ob_errf(r->err,
                       "%s: header claims %" PRIu64 " metadata pairs, more than a %zu-"
                       "byte file can hold",
                       r->name, n_kv, r->size);
    if (n_kv * MIN_KV_SIZE > room - n_tensors * MIN_TENSOR_SIZE)
        return ob_errf(r->err,
                       "%s: header claims %" PRIu64 " metadata pairs and %" PRIu64
                       " tensors, more than a %zu-byte file can hold",
                       r->name, n_kv, n_tensors, r->size);
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fails on a name that occurs twice. Sorts a copy of the pointers, so that a
 * file with millions of keys cannot make this quadratic. */
static int check_unique(Reader *r, const char *what, const char **names, size_t n) {
    char pn[72];
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(names[i - 1], names[i]))
            return ob_errf(r->err, "%s: duplicate %s \"%s\"", r->name, what,
                           printable(pn, names[i], strlen(names[i])));
    return 0;
}

/* Reads the n entries (size bytes each) of the key-value or the tensor-info
 * table, each by read_entry, then fails on a name (the string at name_off in
 * an entry) that occurs twice. */
static int read_entries(Reader *r, void *entries, uint64_t n, size_t size,
                        int (*read_entry)(Reader *, uint64_t, void *), size_t name_off,
                        const char *what) {
    char *e = entries;
    for (uint64_t i = 0; i < n; i++)
        if (read_entry(r, i, e + i * size)) return -1;
    const char **names = rd_calloc(r, n, sizeof *names);
    if (!names) return -1;
    for (uint64_t i = 0; i < n; i++) memcpy(&names[i], e + i * size + name_off, sizeof *names);
    int rc = check_unique(r, what, names, n);
    free(names);
    return rc;
}

/* kv and tensors stay NULL until allocated: gguf_close frees their entries
 * only then (calloc's zeros free as NULL). */
static int read_kvs(Reader *r, GGUFFile *f) {
    if (!(f->kv = rd_calloc(r, f->n_kv, sizeof *f->kv))) return -1;
    return read_entries(r, f->kv, f->n_kv, sizeof *f->kv, read_kv, offsetof(GGUFKV, key), "key");
}

static int read_alignment(Reader *r, GGUFFile *f) {
    const GGUFKV *kv = gguf_find_kv(f, "general.alignment");
    f->alignment = GGUF_ALIGNMENT;
    if (!kv) return 0;
    if (kv->type != GGUF_TYPE_U32)
        return ob_errf(r->err, "%s: general.alignment has type %s, expected u32", r->name,
                       type_name(kv->type));
    if (kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)))
        return ob_errf(r->err, "%s: general.alignment %" PRIu64 " is not a power of two", r->name,
                       kv->v.u);
    f->alignment = (uint32_t)kv->v.u;
    return 0;
}

static int read_tensor_infos(Reader *r, GGUFFile *f) {
    if (!(f->tensors = rd_calloc(r, f->n_tensors, sizeof *f->tensors))) return -1;
    return read_entries(r, f->tensors, f->n_tensors, sizeof *f->tensors, read_tensor_info,
                        offsetof(GGUFTensor, name), "tensor name");
}

/* Locates the data section and checks each tensor lies inside it. The last
 * tensor's trailing padding may be missing: llama.cpp's mmap loader accepts that. */
static int place_tensors(Reader *r, GGUFFile *f) {
    uint64_t pad = (f->alignment - r->off % f->alignment) % f->alignment;
    f->data_offset = r->off + pad;
    if (f->n_tensors == 0) return 0;
    snprintf(r->where, sizeof r->where, "padding before the tensor data");
    if (need(r, pad)) return -1;
    uint64_t data_size = r->size - f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        GGUFTensor *t = &f->tensors[i];
        char pn[72];
        printable(pn, t->name, strlen(t->name));
        if (t->offset % f->alignment)
            return ob_errf(r->err,
                           "%s: tensor \"%s\": offset %" PRIu64 " is not a multiple of "
                           "the alignment %u",
                           r->name, pn, t->offset, f->alignment);
        if (t->offset > data_size || t->n_bytes > data_size - t->offset)
            return ob_errf(r->err,
                           "%s: truncated: tensor \"%s\": %" PRIu64 " bytes at data "
                           "offset %" PRIu64
                           " run past the end of the file (data section has %" PRIu64 " bytes)",
                           r->name, pn, t->n_bytes, t->offset, data_size);
        t->data = r->p + f->data_offset + t->offset;
    }
    return 0;
}

/* Frees what f owns except the map. Safe on a partly filled or zeroed f. */
static void free_contents(GGUFFile *f) {
    for (uint64_t i = 0; f->kv && i < f->n_kv; i++) {
        free(f->kv[i].key);
        free(f->kv[i].arr_str);
    }
    for (uint64_t i = 0; f->tensors && i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static char *path_copy(const char *name, ObErr *err) {
    size_t n = strlen(name);
    char *p = ob_malloc(n + 1, "file name", err);
    if (p) memcpy(p, name, n + 1);
    return p;
}

static int parse(GGUFFile *f, const uint8_t *p, size_t size, const char *name, bool owns,
                 ObErr *err) {
    memset(f, 0, sizeof *f);
    Reader r = {.p = p, .size = size, .name = name, .err = err, .where = "header"};
    if (!(f->path = path_copy(name, err))) return -1;
    f->owns_map = owns;
    f->map = p;
    f->map_size = size;
    if (read_header(&r, f) || check_counts(&r, f->n_tensors, f->n_kv) || read_kvs(&r, f) ||
        read_alignment(&r, f) || read_tensor_infos(&r, f) || place_tensors(&r, f)) {
        free_contents(f);
        return -1;
    }
    return 0;
}

int gguf_open_buffer(GGUFFile *f, const void *buf, size_t size, const char *name, ObErr *err) {
    return parse(f, buf, size, name, false, err);
}

/* Closes fd and reports why path cannot be read. */
static int open_fail(int fd, const char *path, const char *why, ObErr *err) {
    close(fd);
    return ob_errf(err, "%s: %s", path, why);
}

int gguf_open(GGUFFile *f, const char *path, ObErr *err) {
    struct stat st;
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ob_errf(err, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) return open_fail(fd, path, strerror(errno), err);
    if (!S_ISREG(st.st_mode)) return open_fail(fd, path, "not a regular file", err);
    if (st.st_size == 0) return open_fail(fd, path, "empty file (not a GGUF file)", err);
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) return open_fail(fd, path, strerror(errno), err);
    close(fd); /* the map keeps the file alive */
    int rc = parse(f, map, size, path, true, err);
    if (rc) munmap(map, size);
    return rc;
}

void gguf_close(GGUFFile *f) {
    if (!f) return;
    if (f->owns_map && f->map) munmap((void *)f->map, f->map_size);
    free_contents(f);
}

/* ---- Lookups and getters ---- */

const GGUFKV *gguf_find_kv(const GGUFFile *f, const char *key) {
    for (uint64_t i = 0; f->kv && i < f->n_kv; i++)
        if (f->kv[i].key && !strcmp(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const GGUFTensor *gguf_find_tensor(const GGUFFile *f, const char *name) {
    for (uint64_t i = 0; f->tensors && i < f->n_tensors; i++)
        if (f->tensors[i].name && !strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

static const char *fname(const GGUFFile *f) {
    return f->path ? f->path : "(gguf)";
}

/* Finds key and checks its type is one of the bits in `types`. */
static const GGUFKV *get_kv(const GGUFFile *f, const char *key, unsigned types,
                            const char *expected, ObErr *err) {
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv)
        ob_errf(err, "%s: key %s missing", fname(f), key);
    else if (kv->type > 31 || !(types >> kv->type & 1))
        ob_errf(err, "%s: key %s has type %s, expected %s", fname(f), key, type_name(kv->type),
                expected);
    else
        return kv;
    return NULL;
}

#define BIT(t) (1u << (t))
#define UNSIGNED_TYPES                                                                             \
    (BIT(GGUF_TYPE_U8) | BIT(GGUF_TYPE_U16) | BIT(GGUF_TYPE_U32) | BIT(GGUF_TYPE_U64))
#define SIGNED_TYPES                                                                               \
    (BIT(GGUF_TYPE_I8) | BIT(GGUF_TYPE_I16) | BIT(GGUF_TYPE_I32) | BIT(GGUF_TYPE_I64))

static int get_uint(const GGUFFile *f, const char *key, uint64_t max, uint64_t *out, ObErr *err) {
    const GGUFKV *kv = get_kv(f, key, UNSIGNED_TYPES | SIGNED_TYPES, "an integer", err);
    if (!kv) return -1;
    if (SIGNED_TYPES >> kv->type & 1 && kv->v.i < 0)
        return ob_errf(err, "%s: key %s is %" PRId64 ", expected a non-negative integer", fname(f),
                       key, kv->v.i);
    if (kv->v.u > max)
        return ob_errf(err, "%s: key %s is %" PRIu64 ", more than %" PRIu64, fname(f), key, kv->v.u,
                       max);
    *out = kv->v.u;
    return 0;
}

int gguf_get_u64(const GGUFFile *f, const char *key, uint64_t *out, ObErr *err) {
    return get_uint(f, key, UINT64_MAX, out, err);
}

int gguf_get_u32(const GGUFFile *f, const char *key, uint32_t *out, ObErr *err) {
    uint64_t v = 0;
    if (get_uint(f, key, UINT32_MAX, &v, err)) return -1;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_f32(const GGUFFile *f, const char *key, float *out, ObErr *err) {
    const GGUFKV *kv = get_kv(f, key, BIT(GGUF_TYPE_F32) | BIT(GGUF_TYPE_F64), "f32 or f64", err);
    if (!kv) return -1;
    *out = (float)kv->v.f;
    return 0;
}

int gguf_get_bool(const GGUFFile *f, const char *key, bool *out, ObErr *err) {
    const GGUFKV *kv = get_kv(f, key, BIT(GGUF_TYPE_BOOL), "bool", err);
    if (!kv) return -1;
    *out = kv->v.u != 0;
    return 0;
}

char *gguf_get_str(const GGUFFile *f, const char *key, ObErr *err) {
    const GGUFKV *kv = get_kv(f, key, BIT(GGUF_TYPE_STRING), "string", err);
    if (!kv) return NULL;
    char *s = ob_malloc(kv->v.s.len + 1, key, err);
    if (s) memcpy(s, kv->v.s.ptr, kv->v.s.len), s[kv->v.s.len] = 0;
    return s;
}

int gguf_tensor_to_f32(const GGUFFile *f, const GGUFTensor *t, float *out, ObErr *err) {
    const uint8_t *p = t->data;
    uint64_t n = t->n_elems;
    switch (t->type) {
    case GGML_TYPE_F32:
        if (n) memcpy(out, p, n * 4); /* the buffer variant may be unaligned */
        return 0;
    case GGML_TYPE_F16:
        for (uint64_t i = 0; i < n; i++) out[i] = ob_fp16_to_fp32(le16(p + 2 * i));
        return 0;
    case GGML_TYPE_BF16:
        for (uint64_t i = 0; i < n; i++) out[i] = ob_bf16_to_fp32(le16(p + 2 * i));
        return 0;
    }
    if (!quant_dequantize(t->type, p, out, n)) return 0;
    return ob_errf(err, "%s: unsupported tensor type %u for tensor \"%s\"", fname(f), t->type,
                   t->name ? t->name : "?");
}

const char *ggml_type_name(uint32_t t) {
    switch (t) {
    case GGML_TYPE_F32: return "F32";
    case GGML_TYPE_F16: return "F16";
    case GGML_TYPE_Q4_0: return "Q4_0";
    case GGML_TYPE_Q5_0: return "Q5_0";
    case GGML_TYPE_Q5_1: return "Q5_1";
    case GGML_TYPE_Q8_0: return "Q8_0";
    case GGML_TYPE_Q4_K: return "Q4_K";
    case GGML_TYPE_Q5_K: return "Q5_K";
    case GGML_TYPE_Q6_K: return "Q6_K";
    case GGML_TYPE_BF16: return "BF16";
    default: return "?";
    }
}

void gguf_release_tensor(const GGUFFile *f, const GGUFTensor *t) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)t->data;
    uintptr_t lo = (a + page - 1) / page * page, hi = (a + (uintptr_t)t->n_bytes) / page * page;
    if (f->owns_map && hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---- Writer ---- */

typedef struct {
    char *key;
    uint32_t type;
    uint8_t *val; /* the value's bytes as written after the type */
    size_t size;
} WriterKV;

typedef struct {
    char *name;
    uint32_t n_dims, type;
    uint64_t dims[4], n_bytes;
    uint8_t *data;
    bool borrowed;   /* data belongs to the caller (gguf_add_tensor_ref) */
    GGUFFillFn fill; /* data made at save time (gguf_add_tensor_gen) */
    void *fill_ctx;
} WriterTensor;

struct GGUFWriter {
    WriterKV *kv;
    size_t n_kv, cap_kv;
    WriterTensor *t;
    size_t n_t, cap_t;
};

GGUFWriter *gguf_writer_new(ObErr *err) {
    return ob_calloc(1, sizeof(GGUFWriter), "GGUF writer", err);
}

void gguf_writer_free(GGUFWriter *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) free(w->kv[i].key), free(w->kv[i].val);
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        if (!w->t[i].borrowed) free(w->t[i].data);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

int gguf_writer_finish(GGUFWriter *w, int rc, const char *path, ObErr *err) {
    if (!rc)
        rc = gguf_writer_save(w, path, err);
    else
        ob_err_prefix(err, "%s", path);
    gguf_writer_free(w);
    return rc;
}

/* Makes room for one more element in a growing array. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t c = *cap ? 2 * *cap : 16;
    void *p = realloc(*arr, c * elem);
    if (!p) return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static char *copy_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

/* Sets key to an encoded value, taking ownership of val (NULL: out of memory). */
static int set_kv(GGUFWriter *w, const char *key, uint32_t type, uint8_t *val, size_t size) {
    if (!val) return -1;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key)) continue;
        free(w->kv[i].val);
        w->kv[i] = (WriterKV){w->kv[i].key, type, val, size};
        return 0;
    }
    char *k = copy_str(key);
    if (!k || grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv)) {
        free(k);
        free(val);
        return -1;
    }
    w->kv[w->n_kv++] = (WriterKV){k, type, val, size};
    return 0;
}

static int set_scalar(GGUFWriter *w, const char *key, uint32_t type, uint64_t bits) {
    uint8_t *val = malloc(kv_size[type]);
    if (val) put_le(val, bits, kv_size[type]);
    return set_kv(w, key, type, val, kv_size[type]);
}

int gguf_set_u32(GGUFWriter *w, const char *key, uint32_t v) {
    return set_scalar(w, key, GGUF_TYPE_U32, v);
}

int gguf_set_i32(GGUFWriter *w, const char *key, int32_t v) {
    return set_scalar(w, key, GGUF_TYPE_I32, (uint32_t)v);
}

int gguf_set_u64(GGUFWriter *w, const char *key, uint64_t v) {
    return set_scalar(w, key, GGUF_TYPE_U64, v);
}

int gguf_set_f32(GGUFWriter *w, const char *key, float v) {
    return set_scalar(w, key, GGUF_TYPE_F32, f32_bits(v));
}

int gguf_set_bool(GGUFWriter *w, const char *key, bool v) {
    return set_scalar(w, key, GGUF_TYPE_BOOL, v);
}

int gguf_set_str(GGUFWriter *w, const char *key, const char *v) {
    size_t n = strlen(v);
    uint8_t *val = malloc(8 + n);
    if (val) put_le(val, n, 8), memcpy(val + 8, v, n);
    return set_kv(w, key, GGUF_TYPE_STRING, val, 8 + n);
}

int gguf_set_arr_str(GGUFWriter *w, const char *key, const char *const *v, uint64_t n) {
    size_t size = 12;
    for (uint64_t i = 0; i < n; i++) size += 8 + strlen(v[i]);
    uint8_t *val = malloc(size), *p = val;
    if (!val) return -1;
    put_le(p, GGUF_TYPE_STRING, 4), put_le(p + 4, n, 8), p += 12;
    for (uint64_t i = 0; i < n; i++) {
        size_t len = strlen(v[i]);
        put_le(p, len, 8), memcpy(p + 8, v[i], len), p += 8 + len;
    }
    return set_kv(w, key, GGUF_TYPE_ARRAY, val, size);
}

/* Numeric arrays: the host is little-endian, so elements are copied as they are. */
static int set_arr_num(GGUFWriter *w, const char *key, uint32_t type, const void *v, uint64_t n) {
    if (n > (SIZE_MAX - 12) / kv_size[type]) return -1;
    size_t bytes = (size_t)n * kv_size[type];
    uint8_t *val = malloc(12 + bytes);
    if (!val) return -1;
    put_le(val, type, 4), put_le(val + 4, n, 8);
    if (bytes) memcpy(val + 12, v, bytes);
    return set_kv(w, key, GGUF_TYPE_ARRAY, val, 12 + bytes);
}

int gguf_set_arr_f32(GGUFWriter *w, const char *key, const float *v, uint64_t n) {
    return set_arr_num(w, key, GGUF_TYPE_F32, v, n);
}

int gguf_set_arr_i32(GGUFWriter *w, const char *key, const int32_t *v, uint64_t n) {
    return set_arr_num(w, key, GGUF_TYPE_I32, v, n);
}

int gguf_set_kv_from(GGUFWriter *w, const GGUFKV *kv) {
    if (kv->type == GGUF_TYPE_STRING) {
        uint8_t *val = malloc(8 + kv->v.s.len);
        if (val) put_le(val, kv->v.s.len, 8), memcpy(val + 8, kv->v.s.ptr, kv->v.s.len);
        return set_kv(w, kv->key, GGUF_TYPE_STRING, val, 8 + kv->v.s.len);
    }
    if (kv->type == GGUF_TYPE_ARRAY && kv->arr_type != GGUF_TYPE_STRING)
        return set_arr_num(w, kv->key, kv->arr_type, kv->arr, kv->arr_n);
    if (kv->type == GGUF_TYPE_ARRAY) {
        size_t size = 12;
        for (uint64_t i = 0; i < kv->arr_n; i++) size += 8 + kv->arr_str[i].len;
        uint8_t *val = malloc(size), *p = val;
        if (!val) return -1;
        put_le(p, GGUF_TYPE_STRING, 4), put_le(p + 4, kv->arr_n, 8), p += 12;
        for (uint64_t i = 0; i < kv->arr_n; i++) {
            const GGUFStr *e = &kv->arr_str[i];
            put_le(p, e->len, 8), memcpy(p + 8, e->ptr, e->len), p += 8 + e->len;
        }
        return set_kv(w, kv->key, GGUF_TYPE_ARRAY, val, size);
    }
    uint64_t bits = kv->v.u;
    if (kv->type == GGUF_TYPE_F32) bits = f32_bits((float)kv->v.f);
    if (kv->type == GGUF_TYPE_F64) memcpy(&bits, &kv->v.f, 8);
    return set_scalar(w, kv->key, kv->type, bits);
}

/* Validates and appends a tensor with uninitialised data of the right size. */
static WriterTensor *add_tensor(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                                const uint64_t *dims, const void *borrow, ObErr *err) {
    char why[160];
    uint64_t bb, n_elems, n_bytes;
    size_t len = strlen(name);
    if (len > GGUF_MAX_NAME)
        return ob_errf(err, "tensor \"%.64s...\": name of %zu bytes is longer than %d", name, len,
                       GGUF_MAX_NAME),
               NULL;
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return ob_errf(err, "tensor \"%s\": duplicate tensor name", name), NULL;
    if (!type_block(type, &bb))
        return ob_errf(err, "unsupported tensor type %u for tensor \"%s\"", type, name), NULL;
    if (check_shape(type, n_dims, dims, &n_elems, &n_bytes, why, sizeof why))
        return ob_errf(err, "tensor \"%s\": %s", name, why), NULL;
    if (grow((void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t))
        return ob_errf(err, "out of memory adding tensor \"%s\"", name), NULL;
    WriterTensor t = {.name = copy_str(name), .n_dims = n_dims, .type = type, .n_bytes = n_bytes};
    t.borrowed = borrow != NULL;
    t.data = borrow ? (uint8_t *)borrow : ob_malloc(n_bytes, name, err);
    if (!t.name || !t.data) {
        free(t.name), free(t.data);
        return ob_errf(err, "out of memory adding tensor \"%s\"", name), NULL;
    }
    for (uint32_t d = 0; d < 4; d++) t.dims[d] = d < n_dims ? dims[d] : 1;
    w->t[w->n_t] = t;
    return &w->t[w->n_t++];
}

int gguf_add_tensor_f32(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const float *data, ObErr *err) {
    if (type != GGML_TYPE_F32 && type != GGML_TYPE_F16 && type != GGML_TYPE_BF16)
        return ob_errf(err, "tensor \"%s\": cannot convert f32 to type %u (only F32, F16, BF16)",
                       name, type);
    WriterTensor *t = add_tensor(w, name, type, n_dims, dims, NULL, err);
    if (!t) return -1;
    if (type == GGML_TYPE_F32) {
        if (t->n_bytes) memcpy(t->data, data, t->n_bytes);
        return 0;
    }
    uint16_t (*conv)(float) = type == GGML_TYPE_F16 ? ob_fp32_to_fp16 : ob_fp32_to_bf16;
    for (uint64_t i = 0; i < t->n_bytes / 2; i++) put_le(t->data + 2 * i, conv(data[i]), 2);
    return 0;
}

int gguf_add_tensor_raw(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const void *data, ObErr *err) {
    WriterTensor *t = add_tensor(w, name, type, n_dims, dims, NULL, err);
    if (!t) return -1;
    if (t->n_bytes) memcpy(t->data, data, t->n_bytes);
    return 0;
}

int gguf_add_tensor_ref(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, const void *data, ObErr *err) {
    static const uint8_t none[1];
    return add_tensor(w, name, type, n_dims, dims, data ? data : none, err) ? 0 : -1;
}

int gguf_add_tensor_gen(GGUFWriter *w, const char *name, uint32_t type, uint32_t n_dims,
                        const uint64_t *dims, GGUFFillFn fill, void *ctx, ObErr *err) {
    static const uint8_t none[1];
    WriterTensor *t = add_tensor(w, name, type, n_dims, dims, none, err);
    if (!t) return -1;
    t->fill = fill, t->fill_ctx = ctx;
    return 0;
}

/* An output stream that remembers its position and its first error. */
typedef struct {
    FILE *fp;
    uint64_t pos;
    int err; /* errno of the first failed write */
} Out;

static void out_bytes(Out *o, const void *p, size_t n) {
    if (o->err || !n) return;
    errno = 0;
    if (fwrite(p, 1, n, o->fp) != n) o->err = errno ? errno : EIO;
    o->pos += n;
}

static void out_le(Out *o, uint64_t v, int n) {
    uint8_t b[8];
    put_le(b, v, n);
    out_bytes(o, b, (size_t)n);
}

static void out_pad(Out *o, uint32_t align) {
    static const uint8_t zeros[256];
    uint64_t n = (align - o->pos % align) % align;
    for (uint64_t k; n; n -= k) out_bytes(o, zeros, k = n < sizeof zeros ? n : sizeof zeros);
}

static uint64_t pad_to(uint64_t n, uint32_t align) {
    return (n + align - 1) / align * align;
}

/* The alignment to lay tensors out with: general.alignment if the user set it. */
static int writer_alignment(const GGUFWriter *w, const char *path, uint32_t *align, ObErr *err) {
    *align = GGUF_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment")) continue;
        if (w->kv[i].type != GGUF_TYPE_U32)
            return ob_errf(err, "%s: general.alignment has type %s, expected u32", path,
                           type_name(w->kv[i].type));
        uint32_t a = le32(w->kv[i].val);
        if (a == 0 || (a & (a - 1)))
            return ob_errf(err, "%s: general.alignment %u is not a power of two", path, a);
        *align = a;
    }
    return 0;
}

static int write_file(Out *o, const GGUFWriter *w, uint32_t align, ObErr *err) {
    out_le(o, GGUF_MAGIC, 4);
    out_le(o, 3, 4);
    out_le(o, w->n_t, 8);
    out_le(o, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        size_t n = strlen(w->kv[i].key);
        out_le(o, n, 8), out_bytes(o, w->kv[i].key, n);
        out_le(o, w->kv[i].type, 4), out_bytes(o, w->kv[i].val, w->kv[i].size);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const WriterTensor *t = &w->t[i];
        size_t n = strlen(t->name);
        out_le(o, n, 8), out_bytes(o, t->name, n);
        out_le(o, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++) out_le(o, t->dims[d], 8);
        out_le(o, t->type, 4), out_le(o, offset, 8);
        offset += pad_to(t->n_bytes, align);
    }
    out_pad(o, align);
    /* Generated tensors share one buffer, the size of the largest. */
    uint64_t gen_max = 0;
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].fill && w->t[i].n_bytes > gen_max) gen_max = w->t[i].n_bytes;
    uint8_t *buf = gen_max ? ob_malloc(gen_max, "tensor buffer", err) : NULL;
    if (gen_max && !buf) return -1;
    int rc = 0;
    for (size_t i = 0; i < w->n_t && !rc && !o->err; i++) {
        const WriterTensor *t = &w->t[i];
        if (t->fill && (rc = t->fill(t->fill_ctx, buf, t->n_bytes, err)))
            ob_err_prefix(err, "tensor \"%s\"", t->name);
        out_bytes(o, t->fill ? buf : t->data, t->n_bytes);
        out_pad(o, align);
    }
    free(buf);
    return rc;
}

int gguf_writer_save(GGUFWriter *w, const char *path, ObErr *err) {
    uint32_t align;
    ObAtomicFile af;
    if (writer_alignment(w, path, &align, err) || ob_atomic_open(&af, path, err)) return -1;
    Out o = {.fp = af.fp};
    if (write_file(&o, w, align, err)) {
        ob_atomic_abort(&af);
        return ob_err_prefix(err, "%s", path);
    }
    if (o.err) {
        ob_atomic_abort(&af);
        return ob_errf(err, "%s: write failed: %s", path, strerror(o.err));
    }
    return ob_atomic_commit(&af, err);
}
