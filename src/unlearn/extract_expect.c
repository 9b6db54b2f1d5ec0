/* Expected entities (a test list): parsing its lines, the share of them
 * among the keys, and the report's record of each. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"

typedef struct {
    char *entity;
    char **heads;
    int n_heads;
} Expect;

static int has_key(const ExtractResult *r, const char *s) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->p[i].key, s)) return 1;
    return 0;
}

/* Splits one line "ENTITY<TAB>HEAD|HEAD" in place. */
static int parse_expect_line(char *line, Expect *e) {
    char *tab = strchr(line, '\t');
    e->entity = line;
    e->n_heads = 0;
    e->heads = NULL;
    if (!tab) return 0;
    *tab = 0;
    int n = 1;
    for (char *p = tab + 1; *p; p++) n += *p == '|';
    e->heads = calloc((size_t)n, sizeof *e->heads);
    if (!e->heads) return -1;
    for (char *p = tab + 1; p;) {
        char *bar = strchr(p, '|');
        if (bar) *bar = 0;
        if (*p) e->heads[e->n_heads++] = p;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Calls fn for every entity line; stops at an error. */
static int each_expect(const char *text, size_t len,
                       int (*fn)(void *ctx, const Expect *e, int found), void *ctx,
                       const ExtractResult *r, ObErr *err) {
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t s = i, f = e;
        i = e + 1;
        while (f > s && (text[f - 1] == '\r' || text[f - 1] == ' ')) f--;
        if (f == s || text[s] == '#') continue;
        char *line = malloc(f - s + 1);
        if (!line) return ob_errf(err, "out of memory");
        memcpy(line, text + s, f - s);
        line[f - s] = 0;
        Expect x;
        if (parse_expect_line(line, &x)) return free(line), ob_errf(err, "out of memory");
        int found = has_key(r, x.entity);
        for (int h = 0; h < x.n_heads && !found; h++) found = has_key(r, x.heads[h]);
        int rc = fn(ctx, &x, found);
        free(x.heads);
        free(line);
        if (rc) return ob_errf(err, "out of memory");
    }
    return 0;
}

typedef struct {
    int found, total;
    char *misses;
    size_t len;
    cJSON *arr;
} ExpectAcc;

static int expect_count(void *ctx, const Expect *e, int found) {
    ExpectAcc *a = ctx;
    a->total++;
    a->found += found;
    if (found) return 0;
    size_t n = strlen(e->entity);
    char *m = realloc(a->misses, a->len + n + 3);
    if (!m) return -1;
    a->misses = m;
    if (a->len) memcpy(m + a->len, ", ", 2), a->len += 2;
    memcpy(m + a->len, e->entity, n + 1);
    a->len += n;
    return 0;
}

static int expect_json(void *ctx, const Expect *e, int found) {
    ExpectAcc *a = ctx;
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddStringToObject(o, "entity", e->entity);
    cJSON *h = cJSON_AddArrayToObject(o, "heads");
    for (int i = 0; i < e->n_heads; i++) cJSON_AddItemToArray(h, cJSON_CreateString(e->heads[i]));
    cJSON_AddBoolToObject(o, "found", found);
    cJSON_AddItemToArray(a->arr, o);
    return 0;
}

int extract_expect(const ExtractResult *r, const char *text, size_t len, int *found, int *total,
                   char **misses, ObErr *err) {
    ExpectAcc a = {0};
    if (each_expect(text, len, expect_count, &a, r, err)) return free(a.misses), -1;
    *found = a.found;
    *total = a.total;
    *misses = a.misses ? a.misses : strdup("");
    return *misses ? 0 : ob_errf(err, "out of memory");
}

cJSON *ex_expect_json(const ExtractResult *r, const char *text, size_t len) {
    ExpectAcc a = {0};
    ObErr err;
    a.arr = cJSON_CreateArray();
    if (!a.arr || each_expect(text, len, expect_json, &a, r, &err))
        return cJSON_Delete(a.arr), NULL;
    int found = 0, n = cJSON_GetArraySize(a.arr);
    for (cJSON *e = a.arr->child; e; e = e->next)
        found += cJSON_IsTrue(cJSON_GetObjectItem(e, "found"));
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "found", found);
    cJSON_AddNumberToObject(x, "total", n);
    cJSON_AddItemToObject(x, "entities", a.arr);
    return x;
}
