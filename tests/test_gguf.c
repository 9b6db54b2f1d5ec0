/* Tests for io/gguf: a round trip through the writer and reader, exhaustive
 * fp16/bf16 conversions, and hostile files (every truncation, crafted headers,
 * random byte flips) that must give one-line errors, never crashes. */
#include "io/gguf.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "model/checkpoint.h"
#include "tmpdir.h"
#include "util/fileio.h"

/* The error contract: one non-empty line that starts with "name:". */
static int good_msg(const ObErr *e, const char *name) {
    size_t n = strlen(name);
    return e->msg[0] && !strchr(e->msg, '\n') && !strncmp(e->msg, name, n) && e->msg[n] == ':';
}

static int count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static int dir_has_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));) found |= strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return found;
}

/* ---- The reference file of test 1 ---- */

static const float F32_SRC[15] = {0.0f,  -0.0f, 1.0f,  -2.5f, 3.14159265f, 1e-40f,  1e30f, -1e-3f,
                                  65504, 65520, 1e-8f, 0.1f,  -123.4f,     7.0e-5f, 2.0f};
static const char *const STRS[4] = {"a", "", "hello world", "\xc4\xa0x"};
static const float F32S[3] = {1.5f, -2.0f, 1e-5f};
static const int32_t I32S[4] = {1, -1, 2147483647, -2147483647 - 1};
static const uint64_t U64_VAL = (1ull << 40) + 3;

/* Q8_0 {64, 8}: 16 blocks with scales (b+1)/16 and quants that cover -127..127.
 * 16 * 34 = 544 bytes, a multiple of 32, so the file ends exactly at the data. */
static void make_q8(uint8_t *q) {
    for (int b = 0; b < 16; b++) {
        uint16_t d = ob_fp32_to_fp16((float)(b + 1) / 16);
        q[34 * b] = (uint8_t)d, q[34 * b + 1] = (uint8_t)(d >> 8);
        for (int j = 0; j < 32; j++)
            q[34 * b + 2 + j] = (uint8_t)(int8_t)((j * 7 + b * 13) % 255 - 127);
    }
}

static int write_reference(const char *path) {
    ObErr e = {{0}};
    GGUFWriter *w = gguf_writer_new(&e);
    uint8_t q8[544];
    make_q8(q8);
    int rc = !w || gguf_set_str(w, "general.architecture", "llama") ||
             gguf_set_u32(w, "test.u32", 7) || gguf_set_i32(w, "test.i32", -5) ||
             gguf_set_u64(w, "test.u64", U64_VAL) || gguf_set_f32(w, "test.f32", 0.125f) ||
             gguf_set_bool(w, "test.bool", true) || gguf_set_arr_str(w, "test.strs", STRS, 4) ||
             gguf_set_arr_f32(w, "test.f32s", F32S, 3) || gguf_set_arr_i32(w, "test.i32s", I32S, 4);
    const uint64_t d35[2] = {3, 5}, d53[2] = {5, 3}, dq[2] = {64, 8};
    rc = rc || gguf_add_tensor_f32(w, "w.f32", GGML_TYPE_F32, 2, d35, F32_SRC, &e) ||
         gguf_add_tensor_f32(w, "w.f16", GGML_TYPE_F16, 2, d35, F32_SRC, &e) ||
         gguf_add_tensor_f32(w, "w.bf16", GGML_TYPE_BF16, 2, d53, F32_SRC, &e) ||
         gguf_add_tensor_raw(w, "w.q8", GGML_TYPE_Q8_0, 2, dq, q8, &e) ||
         gguf_writer_save(w, path, &e);
    if (rc) fprintf(stderr, "  writing %s: %s\n", path, e.msg);
    gguf_writer_free(w);
    return rc ? -1 : 0;
}

static uint8_t *reference_bytes(size_t *n) {
    char *data;
    ObErr e;
    const char *path = tmp("ref.gguf");
    if (write_reference(path) || ob_read_file(path, &data, n, &e)) return NULL;
    return (uint8_t *)data;
}

