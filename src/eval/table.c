#include "eval/table.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void evbuf_vprintf(EvalBuf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = b->failed ? -1 : vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s, b->cap = cap;
    }
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
}

void evbuf_printf(EvalBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    evbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void table_begin(EvalTable *t, const char *const *names, int n_models) {
    memset(t, 0, sizeof *t);
    t->sep = "\n";
    t->n_models = n_models;
    evbuf_printf(&t->rows, "%-30s", "");
    for (int i = 0; i < n_models; i++) {
        int n = (int)strlen(names[i]);
        t->width[i] = n > 10 ? n : 10;
        evbuf_printf(&t->rows, "  %*s", t->width[i], names[i]);
    }
    evbuf_printf(&t->rows, "\n");
}

void table_row(EvalTable *t, const char *label, const char *fmt, const double *v, int dash) {
    evbuf_printf(&t->rows, "%-30s", label);
    for (int i = 0; i < t->n_models; i++) {
        char cell[64];
        if (dash && isnan(v[i]))
            snprintf(cell, sizeof cell, "-");
        else
            snprintf(cell, sizeof cell, fmt, v[i]);
        evbuf_printf(&t->rows, "  %*s", t->width[i], cell);
    }
    evbuf_printf(&t->rows, "\n");
}

void table_note(EvalTable *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    evbuf_printf(&t->notes, "%s", t->sep);
    evbuf_vprintf(&t->notes, fmt, ap);
    va_end(ap);
    t->sep = "; ";
}

void table_line(EvalTable *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    evbuf_vprintf(&t->lines, fmt, ap);
    va_end(ap);
}

char *table_end(EvalTable *t) {
    EvalBuf all = {0};
    evbuf_printf(&all, "%s%s\n%s", t->rows.s ? t->rows.s : "", t->notes.s ? t->notes.s : "",
                 t->lines.s ? t->lines.s : "");
    int failed = t->rows.failed || t->notes.failed || t->lines.failed || all.failed;
    free(t->rows.s), free(t->notes.s), free(t->lines.s);
    memset(t, 0, sizeof *t);
    if (failed) free(all.s);
    return failed ? NULL : all.s;
}
