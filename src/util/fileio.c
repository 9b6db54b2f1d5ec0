#include "util/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- what an interrupted process removes ----
 * Slots are claimed and freed with atomics; the signal handler only reads
 * them and calls unlink, which is async-signal-safe. */
enum { TMP_SLOTS = 32, TMP_PATH = PATH_MAX + 64 };
static char g_tmp[TMP_SLOTS][TMP_PATH];
static int g_tmp_used[TMP_SLOTS]; /* 0 free, 1 being written, 2 set */

void ob_tmp_register(const char *path) {
    if (strlen(path) >= TMP_PATH) return;
    for (int i = 0; i < TMP_SLOTS; i++) {
        int zero = 0;
        if (__atomic_compare_exchange_n(&g_tmp_used[i], &zero, 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            strcpy(g_tmp[i], path);
            __atomic_store_n(&g_tmp_used[i], 2, __ATOMIC_RELEASE);
            return;
        }
    }
}

void ob_tmp_unregister(const char *path) {
    for (int i = 0; i < TMP_SLOTS; i++)
        if (__atomic_load_n(&g_tmp_used[i], __ATOMIC_ACQUIRE) == 2 && !strcmp(g_tmp[i], path)) {
            __atomic_store_n(&g_tmp_used[i], 0, __ATOMIC_RELEASE);
            return;
        }
}

void ob_tmp_remove_all(void) {
    for (int i = 0; i < TMP_SLOTS; i++)
        if (__atomic_load_n(&g_tmp_used[i], __ATOMIC_ACQUIRE) == 2) unlink(g_tmp[i]);
}

/* Splits path into its folder ("." when none) and its last name. */
static void split_path(const char *path, char *dir, size_t n, const char **base) {
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, n, ".");
    else if (slash == path)
        snprintf(dir, n, "/");
    else
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* Removes "<path>.tmp.<pid>" files whose process is gone (killed before it
 * could clean up); a live pid's file, ours or another run's, is left. */
static void remove_stale_tmp(const char *path) {
    char dir[PATH_MAX];
    const char *base;
    if (strlen(path) >= sizeof dir) return;
    split_path(path, dir, sizeof dir, &base);
    size_t bn = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *nm = e->d_name;
        if (strncmp(nm, base, bn) || strncmp(nm + bn, ".tmp.", 5)) continue;
        char *end;
        long pid = strtol(nm + bn + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", dir, nm) < (int)sizeof full) unlink(full);
    }
    closedir(d);
}

int ob_check_output_room(const char *out, const char *suffix, ObErr *err) {
    char dir[PATH_MAX];
    const char *base;
    /* ".tmp." and the longest pid Linux gives (2^22 = 7 digits) */
    size_t extra = strlen(suffix) + strlen(".tmp.") + 7;
    if (strlen(out) + extra >= sizeof dir)
        return ob_errf(err, "%.200s...: path too long (%zu bytes, and its files add %zu)", out,
                       strlen(out), extra);
    split_path(out, dir, sizeof dir, &base);
    if (access(dir, W_OK) != 0)
        return ob_errf(err, "%s: cannot write in its folder %s: %s", out, dir, strerror(errno));
    long name_max = pathconf(dir, _PC_NAME_MAX);
    if (name_max < 0) name_max = NAME_MAX;
    if (strlen(base) + extra > (size_t)name_max)
        return ob_errf(err,
                       "%s: file name too long for the files written beside it (%zu bytes + "
                       "\"%s.tmp.PID\" > %ld)",
                       out, strlen(base), suffix, name_max);
    return 0;
}

int ob_atomic_open(ObAtomicFile *af, const char *path, ObErr *err) {
    memset(af, 0, sizeof *af);
    /* rename() would replace a device, a folder's entry or a FIFO (as root,
     * "-o /dev/null" would turn /dev/null into a regular file): refuse. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return ob_errf(err, "%s: exists and is not a regular file", path);
    size_t n = strlen(path);
    af->path = ob_malloc(n + 1, "file name", err);
    af->tmp_path = ob_malloc(n + 32, "file name", err);
    if (!af->path || !af->tmp_path) {
        free(af->path);
        free(af->tmp_path);
        return -1;
    }
    memcpy(af->path, path, n + 1);
    snprintf(af->tmp_path, n + 32, "%s.tmp.%ld", path, (long)getpid());
    remove_stale_tmp(path);
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        ob_errf(err, "%s: cannot create file: %s", path, strerror(errno));
        free(af->path);
        free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return -1;
    }
    ob_tmp_register(af->tmp_path);
    return 0;
}

static void atomic_free(ObAtomicFile *af) {
    if (af->tmp_path) ob_tmp_unregister(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

void ob_atomic_abort(ObAtomicFile *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) remove(af->tmp_path);
    atomic_free(af);
}

int ob_atomic_commit(ObAtomicFile *af, ObErr *err) {
    int bad = ferror(af->fp) || fflush(af->fp) != 0;
    int saved = errno;
    if (!bad && fsync(fileno(af->fp)) != 0) bad = 1, saved = errno;
    if (fclose(af->fp) != 0 && !bad) bad = 1, saved = errno;
    af->fp = NULL;
    if (!bad && rename(af->tmp_path, af->path) != 0) bad = 1, saved = errno;
    if (bad) {
        ob_errf(err, "%s: write failed: %s", af->path, strerror(saved ? saved : EIO));
        remove(af->tmp_path);
        atomic_free(af);
        return -1;
    }
    atomic_free(af);
    return 0;
}

/* Opens path for reading; it must be a regular file. */
static FILE *open_regular(const char *path, ObErr *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return ob_errf(err, "%s: cannot open: %s", path, strerror(errno)), NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return ob_errf(err, "%s: not a regular file", path), NULL;
    }
    return fp;
}

int ob_read_file(const char *path, char **data, size_t *len, ObErr *err) {
    *data = NULL;
    *len = 0;
    FILE *fp = open_regular(path, err);
    if (!fp) return -1;
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return ob_errf(err, "%s: cannot seek (not a regular file?)", path);
    }
    long size = ftell(fp);
    if (size < 0) {
        fclose(fp);
        return ob_errf(err, "%s: cannot tell size", path);
    }
    rewind(fp);
    char *buf = ob_malloc((size_t)size + 1, path, err);
    if (!buf) {
        fclose(fp);
        return -1;
    }
    if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        fclose(fp);
        free(buf);
        return ob_errf(err, "%s: read error", path);
    }
    fclose(fp);
    buf[size] = 0;
    *data = buf;
    *len = (size_t)size;
    return 0;
}