static void check_kvs(const GGUFFile *f) {
    ObErr e = {{0}};
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    float fl = 0;
    bool b = false;
    char *s = gguf_get_str(f, "general.architecture", &e);
    CHECK(s && !strcmp(s, "llama"), "arch %s", s ? s : e.msg);
    free(s);
    CHECK(!gguf_get_u32(f, "test.u32", &u32, &e) && u32 == 7, "u32 %u", u32);
    CHECK(!gguf_get_u64(f, "test.u64", &u64, &e) && u64 == U64_VAL, "u64");
    CHECK(!gguf_get_f32(f, "test.f32", &fl, &e) && fl == 0.125f, "f32 %g", fl);
    CHECK(!gguf_get_bool(f, "test.bool", &b, &e) && b, "bool");
    const GGUFKV *kv = gguf_find_kv(f, "test.i32");
    CHECK(kv && kv->type == GGUF_TYPE_I32 && kv->v.i == -5, "i32");
    CHECK(gguf_get_u32(f, "test.i32", &u32, &e) == -1 && good_msg(&e, f->path) &&
              strstr(e.msg, "-5"),
          "negative to u32: %s", e.msg);
    CHECK(gguf_get_u32(f, "test.u64", &u32, &e) == -1 && strstr(e.msg, "more than"), "%s", e.msg);
    CHECK(gguf_get_u32(f, "nope", &u32, &e) == -1 && good_msg(&e, f->path) &&
              strstr(e.msg, "missing"),
          "%s", e.msg);
    CHECK(!gguf_get_str(f, "test.u32", &e) && strstr(e.msg, "has type u32"), "%s", e.msg);
    kv = gguf_find_kv(f, "test.strs");
    CHECK(kv && kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_STRING && kv->arr_n == 4,
          "strs");
    for (int i = 0; kv && kv->arr_str && i < 4; i++)
        CHECK(kv->arr_str[i].len == strlen(STRS[i]) &&
                  !memcmp(kv->arr_str[i].ptr, STRS[i], strlen(STRS[i])),
              "str %d", i);
    kv = gguf_find_kv(f, "test.f32s");
    CHECK(kv && kv->arr_type == GGUF_TYPE_F32 && kv->arr_n == 3 && !memcmp(kv->arr, F32S, 12),
          "f32s");
    kv = gguf_find_kv(f, "test.i32s");
    CHECK(kv && kv->arr_type == GGUF_TYPE_I32 && kv->arr_n == 4 && !memcmp(kv->arr, I32S, 16),
          "i32s");
    CHECK(f->n_kv == 9 && !strcmp(f->kv[0].key, "general.architecture"), "kv order");
}

/* Expected bytes of src converted to 16 bits by conv, little-endian. */
static void expect16(uint8_t *out, uint16_t (*conv)(float), int n) {
    for (int i = 0; i < n; i++) {
        uint16_t h = conv(F32_SRC[i]);
        out[2 * i] = (uint8_t)h, out[2 * i + 1] = (uint8_t)(h >> 8);
    }
}

static void check_tensors(const GGUFFile *f) {
    ObErr e = {{0}};
    float out[512];
    uint8_t want[30], q8[544];
    const GGUFTensor *t = gguf_find_tensor(f, "w.f32");
    CHECK(t && t->type == GGML_TYPE_F32 && t->n_dims == 2 && t->dims[0] == 3 && t->dims[1] == 5 &&
              t->dims[2] == 1 && t->n_elems == 15 && t->n_bytes == 60,
          "f32 info");
    CHECK(t && !memcmp(t->data, F32_SRC, 60), "f32 bits");
    CHECK(t && !gguf_tensor_to_f32(f, t, out, &e) && !memcmp(out, F32_SRC, 60), "f32 conv");
    t = gguf_find_tensor(f, "w.f16");
    expect16(want, ob_fp32_to_fp16, 15);
    CHECK(t && t->type == GGML_TYPE_F16 && t->n_bytes == 30 && !memcmp(t->data, want, 30), "f16");
    CHECK(t && !gguf_tensor_to_f32(f, t, out, &e), "f16 conv");
    for (int i = 0; t && i < 15; i++)
        CHECK(out[i] == ob_fp16_to_fp32(ob_fp32_to_fp16(F32_SRC[i])), "f16 %d", i);
    t = gguf_find_tensor(f, "w.bf16");
    expect16(want, ob_fp32_to_bf16, 15);
    CHECK(t && t->dims[0] == 5 && t->dims[1] == 3 && !memcmp(t->data, want, 30), "bf16");
    CHECK(t && !gguf_tensor_to_f32(f, t, out, &e), "bf16 conv");
    for (int i = 0; t && i < 15; i++)
        CHECK(out[i] == ob_bf16_to_fp32(ob_fp32_to_bf16(F32_SRC[i])), "bf16 %d", i);
    t = gguf_find_tensor(f, "w.q8");
    make_q8(q8);
    CHECK(t && t->type == GGML_TYPE_Q8_0 && t->n_elems == 512 && t->n_bytes == 544 &&
              !memcmp(t->data, q8, 544),
          "q8 info");
    CHECK(t && !gguf_tensor_to_f32(f, t, out, &e), "q8 conv");
    for (int i = 0; t && i < 512; i++) {
        float d = (float)(i / 32 + 1) / 16, q = (float)(int8_t)q8[34 * (i / 32) + 2 + i % 32];
        CHECK(out[i] == d * q, "q8 %d: %g != %g", i, out[i], d * q);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++)
        CHECK(f->tensors[i].offset % 32 == 0, "offset %llu", (unsigned long long)i);
    CHECK(f->data_offset % 32 == 0 && f->alignment == 32 && f->version == 3, "layout");
}

