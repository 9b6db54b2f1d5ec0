#include "model/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sampler_init(Sampler *s, const SamplerConfig *c, int V, uint64_t seed, ObErr *err) {
    memset(s, 0, sizeof *s);
    if (c->temperature < 0 || c->top_k < 0 || !(c->top_p > 0 && c->top_p <= 1))
        return ob_errf(err, "sampling needs temperature >= 0, top-k >= 0, 0 < top-p <= 1");
    s->cfg = *c;
    s->V = V;
    s->probs = ob_malloc(sizeof(float) * V, "sampler", err);
    s->idx = s->probs ? ob_malloc(sizeof(int) * V, "sampler", err) : NULL;
    if (!s->idx) {
        sampler_free(s);
        return -1;
    }
    ob_rng_seed(&s->rng, seed);
    return 0;
}

void sampler_free(Sampler *s) {
    free(s->probs);
    free(s->idx);
    memset(s, 0, sizeof *s);
}

int sample_argmax(const float *logits, int V) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

static int by_prob_desc(const void *a, const void *b, void *probs) {
    const float *p = probs;
    float pa = p[*(const int *)a], pb = p[*(const int *)b];
    if (pa != pb) return pa < pb ? 1 : -1;
    return *(const int *)a - *(const int *)b;
}

int sample_next(Sampler *s, const float *logits) {
    const SamplerConfig *c = &s->cfg;
    int V = s->V;
    if (c->temperature == 0) return sample_argmax(logits, V);
    float mx = logits[sample_argmax(logits, V)];
    double sum = 0;
    for (int i = 0; i < V; i++) sum += s->probs[i] = expf((logits[i] - mx) / c->temperature);
    for (int i = 0; i < V; i++) s->probs[i] = (float)(s->probs[i] / sum), s->idx[i] = i;
    int n = V;
    if (c->top_k > 0 || c->top_p < 1) {
        qsort_r(s->idx, V, sizeof(int), by_prob_desc, s->probs);
        if (c->top_k > 0 && c->top_k < n) n = c->top_k;
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += s->probs[s->idx[i]];
            if (cum >= c->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    double mass = 0;
    for (int i = 0; i < n; i++) mass += s->probs[s->idx[i]];
    double r = ob_rng_uniform(&s->rng) * mass, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += s->probs[s->idx[i]];
        if (r < acc) return s->idx[i];
    }
    return s->idx[n - 1];
}
