/* Whole-file reads and crash-safe writes.
 *
 * Every file obliviate writes goes through ObAtomicFile: data is written to a
 * temporary file in the same folder, flushed, fsynced and renamed over the
 * destination, so a reader never sees a half-written file and a failed write
 * (full disk, unwritable folder) leaves the previous file untouched. An
 * interrupted process removes its temporaries (ob_tmp_remove_all); those of a
 * process killed outright ("<path>.tmp.<pid>", pid no longer running) are
 * removed by the next write of the same path. */
#ifndef OB_FILEIO_H
#define OB_FILEIO_H

#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "util/hash.h"

typedef struct {
    FILE *fp;       /* write here */
    char *path;     /* final destination */
    char *tmp_path; /* "<path>.tmp.<pid>" */
} ObAtomicFile;

int ob_atomic_open(ObAtomicFile *af, const char *path, ObErr *err);
/* Flushes, fsyncs, closes and renames. On any failure the temporary file is
 * removed and the destination is left as it was. Frees af's strings. */
int ob_atomic_commit(ObAtomicFile *af, ObErr *err);
/* Abandons the write: closes and removes the temporary file. */
void ob_atomic_abort(ObAtomicFile *af);

/* Reads a whole file into a new NUL-terminated buffer the caller frees.
 * An empty file is allowed (returns a 0-length buffer). */
int ob_read_file(const char *path, char **data, size_t *len, ObErr *err);

/* Continues *h with a whole file's bytes, read in fixed 1 MiB pieces: memory
 * does not grow with the file (a 13.5 GB model is hashed in 1 MiB). */
int ob_hash_file(uint64_t *h, const char *path, ObErr *err);

/* Copies src to dst through ObAtomicFile, in fixed 1 MiB pieces. */
int ob_copy_file(const char *src, const char *dst, ObErr *err);

/* Fails when out names the same file as one of the n inputs (NULL entries
 * skipped), compared by device and inode, so "t.txt", "./t.txt" and a link
 * to it all match: writing it would destroy the input before or while it is
 * read. An output that does not exist yet matches nothing. */
int ob_check_output(const char *out, const char *const *inputs, int n, ObErr *err);

/* Fails when out's folder is missing or not writable, or would refuse the
 * longest file derived from it,
 * out + suffix + ".tmp.PID" (a checkpoint's ".state.prev"): a name past the
 * folder's limit (255 bytes) or a path past PATH_MAX is found before the run
 * rather than at its first checkpoint. */
int ob_check_output_room(const char *out, const char *suffix, ObErr *err);

/* Creates a new private folder "PARENT/obliviate-WHAT-XXXXXX" in buf (cap
 * bytes): PARENT is parent, else $TMPDIR, else /tmp. */
int ob_make_temp_dir(char *buf, size_t cap, const char *parent, const char *what, ObErr *err);

/* Files to remove should the process be interrupted: ObAtomicFile's
 * temporaries and held locks register themselves (at most 32 at once, more
 * are simply not tracked). ob_tmp_remove_all is async-signal-safe: a
 * SIGINT/SIGTERM handler calls it before the process dies. */
void ob_tmp_register(const char *path);
void ob_tmp_unregister(const char *path);
void ob_tmp_remove_all(void);

#endif