/* Copies every kv of f into w through the typed setters. */
static int copy_kvs(const GGUFFile *f, GGUFWriter *w) {
    int rc = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const GGUFKV *kv = &f->kv[i];
        char s[64], *strs[8];
        float fs[8];
        int32_t is[8];
        switch (kv->type) {
        case GGUF_TYPE_U32: rc |= gguf_set_u32(w, kv->key, (uint32_t)kv->v.u); break;
        case GGUF_TYPE_I32: rc |= gguf_set_i32(w, kv->key, (int32_t)kv->v.i); break;
        case GGUF_TYPE_U64: rc |= gguf_set_u64(w, kv->key, kv->v.u); break;
        case GGUF_TYPE_F32: rc |= gguf_set_f32(w, kv->key, (float)kv->v.f); break;
        case GGUF_TYPE_BOOL: rc |= gguf_set_bool(w, kv->key, kv->v.u); break;
        case GGUF_TYPE_STRING:
            snprintf(s, sizeof s, "%.*s", (int)kv->v.s.len, kv->v.s.ptr);
            rc |= gguf_set_str(w, kv->key, s);
            break;
        case GGUF_TYPE_ARRAY:
            if (kv->arr_type == GGUF_TYPE_STRING) {
                for (uint64_t j = 0; j < kv->arr_n; j++)
                    strs[j] = strndup(kv->arr_str[j].ptr, kv->arr_str[j].len);
                rc |= gguf_set_arr_str(w, kv->key, (const char *const *)strs, kv->arr_n);
                for (uint64_t j = 0; j < kv->arr_n; j++) free(strs[j]);
            } else if (kv->arr_type == GGUF_TYPE_F32) {
                memcpy(fs, kv->arr, 4 * kv->arr_n);
                rc |= gguf_set_arr_f32(w, kv->key, fs, kv->arr_n);
            } else {
                memcpy(is, kv->arr, 4 * kv->arr_n);
                rc |= gguf_set_arr_i32(w, kv->key, is, kv->arr_n);
            }
            break;
        default: rc = -1;
        }
    }
    return rc;
}

static void test_round_trip(void) {
    ObErr e = {{0}};
    GGUFFile f;
    const char *path = tmp("ref.gguf"), *path2 = tmp("rewritten.gguf");
    CHECK(!write_reference(path), "write");
    if (gguf_open(&f, path, &e)) {
        CHECK(0, "open: %s", e.msg);
        return;
    }
    check_kvs(&f);
    check_tensors(&f);
    CHECK(f.map_size == f.data_offset + f.tensors[3].offset + 544, "file ends at the q8 data");

    GGUFWriter *w = gguf_writer_new(&e);
    int rc = copy_kvs(&f, w);
    for (uint64_t i = 0; !rc && i < f.n_tensors; i++) {
        const GGUFTensor *t = &f.tensors[i];
        rc = gguf_add_tensor_raw(w, t->name, t->type, t->n_dims, t->dims, t->data, &e);
    }
    CHECK(!rc && !gguf_writer_save(w, path2, &e), "rewrite: %s", e.msg);
    gguf_writer_free(w);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(!ob_read_file(path, &a, &na, &e) && !ob_read_file(path2, &b, &nb, &e), "read");
    CHECK(a && b && na == nb && !memcmp(a, b, na), "rewritten file differs (%zu vs %zu bytes)", na,
          nb);
    free(a), free(b);
    gguf_close(&f);
    gguf_close(&f); /* closing twice is harmless */
    remove(path2);
}

/* ---- Conversions ---- */

static float bits(uint32_t b) {
    float x;
    memcpy(&x, &b, 4);
    return x;
}

/* Every fp16 value: exact decoding, round trip, and rounding at each midpoint. */
static void test_fp16_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float x = ob_fp16_to_fp32((uint16_t)h);
        int e = (h >> 10) & 31, m = h & 1023;
        double want = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
        if (h & 0x8000) want = -want;
        if (e == 31) {
            bad += m ? !isnan(x) || !isnan(ob_fp16_to_fp32(ob_fp32_to_fp16(x)))
                     : !isinf(x) || ob_fp32_to_fp16(x) != h;
            continue;
        }
        bad += (double)x != want || ob_fp32_to_fp16(x) != h;
        if ((h & 0x7fff) >= 0x7bff) continue;
        float up = ob_fp16_to_fp32((uint16_t)(h + 1)), mid = (float)(((double)x + up) / 2);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        bad += ob_fp32_to_fp16(mid) != even;
        bad += ob_fp32_to_fp16(nextafterf(mid, up)) != h + 1;
        bad += ob_fp32_to_fp16(nextafterf(mid, x)) != h;
    }
    CHECK(bad == 0, "%d fp16 mismatches", bad);
}

static void test_bf16_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float x = ob_bf16_to_fp32((uint16_t)h);
        if (isnan(x)) {
            bad += !isnan(ob_bf16_to_fp32(ob_fp32_to_bf16(x)));
            continue;
        }
        bad += ob_fp32_to_bf16(x) != h;
        if ((h & 0x7fff) >= 0x7f7f) continue; /* the next value up is inf or NaN */
        uint16_t next = (uint16_t)(h + 1);
        float up = ob_bf16_to_fp32(next), mid = (float)(((double)x + up) / 2);
        bad += ob_fp32_to_bf16(mid) != ((h & 1) ? next : h);
        bad += ob_fp32_to_bf16(nextafterf(mid, up)) != next;
        bad += ob_fp32_to_bf16(nextafterf(mid, x)) != h;
    }
    CHECK(bad == 0, "%d bf16 mismatches", bad);
}

