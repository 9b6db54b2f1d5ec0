#include "unlearn/objective.h"

#include <math.h>

void forget_objective_defaults(ForgetObjective *o, ForgetLoss kind) {
    *o = (ForgetObjective){.kind = kind, .beta = 0.1f, .delta = 0.0f, .gamma = 1.0f};
    if (kind == FORGET_SIMNPO) o->beta = 4.5f, o->gamma = 0.125f;
    if (kind == FORGET_UNDIAL) o->beta = 10.0f;
}

void objective_config_defaults(ObjectiveConfig *c, ForgetLoss forget, RetainLoss retain) {
    forget_objective_defaults(&c->forget, forget);
    c->retain = retain, c->alpha = 1.0f, c->kl_k = 32;
    c->layer = -1, c->steer = 6.5f;
    if (forget == FORGET_RMU) c->alpha = 1200.0f;
}

/* log(1 + e^x) without overflow, and its derivative, the logistic sigmoid. */
static double softplus(double x) {
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}
static double sigmoid(double x) {
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

double forget_seq_loss(const ForgetObjective *o, double nll, int n, double ref_nll, double *dnll) {
    double g = o->gamma, b = o->beta;
    switch (o->kind) {
    case FORGET_GA: *dnll = n > 0 ? -g / n : 0.0; return -g * nll / (n > 0 ? n : 1);
    case FORGET_NPO: {
        double d = ref_nll - nll; /* logp_theta - logp_ref */
        *dnll = -2.0 * g * sigmoid(b * d);
        return g * (2.0 / b) * softplus(b * d);
    }
    case FORGET_SIMNPO: {
        if (n <= 0) return *dnll = 0.0, 0.0;
        double u = b * (nll / n - o->delta);
        *dnll = -2.0 * g * sigmoid(-u) / n;
        return g * (2.0 / b) * softplus(-u);
    }
    case FORGET_LEVEL: {
        if (n <= 0) return *dnll = 0.0, 0.0;
        /* never below the reference's own loss: a window harder than the
         * level is held where it was, not trained in */
        double d = nll / n - fmax(o->level, ref_nll / n);
        *dnll = g * d / n;
        return 0.5 * g * d * d;
    }
    case FORGET_UNDIAL:     /* soft targets, not a sequence weight */
    case FORGET_RMU: break; /* hidden states */
    }
    return *dnll = 0.0, 0.0;
}

/* Sequence b's summed loss over its scored positions, and their count. */
static double seq_sum(const Llama *m, const int32_t *targets, int T, int b, int *n) {
    double s = 0;
    *n = 0;
    for (int t = 0; t < T; t++) {
        size_t i = (size_t)b * T + t;
        if (targets[i] >= 0) s += m->acts.losses[i], (*n)++;
    }
    return s;
}

void forget_seq_nll(const Llama *m, const int32_t *targets, int B, int T, double *nll, int *n) {
    for (int b = 0; b < B; b++) {
        int c;
        nll[b] = seq_sum(m, targets, T, b, &c);
        if (n) n[b] = c;
    }
}

double forget_batch(const ForgetObjective *o, const Llama *m, const int32_t *targets, int B, int T,
                    int B_total, const double *ref_nll, float *row_scale) {
    double loss = 0;
    for (int b = 0; b < B; b++) {
        int n;
        double nll = seq_sum(m, targets, T, b, &n), dnll;
        loss += forget_seq_loss(o, nll, n, ref_nll ? ref_nll[b] : 0.0, &dnll) / B_total;
        for (int t = 0; t < T; t++) row_scale[(size_t)b * T + t] = (float)(dnll / B_total);
    }
    return loss;
}