enum { PIECE = 1 << 20 };

int ob_hash_file(uint64_t *h, const char *path, ObErr *err) {
    FILE *fp = open_regular(path, err);
    if (!fp) return -1;
    char *buf = ob_malloc(PIECE, path, err);
    int rc = buf ? 0 : -1;
    size_t n;
    while (!rc && (n = fread(buf, 1, PIECE, fp)) > 0) *h = ob_fnv1a(*h, buf, n);
    if (!rc && ferror(fp)) rc = ob_errf(err, "%s: read error", path);
    free(buf);
    fclose(fp);
    return rc;
}

int ob_copy_file(const char *src, const char *dst, ObErr *err) {
    FILE *fp = open_regular(src, err);
    if (!fp) return -1;
    char *buf = ob_malloc(PIECE, src, err);
    ObAtomicFile af;
    if (!buf || ob_atomic_open(&af, dst, err)) {
        free(buf);
        fclose(fp);
        return -1;
    }
    int rc = 0;
    size_t n;
    while (!rc && (n = fread(buf, 1, PIECE, fp)) > 0)
        if (fwrite(buf, 1, n, af.fp) != n) rc = ob_errf(err, "%s: write failed", dst);
    if (!rc && ferror(fp)) rc = ob_errf(err, "%s: read error", src);
    free(buf);
    fclose(fp);
    if (rc) {
        ob_atomic_abort(&af);
        return rc;
    }
    return ob_atomic_commit(&af, err);
}

int ob_check_output(const char *out, const char *const *inputs, int n, ObErr *err) {
    struct stat so, si;
    if (!out || stat(out, &so) != 0) return 0;
    for (int i = 0; i < n; i++)
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return ob_errf(err, "%s: the output is also an input (%s): refusing to overwrite it",
                           out, inputs[i]);
    return 0;
}

int ob_make_temp_dir(char *buf, size_t cap, const char *parent, const char *what, ObErr *err) {
    if (!parent || !*parent) parent = getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    int n = snprintf(buf, cap, "%s/obliviate-%s-XXXXXX", parent, what);
    if (n < 0 || (size_t)n >= cap)
        return ob_errf(err, "%s: temporary folder path too long", parent);
    if (!mkdtemp(buf)) return ob_errf(err, "%s: cannot create a temporary folder", buf);
    return 0;
}