static void test_conversion_cases(void) {
    CHECK(ob_fp32_to_fp16(1.0f + 0x1p-11f) == 0x3c00, "1+2^-11 ties to even");
    CHECK(ob_fp32_to_fp16(1.0f + 3 * 0x1p-11f) == 0x3c02, "1+3*2^-11 ties to even");
    CHECK(ob_fp32_to_fp16(65520.0f) == 0x7c00, "65520 -> inf");
    CHECK(ob_fp32_to_fp16(65519.0f) == 0x7bff, "65519 -> 65504");
    CHECK(ob_fp32_to_fp16(-1e10f) == 0xfc00, "-big -> -inf");
    CHECK(ob_fp32_to_fp16(INFINITY) == 0x7c00 && ob_fp32_to_fp16(-0.0f) == 0x8000, "inf, -0");
    CHECK(ob_fp32_to_fp16(0x1p-24f) == 1 && ob_fp32_to_fp16(0x1p-25f) == 0, "subnormal ends");
    CHECK(ob_fp32_to_fp16(3 * 0x1p-25f) == 2 && ob_fp32_to_fp16(1e-40f) == 0, "subnormal ties");
    CHECK(ob_fp32_to_fp16(0x1.000002p-25f) == 1, "just above half the smallest");
    CHECK(ob_fp32_to_bf16(1.00390625f) == 0x3f80, "bf16 1+2^-8 ties to even");
    CHECK(ob_fp32_to_bf16(1.01171875f) == 0x3f82, "bf16 1+3*2^-8 ties to even");
    CHECK(ob_fp32_to_bf16(bits(0x7f7fffff)) == 0x7f80, "bf16 max float -> inf");
    /* NaNs whose payload lives only in the low bits must stay NaN, not become inf */
    CHECK(isnan(ob_fp16_to_fp32(ob_fp32_to_fp16(bits(0x7f800001)))), "fp16 sNaN");
    CHECK(isnan(ob_bf16_to_fp32(ob_fp32_to_bf16(bits(0xff800001)))), "bf16 sNaN");
    CHECK(ob_fp32_to_bf16(bits(0xff800001)) >> 15 == 1, "bf16 NaN keeps its sign");
    CHECK(isnan(ob_fp16_to_fp32(ob_fp32_to_fp16(NAN))), "fp16 NaN");
}

/* ---- Hostile files ---- */

static int open_copy(GGUFFile *f, const uint8_t *data, size_t n, ObErr *e, uint8_t **buf) {
    *buf = malloc(n ? n : 1); /* exactly n bytes so ASan sees any overread */
    if (n) memcpy(*buf, data, n);
    return gguf_open_buffer(f, *buf, n, "bad.gguf", e);
}

static void test_every_truncation(void) {
    size_t n;
    uint8_t *ref = reference_bytes(&n);
    CHECK(ref != NULL, "reference");
    int fails = 0;
    for (size_t len = 0; ref && len < n; len++) {
        GGUFFile f;
        ObErr e = {{0}};
        uint8_t *buf;
        int rc = open_copy(&f, ref, len, &e, &buf);
        if (rc != -1 || !good_msg(&e, "bad.gguf")) {
            if (fails++ < 5) CHECK(0, "length %zu: rc %d, msg '%s'", len, rc, e.msg);
        }
        CHECK(f.kv == NULL && f.tensors == NULL && f.path == NULL, "failed open left state");
        gguf_close(&f);
        free(buf);
    }
    CHECK(fails == 0, "%d truncations not refused", fails);
    /* a truncated file on disk names its path */
    const char *path = tmp("trunc.gguf");
    FILE *fp = fopen(path, "wb");
    if (fp && ref) fwrite(ref, 1, n / 2, fp), fclose(fp);
    GGUFFile f;
    ObErr e = {{0}};
    CHECK(gguf_open(&f, path, &e) == -1 && good_msg(&e, path) && strstr(e.msg, "truncated"), "%s",
          e.msg);
    remove(path);
    free(ref);
}

/* A little-endian byte builder for crafted files. */
typedef struct {
    uint8_t b[2048];
    size_t n;
} Buf;

static void b_le(Buf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b->b[b->n++] = (uint8_t)(v >> 8 * i);
}

static void b_str(Buf *b, const char *s) {
    b_le(b, strlen(s), 8);
    memcpy(b->b + b->n, s, strlen(s));
    b->n += strlen(s);
}

static void b_header(Buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b->n = 0;
    b_le(b, 0x46554747, 4), b_le(b, version, 4), b_le(b, n_tensors, 8), b_le(b, n_kv, 8);
}

static void b_tensor(Buf *b, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type,
                     uint64_t offset) {
    b_str(b, name);
    b_le(b, n_dims, 4);
    for (uint32_t d = 0; d < n_dims; d++) b_le(b, dims[d], 8);
    b_le(b, type, 4), b_le(b, offset, 8);
}

/* Pads to 32 and appends n zero bytes of tensor data. */
static void b_data(Buf *b, size_t n) {
    while (b->n % 32) b->b[b->n++] = 0;
    memset(b->b + b->n, 0, n);
    b->n += n;
}

static void expect_fail_at(const Buf *b, const char *want, int line) {
    GGUFFile f;
    ObErr e = {{0}};
    uint8_t *buf;
    int rc = open_copy(&f, b->b, b->n, &e, &buf);
    if (rc != -1 || !good_msg(&e, "bad.gguf") || !strstr(e.msg, want)) {
        check_failures_in_test++;
        fprintf(stderr, "  FAIL line %d: want error with '%s', got rc %d '%s'\n", line, want, rc,
                e.msg);
    } else if (getenv("GGUF_TEST_VERBOSE")) {
        fprintf(stderr, "  %s\n", e.msg);
    }
    gguf_close(&f);
    free(buf);
}
#define expect_fail(b, want) expect_fail_at(b, want, __LINE__)

