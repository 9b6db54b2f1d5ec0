/* Writing a cJSON document to a file: pretty-printed, a final newline,
 * atomically (util/fileio.h), so a reader never sees half a document. */
#ifndef OB_JSONFILE_H
#define OB_JSONFILE_H

#include <cjson/cJSON.h>

#include "util/err.h"

/* Writes j to path; j stays the caller's. */
int ob_json_write(const char *path, const cJSON *j, ObErr *err);

#endif
