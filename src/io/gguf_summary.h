/* What a GGUF file holds, for people: its metadata (arrays summarised as
 * type and count) and its tensors (name, type, shape in ggml order, offset). */
#ifndef OB_GGUF_SUMMARY_H
#define OB_GGUF_SUMMARY_H

#include "util/err.h"

typedef struct {
    const char *path; /* the GGUF file, required */
    int json;         /* one JSON line (metadata, version, tensors, elements) instead of a table */
} GGUFSummaryConfig;

void gguf_summary_config_defaults(GGUFSummaryConfig *c);

/* The summary as text ending in a newline, in *text (caller frees). */
int gguf_summary(const GGUFSummaryConfig *c, char **text, ObErr *err);

#endif