static int open_ok(const Buf *b, GGUFFile *f, uint8_t **buf) {
    ObErr e = {{0}};
    int rc = open_copy(f, b->b, b->n, &e, buf);
    CHECK(rc == 0, "%s", e.msg);
    return rc;
}

static void test_bad_headers(void) {
    size_t n;
    uint8_t *ref = reference_bytes(&n);
    Buf b;
    CHECK(ref && n <= sizeof b.b, "reference of %zu bytes", n);
    if (!ref || n > sizeof b.b) {
        free(ref);
        return;
    }
    memcpy(b.b, ref, n), b.n = n, b.b[0] = 'X';
    expect_fail(&b, "bad magic 0x46554758");
    memcpy(b.b, ref, n), b.b[4] = 1;
    expect_fail(&b, "version 1 is not supported");
    memcpy(b.b, ref, n), b.b[4] = 4;
    expect_fail(&b, "unsupported GGUF version 4");
    memcpy(b.b, ref, n), b.b[4] = 0, b.b[7] = 3;
    expect_fail(&b, "big-endian");
    memcpy(b.b, ref, n), b.b[4] = 2; /* v2 has the same layout */
    GGUFFile f;
    uint8_t *buf;
    if (!open_ok(&b, &f, &buf)) CHECK(f.version == 2 && f.n_tensors == 4, "v2");
    gguf_close(&f), free(buf);
    b_header(&b, 3, 1000000000000ull, 0), b.n = n;
    expect_fail(&b, "header claims 1000000000000 tensors");
    b_header(&b, 3, 0, 1000000000000ull), b.n = n;
    expect_fail(&b, "header claims 1000000000000 metadata pairs");
    b_header(&b, 3, 10, 20), b.n = 24 + 10 * 32 + 20 * 13 - 1;
    expect_fail(&b, "metadata pairs and 10 tensors");
    free(ref);
}

static void test_bad_kvs(void) {
    Buf b;
    b_header(&b, 3, 0, 2), b_str(&b, "k"), b_le(&b, GGUF_TYPE_U8, 4), b_le(&b, 1, 1);
    b_str(&b, "k"), b_le(&b, GGUF_TYPE_U8, 4), b_le(&b, 2, 1);
    expect_fail(&b, "duplicate key \"k\"");
    b_header(&b, 3, 0, 1), b_str(&b, "flag"), b_le(&b, GGUF_TYPE_BOOL, 4), b_le(&b, 2, 1);
    expect_fail(&b, "bool value 2");
    b_header(&b, 3, 0, 1), b_str(&b, "flags"), b_le(&b, GGUF_TYPE_ARRAY, 4);
    b_le(&b, GGUF_TYPE_BOOL, 4), b_le(&b, 2, 8), b_le(&b, 1, 1), b_le(&b, 7, 1);
    expect_fail(&b, "bool element 1 is 7");
    b_header(&b, 3, 0, 1), b_str(&b, "nest"), b_le(&b, GGUF_TYPE_ARRAY, 4);
    b_le(&b, GGUF_TYPE_ARRAY, 4), b_le(&b, 1, 8), b_le(&b, 0, 8);
    expect_fail(&b, "nested arrays");
    b_header(&b, 3, 0, 1), b_str(&b, "t"), b_le(&b, 13, 4), b_le(&b, 0, 8);
    expect_fail(&b, "unknown value type 13");
    b_header(&b, 3, 0, 1), b_le(&b, 1ull << 63, 8), b_le(&b, 0, 8);
    expect_fail(&b, "truncated: kv 0");
    b_header(&b, 3, 0, 1), b_str(&b, "a"), b_le(&b, GGUF_TYPE_ARRAY, 4);
    b_le(&b, GGUF_TYPE_U32, 4), b_le(&b, 1ull << 62, 8);
    expect_fail(&b, "4611686018427387904 elements");
    b_header(&b, 3, 0, 1), b_str(&b, "a"), b_le(&b, GGUF_TYPE_ARRAY, 4);
    b_le(&b, GGUF_TYPE_STRING, 4), b_le(&b, 1ull << 40, 8);
    expect_fail(&b, "truncated");
    b_header(&b, 3, 0, 1), b_le(&b, 3, 8), memcpy(b.b + b.n, "a\0b", 3), b.n += 3;
    b_le(&b, GGUF_TYPE_U8, 4), b_le(&b, 0, 1);
    expect_fail(&b, "NUL");
    b_header(&b, 3, 0, 1), b_str(&b, "general.alignment"), b_le(&b, GGUF_TYPE_U32, 4);
    b_le(&b, 48, 4);
    expect_fail(&b, "general.alignment 48 is not a power of two");
    b_header(&b, 3, 0, 1), b_str(&b, "general.alignment"), b_le(&b, GGUF_TYPE_U64, 4);
    b_le(&b, 64, 8);
    expect_fail(&b, "general.alignment has type u64");
    b_header(&b, 3, 0, 1), b_str(&b, "bad\nkey"), b_le(&b, GGUF_TYPE_U32, 4);
    expect_fail(&b, "kv 0 (\"bad?key\")"); /* truncated value; the key is made printable */
    GGUFFile f;
    uint8_t *buf;
    b_header(&b, 3, 0, 0);
    if (!open_ok(&b, &f, &buf)) CHECK(f.n_kv == 0 && f.n_tensors == 0, "empty file");
    gguf_close(&f), free(buf);
}

