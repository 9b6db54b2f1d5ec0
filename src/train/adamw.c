#include "train/adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int adamw_init(AdamW *opt, size_t n, ObErr *err) {
    memset(opt, 0, sizeof *opt);
    opt->m = ob_calloc(2 * n, sizeof(float), "optimizer moments", err);
    if (!opt->m) return -1;
    opt->v = opt->m + n;
    opt->n = n;
    return 0;
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    memset(opt, 0, sizeof *opt);
}

void adamw_step(AdamW *opt, const AdamWConfig *c, float lr, float *params, const float *grads,
                const ParamSegment *segs, int n_segs) {
    opt->t++;
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    float bc1 = 1.0f - powf(b1, (float)opt->t), bc2 = 1.0f - powf(b2, (float)opt->t);
    float step = lr / bc1, rbc2 = 1.0f / sqrtf(bc2);
    for (int s = 0; s < n_segs; s++) {
        float decay = segs[s].decay ? 1.0f - lr * c->weight_decay : 1.0f;
        float *p = params + segs[s].offset, *m = opt->m + segs[s].offset;
        float *v = opt->v + segs[s].offset;
        const float *g = grads + segs[s].offset;
        long n = (long)segs[s].len;
#pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; i++) {
            float gi = g[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            p[i] = p[i] * decay - step * m[i] / (sqrtf(v[i]) * rbc2 + eps);
        }
    }
}

double grad_global_norm(const float *grads, size_t n) {
    /* Fixed partition into 64 chunks, summed in order: the same bits for
     * any thread count. */
    enum { CHUNKS = 64 };
    double part[CHUNKS];
#pragma omp parallel for schedule(static)
    for (int c = 0; c < CHUNKS; c++) {
        size_t lo = n * c / CHUNKS, hi = n * (c + 1) / CHUNKS;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)grads[i] * grads[i];
        part[c] = s;
    }
    double s = 0.0;
    for (int c = 0; c < CHUNKS; c++) s += part[c];
    return sqrt(s);
}

double grad_clip(float *grads, size_t n, double max_norm) {
    double norm = grad_global_norm(grads, n);
    if (max_norm > 0 && norm > max_norm) {
        float k = (float)(max_norm / (norm + 1e-6));
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) grads[i] *= k;
    }
    return norm;
}

float lr_at(Schedule s, float lr, float min_lr, long warmup, long total, long step) {
    if (step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (s == SCHED_CONSTANT || total <= warmup) return lr;
    double frac = (double)(step - warmup) / (double)(total - warmup);
    if (frac > 1.0) frac = 1.0;
    double k = s == SCHED_LINEAR ? 1.0 - frac : 0.5 * (1.0 + cos(M_PI * frac));
    return (float)(min_lr + (lr - min_lr) * k);
}

int schedule_parse(const char *name) {
    if (!strcmp(name, "constant")) return SCHED_CONSTANT;
    if (!strcmp(name, "linear")) return SCHED_LINEAR;
    if (!strcmp(name, "cosine")) return SCHED_COSINE;
    return -1;
}
