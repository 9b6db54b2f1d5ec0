#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

static ObLogSink g_sink;
static void *g_ctx;

void ob_log_set(ObLogSink sink, void *ctx) {
    g_sink = sink;
    g_ctx = ctx;
}

void ob_logf(const char *fmt, ...) {
    if (!g_sink) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_sink(g_ctx, buf);
}
