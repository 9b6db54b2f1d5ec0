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

typedef enum { FORGET_GA, FORGET_NPO, FORGET_SIMNPO } ForgetLoss;

typedef struct {
    ForgetLoss kind;
    float beta;  /* NPO, SimNPO: inverse temperature */
    float delta; /* SimNPO: margin on the mean token loss */
    float gamma; /* weight of the forget term */
} ForgetObjective;

/* The field's defaults (open-unlearning / MUSE): NPO beta 0.1; SimNPO
 * beta 4.5, delta 0, gamma 0.125; gamma 1 otherwise. */
void forget_objective_defaults(ForgetObjective *o, ForgetLoss kind);

/* One sequence of n scored tokens with summed loss nll (and, for NPO, the
 * reference model's ref_nll on the same tokens):
 *   GA      -gamma * nll / n_total       (n_total: the batch's tokens)
 *   NPO     gamma * (2/beta) * softplus(beta * (ref_nll - nll))
 *           = -(2/beta) log sigmoid(-beta (logp_theta - logp_ref))
 *   SimNPO  gamma * (2/beta) * softplus(-beta * (nll / n - delta))
 *           = -(2/beta) log sigmoid(beta (l - delta)), l the mean token loss
 * Returns the loss; *dnll = dL/dnll. For GA pass n_total in n. */
double forget_seq_loss(const ForgetObjective *o, double nll, int n, double ref_nll, double *dnll);

/* Per-sequence summed losses of m's last llama_forward with targets (B, T):
 * nll[b] and n[b] (scored positions; n may be NULL). */
void forget_seq_nll(const Llama *m, const int32_t *targets, int B, int T, double *nll, int *n);

/* The objective over B forget sequences of T positions just run forward
 * through m with targets: the mean over sequences (GA: over tokens) of
 * forget_seq_loss. Fills row_scale (B * T) so that
 * llama_backward_rows(m, 1, row_scale) adds its gradient. ref_nll (B) is
 * the reference model's forget_seq_nll on the same batch (NPO; else NULL). */
double forget_batch(const ForgetObjective *o, const Llama *m, const int32_t *targets, int B, int T,
                    const double *ref_nll, float *row_scale);

#endif
