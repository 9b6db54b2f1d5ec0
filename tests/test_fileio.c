/* util/fileio.h's streamed hash and copy: the same hash as the whole file
 * read at once across the 1 MiB pieces, byte-identical copies, and one-line
 * errors that leave no output behind. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "util/fileio.h"

enum { SIZE = (5 << 19) + 123 }; /* 2.5 MiB and a ragged end: three pieces */

static void write_fixture(const char *path) {
    FILE *fp = fopen(path, "wb");
    for (long i = 0; i < SIZE; i++) fputc((int)((i * 2654435761u) >> 13) & 255, fp);
    fclose(fp);
}

static void test_hash_streamed(void) {
    ObErr e = {{0}};
    const char *path = tmp("big.bin");
    write_fixture(path);
    char *data;
    size_t len;
    CHECK(!ob_read_file(path, &data, &len, &e) && len == SIZE, "%s", e.msg);
    uint64_t whole = ob_fnv1a(OB_FNV_OFFSET, data, len), streamed = OB_FNV_OFFSET;
    CHECK(!ob_hash_file(&streamed, path, &e), "%s", e.msg);
    CHECK(streamed == whole, "streamed %llx, whole %llx", (unsigned long long)streamed,
          (unsigned long long)whole);
    /* the hash continues from *h: two files hash as their concatenation */
    uint64_t twice = OB_FNV_OFFSET;
    CHECK(!ob_hash_file(&twice, path, &e) && !ob_hash_file(&twice, path, &e), "%s", e.msg);
    CHECK(twice == ob_fnv1a(whole, data, len), "not a continuation");
    free(data);
}

static void test_copy_streamed(void) {
    ObErr e = {{0}};
    const char *src = tmp("big.bin"), *dst = tmp("copy.bin");
    CHECK(!ob_copy_file(src, dst, &e), "%s", e.msg);
    char *a, *b;
    size_t la, lb;
    CHECK(!ob_read_file(src, &a, &la, &e) && !ob_read_file(dst, &b, &lb, &e), "%s", e.msg);
    CHECK(la == lb && !memcmp(a, b, la), "copy differs (%zu vs %zu bytes)", la, lb);
    free(a), free(b);
}

static void test_errors(void) {
    ObErr e = {{0}};
    uint64_t h = OB_FNV_OFFSET;
    CHECK(ob_hash_file(&h, tmp("missing.bin"), &e) && strstr(e.msg, "missing.bin: cannot open"),
          "'%s'", e.msg);
    CHECK(ob_hash_file(&h, tmpdir, &e) && strstr(e.msg, "not a regular file"), "'%s'", e.msg);
    CHECK(ob_copy_file(tmp("missing.bin"), tmp("out.bin"), &e) && !strchr(e.msg, '\n'), "'%s'",
          e.msg);
    FILE *fp = fopen(tmp("out.bin"), "rb");
    CHECK(!fp, "a failed copy left its output");
    if (fp) fclose(fp);
    CHECK(ob_copy_file(tmp("big.bin"), tmp("no/such/folder/out.bin"), &e), "copy into nowhere");
}

/* An output naming an input, by any path, is refused; a new file is not. */
static void test_output_is_input(void) {
    ObErr e;
    char in_txt[256], big[256], dotted[300], link[256];
    write_fixture(tmp("in.txt"));
    snprintf(in_txt, sizeof in_txt, "%s", tmp("in.txt"));
    snprintf(big, sizeof big, "%s", tmp("big.bin"));
    snprintf(dotted, sizeof dotted, "%s", tmp("./in.txt"));
    snprintf(link, sizeof link, "%s", tmp("link.txt"));
    const char *in[] = {NULL, big, in_txt};
    CHECK(ob_check_output(tmp("new.txt"), in, 3, &e) == 0, "a file that does not exist");
    CHECK(ob_check_output(big, in, 2, &e) && strstr(e.msg, "the output is also an input"), "'%s'",
          e.msg);
    CHECK(ob_check_output(dotted, in, 3, &e) != 0, "another spelling of an input");
    CHECK(symlink(in_txt, link) == 0 && ob_check_output(link, in, 3, &e) != 0,
          "a link to an input");
    CHECK(ob_check_output(NULL, in, 3, &e) == 0, "no output");
}

/* A path of 3000 bytes and its reason both reach the message. */
static void test_long_message(void) {
    char path[3001];
    memset(path, 'a', 3000), path[3000] = 0;
    ObErr e;
    ob_errf(&e, "%s: cannot create file: No such file or directory", path);
    CHECK(strstr(e.msg, "No such file or directory"), "cut: %zu bytes", strlen(e.msg));
    ob_err_prefix(&e, "%s", path);
    CHECK(strstr(e.msg, "No such file or directory") && strlen(e.msg) > 6000, "prefix cut: %zu",
          strlen(e.msg));
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_hash_streamed);
    RUN(test_copy_streamed);
    RUN(test_errors);
    RUN(test_output_is_input);
    RUN(test_long_message);
    tmpdir_remove();
    return check_main_end("fileio");
}
