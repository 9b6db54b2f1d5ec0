/* Membership inference: does a model behave as if it was trained on a text?
 * MUSE's PrivLeak (Shi et al., 2024) with the Min-K% Prob score (Shi et al.,
 * 2023): chunks of the forget set ("members") and chunks of text from the
 * same source the model never saw ("non-members") are scored; the AUC says
 * how well the score tells them apart. A model that never saw the forget set
 * (the oracle) still gets some AUC (the two sets differ a little); a model
 * unlearned well gets the oracle's, so PrivLeak = (AUC - AUC_oracle) /
 * AUC_oracle * 100 is near 0; positive means it still leaks membership,
 * strongly negative means it "over-unlearned" (the forget set now looks less
 * familiar than unseen text, itself a tell).
 *
 * Min-K%. For a chunk of L tokens t_0 .. t_{L-1} fed as they are (no
 * <|endoftext|> before them: a chunk starts in mid-document), the model gives
 * log P(t_i | t_0 .. t_{i-1}) for i = 1 .. L-1 (teacher forcing; t_0 has no
 * context and is not scored): n = L - 1 log-probabilities. The score is the
 * mean of the m lowest of them, m = max(1, floor(k n)) (k = 0.4 here; a
 * product within 1e-9 of an integer counts as that integer, so 0.4 x 5 is 2
 * whatever the rounding). Members should score higher: training lifted
 * exactly their least likely tokens.
 *
 * AUC. P(score(member) > score(non-member)) over all pairs, a tie counting
 * 1/2 (the Mann-Whitney U statistic divided by n_member x n_nonmember).
 *
 * Chunks (mia_chunks). Consecutive non-overlapping L-token windows of each
 * document of a token stream (text/dataset.h), starting at the document's
 * first token; a document's tail shorter than L is dropped, no window holds
 * <|endoftext|>. When there are more than max, max of them are drawn without
 * replacement (partial Fisher-Yates, seeded) and put back in text order. */
#ifndef OB_MIA_H
#define OB_MIA_H

#include <stddef.h>
#include <stdint.h>

#include "model/llama.h"
#include "text/dataset.h"
#include "util/err.h"

/* Mean of the max(1, floor(k n)) smallest of logp[0..n) (n >= 1, 0 < k <=
 * 1). Sorts logp in place (ascending). */
double mia_min_k(double *logp, int n, double k);

/* P(member > non-member) + P(tie) / 2 over all pairs; NAN when a set is
 * empty. */
double mia_auc(const double *member, int n_member, const double *nonmember, int n_nonmember);

/* (auc - auc_oracle) / auc_oracle * 100; NAN when auc_oracle is 0 or NAN. */
double mia_privleak(double auc, double auc_oracle);

/* Chunk starts (a new array of *n offsets into ds->tokens, ascending; caller
 * frees) of len-token windows, at most max (0: all). *n_available gets the
 * number of windows before the draw. Fails when there is none. */
int mia_chunks(const TokenStream *ds, int32_t eot_id, int len, int max, uint64_t seed,
               size_t **starts, int *n, int *n_available, ObErr *err);

/* Min-K% score of every chunk (tokens[starts[i] .. starts[i] + len)) with m;
 * scores holds n. Fails when len exceeds the model's context. */
int mia_score_chunks(const Llama *m, const int32_t *tokens, const size_t *starts, int n, int len,
                     double k, double *scores, ObErr *err);

#endif
