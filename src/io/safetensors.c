/* safetensors reader and writer (see safetensors.h for the contract). */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

static const struct {
    const char *name;
    int size;
} DTYPES[] = {
    {"F64", 8},  {"F32", 4},     {"F16", 2},     {"BF16", 2},    {"I64", 8}, {"I32", 4},
    {"I16", 2},  {"I8", 1},      {"U64", 8},     {"U32", 4},     {"U16", 2}, {"U8", 1},
    {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"F8_E8M0", 1}, {"C64", 8},
};

int st_dtype_size(const char *dtype) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (!strcmp(dtype, DTYPES[i].name)) return DTYPES[i].size;
    return 0;
}

/* A name from the file made safe for a one-line message. */
static const char *printable(char out[72], const char *s) {
    size_t n = strlen(s), k = n < 64 ? n : 64;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    strcpy(out + k, n > k ? "..." : "");
    return out;
}

static void free_contents(STFile *f) {
    for (size_t i = 0; f->tensors && i < f->n_tensors; i++) free(f->tensors[i].name);
    for (size_t i = 0; f->meta && i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->tensors);
    free(f->meta);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

/* A JSON number that is a whole number in 0..2^53 (exact in a double). */
static int json_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_meta(STFile *f, const cJSON *m, ObErr *err) {
    if (!cJSON_IsObject(m))
        return ob_errf(err, "%s: __metadata__ is not an object of strings", f->path);
    size_t n = (size_t)cJSON_GetArraySize(m);
    f->meta = ob_calloc(2 * n + 1, sizeof(char *), "metadata", err);
    if (!f->meta) return -1;
    for (const cJSON *e = m->child; e; e = e->next) {
        char pn[72];
        if (!cJSON_IsString(e))
            return ob_errf(err, "%s: __metadata__ value \"%s\" is not a string", f->path,
                           printable(pn, e->string));
        f->meta[2 * f->n_meta] = dup_str(e->string);
        f->meta[2 * f->n_meta + 1] = dup_str(e->valuestring);
        f->n_meta++;
        if (!f->meta[2 * f->n_meta - 2] || !f->meta[2 * f->n_meta - 1])
            return ob_errf(err, "%s: out of memory reading metadata", f->path);
    }
    return 0;
}

/* Fills t from one header entry and checks its size arithmetic. */
static int parse_tensor(STFile *f, const cJSON *e, STTensor *t, uint64_t data_size, ObErr *err) {
    char pn[72];
    printable(pn, e->string);
    if (!(t->name = dup_str(e->string))) return ob_errf(err, "%s: out of memory", f->path);
    if (!cJSON_IsObject(e)) return ob_errf(err, "%s: tensor \"%s\" is not an object", f->path, pn);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return ob_errf(err,
                       "%s: tensor \"%s\" needs dtype (string), shape and data_offsets (arrays)",
                       f->path, pn);
    if (strlen(dt->valuestring) >= sizeof t->dtype ||
        !(t->elem_size = st_dtype_size(dt->valuestring)))
        return ob_errf(err, "%s: tensor \"%s\": unknown dtype \"%.16s\"", f->path, pn,
                       dt->valuestring);
    strcpy(t->dtype, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS)
        return ob_errf(err, "%s: tensor \"%s\" has %d dimensions (at most %d)", f->path, pn, nd,
                       ST_MAX_DIMS);
    t->n_dims = nd;
    uint64_t n = 1;
    int d = 0;
    for (const cJSON *x = sh->child; x; x = x->next, d++) {
        if (json_u64(x, &t->shape[d]))
            return ob_errf(err, "%s: tensor \"%s\": shape entry %d is not a non-negative integer",
                           f->path, pn, d);
        if (t->shape[d] && n > UINT64_MAX / t->shape[d])
            return ob_errf(err, "%s: tensor \"%s\": element count overflows", f->path, pn);
        n *= t->shape[d];
    }
    uint64_t b, en;
    if (cJSON_GetArraySize(off) != 2 || json_u64(off->child, &b) || json_u64(off->child->next, &en))
        return ob_errf(err, "%s: tensor \"%s\": data_offsets must be two non-negative integers",
                       f->path, pn);
    if (b > en)
        return ob_errf(
            err, "%s: tensor \"%s\": data offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
            f->path, pn, b, en);
    if (en > data_size)
        return ob_errf(err,
                       "%s: truncated: tensor \"%s\": data offsets [%" PRIu64 ", %" PRIu64
                       "] run past the %" PRIu64 "-byte data buffer",
                       f->path, pn, b, en, data_size);
    if (n > UINT64_MAX / (uint64_t)t->elem_size || n * (uint64_t)t->elem_size != en - b)
        return ob_errf(err,
                       "%s: tensor \"%s\": data offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                       " bytes, but %" PRIu64 " elements of %s need %s",
                       f->path, pn, b, en, en - b, n, t->dtype,
                       n > UINT64_MAX / (uint64_t)t->elem_size ? "more" : "a different size");
    t->n_elems = n;
    t->n_bytes = en - b;
    t->begin = b;
    t->data = f->map + f->data_start + b;
    return 0;
}

static int cmp_begin(const void *a, const void *b) {
    const STTensor *x = *(const STTensor *const *)a, *y = *(const STTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->n_bytes < y->n_bytes ? -1 : x->n_bytes > y->n_bytes;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const STTensor *const *)a)->name, (*(const STTensor *const *)b)->name);
}

