#include "eval/quantized.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/quantize.h"
#include "util/fileio.h"
#include "util/log.h"

/* Splits "q4_k_m,q8_0" in place; returns the count, -1 on an unknown or
 * empty name or more than 8. */
static int split_schemes(char *buf, const char *out[8]) {
    int n = 0;
    for (char *s = buf, *comma; s; s = comma ? comma + 1 : NULL) {
        if ((comma = strchr(s, ','))) *comma = 0;
        if (n == 8 || !quant_scheme_known(s)) return -1;
        out[n++] = s;
    }
    return n;
}

const char *eval_quantized_check(const EvalConfig *c) {
    if (!c->quantize) return NULL;
    char buf[256];
    const char *s[8];
    if (strlen(c->quantize) >= sizeof buf) return "--quantize: too long";
    strcpy(buf, c->quantize);
    int n = split_schemes(buf, s);
    if (n < 0)
        return "--quantize takes up to 8 of q8_0, q4_0, q5_0, q5_1, q4_k_m, q5_k_m, q6_k, "
               "comma-separated";
    if ((long)c->models.n * (n + 1) > EVAL_MAX)
        return "--quantize: at most 32 models in all (each scheme adds one per --model)";
    return NULL;
}

int eval_quantized_make(const EvalConfig *c, EvalQuantized *q, ObErr *err) {
    memset(q, 0, sizeof *q);
    const char *bad = eval_quantized_check(c);
    if (bad) return ob_errf(err, "%s", bad);
    const char *schemes[8];
    int ns = 0;
    if (c->quantize) {
        snprintf(q->scheme_buf, sizeof q->scheme_buf, "%s", c->quantize);
        ns = split_schemes(q->scheme_buf, schemes);
        if (c->quantize_dir) {
            snprintf(q->dir, sizeof q->dir, "%s", c->quantize_dir);
            if (mkdir(q->dir, 0777) && access(q->dir, W_OK))
                return ob_errf(err, "%s: cannot create or write the folder", q->dir);
        } else {
            if (ob_make_temp_dir(q->dir, sizeof q->dir, NULL, "quant", err)) return -1;
            q->temporary = 1;
        }
    }
    for (int i = 0; i < c->models.n; i++) {
        q->items[q->n] = c->models.items[i], q->from[q->n++] = i;
        for (int s = 0; s < ns; s++) {
            char path[4352];
            snprintf(path, sizeof path, "%s/model%d.%s.gguf", q->dir, i, schemes[s]);
            ob_logf("eval: quantising %s to %s\n", c->models.items[i], schemes[s]);
            QuantStats st;
            if (model_quantize(c->models.items[i], path, schemes[s], &st, err)) return -1;
            if (!(q->owned[q->n] = strdup(path)))
                return unlink(path), ob_errf(err, "out of memory");
            if (q->temporary) ob_tmp_register(path); /* an interrupted eval removes it */
            q->items[q->n] = q->owned[q->n], q->from[q->n] = i, q->scheme[q->n++] = schemes[s];
        }
    }
    return 0;
}

void eval_quantized_free(EvalQuantized *q) {
    for (int i = 0; i < q->n; i++) {
        if (q->owned[i] && q->temporary) ob_tmp_unregister(q->owned[i]), unlink(q->owned[i]);
        free(q->owned[i]);
    }
    if (q->temporary) rmdir(q->dir);
    q->n = 0;
}
