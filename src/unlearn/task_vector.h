/* Task-vector negation (Ilharco et al. 2023; MUSE's "task vector"): the
 * reinforced model R of WHP's first step, BASE trained further on the
 * target, gives the direction the target moved the weights; the unlearned
 * model goes the other way, theta = BASE - a (R - BASE), with no training
 * beyond R's. */
#ifndef OB_TASK_VECTOR_H
#define OB_TASK_VECTOR_H

#include "unlearn/pipeline.h"
#include "util/err.h"

/* theta = base - a (reinforced - base), for every weight of two full models
 * of the same shape, written to out (F32). In double, rounded once, so the
 * result is the arithmetic's whatever the compiler contracts. */
int task_vector_negate(const char *base, const char *reinforced, float a, const char *out,
                       ObErr *err);
/* The same for an adapter of BASE: the negated adapter (B scaled by -a), so
 * that BASE + adapter = BASE - a (R - BASE) with R = BASE + the reinforced
 * adapter. */
int task_vector_negate_lora(const char *base, const char *adapter, float a, const char *out,
                            ObErr *err);

/* `unlearn --method task-vector`: the reinforce stage (work/reinforced.gguf,
 * as WHP's), then stage "negate" (work/unlearned.gguf), then the publish. */
int task_vector_unlearn(const UnlearnConfig *c, ObErr *err);
int task_vector_check(const UnlearnConfig *c, ObErr *err);

#endif