static void test_bad_tensors(void) {
    Buf b;
    const uint64_t big[2] = {1ull << 40, 1ull << 40}, d60[1] = {1ull << 60}, d62[1] = {1ull << 62},
                   d100[1] = {100}, d8[1] = {8}, d33[1] = {33}, d5[5] = {1, 1, 1, 1, 1},
                   neg[1] = {1ull << 63}, zero[2] = {0, 5};
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 2, big, GGML_TYPE_F32, 0), b_data(&b, 32);
    expect_fail(&b, "element count overflows");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, d60, GGML_TYPE_F32, 0), b_data(&b, 32);
    expect_fail(&b, "run past the end of the file");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, d62, GGML_TYPE_F32, 0), b_data(&b, 32);
    expect_fail(&b, "overflows");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, neg, GGML_TYPE_F32, 0), b_data(&b, 32);
    expect_fail(&b, "negative");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, d8, GGML_TYPE_F32, 4), b_data(&b, 64);
    expect_fail(&b, "offset 4 is not a multiple of the alignment 32");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, d100, GGML_TYPE_F32, 0), b_data(&b, 32);
    expect_fail(&b, "truncated: tensor \"t\": 400 bytes");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, d8, GGML_TYPE_F32, 32), b_data(&b, 32);
    expect_fail(&b, "run past the end");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 5, d5, GGML_TYPE_F32, 0), b_data(&b, 32);
    expect_fail(&b, "n_dims 5 is not in 1..4");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 0, d5, GGML_TYPE_F32, 0), b_data(&b, 32);
    expect_fail(&b, "n_dims 0");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, d8, 99, 0), b_data(&b, 32);
    expect_fail(&b, "unsupported tensor type 99 for tensor \"t\"");
    b_header(&b, 3, 1, 0), b_tensor(&b, "t", 1, d33, GGML_TYPE_Q8_0, 0), b_data(&b, 64);
    expect_fail(&b, "not a multiple of the block size 32");
    b_header(&b, 3, 2, 0), b_tensor(&b, "t", 1, d8, 0, 0), b_tensor(&b, "t", 1, d8, 0, 32);
    b_data(&b, 64);
    expect_fail(&b, "duplicate tensor name \"t\"");
    char name[65];
    memset(name, 'n', 64), name[64] = 0;
    b_header(&b, 3, 1, 0), b_tensor(&b, name, 1, d8, 0, 0), b_data(&b, 32);
    expect_fail(&b, "tensor name of 64 bytes is longer than 63");
    GGUFFile f;
    uint8_t *buf;
    name[63] = 0;
    b_header(&b, 3, 1, 0), b_tensor(&b, name, 1, d8, 0, 0), b_data(&b, 32);
    if (!open_ok(&b, &f, &buf)) CHECK(f.tensors[0].data == buf + f.data_offset, "63-byte name");
    gguf_close(&f), free(buf);
    b_header(&b, 3, 1, 0), b_tensor(&b, "z", 2, zero, 0, 0), b_data(&b, 0);
    if (!open_ok(&b, &f, &buf)) CHECK(f.tensors[0].n_elems == 0, "zero dim");
    gguf_close(&f), free(buf);
    /* an alignment of 64 moves the data section */
    b_header(&b, 3, 1, 1), b_str(&b, "general.alignment"), b_le(&b, GGUF_TYPE_U32, 4);
    b_le(&b, 64, 4), b_tensor(&b, "t", 1, d8, 0, 0);
    while (b.n % 64) b.b[b.n++] = 0;
    b_data(&b, 32);
    if (!open_ok(&b, &f, &buf)) CHECK(f.alignment == 64 && f.data_offset == 128, "align 64");
    gguf_close(&f), free(buf);
    b.n -= 33; /* the data section now starts past the end */
    expect_fail(&b, "truncated: padding before the tensor data");
}

static void test_open_errors(void) {
    GGUFFile f;
    ObErr e = {{0}};
    const char *missing = tmp("missing.gguf"), *empty = tmp("empty.gguf");
    CHECK(gguf_open(&f, missing, &e) == -1 && good_msg(&e, missing), "%s", e.msg);
    CHECK(gguf_open(&f, tmpdir, &e) == -1 && good_msg(&e, tmpdir) &&
              strstr(e.msg, "not a regular file"),
          "%s", e.msg);
    FILE *fp = fopen(empty, "wb");
    if (fp) fclose(fp);
    CHECK(gguf_open(&f, empty, &e) == -1 && good_msg(&e, empty) && strstr(e.msg, "empty"), "%s",
          e.msg);
    CHECK(f.path == NULL && f.kv == NULL, "state after failure");
    gguf_close(&f);
    remove(empty);
}

/* Cheap, deterministic xorshift64. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static volatile uint64_t sink; /* keeps exercise()'s reads from being optimised out */

