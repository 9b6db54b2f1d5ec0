/* AdamW with decoupled weight decay (Loshchilov & Hutter), as
 * torch.optim.AdamW computes it, plus global-norm clipping and learning-rate
 * schedules. Moments live in one allocation; a step allocates nothing. */
#ifndef OB_ADAMW_H
#define OB_ADAMW_H

#include <stddef.h>

#include "util/err.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
} AdamWConfig;

/* A contiguous run of parameters and whether weight decay applies to it
 * (not to norm scales). */
typedef struct {
    size_t offset, len;
    int decay;
} ParamSegment;

typedef struct {
    float *m, *v; /* (n) first and second moments */
    size_t n;
    long t; /* steps taken */
} AdamW;

int adamw_init(AdamW *opt, size_t n, ObErr *err);
void adamw_free(AdamW *opt);
/* One update of params with grads at learning rate lr. */
void adamw_step(AdamW *opt, const AdamWConfig *c, float lr, float *params, const float *grads,
                const ParamSegment *segs, int n_segs);

/* L2 norm of grads (n), summed in a fixed order for a fixed thread count. */
double grad_global_norm(const float *grads, size_t n);
/* Scales grads so their norm is at most max_norm; returns the norm before. */
double grad_clip(float *grads, size_t n, double max_norm);

typedef enum { SCHED_CONSTANT, SCHED_LINEAR, SCHED_COSINE } Schedule;

/* Learning rate at step (0-based) of total: linear warmup from 0 over
 * `warmup` steps, then constant, linear or cosine decay to min_lr at total. */
float lr_at(Schedule s, float lr, float min_lr, long warmup, long total, long step);
/* "constant" | "linear" | "cosine" -> Schedule; -1 if unknown. */
int schedule_parse(const char *name);

#endif
