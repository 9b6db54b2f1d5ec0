/* The eval table as text: a header of model names, one row per figure (a
 * 30-wide label, then one right-aligned cell per model, at least 10 wide),
 * then the notes: a line of parts joined by "; ", and lines of their own. */
#ifndef OB_EVAL_TABLE_H
#define OB_EVAL_TABLE_H

#include <stddef.h>

/* A growing string; after a failed allocation it stays as it was and
 * `failed` is set. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} EvalBuf;

void evbuf_printf(EvalBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct {
    EvalBuf rows, notes, lines;
    const char *sep; /* before the next note part */
    int n_models;
    int width[32];
} EvalTable;

/* Starts the table with its header row. */
void table_begin(EvalTable *t, const char *const *names, int n_models);
/* label, then v[i] per model in fmt; dash: NAN shows as "-". */
void table_row(EvalTable *t, const char *label, const char *fmt, const double *v, int dash);
/* A part of the notes line. */
void table_note(EvalTable *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note line of its own, after the notes line. */
void table_line(EvalTable *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The whole text (the caller frees it), or NULL when out of memory; frees
 * the parts either way. */
char *table_end(EvalTable *t);

#endif