/* Touches everything a successful open exposes, so ASan checks the pointers. */
static void exercise(const GGUFFile *f) {
    ObErr e;
    uint64_t u;
    float x;
    bool b;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const GGUFKV *kv = &f->kv[i];
        free(gguf_get_str(f, kv->key, &e));
        gguf_get_u64(f, kv->key, &u, &e), gguf_get_f32(f, kv->key, &x, &e);
        gguf_get_bool(f, kv->key, &b, &e);
        for (uint64_t j = 0; kv->arr_str && j < kv->arr_n; j++)
            for (uint64_t k = 0; k < kv->arr_str[j].len; k++)
                sink += (uint8_t)kv->arr_str[j].ptr[k];
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        float *out = malloc(t->n_elems * sizeof *out + 1);
        if (out && !gguf_tensor_to_f32(f, t, out, &e))
            for (uint64_t j = 0; j < t->n_elems; j++) sink += out[j] == out[j];
        free(out);
    }
}

static void test_random_flips(void) {
    size_t n;
    uint8_t *ref = reference_bytes(&n);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int ok = 0, bad_msgs = 0;
    CHECK(ref != NULL, "reference");
    for (int it = 0; ref && it < 2000; it++) {
        uint8_t *buf = malloc(n);
        memcpy(buf, ref, n);
        int flips = 1 + (int)(rng_next(&seed) % 4);
        for (int k = 0; k < flips; k++)
            buf[rng_next(&seed) % n] ^= (uint8_t)(1 + rng_next(&seed) % 255);
        GGUFFile f;
        ObErr e = {{0}};
        int rc = gguf_open_buffer(&f, buf, n, "flip.gguf", &e);
        if (rc == 0)
            ok++, exercise(&f);
        else
            bad_msgs += !good_msg(&e, "flip.gguf");
        CHECK(rc == 0 || rc == -1, "rc %d", rc);
        gguf_close(&f);
        free(buf);
    }
    CHECK(bad_msgs == 0, "%d bad messages", bad_msgs);
    CHECK(ok > 0 && ok < 2000, "%d of 2000 flipped files opened", ok);
    free(ref);
}

/* ---- Writer ---- */

static void test_writer_errors(void) {
    ObErr e = {{0}};
    GGUFWriter *w = gguf_writer_new(&e);
    const uint64_t d4[1] = {4}, d33[1] = {33};
    const float x[4] = {1, 2, 3, 4};
    uint8_t raw[64] = {0};
    CHECK(!gguf_add_tensor_f32(w, "a", GGML_TYPE_F32, 1, d4, x, &e), "%s", e.msg);
    CHECK(gguf_add_tensor_f32(w, "a", GGML_TYPE_F16, 1, d4, x, &e) == -1 &&
              strstr(e.msg, "duplicate"),
          "%s", e.msg);
    CHECK(gguf_add_tensor_f32(w, "q", GGML_TYPE_Q8_0, 1, d4, x, &e) == -1 &&
              strstr(e.msg, "cannot convert"),
          "%s", e.msg);
    CHECK(gguf_add_tensor_raw(w, "q", GGML_TYPE_Q8_0, 1, d33, raw, &e) == -1 &&
              strstr(e.msg, "multiple of the block size"),
          "%s", e.msg);
    CHECK(gguf_add_tensor_raw(w, "q", 3, 1, d4, raw, &e) == -1 &&
              strstr(e.msg, "unsupported tensor type 3"),
          "%s", e.msg);
    CHECK(gguf_add_tensor_raw(w, "q", GGML_TYPE_F32, 5, d4, raw, &e) == -1, "n_dims 5");

    const char *bad = tmp("no/such/dir/out.gguf");
    int before = count_dir_entries(tmpdir);
    CHECK(gguf_writer_save(w, bad, &e) == -1 && good_msg(&e, bad), "%s", e.msg);
    CHECK(count_dir_entries(tmpdir) == before && !dir_has_tmp(tmpdir), "left a file behind");

    const char *path = tmp("align.gguf");
    CHECK(!gguf_set_u32(w, "general.alignment", 48), "set");
    CHECK(gguf_writer_save(w, path, &e) == -1 && good_msg(&e, path) &&
              strstr(e.msg, "power of two"),
          "%s", e.msg);
    CHECK(!gguf_set_u32(w, "general.alignment", 64), "set");
    CHECK(!gguf_writer_save(w, path, &e), "%s", e.msg);
    gguf_writer_free(w);
    GGUFFile f;
    if (!gguf_open(&f, path, &e))
        CHECK(f.alignment == 64 && f.data_offset % 64 == 0 && f.n_kv == 1, "alignment 64");
    gguf_close(&f);
    remove(path);
}

