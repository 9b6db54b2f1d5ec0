#include "unlearn/method.h"

#include <stdio.h>
#include <string.h>

static const UnlearnMethod METHODS[] = {
    {"whp",
     "Eldan & Russinovich's method with this project's defaults (soft targets, "
     "forbidden single-token keys, suppression, in-key labels)",
     NULL, unlearn_run},
    {"whp-published", "the paper's recipe: hard labels, alpha 5, nothing forbidden",
     unlearn_config_published, unlearn_run},
};
enum { N_METHODS = sizeof METHODS / sizeof METHODS[0] };

const UnlearnMethod *unlearn_method_find(const char *name) {
    for (int i = 0; i < N_METHODS; i++)
        if (!strcmp(METHODS[i].name, name)) return &METHODS[i];
    return NULL;
}

void unlearn_method_names(char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < N_METHODS && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", METHODS[i].name);
}