/* Tensors must tile [0, data_size) exactly: no overlap, no hole, no tail;
 * names must be unique. */
static int check_layout(STFile *f, uint64_t data_size, ObErr *err) {
    size_t n = f->n_tensors;
    STTensor **s = ob_calloc(n + 1, sizeof *s, "tensor list", err);
    if (!s) return -1;
    for (size_t i = 0; i < n; i++) s[i] = &f->tensors[i];
    int rc = 0;
    char pa[72], pb[72];
    qsort(s, n, sizeof *s, cmp_name);
    for (size_t i = 1; i < n && !rc; i++)
        if (!strcmp(s[i - 1]->name, s[i]->name))
            rc = ob_errf(err, "%s: duplicate tensor \"%s\"", f->path, printable(pa, s[i]->name));
    qsort(s, n, sizeof *s, cmp_begin);
    uint64_t end = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (s[i]->begin < end)
            rc = ob_errf(err, "%s: tensor \"%s\" overlaps tensor \"%s\" (offset %" PRIu64 ")",
                         f->path, printable(pa, s[i]->name), printable(pb, s[i - 1]->name),
                         s[i]->begin);
        else if (s[i]->begin > end)
            rc = ob_errf(err,
                         "%s: %" PRIu64 " unused bytes in the data buffer at offset %" PRIu64
                         " (before tensor \"%s\")",
                         f->path, s[i]->begin - end, end, printable(pa, s[i]->name));
        end = s[i]->begin + s[i]->n_bytes;
    }
    if (!rc && end != data_size)
        rc = ob_errf(err, "%s: %" PRIu64 " trailing bytes after the last tensor's data", f->path,
                     data_size - end);
    free(s);
    return rc;
}

