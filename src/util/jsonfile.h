/* Writing a cJSON document to a file: pretty-printed, a final newline,
 * atomically (util/fileio.h), so a reader never sees half a document. */
#ifndef OB_JSONFILE_H
#define OB_JSONFILE_H

#include <cjson/cJSON.h>

#include "util/err.h"

/* Parses json[0, len) as one JSON object (caller deletes); NULL with
 * "PATH: not a JSON object" when it is not one. */
cJSON *ob_json_parse_object(const char *json, size_t len, const char *path, ObErr *err);

/* Writes j to path; j stays the caller's. */
int ob_json_write(const char *path, const cJSON *j, ObErr *err);

/* cJSON ends strings at NUL, so "\u0000" in JSON text would silently cut a
 * string short: the offset of the first such escape in s[0, n), or n when
 * there is none. Backslashes only occur inside strings in valid JSON. */
size_t ob_json_nul_escape(const char *s, size_t n);

#endif
