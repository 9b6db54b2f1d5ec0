/* The field's forget objectives (unlearn/objective.h) on a tiny model:
 * - NPO's loss equals its formula computed directly from log-probabilities
 *   (a log-softmax in double per position, logp_by_hand), for a model and a
 *   reference that differ; SimNPO's and GA's likewise;
 * - finite-difference gradients of each objective through the whole model
 *   (forward, forget_batch's weights, llama_backward_rows);
 * - the signatures: GA's loss falls without bound as the forget loss grows,
 *   NPO's stays above 0 and its weight vanishes;
 * - RMU: its loss (hidden states at a block, mean squared error to c u and
 *   to a reference's) against a direct sum, its gradient through blocks
 *   0..L by finite differences, and the mask that leaves every weight but
 *   the MLPs of blocks L-2..L without gradient;
 * - the task vector: base - a (reinforced - base), as written to a file,
 *   equals the arithmetic done here for every weight, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "model/checkpoint.h"
#include "model/llama.h"
#include "tiny.h"
#include "tmpdir.h"
#include "unlearn/objective.h"
#include "unlearn/rmu.h"
#include "unlearn/task_vector.h"
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
        case FORGET_LEVEL: /* gamma/2 (l - max(level, l_ref))^2, l = -lp / n */
            sig = -lp / n - fmax(o->level, -lr / n);
            loss += o->gamma * 0.5 * sig * sig / B;
            break;
        case FORGET_UNDIAL:
        case FORGET_RMU: break;
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
    const char *names[] = {"GA", "NPO", "SimNPO", "", "", "level"};
    for (int k = FORGET_GA; k <= FORGET_LEVEL; k++) {
        if (k == FORGET_UNDIAL || k == FORGET_RMU) continue; /* not sequence weights */
        ForgetObjective o;
        forget_objective_defaults(&o, (ForgetLoss)k);
        /* betas where the sigmoid is far from 0, 1/2 and 1 on this batch
         * (SimNPO's 4.5 would put it at 1 - 1e-7: MUSE Books uses 0.7) */
        if (k == FORGET_NPO) o.beta = 0.5f;
        if (k == FORGET_SIMNPO) o.beta = 0.7f;
        /* a level above some windows' reference loss and below others' */
        if (k == FORGET_LEVEL) o.level = (float)((ref_nll[0] + ref_nll[B - 1]) / 2 / (T - 1));
        int uses_ref = k == FORGET_NPO || k == FORGET_LEVEL;
        ObjCtx c = {&o, &m, uses_ref ? ref_nll : NULL, w};
        double got = obj_loss(&c);
        double want = direct(&o, &m, uses_ref ? &ref : NULL);
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
    /* level: ascent below the level, descent past it, nothing at it; a
     * window the reference finds harder than the level is held at the
     * reference's loss (never trained in) */
    ForgetObjective lv;
    forget_objective_defaults(&lv, FORGET_LEVEL);
    lv.level = 4.0f;
    double d_below, d_above, d_at;
    forget_seq_loss(&lv, 300.0, 100, 0, &d_below);
    forget_seq_loss(&lv, 500.0, 100, 0, &d_above);
    double l_at = forget_seq_loss(&lv, 400.0, 100, 0, &d_at);
    double d_hard, d_hard_at;
    forget_seq_loss(&lv, 500.0, 100, 600.0, &d_hard);
    forget_seq_loss(&lv, 600.0, 100, 600.0, &d_hard_at);
    CHECK(fabs(d_below + 0.01) < 1e-12 && fabs(d_above - 0.01) < 1e-12 && l_at == 0 && d_at == 0 &&
              fabs(d_hard + 0.01) < 1e-12 && d_hard_at == 0,
          "level: %g, %g, %g at %g; harder than the level: %g, %g", d_below, d_above, d_at, l_at,
          d_hard, d_hard_at);
    /* at the reference, NPO's loss is (2/beta) log 2 and its weight -1 */
    double l0 = forget_seq_loss(&npo, 50.0, 10, 50.0, &d_npo);
    CHECK(fabs(l0 - 2.0 / npo.beta * log(2.0)) < 1e-9 && fabs(d_npo + 1.0) < 1e-12,
          "NPO at ref: %g, %g", l0, d_npo);
}

/* RMU's two terms on a 3-block model steered at block 1 (x[2]). */
typedef struct {
    Llama *m, *ref;
    const float *target;
    float *dh;
    double wf, wr;
} RmuCtx;

