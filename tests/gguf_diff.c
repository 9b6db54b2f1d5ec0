/* gguf_diff A.gguf B.gguf: the largest difference between the tensors of two
 * GGUF files with the same tensors, as one JSON line {"tensors", "elements",
 * "max_abs", "max_rel", "rel_l2", "worst"}; max_rel is |a - b| / max(|a|, |b|,
 * 1e-3) (so weights near zero do not blow it up), rel_l2 is |a - b| / |a| over
 * all weights as one vector. Exit 1 when the files' tensors
 * differ in name or shape. Used by tests/test_mpi.sh.
 *
 * gguf_diff --each A.gguf B.gguf: one line per tensor, "NAME MAX_ABS", for
 * tests of which tensors a method moved (tests/test_methods.sh). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"

static int fail(const char *msg) {
    fprintf(stderr, "gguf_diff: %s\n", msg);
    return 1;
}

int main(int argc, char **argv) {
    int each = argc == 4 && !strcmp(argv[1], "--each");
    if (each) argv++, argc--;
    if (argc != 3) return fail("usage: gguf_diff [--each] A.gguf B.gguf");
    GGUFFile a, b;
    ObErr err;
    if (gguf_open(&a, argv[1], &err)) return fail(err.msg);
    if (gguf_open(&b, argv[2], &err)) return gguf_close(&a), fail(err.msg);
    int rc = a.n_tensors == b.n_tensors ? 0 : fail("different tensor counts");
    double max_abs = 0, max_rel = 0, d2 = 0, a2 = 0;
    uint64_t elems = 0;
    const char *worst = "";
    for (uint64_t i = 0; !rc && i < a.n_tensors; i++) {
        const GGUFTensor *ta = &a.tensors[i], *tb = gguf_find_tensor(&b, ta->name);
        if (!tb || tb->n_elems != ta->n_elems) {
            rc = fail(ta->name);
            break;
        }
        float *x = malloc(sizeof(float) * ta->n_elems), *y = malloc(sizeof(float) * ta->n_elems);
        if (!x || !y || gguf_tensor_to_f32(&a, ta, x, &err) || gguf_tensor_to_f32(&b, tb, y, &err))
            rc = fail(x && y ? err.msg : "out of memory");
        double t_abs = 0;
        for (uint64_t j = 0; !rc && j < ta->n_elems; j++) {
            double d = fabs((double)x[j] - y[j]), s = fmax(fmax(fabs(x[j]), fabs(y[j])), 1e-3);
            if (d > max_abs) max_abs = d;
            if (d > t_abs) t_abs = d;
            d2 += d * d, a2 += (double)x[j] * x[j];
            if (d / s > max_rel) max_rel = d / s, worst = ta->name;
        }
        elems += ta->n_elems;
        if (each && !rc) printf("%s %.9g\n", ta->name, t_abs);
        free(x), free(y);
    }
    if (!rc && !each)
        printf("{\"tensors\":%llu,\"elements\":%llu,\"max_abs\":%.9g,\"max_rel\":%.9g,"
               "\"rel_l2\":%.9g,\"worst\":\"%s\"}\n",
               (unsigned long long)a.n_tensors, (unsigned long long)elems, max_abs, max_rel,
               a2 > 0 ? sqrt(d2 / a2) : sqrt(d2), worst);
    gguf_close(&a);
    gguf_close(&b);
    return rc;
}
