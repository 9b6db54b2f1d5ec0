/* Next-sentence multiple choice built from held-out general text: after up
 * to two sentences of a text, which of C sentences comes next? The other
 * C - 1 are sentences from elsewhere in the same text, so a model that keeps
 * its grasp of ordinary prose picks the true one; it measures what
 * unlearning must not damage. Items are scored as choice.h scores them.
 *
 * Sentences (sentences_split): a sentence ends at ".", "!" or "?" (a run of
 * them, then any closing quotes or brackets: " ' ) and the curly ” ’) when
 * whitespace follows and then an uppercase ASCII letter or an opening quote
 * (" ' “ ‘); not after "Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr" or a single
 * capital letter (an initial: "J. Smith"). A blank line (a paragraph break)
 * also ends one. Each sentence's whitespace runs become one space, and ends
 * are trimmed.
 *
 * Items (nextsent_build): a target is a sentence with at least one sentence
 * before it whose length is within [min_bytes, max_bytes]; targets are drawn
 * without replacement (seeded), then put in text order. The context is the
 * (up to) `context` sentences right before the target, joined by spaces; the
 * distractors are drawn uniformly from the sentences within the length bounds
 * that are more than `context` sentences away from the target and differ from
 * it and from each other; the right answer sits at a seeded random position.
 * Continuations are " " + sentence. The same seed and text give the same
 * items on every machine. */
#ifndef OB_NEXTSENT_H
#define OB_NEXTSENT_H

#include <stddef.h>
#include <stdint.h>

#include "eval/choice.h"

typedef struct {
    int n;                    /* items wanted (default 200) */
    int choices;              /* C, 2..CHOICE_MAX (default 4) */
    int context;              /* sentences before the target (default 2) */
    int min_bytes, max_bytes; /* usable sentence lengths (default 20..300) */
    uint64_t seed;
} NextSentConfig;

void nextsent_config_defaults(NextSentConfig *c);

/* Splits text into sentences by the rule above; *out is a new array of *n
 * new strings (free with sentences_free). */
int sentences_split(const char *text, size_t len, char ***out, int *n, ObErr *err);
void sentences_free(char **s, int n);

/* Builds min(c->n, targets available) items into s (layout next_sentence;
 * source names the text in errors, may be NULL). *n_candidates gets the
 * number of possible targets. Fails when there are too few usable sentences
 * to draw distractors from. */
int nextsent_build(ChoiceSet *s, char *const *sent, int n_sent, const NextSentConfig *c,
                   const char *source, int *n_candidates, ObErr *err);

/* Reads a UTF-8 text file, splits it and builds the items; *n_sentences gets
 * the sentence count. */
int nextsent_load(ChoiceSet *s, const char *path, const NextSentConfig *c, int *n_sentences,
                  int *n_candidates, ObErr *err);

#endif
