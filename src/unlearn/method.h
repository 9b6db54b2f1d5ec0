/* The unlearning methods obliviate runs, by name (`unlearn --method NAME`).
 * A method is a preset over UnlearnConfig's defaults and a run call taking
 * the config; adding one is one file under src/unlearn/ with its run call
 * (as pipeline.c is WHP's) plus one line in method.c's table. */
#ifndef OB_METHOD_H
#define OB_METHOD_H

#include <stddef.h>

#include "unlearn/pipeline.h"

typedef struct {
    const char *name;    /* "whp" */
    const char *summary; /* one line, for --help */
    /* its settings over unlearn_config_defaults (NULL: none); applied after the
     * user's flags, so a preset's settings are the method's own */
    void (*preset)(UnlearnConfig *c);
    int (*run)(const UnlearnConfig *c, ObErr *err);
    /* its settings checked before any work (run checks them too) */
    int (*check)(const UnlearnConfig *c, ObErr *err);
    int needs_anchors; /* WHP's: an anchor dictionary is required */
    /* its unlearning training's checkpoint in the work folder, after which
     * keep_every's snapshots are named (train_snapshot_path); NULL: none */
    const char *ckpt;
    int reinforces; /* runs WHP's reinforce stage (work/reinforced.gguf) */
} UnlearnMethod;

/* The method called name, or NULL. */
const UnlearnMethod *unlearn_method_find(const char *name);
/* One setting by its unlearn flag's name (without "--"): lr, beta, delta,
 * forget-weight, retain-weight, kl-k, layer, steer, negate; range checks
 * are the method's check call's. */
int unlearn_config_set(UnlearnConfig *c, const char *key, double v, ObErr *err);
/* The i-th method of the table (0..), or NULL past its end. */
const UnlearnMethod *unlearn_method_at(int i);
/* The names, comma-separated, into buf ("whp, whp-published, ga, ..."). */
void unlearn_method_names(char *buf, size_t n);

#endif
