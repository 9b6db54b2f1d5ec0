/* Memorisation, MUSE-style (Shi et al., 2024): does a model still recite the
 * target (VerbMem) or still know what it says (KnowMem)? Both are scored with
 * ROUGE-L (eval/rouge.h) against the truth, so a model that never read the
 * target gives the floor to compare with.
 *
 * VerbMem. K excerpts are cut from a target token stream (text/dataset.h):
 * a cut at position p gives the prompt stream[p - P, p) and the truth
 * stream[p, p + G). A position is a candidate when the P + G tokens hold no
 * <|endoftext|> (one document), the prompt starts a word (its first token
 * begins with whitespace or follows a token ending in a newline) and the cut
 * falls between words (token p begins with whitespace or token p - 1 ends
 * with it). K candidates are drawn without replacement (partial Fisher-Yates,
 * seeded) and put in text order: the same excerpts for every model with the
 * same tokenizer. The model sees [<|endoftext|>] + prompt, as training shows a
 * document start, and continues greedily (argmax, first on ties) with the
 * key/value cache for G tokens, stopping early at <|endoftext|>. Score:
 * ROUGE-L F1 of the continuation's text against the truth's text. When
 * 1 + P + G exceeds the model's context, G is cut to what fits (the truth
 * too: its first G' tokens) and the result says so.
 *
 * KnowMem. Questions with reference answers (JSON Lines {"question",
 * "answer"}, eval/jsonl.h). Item i is asked few-shot:
 *   "Question: q_a\nAnswer: a_a\n\n" ... (S examples) "Question: q_i\nAnswer:"
 * after <|endoftext|>, and the model answers greedily until a newline that
 * ends some non-space text (blank lines before the answer do not end it),
 * <|endoftext|> or N tokens; the answer is that text from its first non-space
 * character up to the newline, trailing whitespace removed. Examples for item i: S items
 * drawn without replacement (seeded by the seed and i, so the same for every
 * model) among those that are not i and whose question and answer do not
 * contain i's answer (case-insensitive), so an example never gives the answer
 * away. Fewer are used when fewer qualify, and the first ones are dropped
 * while the prompt plus N tokens exceeds the model's context. Score: ROUGE-L
 * F1 and recall of the answer against the reference (recall: how much of the
 * reference the model said, which a long-winded answer does not hurt). */
#ifndef OB_MEMORISATION_H
#define OB_MEMORISATION_H

#include <stddef.h>
#include <stdint.h>

#include "eval/jsonl.h"
#include "eval/rouge.h"
#include "model/llama.h"
#include "text/dataset.h"
#include "text/tokenizer.h"

/* ---- VerbMem ---- */

typedef struct {
    int n;             /* excerpts wanted */
    int prompt_tokens; /* P: 32 */
    int gen_tokens;    /* G: 128 */
    uint64_t seed;     /* 1 */
} VerbConfig;

void verb_config_defaults(VerbConfig *c);

typedef struct {
    VerbConfig cfg;
    int n;              /* excerpts cut (cfg.n, or fewer with fewer candidates) */
    long n_candidates;  /* positions the draw chose from */
    size_t *at;         /* [n] cut positions in the stream */
    int32_t **prompt;   /* [n] [<|endoftext|>] + P prompt tokens, owned */
    int32_t **truth;    /* [n] the G true tokens, owned */
    char **prompt_text; /* [n] decoded prompt (valid UTF-8), owned */
    char **truth_text;  /* [n] decoded truth (valid UTF-8), owned */
    int vocab;
    int32_t eot_id;
} VerbSet;

/* Cuts cfg->n excerpts from ds (a dataset_load stream made with tok). Fails
 * when there is no candidate. */
int verb_cut(VerbSet *s, const TokenStream *ds, const Tokenizer *tok, const VerbConfig *cfg,
             ObErr *err);
void verb_set_free(VerbSet *s);

typedef struct {
    char *text;       /* the continuation (valid UTF-8), owned */
    int n_tokens;     /* tokens generated */
    RougeScore score; /* against the truth's first `gen_tokens` tokens */
} VerbResult;

/* Continues every excerpt of s with m; res holds s->n results. *gen_tokens
 * gets the continuation length used (cfg.gen_tokens, or less when the
 * model's context is shorter). Fails when not even one token fits. */
int verb_generate(const Llama *m, const VerbSet *s, const Tokenizer *tok, VerbResult *res,
                  int *gen_tokens, ObErr *err);
void verb_results_free(VerbResult *res, int n);
/* Mean F1 (0 when n = 0). */
double verb_mean_f1(const VerbResult *res, int n);

/* ---- KnowMem ---- */

typedef struct {
    int shots;      /* S: 3 */
    int max_tokens; /* N: 32 */
    uint64_t seed;  /* 1 */
} KnowConfig;

void know_config_defaults(KnowConfig *c);

/* {"question": non-empty string, "answer": non-empty string}, other fields
 * allowed; for jsonl_load. */
extern const JsonlField KNOW_JSONL_FIELDS[];

typedef struct {
    KnowConfig cfg;
    int n;
    const char **question, **answer; /* [n] borrowed from the JsonlFile */
    const int *line;                 /* [n] their lines, borrowed */
    const char *source;              /* the file, for errors; borrowed */
    int **shots;                     /* [n][n_shots[i]] example items, owned */
    int *n_shots;                    /* [n] */
} KnowSet;

/* Items and their examples from a file loaded with KNOW_JSONL_FIELDS; valid
 * while f is. */
int know_build(KnowSet *s, const JsonlFile *f, const KnowConfig *cfg, ObErr *err);
void know_set_free(KnowSet *s);

/* The prompt text of item i with its last `shots` examples (a new string,
 * caller frees). */
char *know_prompt(const KnowSet *s, int i, int shots, ObErr *err);

typedef struct {
    char *answer;     /* generated, trimmed (valid UTF-8), owned */
    int n_tokens;     /* tokens generated */
    int shots;        /* examples the prompt held */
    RougeScore score; /* against the reference answer */
} KnowResult;

/* Asks m every question of s; res holds s->n results. Fails (naming the
 * item) when even the question alone does not fit the context. */
int know_generate(const Llama *m, const KnowSet *s, const Tokenizer *tok, KnowResult *res,
                  ObErr *err);
void know_results_free(KnowResult *res, int n);
/* Mean F1 and recall (0 when n = 0). */
void know_means(const KnowResult *res, int n, double *f1, double *recall);

#endif
