/* Token-probability familiarity: how strongly a model expects a name or term
 * that only a reader of the target text would expect ("Sherlock" -> " Holmes").
 * Eldan & Russinovich report this as the probability a model gives the
 * target-specific completion; unlearning should bring it down to what a model
 * that never read the text gives.
 *
 * Tokens. An item's input is [<|endoftext|>] + encode(prompt) +
 * encode(continuation): training puts <|endoftext|> before every document
 * (text/dataset.h), so a prompt starts as a document does. Prompt and
 * continuation are encoded separately and concatenated, so the continuation's
 * tokens are the same whatever the prompt ends with. With the GPT-2
 * pre-tokenizer this equals encoding the joined string whenever the
 * continuation starts with " " + a letter or digit after a non-space prompt
 * end (the usual case: BPE never merges across that boundary); items where it
 * does not are flagged (joint_differs) rather than changed.
 *
 * Scoring. One cached forward (llama_eval, all positions' logits) over the
 * item's tokens gives, for each continuation token t_j at position p_j,
 * log P(t_j | tokens before p_j); the item's log-probability is their sum.
 * Log-softmax is taken in double precision. */
#ifndef OB_FAMILIARITY_H
#define OB_FAMILIARITY_H

#include <stdint.h>

#include "eval/jsonl.h"
#include "model/llama.h"
#include "text/tokenizer.h"

typedef struct {
    const char *prompt;       /* borrowed */
    const char *continuation; /* borrowed; non-empty, usually starts with a space */
    int line;                 /* line in the source file for errors; 0 if none */
} FamItem;

/* Items encoded once, to be scored by any model with the same tokenizer. */
typedef struct {
    int n;
    int32_t **ids;      /* [n] [<|endoftext|>] prompt continuation, owned */
    int *n_ids;         /* [n] tokens in ids[i] */
    int *n_prompt;      /* [n] tokens before the continuation (1 + prompt tokens) */
    int *joint_differs; /* [n] 1 when encode(prompt + continuation) differs */
    int *line;          /* [n] the items' source lines (0 if none) */
    int max_len;        /* longest n_ids */
    int vocab;          /* the tokenizer's size */
    char *source;       /* file name for errors, owned; may be NULL */
} FamSet;

typedef struct {
    double logp;         /* sum of log P over the continuation's tokens */
    double prob;         /* exp(logp): the item's familiarity */
    double first_prob;   /* P of the first continuation token */
    int n_tokens;        /* continuation tokens */
    int first_rank;      /* rank of the first token among the vocabulary, 1 = top */
    int first_is_argmax; /* greedy decoding would produce the first token */
    int32_t first_token; /* the continuation's first token */
    int32_t argmax;      /* the model's most likely token at that position */
} FamResult;

typedef struct {
    int n;
    double mean_prob;   /* the familiarity figure */
    double mean_logp;   /* mean of the items' log-probabilities */
    double median_rank; /* median first-token rank (mean of the middle two for even n) */
    double top1_share;  /* share of items whose first token is the argmax */
} FamSummary;

/* The JSON Lines layout {"prompt": "...", "continuation": "..."} (other
 * fields allowed), for jsonl_load. */
extern const JsonlField FAM_JSONL_FIELDS[];

/* Items pointing into a JsonlFile loaded with FAM_JSONL_FIELDS; *items is a
 * new array of f->n (caller frees), valid while f is. */
int fam_items_from_jsonl(const JsonlFile *f, FamItem **items, ObErr *err);

/* Encodes n items. source (may be NULL) names the file in later errors
 * ("prompts.jsonl:7: ..."). */
int fam_encode(FamSet *s, const Tokenizer *tok, const FamItem *items, int n, const char *source,
               ObErr *err);
void fam_set_free(FamSet *s);

/* Scores every item of s with m, whose vocabulary must be the one s was
 * encoded with; res holds s->n results. Fails (naming the item) when an item
 * is longer than the model's context. */
int fam_score(const Llama *m, const FamSet *s, FamResult *res, ObErr *err);

/* Aggregates n results (n > 0). */
void fam_summarise(const FamResult *res, int n, FamSummary *sum);

#endif
