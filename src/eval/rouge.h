/* ROUGE-L: how much of a reference text a candidate reproduces, in order,
 * measured by the longest common subsequence (LCS) of their words. It is the
 * verbatim- and knowledge-memory score of MUSE (Shi et al., 2024).
 *
 * Words. Text is lowercased (ASCII A-Z only) and split at every ASCII byte
 * that is not a letter or digit; bytes >= 0x80 count as letters, so "café"
 * is one word and "don't" is two ("don", "t"). No stemming, no stop words.
 *
 * Scores. With c candidate words, r reference words and l = LCS length:
 *   precision = l / c, recall = l / r, F1 = 2 P R / (P + R);
 * each is 0 when its denominator is 0, so an empty candidate or an empty
 * reference (both empty included) scores 0 everywhere. */
#ifndef OB_ROUGE_H
#define OB_ROUGE_H

#include <stddef.h>

#include "util/err.h"

typedef struct {
    double precision, recall, f1;
    int lcs;           /* l */
    int n_cand, n_ref; /* c, r */
} RougeScore;

/* Words of text (a new array of n_words NUL-terminated lowercase strings in
 * one allocation: free(*words) frees everything). */
int rouge_words(const char *text, char ***words, int *n_words, ObErr *err);

/* Length of the longest common subsequence of two word arrays (memory
 * O(min(na, nb))), or -1 when out of memory. */
int rouge_lcs(char *const *a, int na, char *const *b, int nb, ObErr *err);

/* ROUGE-L of candidate against reference. */
int rouge_l(const char *candidate, const char *reference, RougeScore *s, ObErr *err);

#endif
