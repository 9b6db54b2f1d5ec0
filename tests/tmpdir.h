/* A private temporary folder per test program: tmpdir_make() at the start,
 * tmp("name") for paths inside it (tmp_file to write one), tmpdir_remove() at the end. */
#ifndef OB_TEST_TMPDIR_H
#define OB_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static char tmpdir[64];

/* A path inside the folder; the last four results stay valid. */
static inline const char *tmp(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* Writes text to tmp(name) and returns that path. */
static inline const char *tmp_file(const char *name, const char *text) {
    const char *path = tmp(name);
    FILE *fp = fopen(path, "wb");
    if (fp) fputs(text, fp), fclose(fp);
    return path;
}

static inline int tmpdir_make(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/obliviate-test-XXXXXX");
    if (mkdtemp(tmpdir)) return 0;
    perror("mkdtemp");
    return -1;
}

static inline void tmpdir_remove(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
}

#endif
