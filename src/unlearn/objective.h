/* The field's forget objectives (../shared/guide/methods.md) as a weight per
 * forget sequence on its summed next-token loss.
 *
 * GA, NPO and SimNPO all have a gradient of the form dL/dnll(x) * grad nll(x),
 * nll(x) = -log p_theta(x) the sum of sequence x's token losses: one forward
 * pass with targets, a weight per position (forget_batch), and one weighted
 * backward pass (llama_backward_rows) give it. Weights are negative: each
 * objective ascends the forget loss, NPO and SimNPO by less as it grows, which
 * is what keeps them bounded where GA diverges. */
#ifndef OB_OBJECTIVE_H
#define OB_OBJECTIVE_H

#include <stdint.h>

#include "model/llama.h"

/* UNDIAL is not a sequence weight: it is a cross-entropy to the reference's
 * distribution with the true next token's logit lowered by beta (soft
 * targets, objective_run.c); RMU acts on hidden states (unlearn/rmu.h).
 * Both are listed here for their settings. */
typedef enum {
    FORGET_GA,
    FORGET_NPO,
    FORGET_SIMNPO,
    FORGET_UNDIAL,
    FORGET_RMU,
    FORGET_LEVEL
} ForgetLoss;

typedef struct {
    ForgetLoss kind;
    float beta;  /* NPO, SimNPO: inverse temperature */
    float delta; /* SimNPO: margin on the mean token loss */
    float gamma; /* weight of the forget term */
    float level; /* LEVEL: the mean token loss each forget sequence is brought to */
} ForgetObjective;

/* The field's defaults (open-unlearning / MUSE): NPO beta 0.1; SimNPO
 * beta 4.5, delta 0, gamma 0.125; UNDIAL beta 10; gamma 1 otherwise. */
void forget_objective_defaults(ForgetObjective *o, ForgetLoss kind);

/* One sequence of n scored tokens with summed loss nll (and, for NPO, the
 * reference model's ref_nll on the same tokens):
 *   GA      -gamma * nll / n             (its mean token loss, ascended)
 *   NPO     gamma * (2/beta) * softplus(beta * (ref_nll - nll))
 *           = -(2/beta) log sigmoid(-beta (logp_theta - logp_ref))
 *   SimNPO  gamma * (2/beta) * softplus(-beta * (nll / n - delta))
 *           = -(2/beta) log sigmoid(beta (l - delta)), l the mean token loss
 *   LEVEL   gamma/2 * (l - max(level, ref_nll / n))^2: up to the level from
 *           below, back down to it from past it, never below the reference
 * Returns the loss; *dnll = dL/dnll. */
double forget_seq_loss(const ForgetObjective *o, double nll, int n, double ref_nll, double *dnll);

/* Per-sequence summed losses of m's last llama_forward with targets (B, T):
 * nll[b] and n[b] (scored positions; n may be NULL). */
void forget_seq_nll(const Llama *m, const int32_t *targets, int B, int T, double *nll, int *n);

/* The objective over B forget sequences of T positions just run forward
 * through m with targets: the sum of forget_seq_loss over them divided by
 * B_total, the whole batch's sequences (B_total = B but under MPI, where
 * each rank holds B of them and the ranks' parts sum to the mean). Fills
 * row_scale (B * T) so that llama_backward_rows(m, 1, row_scale) adds its
 * gradient. ref_nll (B) is the reference model's forget_seq_nll on the same
 * rows (NPO; else NULL). For windows of equal length GA's mean of sequence
 * means is the usual mean token loss. */
double forget_batch(const ForgetObjective *o, const Llama *m, const int32_t *targets, int B, int T,
                    int B_total, const double *ref_nll, float *row_scale);

/* What keeps general ability: nothing, the next-token loss on retain text
 * (GradDiff's "GDR"), KL(p_ref || p_theta) on it ("KLR"), as a
 * cross-entropy to the reference's top-k tokens plus one bucket, or (RMU)
 * the mean squared distance of the hidden states at RMU's layer to the
 * reference's. */
typedef enum { RETAIN_NONE, RETAIN_NLL, RETAIN_KL, RETAIN_HIDDEN } RetainLoss;

typedef struct {
    ForgetObjective forget;
    RetainLoss retain;
    float alpha; /* weight of the retain term (1; RMU 1200) */
    int kl_k;    /* reference tokens kept per position for KL and UNDIAL (32) */
    int layer;   /* RMU: the block whose output is steered (-1: 7/32 of the depth) */
    float steer; /* RMU: the length c of the forget target c u (6.5) */
} ObjectiveConfig;

void objective_config_defaults(ObjectiveConfig *c, ForgetLoss forget, RetainLoss retain);

#endif
