/* The proposed dictionary as JSON, and writing it after checking that
 * anchors_parse reads every key back. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unlearn/anchors.h"
#include "unlearn/extract.h"
#include "util/fileio.h"

char *extract_dict_json(const ExtractResult *r) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    for (int i = 0; ok && i < r->n; i++) {
        cJSON *a = cJSON_AddArrayToObject(root, r->p[i].key);
        ok = a != NULL;
        for (int j = 0; ok && j < r->p[i].n_values; j++) {
            cJSON *s = cJSON_CreateString(r->p[i].values[j]);
            ok = s && cJSON_AddItemToArray(a, s);
        }
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

int extract_save(const ExtractResult *r, const char *path, ObErr *err) {
    if (!r->n) return ob_errf(err, "%s: no keys to write (no candidate passed the filters)", path);
    char *text = extract_dict_json(r);
    if (!text) return ob_errf(err, "%s: out of memory", path);
    AnchorDict d;
    int rc = anchors_parse(&d, text, strlen(text), path, err);
    if (!rc && d.n != r->n)
        rc = ob_errf(err, "%s: %d of %d keys would not load (pruned)", path, r->n - d.n, r->n);
    if (!rc) anchors_free(&d);
    ObAtomicFile af;
    if (!rc && !(rc = ob_atomic_open(&af, path, err))) {
        if (fputs(text, af.fp) == EOF || fputc('\n', af.fp) == EOF) {
            ob_atomic_abort(&af);
            rc = ob_errf(err, "%s: write failed", path);
        } else {
            rc = ob_atomic_commit(&af, err);
        }
    }
    free(text);
    return rc;
}
