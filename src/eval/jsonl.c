#include "eval/jsonl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/jsonfile.h"
#include "util/utf8.h"

static const char *type_name(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an unknown value";
}

static const char *wanted_name(JsonlType t) {
    switch (t) {
    case JSONL_ANY: return "any value";
    case JSONL_STRING: return "a string";
    case JSONL_TEXT: return "a non-empty string";
    case JSONL_NUMBER: return "a number";
    case JSONL_INT: return "an integer";
    case JSONL_BOOL: return "true or false";
    case JSONL_ARRAY: return "an array";
    case JSONL_STRINGS: return "a non-empty array of strings";
    case JSONL_OBJECT: return "an object";
    }
    return "?";
}

static int has_type(const cJSON *v, JsonlType t) {
    switch (t) {
    case JSONL_ANY: return 1;
    case JSONL_STRING: return cJSON_IsString(v);
    case JSONL_TEXT: return cJSON_IsString(v) && v->valuestring[0];
    case JSONL_NUMBER: return cJSON_IsNumber(v);
    case JSONL_INT:
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
               fabs(v->valuedouble) <= 2147483647.0;
    case JSONL_BOOL: return cJSON_IsBool(v);
    case JSONL_ARRAY: return cJSON_IsArray(v);
    case JSONL_STRINGS: {
        if (!cJSON_IsArray(v) || !v->child) return 0;
        for (const cJSON *e = v->child; e; e = e->next)
            if (!cJSON_IsString(e)) return 0;
        return 1;
    }
    case JSONL_OBJECT: return cJSON_IsObject(v);
    }
    return 0;
}

/* Checks one parsed record; fills err with the problem (without the
 * "PATH:LINE: " prefix) and returns -1. */
static int check_record(const cJSON *obj, const JsonlField *fields, ObErr *err) {
    if (!cJSON_IsObject(obj))
        return ob_errf(err, "expected a JSON object, found %s", type_name(obj));
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (!strcmp(a->string, b->string))
                return ob_errf(err, "field \"%.100s\" appears twice", a->string);
    for (const JsonlField *fd = fields; fd && fd->name; fd++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, fd->name);
        if (!v) {
            if (fd->required) return ob_errf(err, "field \"%s\" missing", fd->name);
            continue;
        }
        if (fd->type == JSONL_TEXT && cJSON_IsString(v) && !v->valuestring[0])
            return ob_errf(err, "field \"%s\" is empty", fd->name);
        if (!has_type(v, fd->type))
            return ob_errf(err, "field \"%s\" must be %s, not %s", fd->name, wanted_name(fd->type),
                           type_name(v));
    }
    return 0;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

/* Parses one non-blank line into *out or says what is wrong with it. */
static int parse_line(const char *s, size_t n, const JsonlField *fields, cJSON **out, ObErr *err) {
    size_t nul = ob_json_nul_escape(s, n); /* cJSON would cut the string there */
    if (nul < n)
        return ob_errf(err, "\\u0000 (a NUL character) at column %zu is not supported", nul + 1);
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!obj) {
        size_t col = end && end >= s && end <= s + n ? (size_t)(end - s) + 1 : 1;
        return ob_errf(err, "not valid JSON (column %zu)", col);
    }
    size_t rest = (size_t)(end - s);
    if (!is_blank(s + rest, n - rest)) {
        cJSON_Delete(obj);
        return ob_errf(err, "not valid JSON (unexpected text after the value at column %zu)",
                       rest + 1);
    }
    if (check_record(obj, fields, err)) {
        cJSON_Delete(obj);
        return -1;
    }
    *out = obj;
    return 0;
}

static int append(JsonlFile *f, cJSON *obj, int line, ObErr *err) {
    cJSON **items = realloc(f->items, sizeof(cJSON *) * (f->n + 1));
    if (items) f->items = items;
    int *lines = items ? realloc(f->lines, sizeof(int) * (f->n + 1)) : NULL;
    if (lines) f->lines = lines;
    if (!items || !lines) {
        cJSON_Delete(obj);
        return ob_errf(err, "%s: out of memory at record %d", f->path, f->n + 1);
    }
    f->items[f->n] = obj;
    f->lines[f->n] = line;
    f->n++;
    return 0;
}

int jsonl_parse(JsonlFile *f, const char *name, const char *text, size_t len,
                const JsonlField *fields, ObErr *err) {
    memset(f, 0, sizeof *f);
    size_t nl = strlen(name);
    if (!(f->path = ob_malloc(nl + 1, "file name", err))) return -1;
    memcpy(f->path, name, nl + 1);
    size_t bad = utf8_invalid_at(text, len);
    if (bad < len) {
        int line = 1;
        size_t line_start = 0;
        for (size_t i = 0; i < bad; i++)
            if (text[i] == '\n') line++, line_start = i + 1;
        ob_errf(err, "%s:%d: not UTF-8 (invalid byte 0x%02x at column %zu)", name, line,
                (unsigned char)text[bad], bad - line_start + 1);
        goto fail;
    }
    size_t pos = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    for (int line = 1; pos < len; line++) {
        const char *s = text + pos, *eol = memchr(s, '\n', len - pos);
        size_t n = eol ? (size_t)(eol - s) : len - pos;
        pos += n + (eol != NULL);
        if (is_blank(s, n)) continue;
        cJSON *obj = NULL;
        if (parse_line(s, n, fields, &obj, err)) {
            ob_err_prefix(err, "%s:%d", name, line);
            goto fail;
        }
        if (append(f, obj, line, err)) goto fail;
    }
    if (f->n == 0) {
        ob_errf(err, "%s: no records (the file is empty or blank)", name);
        goto fail;
    }
    return 0;
fail:
    jsonl_free(f);
    return -1;
}

int jsonl_load(JsonlFile *f, const char *path, const JsonlField *fields, ObErr *err) {
    char *text;
    size_t len;
    memset(f, 0, sizeof *f);
    if (ob_read_file(path, &text, &len, err)) return -1;
    int rc = jsonl_parse(f, path, text, len, fields, err);
    free(text);
    return rc;
}

void jsonl_free(JsonlFile *f) {
    for (int i = 0; i < f->n; i++) cJSON_Delete(f->items[i]);
    free(f->items);
    free(f->lines);
    free(f->path);
    memset(f, 0, sizeof *f);
}

int jsonl_check(const JsonlFile *f, const JsonlField *fields, ObErr *err) {
    for (int i = 0; i < f->n; i++)
        if (check_record(f->items[i], fields, err))
            return ob_err_prefix(err, "%s:%d", f->path, f->lines[i]);
    return 0;
}

const char *jsonl_str(const cJSON *rec, const char *name, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return cJSON_IsString(v) ? v->valuestring : def;
}

double jsonl_num(const cJSON *rec, const char *name, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int jsonl_int(const cJSON *rec, const char *name, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return has_type(v, JSONL_INT) ? (int)v->valuedouble : def;
}

int jsonl_errf(const JsonlFile *f, int i, ObErr *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (i >= 0 && i < f->n) return ob_err_prefix(err, "%s:%d", f->path, f->lines[i]);
    return ob_err_prefix(err, "%s", f->path);
}