static void test_writer_replace(void) {
    ObErr e = {{0}};
    const char *path = tmp("replace.gguf");
    GGUFWriter *w = gguf_writer_new(&e);
    CHECK(!gguf_set_u32(w, "a", 1) && !gguf_set_str(w, "b", "x") && !gguf_set_u32(w, "a", 2),
          "set");
    CHECK(!gguf_writer_save(w, path, &e), "%s", e.msg);
    CHECK(!gguf_set_str(w, "a", "now a string") && !gguf_writer_save(w, path, &e), "%s", e.msg);
    gguf_writer_free(w);
    CHECK(!dir_has_tmp(tmpdir), "temporary file left");
    GGUFFile f;
    CHECK(!gguf_open(&f, path, &e), "%s", e.msg);
    char *s = gguf_get_str(&f, "a", &e);
    CHECK(f.n_kv == 2 && !strcmp(f.kv[0].key, "a") && !strcmp(f.kv[1].key, "b"), "order");
    CHECK(s && !strcmp(s, "now a string"), "replaced value");
    free(s);
    gguf_close(&f);
    remove(path);
}

/* The last tensor's trailing padding may be missing (llama.cpp tolerates it). */
static void test_missing_final_padding(void) {
    ObErr e = {{0}};
    const char *path = tmp("pad.gguf");
    const uint64_t d3[1] = {3};
    const float x[3] = {1, 2, 3};
    GGUFWriter *w = gguf_writer_new(&e);
    CHECK(!gguf_add_tensor_f32(w, "t", GGML_TYPE_F32, 1, d3, x, &e), "%s", e.msg);
    CHECK(!gguf_writer_save(w, path, &e), "%s", e.msg);
    gguf_writer_free(w);
    char *data;
    size_t n;
    GGUFFile f;
    CHECK(!ob_read_file(path, &data, &n, &e) && n % 32 == 0, "padded file");
    CHECK(!gguf_open_buffer(&f, data, n - 20, "pad.gguf", &e), "%s", e.msg);
    gguf_close(&f);
    CHECK(gguf_open_buffer(&f, data, n - 21, "pad.gguf", &e) == -1, "one byte short");
    free(data);
    remove(path);
}

/* A model header whose counts ask for far more parameters than the file
 * holds is refused by arithmetic before anything is allocated from them. */
static void test_absurd_model_header(void) {
    static const struct {
        uint32_t layers, dim, ffn, extra;
        const char *want;
    } cases[] = {
        {1u << 30, 8, 8, 0, "llama.block_count = 1073741824, but the file has only 1 tensors"},
        {1u << 20, 8, 8, 10, "llama.block_count = 1048576, but the file has only 11 tensors"},
        /* 4.3e9 parameters (17 GB) from a 10 KB file */
        {1, 1u << 14, 1u << 16, 10,
         "describes 4299931648 parameters, but the file's tensors hold only 2410 values"},
    };
    static float embd[8 * 300];
    const char *path = tmp("absurd.gguf");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ObErr e = {{0}};
        GGUFWriter *w = gguf_writer_new(&e);
        uint64_t dims[2] = {8, 300}, one[1] = {1};
        gguf_set_str(w, "general.architecture", "llama");
        gguf_set_u32(w, "llama.embedding_length", cases[k].dim);
        gguf_set_u32(w, "llama.block_count", cases[k].layers);
        gguf_set_u32(w, "llama.feed_forward_length", cases[k].ffn);
        gguf_set_u32(w, "llama.attention.head_count", 2);
        gguf_set_u32(w, "llama.context_length", 16);
        gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
        int rc = gguf_add_tensor_f32(w, "token_embd.weight", GGML_TYPE_F32, 2, dims, embd, &e);
        for (uint32_t i = 0; i < cases[k].extra && !rc; i++) {
            char name[16];
            snprintf(name, sizeof name, "x%u", i);
            rc = gguf_add_tensor_f32(w, name, GGML_TYPE_F32, 1, one, embd, &e);
        }
        rc = rc || gguf_writer_save(w, path, &e);
        gguf_writer_free(w);
        CHECK(rc == 0, "%s", e.msg);
        Llama m;
        rc = llama_load(&m, NULL, path, &e);
        if (rc == 0) llama_free(&m);
        CHECK(rc == -1 && good_msg(&e, path) && strstr(e.msg, cases[k].want), "case %zu: %s", k,
              rc ? e.msg : "accepted");
    }
    remove(path);
}

/* Errors stay one line even when they quote a name with a newline in it
 * (found by fuzz/fuzz_hfconfig.c). */
static void test_error_is_one_line(void) {
    ObErr err = {{0}};
    ob_errf(&err, "%s: architecture %s is not supported", "config.json", "L0,\n\tlama\r");
    CHECK(!strcmp(err.msg, "config.json: architecture L0,  lama  is not supported"), "[%s]",
          err.msg);
    ob_err_prefix(&err, "stage %s", "x\ny");
    CHECK(!strchr(err.msg, '\n') && !strncmp(err.msg, "stage x y: config.json", 22), "[%s]",
          err.msg);
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_error_is_one_line);
    RUN(test_round_trip);
    RUN(test_fp16_exhaustive);
    RUN(test_bf16_exhaustive);
    RUN(test_conversion_cases);
    RUN(test_every_truncation);
    RUN(test_bad_headers);
    RUN(test_bad_kvs);
    RUN(test_bad_tensors);
    RUN(test_open_errors);
    RUN(test_random_flips);
    RUN(test_writer_errors);
    RUN(test_writer_replace);
    RUN(test_missing_final_padding);
    RUN(test_absurd_model_header);
    remove(tmp("ref.gguf"));
    tmpdir_remove();
    return check_main_end("gguf");
}
