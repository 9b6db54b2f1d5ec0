/* Anchor extraction from files (`obliviate anchors extract`): reads the
 * target and general texts (UTF-8), the first-name lists and the expected
 * entities, loads the base model (and the reinforced one, which must share
 * its vocabulary), runs extract_run (extract.h), writes the dictionary and,
 * when asked, the report. */
#ifndef OB_EXTRACT_FILES_H
#define OB_EXTRACT_FILES_H

#include "unlearn/extract.h"
#include "util/err.h"

struct cJSON;

typedef struct {
    const char *const *target; /* target texts T, at least one */
    int n_target;
    const char *const *general; /* general texts G */
    int n_general;
    const char *model;        /* base model B (GGUF with its tokenizer), required */
    const char *reinforced;   /* reinforced model R, or NULL */
    const char *female_names; /* first-name lists (one a line), or NULL */
    const char *male_names;
    const char *out;       /* dictionary to write, required */
    const char *report;    /* report to write (extract_report_json), or NULL */
    const char *expect;    /* expected entities (extract_expect), or NULL */
    ExtractConfig extract; /* extract_config_default's */
    ObPrecision prec;      /* both models' matmuls (model/ops.h) */
} ExtractFilesConfig;

void extract_files_config_default(ExtractFilesConfig *c);

typedef struct {
    ExtractResult r;
    int found, total; /* expected entities found, listed (0: no list) */
    char *misses;     /* those missed, comma-separated; NULL without a list */
} ExtractFiles;

/* Runs the whole extraction. Errors name the file. *x is always left for
 * extract_files_free. */
int extract_files_run(const ExtractFilesConfig *c, ExtractFiles *x, ObErr *err);
void extract_files_free(ExtractFiles *x);

/* The run's summary: files written, keys, candidates, evidence, word counts,
 * timings and the expected entities' share; caller deletes. */
struct cJSON *extract_files_json(const ExtractFilesConfig *c, const ExtractFiles *x);

#endif
