/* The field's forget objectives (unlearn/objective.h) on a tiny model:
 * - NPO's loss equals its formula computed directly from log-probabilities
 *   (a log-softmax in double per position, logp_by_hand), for a model and a
 *   reference that differ; SimNPO's and GA's likewise;
 * - finite-difference gradients of each objective through the whole model
 *   (forward, forget_batch's weights, llama_backward_rows);
 * - the signatures: GA's loss falls without bound as the forget loss grows,
 *   NPO's stays above 0 and its weight vanishes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "model/llama.h"
#include "tiny.h"
#include "unlearn/objective.h"
#include "util/rng.h"

enum { B = 3, T = 12, V = 40 };
static ObRng rng;
static int32_t inp[B * T], tgt[B * T];

static void make_model(Llama *m, uint64_t seed) {
    ObErr err;
    LlamaConfig cfg = tiny_shape(16, 1, 2, 1, 32, V, T, 1);
    CHECK(llama_create(m, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(m, seed);
    CHECK(llama_alloc_batch(m, B, T, &err) == 0, "%s", err.msg);
}

static void make_batch(void) {
    for (int i = 0; i < B * T; i++) inp[i] = (int32_t)(ob_rng_u64(&rng) % V);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            tgt[b * T + t] = t + 1 < T ? inp[b * T + t + 1] : -1; /* last position unscored */
    tgt[1 * T + 3] = -1;                                          /* and one masked inside */
}

/* The objective by the formula, from log-probabilities computed directly:
 * logp(x) = sum over scored positions of log softmax(logits)[target]. */
static double direct(const ForgetObjective *o, Llama *m, Llama *ref) {
    double loss = 0;
    for (int b = 0; b < B; b++) {
        double lp = 0, lr = 0;
        int n = 0;
        for (int t = 0; t < T; t++) {
            if (tgt[b * T + t] < 0) continue;
            /* log P(target | prefix): the sequence up to and including the target */
            int32_t ids[T + 1];
            memcpy(ids, inp + b * T, sizeof(int32_t) * (t + 1));
            ids[t + 1] = tgt[b * T + t];
            lp += logp_by_hand(m, ids, t + 2, t + 1);
            if (ref) lr += logp_by_hand(ref, ids, t + 2, t + 1);
            n++;
        }
        double sig;
        switch (o->kind) {
        case FORGET_GA: loss += o->gamma * lp / n / B; break; /* -gamma x mean token loss */
        case FORGET_NPO: /* -(2/beta) log sigmoid(-beta (logp - logp_ref)) */
            sig = 1.0 / (1.0 + exp(o->beta * (lp - lr)));
            loss += -o->gamma * (2.0 / o->beta) * log(sig) / B;
            break;
        case FORGET_SIMNPO: /* -(2/beta) log sigmoid(beta (l - delta)), l = -lp / n */
            sig = 1.0 / (1.0 + exp(-o->beta * (-lp / n - o->delta)));
            loss += -o->gamma * (2.0 / o->beta) * log(sig) / B;
            break;
        case FORGET_UNDIAL: break;
        }
    }
    ObErr err;
    CHECK(llama_alloc_batch(m, B, T, &err) == 0, "%s", err.msg);
    if (ref) CHECK(llama_alloc_batch(ref, B, T, &err) == 0, "%s", err.msg);
    return loss;
}

typedef struct {
    const ForgetObjective *o;
    Llama *m;
    const double *ref_nll;
    float *w;
} ObjCtx;

static double obj_loss(void *p) {
    ObjCtx *c = p;
    llama_forward(c->m, inp, tgt, T, NULL);
    return forget_batch(c->o, c->m, tgt, B, T, B, c->ref_nll, c->w);
}

static void test_objectives(void) {
    Llama m, ref;
    make_model(&m, 11);
    make_model(&ref, 12);
    make_batch();
    double ref_nll[B];
    llama_forward(&ref, inp, tgt, T, NULL);
    forget_seq_nll(&ref, tgt, B, T, ref_nll, NULL);
    ObErr err;
    CHECK(llama_alloc_grads(&m, &err) == 0, "%s", err.msg);
    float w[B * T];
    const char *names[] = {"GA", "NPO", "SimNPO"};
    for (int k = FORGET_GA; k <= FORGET_SIMNPO; k++) {
        ForgetObjective o;
        forget_objective_defaults(&o, (ForgetLoss)k);
        /* betas where the sigmoid is far from 0, 1/2 and 1 on this batch
         * (SimNPO's 4.5 would put it at 1 - 1e-7: MUSE Books uses 0.7) */
        if (k == FORGET_NPO) o.beta = 0.5f;
        if (k == FORGET_SIMNPO) o.beta = 0.7f;
        ObjCtx c = {&o, &m, k == FORGET_NPO ? ref_nll : NULL, w};
        double got = obj_loss(&c);
        double want = direct(&o, &m, k == FORGET_NPO ? &ref : NULL);
        CHECK(fabs(got - want) < 1e-4 * fmax(1.0, fabs(want)), "%s: loss %.7g, formula %.7g",
              names[k], got, want);
        /* the gradient through the whole model */
        obj_loss(&c);
        llama_zero_grads(&m);
        llama_backward_rows(&m, 1.0f, w);
        double e = grad_check(obj_loss, &c, m.params, m.grads, m.n_params, 60, 1e-2f);
        CHECK(e < 2e-2, "%s: gradient error %.3g", names[k], e);
        fprintf(stderr, "  %s: loss %.5f (formula %.5f), gradient error %.2g\n", names[k], got,
                want, e);
    }
    llama_free(&m), llama_free(&ref);
}

/* GA's loss goes to -inf as the forget loss grows; NPO's stays positive and
 * its weight on the gradient goes to 0 (so it stops pushing). */
static void test_bounded(void) {
    ForgetObjective ga, npo, sim;
    forget_objective_defaults(&ga, FORGET_GA);
    forget_objective_defaults(&npo, FORGET_NPO);
    forget_objective_defaults(&sim, FORGET_SIMNPO);
    double d_ga, d_npo, d_sim;
    double l_ga = forget_seq_loss(&ga, 1e4, 100, 0, &d_ga);
    double l_npo = forget_seq_loss(&npo, 1e4, 100, 300.0, &d_npo);
    double l_sim = forget_seq_loss(&sim, 1e4, 100, 0, &d_sim);
    CHECK(l_ga == -100.0 && d_ga == -0.01, "GA: %g, %g", l_ga, d_ga); /* mean loss 100, ascended */
    CHECK(l_npo >= 0 && l_npo < 1e-30 && fabs(d_npo) < 1e-30, "NPO: %g, %g", l_npo, d_npo);
    CHECK(l_sim >= 0 && l_sim < 1e-30 && fabs(d_sim) < 1e-30, "SimNPO: %g, %g", l_sim, d_sim);
    /* at the reference, NPO's loss is (2/beta) log 2 and its weight -1 */
    double l0 = forget_seq_loss(&npo, 50.0, 10, 50.0, &d_npo);
    CHECK(fabs(l0 - 2.0 / npo.beta * log(2.0)) < 1e-9 && fabs(d_npo + 1.0) < 1e-12,
          "NPO at ref: %g, %g", l0, d_npo);
}

int main(void) {
    ob_rng_seed(&rng, 5);
    RUN(test_objectives);
    RUN(test_bounded);
    return check_main_end("objective");
}
