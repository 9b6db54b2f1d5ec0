/* JSON Lines files (one JSON object per line) with errors that point at the
 * line: "prompts.jsonl:7: field "continuation" missing".
 *
 * A reader describes the fields it needs in a table; jsonl_load checks every
 * record against it, so a caller only ever sees well-formed records. The
 * evaluation sets use it: familiarity prompts {prompt, continuation}, and
 * later questions {question, answer}, multiple choice {ctx, endings, label}.
 *
 * Rules: the file must be UTF-8 (a leading byte-order mark is skipped);
 * lines end in "\n" or "\r\n"; lines holding only whitespace are skipped;
 * every other line must be exactly one JSON object with no duplicate keys;
 * fields not in the table are kept and ignored; a file with no records is an
 * error. */
#ifndef OB_JSONL_H
#define OB_JSONL_H

#include <cjson/cJSON.h>

#include "util/err.h"

typedef enum {
    JSONL_ANY,     /* any value */
    JSONL_STRING,  /* a string, possibly empty */
    JSONL_TEXT,    /* a non-empty string */
    JSONL_NUMBER,  /* a number */
    JSONL_INT,     /* a number with an integral value that fits an int */
    JSONL_BOOL,    /* true or false */
    JSONL_ARRAY,   /* an array */
    JSONL_STRINGS, /* a non-empty array of strings */
    JSONL_OBJECT,  /* an object */
} JsonlType;

typedef struct {
    const char *name; /* NULL ends a table */
    JsonlType type;
    int required; /* 0: may be absent (but has the type when present) */
} JsonlField;

typedef struct {
    char *path;    /* as given to jsonl_load; the name used in errors */
    int n;         /* records */
    cJSON **items; /* [n] objects, owned */
    int *lines;    /* [n] 1-based line number of each record */
} JsonlFile;

/* Reads path and checks every record against fields (NULL or an empty table:
 * any object). On failure err gets one line "PATH:LINE: problem" (or
 * "PATH: problem" for the file as a whole) and f is left empty. */
int jsonl_load(JsonlFile *f, const char *path, const JsonlField *fields, ObErr *err);
/* Same, on text in memory; name stands in for the path in errors. */
int jsonl_parse(JsonlFile *f, const char *name, const char *text, size_t len,
                const JsonlField *fields, ObErr *err);
void jsonl_free(JsonlFile *f);

/* Checks every record of a loaded file against a second table, for readers
 * that pick their fields after seeing the records (the multiple-choice reader
 * tells the layout from the first record). Same errors as jsonl_load, naming
 * the record's line; f is left as it was. */
int jsonl_check(const JsonlFile *f, const JsonlField *fields, ObErr *err);

/* Field accessors for records that passed jsonl_load's checks: the string,
 * number or int value of a field, or def when it is absent. */
const char *jsonl_str(const cJSON *rec, const char *name, const char *def);
double jsonl_num(const cJSON *rec, const char *name, double def);
int jsonl_int(const cJSON *rec, const char *name, int def);

/* Reports a problem a caller found in record i ("PATH:LINE: ..."); returns -1. */
int jsonl_errf(const JsonlFile *f, int i, ObErr *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
