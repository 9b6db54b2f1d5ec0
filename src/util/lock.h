/* One writer per output: an advisory lock held for the life of a run.
 *
 * The lock is flock(2) on "<output>.lock" (or "<folder>/lock"): the kernel
 * drops it when its holder dies, so a lock left by kill -9 is stale by
 * construction and the next run takes it. The file holds the holder's pid,
 * for the message a second run gets; it is removed on release. */
#ifndef OB_LOCK_H
#define OB_LOCK_H

#include "util/err.h"

typedef struct {
    int fd;     /* -1 when not held */
    char *path; /* the lock file */
} ObLock;

/* Takes the lock file `path`, guarding `what` (named in the message). Fails
 * at once, naming the holder's pid, when another process holds it; fails
 * naming the folder when the file cannot be created there (a missing or
 * read-only folder is found before any work). */
int ob_lock(ObLock *lk, const char *path, const char *what, ObErr *err);

/* Takes "<output>.lock" for an output file. */
int ob_lock_output(ObLock *lk, const char *output, ObErr *err);

/* Releases and removes the lock file; a zeroed or released lock is a no-op. */
void ob_unlock(ObLock *lk);

#endif
