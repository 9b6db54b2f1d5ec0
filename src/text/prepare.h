/* The demo's raw downloads (tools/fetch-demo-data.sh) -> its training and
 * evaluation texts: the archives unpacked into a temporary folder, the texts
 * read out of them, built by corpus_prepare_demo (text/corpus.h) and written
 * atomically. The same downloads always give the same bytes (their sha256
 * are in data/demo-manifest.tsv). */
#ifndef OB_PREPARE_H
#define OB_PREPARE_H

#include <stddef.h>

#include "util/err.h"

typedef struct {
    const char *raw;     /* folder of the downloads (CACHE_DIR/raw) */
    const char *out;     /* folder to write the texts into (created if needed) */
    const char *tmp_dir; /* where the archives are unpacked; NULL: $TMPDIR or /tmp */
} PrepareConfig;

void prepare_config_defaults(PrepareConfig *c);

struct cJSON;
typedef struct {
    struct cJSON *summary; /* out, files (bytes, words), stories, splits, seconds; caller deletes */
    int n_parts;           /* stories written */
    size_t forget_bytes, general_train_bytes, general_heldout_bytes;
} PrepareResult;

/* Unpacks the six downloads with tar and dpkg-deb (the temporary folder is
 * removed afterwards, so raw holds only the verified downloads) and writes
 * stories/01.txt..12.txt, forget.txt, target_heldout.txt, general_train.txt,
 * general_heldout.txt, names-female.txt and names-male.txt into out. */
int prepare_demo(const PrepareConfig *c, PrepareResult *res, ObErr *err);

/* The twelve stories' headings in the book's text, in order (the table of
 * contents at its top uses other capitalisation). */
extern const char *const prepare_story_headings[12];

#endif