static int parse_header(STFile *f, const char *js, size_t len, uint64_t data_size, ObErr *err) {
    if (len == 0 || js[0] != '{')
        return ob_errf(err, "%s: header does not start with '{' (not a safetensors file)", f->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(js, len, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ob_errf(err, "%s: header is not a valid JSON object", f->path);
    }
    for (const char *p = end; p && p < js + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != 0) {
            cJSON_Delete(root);
            return ob_errf(err, "%s: bytes after the header's JSON object (offset %zu)", f->path,
                           (size_t)(p - js) + 8);
        }
    int rc = 0;
    size_t n = 0;
    for (const cJSON *e = root->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
    f->tensors = ob_calloc(n + 1, sizeof *f->tensors, "tensor list", err);
    if (!f->tensors) rc = -1;
    int seen_meta = 0;
    for (const cJSON *e = root->child; e && !rc; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            rc = seen_meta++ ? ob_errf(err, "%s: duplicate __metadata__", f->path)
                             : parse_meta(f, e, err);
            continue;
        }
        rc = parse_tensor(f, e, &f->tensors[f->n_tensors++], data_size, err);
    }
    cJSON_Delete(root);
    return rc ? rc : check_layout(f, data_size, err);
}

static int parse(STFile *f, const uint8_t *p, size_t size, const char *name, bool owns,
                 ObErr *err) {
    memset(f, 0, sizeof *f);
    if (!(f->path = dup_str(name))) return ob_errf(err, "%s: out of memory", name);
    f->map = p;
    f->map_size = size;
    f->owns_map = owns;
    if (size < 8)
        return free_contents(f),
               ob_errf(err, "%s: truncated: %zu bytes, shorter than the 8-byte header length", name,
                       size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | p[i];
    if (n > ST_MAX_HEADER)
        return free_contents(f), ob_errf(err,
                                         "%s: header length %" PRIu64
                                         " is over the %u-byte limit (not a safetensors file?)",
                                         name, n, ST_MAX_HEADER);
    if (n > size - 8)
        return free_contents(f), ob_errf(err,
                                         "%s: truncated: header of %" PRIu64
                                         " bytes runs past the end of the %zu-byte file",
                                         name, n, size);
    f->data_start = 8 + n;
    if (parse_header(f, (const char *)p + 8, (size_t)n, size - f->data_start, err)) {
        const uint8_t *map = f->map;
        free_contents(f);
        f->map = map; /* the caller unmaps */
        return -1;
    }
    return 0;
}

int st_open_buffer(STFile *f, const void *buf, size_t size, const char *name, ObErr *err) {
    return parse(f, buf, size, name, false, err);
}

int st_open(STFile *f, const char *path, ObErr *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ob_errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ob_errf(err, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && map == MAP_FAILED) return ob_errf(err, "%s: cannot map: %s", path, strerror(errno));
    static const uint8_t empty[1];
    if (parse(f, size ? map : empty, size, path, size != 0, err)) {
        if (size) munmap(map, size);
        memset(f, 0, sizeof *f);
        return -1;
    }
    return 0;
}

void st_close(STFile *f) {
    if (!f) return;
    if (f->owns_map && f->map) munmap((void *)f->map, f->map_size);
    free_contents(f);
}

const STTensor *st_find(const STFile *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const STFile *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}

/* ---- Writer ---- */

uint64_t st_tensor_bytes(const STWriteTensor *t) {
    uint64_t n = (uint64_t)st_dtype_size(t->dtype);
    for (int d = 0; d < t->n_dims; d++) n *= t->shape[d];
    return n;
}

static cJSON *header_json(const STWriteTensor *t, size_t n, const char *const *meta, size_t n_meta,
                          const char *path, ObErr *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return ob_errf(err, "%s: out of memory", path), NULL;
    if (n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; m && i < n_meta; i++)
            cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!st_dtype_size(t[i].dtype) || t[i].n_dims < 0 || t[i].n_dims > ST_MAX_DIMS) {
            cJSON_Delete(root);
            return ob_errf(err, "%s: tensor \"%s\": bad dtype or shape", path, t[i].name), NULL;
        }
        if (cJSON_GetObjectItemCaseSensitive(root, t[i].name)) {
            cJSON_Delete(root);
            return ob_errf(err, "%s: duplicate tensor \"%s\"", path, t[i].name), NULL;
        }
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        cJSON_AddStringToObject(e, "dtype", t[i].dtype);
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t[i].n_dims; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
        uint64_t nb = st_tensor_bytes(&t[i]);
        cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
    }
    return root;
}

int st_write(const char *path, const STWriteTensor *t, size_t n, const char *const *meta,
             size_t n_meta, ObErr *err) {
    cJSON *root = header_json(t, n, meta, n_meta, path, err);
    if (!root) return -1;
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!js) return ob_errf(err, "%s: out of memory", path);
    size_t len = strlen(js), padded = (len + 7) / 8 * 8; /* data starts 8-aligned */
    ObAtomicFile af;
    if (ob_atomic_open(&af, path, err)) return free(js), -1;
    uint8_t hl[8];
    for (int i = 0; i < 8; i++) hl[i] = (uint8_t)((uint64_t)padded >> 8 * i);
    int bad = fwrite(hl, 1, 8, af.fp) != 8 || fwrite(js, 1, len, af.fp) != len;
    for (size_t i = len; i < padded && !bad; i++) bad = fputc(' ', af.fp) == EOF;
    free(js);
    int rc = 0;
    for (size_t i = 0; i < n && !bad && !rc; i++) {
        uint64_t nb = st_tensor_bytes(&t[i]);
        if (t[i].data) {
            bad = nb && fwrite(t[i].data, 1, nb, af.fp) != nb;
            continue;
        }
        void *buf = ob_malloc(nb, t[i].name, err);
        rc = !buf || t[i].fill(t[i].ctx, &t[i], buf, err) ? -1 : 0;
        if (!rc) bad = nb && fwrite(buf, 1, nb, af.fp) != nb;
        free(buf);
    }
    if (rc) {
        ob_atomic_abort(&af);
        return ob_err_prefix(err, "%s", path);
    }
    if (bad) {
        int e = errno;
        ob_atomic_abort(&af);
        return ob_errf(err, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    return ob_atomic_commit(&af, err);
}
