#include "util/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"

/* The pid recorded in an open lock file, or 0. The holder writes it just
 * after taking the lock, so a run refused in between waits for it (up to
 * 0.1 s). */
static long holder_pid(int fd) {
    for (int tries = 0; tries < 50; tries++) {
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (pid > 0) return pid;
        usleep(2000);
    }
    return 0;
}

int ob_lock(ObLock *lk, const char *path, const char *what, ObErr *err) {
    lk->fd = -1;
    lk->path = NULL;
    /* Release unlinks the file while holding it, so a run that opened the old
     * file may lock an unlinked one: it checks that what it locked is still
     * the file at `path`, and tries again when not. */
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return ob_errf(err, "%s: cannot create the lock for %s: %s", path, what,
                           strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            long pid = e == EWOULDBLOCK ? holder_pid(fd) : 0;
            close(fd);
            if (e != EWOULDBLOCK) return ob_errf(err, "%s: cannot lock: %s", path, strerror(e));
            if (pid > 0)
                return ob_errf(err, "%s: in use by another obliviate run (pid %ld, lock %s)", what,
                               pid, path);
            return ob_errf(err, "%s: in use by another obliviate run (lock %s)", what, path);
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            /* fixed width, written in one piece over any stale pid */
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%-20ld\n", (long)getpid());
            if (pwrite(fd, pid, (size_t)n, 0) != n) {
                int e = errno;
                close(fd);
                return ob_errf(err, "%s: cannot write the lock: %s", path, strerror(e));
            }
            size_t len = strlen(path) + 1;
            if (!(lk->path = ob_malloc(len, "lock name", err))) return close(fd), -1;
            memcpy(lk->path, path, len);
            lk->fd = fd;
            ob_tmp_register(lk->path); /* an interrupted run removes it too */
            return 0;
        }
        close(fd); /* released and removed under us: take the new file */
    }
    return ob_errf(err, "%s: the lock keeps changing hands", path);
}

int ob_lock_output(ObLock *lk, const char *output, ObErr *err) {
    size_t n = strlen(output) + sizeof ".lock";
    char *path = ob_malloc(n, "lock name", err);
    if (!path) return lk->fd = -1, lk->path = NULL, -1;
    snprintf(path, n, "%s.lock", output);
    int rc = ob_lock(lk, path, output, err);
    free(path);
    return rc;
}

void ob_unlock(ObLock *lk) {
    if (!lk->path) return;
    ob_tmp_unregister(lk->path);
    unlink(lk->path); /* while still held: see ob_lock */
    close(lk->fd);
    free(lk->path);
    lk->fd = -1;
    lk->path = NULL;
}
