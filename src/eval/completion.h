/* Completion familiarity, judged without an external model: the evaluation
 * of Eldan & Russinovich (prompts cut from the target, the model's completion
 * graded "unique" (weight 5), "typical" (weight 1) or nothing; score =
 * (5 * unique + 1 * typical) / N), with GPT-4's judgement replaced by a rule
 * on the anchor dictionary's keys, the target's idiosyncratic terms.
 *
 * Cutting prompts (comp_cut). The target files are one token stream
 * (text/dataset.h: <|endoftext|> before each document). A cut is a position p
 * in the stream: the prompt ends just before token p, the true text goes on
 * from p. A position is a candidate when
 *   - an anchor key (anchors_match: longest key, whole words) starts at a
 *     token k with p <= k <= p + max_lead - 1, i.e. the key is the 1st ..
 *     max_lead-th token of the true continuation ("lead" = k - p + 1), and no
 *     document boundary lies between p and k: the prompt sets up a name;
 *   - p is at a word boundary: the last character of token p-1 and the first
 *     of token p are not both letters/digits (see "Words" below), so a prompt
 *     never ends inside a word or a character;
 *   - the prompt_tokens tokens before p hold no <|endoftext|> (a prompt never
 *     spans two documents);
 *   - that window has a word start: the prompt begins at the first token of
 *     the window that follows a newline or begins with a space, and is kept
 *     only when at least half the window (rounded up) remains.
 * From the candidates (all of them, sorted), n are drawn without replacement
 * by a partial Fisher-Yates shuffle with a generator seeded by `seed`, then
 * sorted by position. The draw depends only on the text, the tokenizer, the
 * dictionary and the config, so every model gets the same prompts. With fewer
 * candidates than n, all are taken. A prompt's tokens are [<|endoftext|>] +
 * the stream's own tokens for it, as training shows a document.
 *
 * Generation (comp_generate): greedy (argmax, the first on ties) with the
 * key/value cache, up to completion_tokens new tokens, stopping at
 * <|endoftext|> (not included).
 *
 * Judging (comp_judge): prompt and completion are decoded to text and joined.
 * A key is "in the prompt" when it occurs in the prompt text, and "in the
 * completion" when an occurrence in the joined text ends after the prompt
 * (so a name the prompt starts and the completion finishes, "Baker" +
 * " Street", counts, and a suffix glued to the prompt's last word does not
 * make a match). Occurrences are whole words and case-sensitive; a run of
 * whitespace in a key matches any run of ASCII whitespace. Then
 *   leaked keys  = keys in the completion but not in the prompt;
 *   shared keys  = keys in the completion and in the prompt;
 *   class UNIQUE  (weight 5) when any key leaked: the completion brings in a
 *                 target-specific name the prompt did not give;
 *   class TYPICAL (weight 1) otherwise, when a key is shared: the completion
 *                 stays in the target's world (repeats one of its names) but
 *                 adds nothing new;
 *   class NONE    (weight 0) otherwise.
 * leak rate = unique / N; weighted score = (5 * unique + typical) / N.
 *
 * Words. A character is a letter or digit when it is an ASCII letter or digit
 * or a non-ASCII character outside the punctuation and symbol blocks
 * U+0080-U+00BF, U+00D7, U+00F7, U+2000-U+2BFF (punctuation, arrows, math,
 * shapes), U+3000-U+303F, U+FE30-U+FE4F, U+FEFF, U+FF01-U+FF0F, U+FF1A-U+FF20
 * and U+1F000-U+1FAFF (emoji and other pictographs): a plain UTF-8 check, not
 * Unicode's full \p{L}/\p{N} tables. A byte that is not part of a
 * valid UTF-8 character counts as a letter (a token cut inside a character is
 * never a word boundary). A match is whole-word when the character before it
 * is not a letter/digit (or the key starts with a non-letter) and likewise
 * the character after it: regular expressions' \b at both ends. */
#ifndef OB_COMPLETION_H
#define OB_COMPLETION_H

#include <stddef.h>
#include <stdint.h>

#include "model/llama.h"
#include "text/dataset.h"
#include "text/tokenizer.h"
#include "unlearn/anchors.h"
#include "util/err.h"

typedef struct {
    int n;                 /* prompts wanted */
    int prompt_tokens;     /* window before the cut (the <|endoftext|> not counted); 48 */
    int completion_tokens; /* new tokens generated; 24 */
    int max_lead;          /* the key starts within this many true tokens; 8 */
    uint64_t seed;         /* 1 */
} CompConfig;

void comp_config_defaults(CompConfig *c);

/* Prompts cut from a target, to be completed by any model with the same
 * tokenizer. */
typedef struct {
    CompConfig cfg;
    int n;              /* prompts cut (cfg.n, or fewer with fewer candidates) */
    long n_candidates;  /* cut positions the draw chose from */
    int32_t **ids;      /* [n] [<|endoftext|>] + prompt tokens, owned */
    int *n_ids;         /* [n] */
    size_t *start, *at; /* [n] the prompt is stream[start, at) */
    int *key;           /* [n] anchor whose occurrence follows the cut */
    int *lead;          /* [n] it starts at this true token (1 = the next) */
    char **prompt;      /* [n] decoded prompt text (no <|endoftext|>) */
    char **truth;       /* [n] the true continuation: completion_tokens tokens, to eot */
    int max_len;        /* longest n_ids */
    int vocab;
    int eot_id;
} CompSet;

/* Cuts cfg->n prompts from ds (a dataset_load stream made with tok) before
 * occurrences of d's keys; d must be tokenized with tok. Fails when there is
 * no candidate at all. */
int comp_cut(CompSet *s, const TokenStream *ds, const Tokenizer *tok, const AnchorDict *d,
             const CompConfig *cfg, ObErr *err);
void comp_set_free(CompSet *s);

typedef enum { COMP_NONE = 0, COMP_TYPICAL = 1, COMP_UNIQUE = 2 } CompClass;

/* The judgement of one completion; keys are anchor indexes in ascending
 * order. */
typedef struct {
    CompClass cls;
    int *leaked; /* [n_leaked] owned */
    int n_leaked;
    int *shared; /* [n_shared] owned */
    int n_shared;
} CompJudgement;

/* Judges completion after prompt by the rule above (d need not be
 * tokenized). */
int comp_judge(const AnchorDict *d, const char *prompt, const char *completion, CompJudgement *j,
               ObErr *err);
void comp_judgement_free(CompJudgement *j);

/* Offset of the first whole-word occurrence of key in text[from, len) that
 * ends after min_end (0: any), or -1. */
long comp_find_word(const char *text, size_t len, const char *key, size_t from, size_t min_end);

/* One model's completion of one prompt. */
typedef struct {
    int32_t *ids; /* [n_tokens] generated tokens, owned */
    int n_tokens;
    char *text; /* decoded, owned */
    CompJudgement j;
} CompResult;

typedef struct {
    int n, unique, typical;
    double leak_rate; /* unique / n */
    double score;     /* (5 unique + typical) / n */
} CompSummary;

/* Completes and judges every prompt of s with m (whose vocabulary must be
 * s's); res holds s->n results. Fails when a prompt plus completion_tokens
 * is longer than the model's context. */
int comp_generate(const Llama *m, const CompSet *s, const Tokenizer *tok, const AnchorDict *d,
                  CompResult *res, ObErr *err);
void comp_results_free(CompResult *res, int n);

/* The paper's weighted score: (5 unique + 1 typical) / n (0 when n = 0). */
double comp_weighted_score(int unique, int typical, int n);
void comp_summarise(const CompResult *res, int n, CompSummary *sum);

#endif
