#include "util/jsonfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"

size_t ob_json_nul_escape(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && i + 6 <= n && !memcmp(s + i + 2, "0000", 4)) return i;
        i++; /* skip the escaped character */
    }
    return n;
}

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

cJSON *ob_json_parse_object(const char *json, size_t len, const char *path, ObErr *err) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (cJSON_IsObject(root)) return root;
    cJSON_Delete(root);
    ob_errf(err, "%s: not a JSON object", path);
    return NULL;
}
