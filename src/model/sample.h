/* Choosing the next token from logits: greedy, temperature, top-k, top-p. */
#ifndef OB_SAMPLE_H
#define OB_SAMPLE_H

#include "util/err.h"
#include "util/rng.h"

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = all */
    float top_p;       /* 1 = all */
} SamplerConfig;

typedef struct {
    SamplerConfig cfg;
    int V;
    float *probs; /* (V) scratch */
    int *idx;     /* (V) scratch */
    ObRng rng;
} Sampler;

int sampler_init(Sampler *s, const SamplerConfig *c, int V, uint64_t seed, ObErr *err);
void sampler_free(Sampler *s);
/* Index of the largest logit (the first one on ties). */
int sample_argmax(const float *logits, int V);
int sample_next(Sampler *s, const float *logits);

#endif
