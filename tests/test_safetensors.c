/* safetensors: header parsing, a write/read round trip, and every malformed
 * header or offset rejected with one line naming the file and the problem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/safetensors.h"

/* A file image: 8-byte length, the header text, then `data` bytes of data. */
static uint8_t *image(const char *header, size_t data, size_t *size) {
    size_t n = strlen(header);
    uint8_t *p = calloc(8 + n + data + 1, 1);
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)n >> 8 * i);
    memcpy(p + 8, header, n);
    for (size_t i = 0; i < data; i++) p[8 + n + i] = (uint8_t)i;
    *size = 8 + n + data;
    return p;
}

static void test_parse(void) {
    size_t size;
    uint8_t *p = image("{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[8,20]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[20,28]}}   ",
                       28, &size);
    STFile f;
    ObErr err;
    CHECK(st_open_buffer(&f, p, size, "x.safetensors", &err) == 0, "%s", err.msg);
    CHECK(f.n_tensors == 3 && f.n_meta == 1 && !strcmp(st_meta(&f, "format"), "pt"), "counts");
    const STTensor *b = st_find(&f, "b"), *s = st_find(&f, "s");
    CHECK(b && b->n_dims == 2 && b->shape[0] == 2 && b->shape[1] == 3 && b->n_elems == 6 &&
              b->n_bytes == 12 && b->elem_size == 2 && !strcmp(b->dtype, "BF16"),
          "tensor b");
    CHECK(b && (const uint8_t *)b->data == p + f.data_start + 8, "b's data");
    CHECK(s && s->n_dims == 0 && s->n_elems == 1 && s->n_bytes == 8, "scalar");
    CHECK(!st_find(&f, "c"), "no c");
    st_close(&f);
    free(p);
}

static void test_round_trip(void) {
    char path[] = "/tmp/obliviate-st-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    float a[6] = {1, -2, 3.5f, 0, 1e-20f, 7};
    uint16_t h[4] = {1, 2, 0x3c00, 0xffff};
    static const char *const meta[] = {"format", "pt", "note", "x\"y"};
    STWriteTensor t[2] = {
        {.name = "model.a", .dtype = "F32", .n_dims = 2, .shape = {2, 3}, .data = a},
        {.name = "model.h", .dtype = "F16", .n_dims = 1, .shape = {4}, .data = h},
    };
    ObErr err;
    CHECK(st_write(path, t, 2, meta, 2, &err) == 0, "%s", err.msg);
    STFile f;
    CHECK(st_open(&f, path, &err) == 0, "%s", err.msg);
    const STTensor *x = st_find(&f, "model.a"), *y = st_find(&f, "model.h");
    CHECK(x && x->n_bytes == sizeof a && !memcmp(x->data, a, sizeof a), "F32 data");
    CHECK(y && y->n_bytes == sizeof h && !memcmp(y->data, h, sizeof h), "F16 data");
    CHECK(f.data_start % 8 == 0, "data starts at %llu", (unsigned long long)f.data_start);
    CHECK(!strcmp(st_meta(&f, "note"), "x\"y"), "metadata");
    st_close(&f);
    /* a duplicate name is refused before anything is written */
    t[1].name = "model.a";
    CHECK(st_write(path, t, 2, NULL, 0, &err) != 0 && strstr(err.msg, "duplicate"), "%s", err.msg);
    unlink(path);
}

/* Each malformed file fails with one line containing `want`. */
static void bad(const char *header, size_t data, const char *want) {
    size_t size;
    uint8_t *p = image(header, data, &size);
    STFile f;
    ObErr err;
    int rc = st_open_buffer(&f, p, size, "bad.safetensors", &err);
    CHECK(rc != 0, "accepted: %s", header);
    if (rc == 0) st_close(&f);
    CHECK(rc == 0 || (strstr(err.msg, want) && !strchr(err.msg, '\n') &&
                      !strncmp(err.msg, "bad.safetensors: ", 17)),
          "header %s: message '%s' lacks '%s'", header, err.msg, want);
    free(p);
}

#define T(body) "{\"t\":{" body "}}"

static void test_malformed(void) {
    bad("[1,2]", 0, "start with '{'");
    bad("{\"t\":", 0, "not a valid JSON object");
    bad("{} xyz", 0, "bytes after the header");
    bad(T("\"shape\":[1],\"data_offsets\":[0,4]"), 4, "needs dtype");
    bad(T("\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]"), 4, "unknown dtype");
    bad(T("\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]"), 4, "shape entry 0");
    bad(T("\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]"), 4, "shape entry 0");
    bad(T("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"), 4,
        "9 dimensions");
    bad(T("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]"), 4,
        "overflows");
    bad(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]"), 4, "two non-negative");
    bad(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]"), 4, "end before");
    bad(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"), 4, "run past");
    bad(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]"), 4, "need");
    bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        8, "overlaps");
    bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "unused bytes");
    bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "trailing bytes");
    bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        8, "duplicate tensor");
    bad("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    bad("{\"t\":3}", 0, "not an object");
}

static void test_bad_lengths(void) {
    uint8_t p[16] = {0};
    STFile f;
    ObErr err;
    CHECK(st_open_buffer(&f, p, 5, "short.safetensors", &err) != 0 && strstr(err.msg, "truncated"),
          "%s", err.msg);
    p[0] = 100; /* header of 100 bytes in a 16-byte file */
    CHECK(st_open_buffer(&f, p, 16, "trunc.safetensors", &err) != 0 && strstr(err.msg, "truncated"),
          "%s", err.msg);
    memset(p, 0xff, 8); /* 2^64 - 1 */
    CHECK(st_open_buffer(&f, p, 16, "huge.safetensors", &err) != 0 && strstr(err.msg, "limit"),
          "%s", err.msg);
    CHECK(st_open(&f, "/nonexistent/x.safetensors", &err) != 0 && strstr(err.msg, "cannot open"),
          "%s", err.msg);
}

int main(void) {
    RUN(test_parse);
    RUN(test_round_trip);
    RUN(test_malformed);
    RUN(test_bad_lengths);
    return check_main_end("safetensors");
}
