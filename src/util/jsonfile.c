#include "util/jsonfile.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/fileio.h"

int ob_json_write(const char *path, const cJSON *j, ObErr *err) {
    char *s = cJSON_Print(j);
    if (!s) return ob_errf(err, "%s: out of memory formatting JSON", path);
    ObAtomicFile af;
    int rc = ob_atomic_open(&af, path, err);
    if (!rc) {
        fputs(s, af.fp);
        fputc('\n', af.fp);
        rc = ob_atomic_commit(&af, err);
    }
    free(s);
    return rc;
}