enum { RMU_L = 1 };

static double rmu_loss(void *p) {
    RmuCtx *c = p;
    int C = c->m->cfg.dim;
    const float *hr = llama_forward_hidden(c->ref, inp, T, RMU_L + 1);
    const float *h = llama_forward_hidden(c->m, inp, T, RMU_L + 1);
    return rmu_mse(h, c->target, 0, (size_t)B * T, C, c->wf, c->dh) +
           rmu_mse(h, hr, (size_t)C, (size_t)B * T, C, c->wr, c->dh);
}

static void test_rmu(void) {
    ObErr err;
    Llama m, ref;
    LlamaConfig cfg = tiny_shape(16, 3, 2, 1, 32, V, T, 1);
    CHECK(llama_create(&m, &cfg, &err) == 0 && llama_create(&ref, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(&m, 21), llama_init_random(&ref, 22);
    CHECK(llama_alloc_batch(&m, B, T, &err) == 0 && llama_alloc_batch(&ref, B, T, &err) == 0 &&
              llama_alloc_grads(&m, &err) == 0,
          "%s", err.msg);
    make_batch();
    int C = cfg.dim;
    size_t N = (size_t)B * T;
    float u[16], *dh = malloc(sizeof(float) * N * C), *d2 = malloc(sizeof(float) * N * C);
    rmu_direction(u, C, 3);
    double n2 = 0;
    int neg = 0;
    for (int i = 0; i < C; i++) n2 += (double)u[i] * u[i], neg += u[i] < 0;
    CHECK(neg == 0, "u has %d negative elements", neg);
    CHECK(fabs(n2 - 1) < 1e-6, "|u|^2 = %g", n2);
    for (int i = 0; i < C; i++) u[i] *= 6.5f;
    RmuCtx c = {&m, &ref, u, dh, 0.5 / ((double)N * C), 3.0 / ((double)N * C)};
    /* the loss against a direct sum over the hidden states */
    double got = rmu_loss(&c), want = 0;
    const float *hr = llama_forward_hidden(&ref, inp, T, RMU_L + 1);
    const float *h = llama_forward_hidden(&m, inp, T, RMU_L + 1);
    for (size_t n = 0; n < N; n++)
        for (int i = 0; i < C; i++) {
            double a = h[n * C + i] - (double)u[i], b = h[n * C + i] - (double)hr[n * C + i];
            want += c.wf * a * a + c.wr * b * b;
        }
    CHECK(fabs(got - want) < 1e-9 * fmax(1, want), "rmu loss %.9g, direct %.9g", got, want);
    /* its gradient through blocks 0..RMU_L: the two terms' dh summed */
    h = llama_forward_hidden(&ref, inp, T, RMU_L + 1);
    memcpy(d2, h, sizeof(float) * N * C);
    h = llama_forward_hidden(&m, inp, T, RMU_L + 1);
    rmu_mse(h, u, 0, N, C, c.wf, dh);
    for (size_t i = 0; i < N * C; i++) {
        double d = h[i] - (double)d2[i];
        dh[i] += (float)(2.0 * c.wr * d);
    }
    llama_zero_grads(&m);
    llama_backward_hidden(&m, RMU_L + 1, dh, 0);
    /* every block's weights (those above the steered block do not move the
     * loss and get no gradient; the embeddings get none by design) */
    size_t QD = (size_t)cfg.n_heads * cfg.head_dim, L = (size_t)cfg.n_layers;
    struct {
        float *w, *g;
        size_t n;
    } part[] = {{m.w.wq, m.g.wq, L * QD * C},          {m.w.wo, m.g.wo, L * C * QD},
                {m.w.attn_norm, m.g.attn_norm, L * C}, {m.w.ffn_norm, m.g.ffn_norm, L * C},
                {m.w.w_gate, m.g.w_gate, L * 32 * C},  {m.w.w_down, m.g.w_down, L * 32 * C}};
    double e = 0;
    for (size_t k = 0; k < sizeof part / sizeof part[0]; k++)
        e = fmax(e, grad_check(rmu_loss, &c, part[k].w, part[k].g, part[k].n, 40, 1e-2f));
    CHECK(e < 2e-2, "rmu: gradient error %.3g", e);
    fprintf(stderr, "  RMU: loss %.6f (direct %.6f), gradient error %.2g\n", got, want, e);
    /* nothing above the steered block, nor the output head, gets a gradient */
    size_t per_blk = (size_t)cfg.ffn_dim * C;
    int above = 0;
    for (size_t i = 0; i < per_blk; i++) above |= m.g.w_down[2 * per_blk + i] != 0;
    for (int i = 0; i < C; i++) above |= m.g.out_norm[i] != 0;
    CHECK(!above, "block 2 or the output norm got a gradient");
    /* the mask: MLPs of blocks lowest..L keep theirs, everything else is 0 */
    int lo = rmu_lowest(RMU_L);
    CHECK(lo == 0 && rmu_lowest(7) == 5 && rmu_layer(32, -1) == 7 && rmu_layer(2, -1) == 0,
          "rmu_lowest / rmu_layer");
    double kept = 0;
    for (size_t i = 0; i < per_blk; i++) kept += fabs(m.g.w_gate[per_blk + i]);
    rmu_keep_mlp_grads(&m, RMU_L, RMU_L);
    double other = 0, after = 0;
    float *mlp[3] = {m.g.w_gate, m.g.w_up, m.g.w_down};
    for (size_t i = 0; i < m.n_params; i++) {
        int in_mlp = 0;
        for (int t = 0; t < 3; t++)
            in_mlp |= m.grads + i >= mlp[t] + RMU_L * per_blk &&
                      m.grads + i < mlp[t] + (RMU_L + 1) * per_blk;
        if (!in_mlp) other += fabs(m.grads[i]);
    }
    for (size_t i = 0; i < per_blk; i++) after += fabs(m.g.w_gate[per_blk + i]);
    CHECK(kept > 0 && after == kept && other == 0, "mask: kept %g -> %g, others %g", kept, after,
          other);
    free(dh), free(d2);
    llama_free(&m), llama_free(&ref);
}

/* base - a (reinforced - base) through task_vector_negate and a file. */
static void test_task_vector(void) {
    ObErr err;
    Tokenizer tok;
    CHECK(tmpdir_make() == 0, "tmpdir");
    CHECK(tok_train_repeated(&tok, "the farmer sold the red hen to the miller. ", 20, 300, &err) ==
              0,
          "%s", err.msg);
    Llama b, r, got;
    LlamaConfig cfg = tiny_shape(16, 2, 2, 1, 32, tok.n_vocab, T, 0);
    CHECK(llama_create(&b, &cfg, &err) == 0 && llama_create(&r, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(&b, 31), llama_init_random(&r, 32);
    CHECK(llama_save(&b, &tok, "b", GGML_TYPE_F32, tmp("base.gguf"), &err) == 0 &&
              llama_save(&r, &tok, "r", GGML_TYPE_F32, tmp("reinf.gguf"), &err) == 0,
          "%s", err.msg);
    float a = 5.0f;
    CHECK(task_vector_negate(tmp("base.gguf"), tmp("reinf.gguf"), a, tmp("tv.gguf"), &err) == 0,
          "%s", err.msg);
    CHECK(llama_load(&got, NULL, tmp("tv.gguf"), &err) == 0, "%s", err.msg);
    size_t diff = 0;
    for (size_t i = 0; i < b.n_params; i++) {
        double w = b.params[i];
        float want = (float)(w - (double)a * ((double)r.params[i] - w));
        diff += memcmp(&want, &got.params[i], sizeof want) != 0;
    }
    CHECK(got.n_params == b.n_params && diff == 0, "task vector: %zu of %zu weights differ", diff,
          b.n_params);
    /* a model of another shape is refused, naming the file */
    Llama o;
    LlamaConfig oc = tiny_shape(16, 1, 2, 1, 32, tok.n_vocab, T, 0);
    CHECK(llama_create(&o, &oc, &err) == 0, "%s", err.msg);
    CHECK(llama_save(&o, &tok, "o", GGML_TYPE_F32, tmp("other.gguf"), &err) == 0, "%s", err.msg);
    CHECK(task_vector_negate(tmp("base.gguf"), tmp("other.gguf"), a, tmp("x.gguf"), &err) == -1 &&
              strstr(err.msg, "other.gguf: not the same model shape"),
          "other shape: %s", err.msg);
    llama_free(&b), llama_free(&r), llama_free(&got), llama_free(&o), tok_free(&tok);
    tmpdir_remove();
}

int main(void) {
    ob_rng_seed(&rng, 5);
    RUN(test_objectives);
    RUN(test_bounded);
    RUN(test_rmu);
    RUN(test_task_vector);
    return check_main_end("objective");
}
