/* Multiple-choice general ability, scored as lm-evaluation-harness scores
 * its multiple-choice tasks: an item is k (context, continuation) pairs and
 * the index of the right one; a model picks the pair whose continuation it
 * finds most likely after its context.
 *
 * Layouts (JSON Lines, one item a line, told apart by the first record's
 * fields unless forced):
 *   hellaswag   {"ctx" | "ctx_a" + "ctx_b", "endings": [...], "label": 2 | "2",
 *                "activity_label"?}
 *               context = clean(activity_label + ": " + ctx) (without the label
 *               when absent), where ctx = ctx_a + " " + capitalize(ctx_b) when
 *               ctx_a is given (capitalize: first letter upper, the rest lower,
 *               ASCII, as Python's str.capitalize), else "ctx"; continuations
 *               " " + clean(ending). clean() is choice_hellaswag_clean.
 *   piqa        {"goal", "sol1", "sol2", "label": 0 | 1}
 *               "Question: {goal}\nAnswer:" -> " {sol1}" | " {sol2}"
 *   arc         {"question", "choices": {"text": [...], "label": [...]},
 *                "answerKey"}: "Question: {question}\nAnswer:" -> " {text}";
 *               the right one is the text whose label equals answerKey
 *   boolq       {"passage", "question", "answer": true | false}
 *               "{passage}\nQuestion: {question}?\nAnswer:" -> " no" | " yes"
 *   winogrande  {"sentence" with one "_", "option1", "option2", "answer": "1" | "2"}
 *               partial scoring: context k = the sentence before "_" with
 *               option k in its place, continuation (the same for both) =
 *               " " + the rest after "_", stripped. acc_norm = acc here.
 * next_sentence items are built from plain text by nextsent.h.
 *
 * Tokens. A pair is [<|endoftext|>] + encode(context) + encode(continuation)
 * (encoded apart, as familiarity.h does; whitespace at the end of a context
 * moves to the front of its continuation, as the harness does). A pair longer
 * than the model's context loses tokens from the left (the harness's rule);
 * such items are counted as "truncated".
 *
 * Scoring. For each pair the sum of log P(continuation token | everything
 * before it) (llama_eval with a key/value cache; pairs that share a prefix,
 * as an item's choices do, reuse it). acc: the item's prediction is the
 * choice with the largest sum. acc_norm: the largest sum divided by the
 * choice's length in characters (UTF-8 code points) without the one space
 * that joins it to the context -- lm-eval's acc_norm, len(choice). Ties go to
 * the first choice. */
#ifndef OB_CHOICE_H
#define OB_CHOICE_H

#include <stdint.h>

#include "eval/jsonl.h"
#include "model/llama.h"
#include "text/tokenizer.h"

typedef enum {
    CHOICE_AUTO = -1, /* tell from the first record */
    CHOICE_HELLASWAG,
    CHOICE_PIQA,
    CHOICE_ARC,
    CHOICE_BOOLQ,
    CHOICE_WINOGRANDE,
    CHOICE_NEXT_SENTENCE, /* built from text (nextsent.h), never read */
} ChoiceLayout;

#define CHOICE_MAX 16 /* choices per item */

typedef struct {
    int k;       /* choices, 2..CHOICE_MAX */
    char **ctx;  /* [k] context of each choice, owned (one text repeated but for winogrande) */
    char **cont; /* [k] continuation scored after it, owned, non-empty */
    int gold;    /* index of the right choice */
    int line;    /* source line, 0 if none */
} ChoiceItem;

typedef struct {
    ChoiceLayout layout;
    int n, cap;
    ChoiceItem *items;
    char *source; /* file name for errors, owned; may be NULL */
} ChoiceSet;

/* "hellaswag", ...; choice_layout_parse also takes "auto". Returns -1 for an
 * unknown name. */
const char *choice_layout_name(ChoiceLayout l);
int choice_layout_parse(const char *name, ChoiceLayout *out);
/* The layout a record's fields say (endings: hellaswag; goal: piqa;
 * answerKey: arc; passage: boolq; option1: winogrande), CHOICE_AUTO if none. */
ChoiceLayout choice_detect(const cJSON *rec);

/* Reads a JSON Lines file of items. With CHOICE_AUTO the first record picks
 * the layout. Every malformed record fails the whole load with
 * "PATH:LINE: problem". */
int choice_load(ChoiceSet *s, const char *path, ChoiceLayout layout, ObErr *err);
/* The same from records already read (jsonl_load with no field table). */
int choice_from_jsonl(ChoiceSet *s, const JsonlFile *f, ChoiceLayout layout, ObErr *err);
/* Appends an item, copying the strings (ctx[i], cont[i] for i < k). */
int choice_add(ChoiceSet *s, const char *const *ctx, const char *const *cont, int k, int gold,
               int line, ObErr *err);
void choice_set_free(ChoiceSet *s);

/* HellaSwag's light clean-up, in place, in this order: strip whitespace at
 * both ends; " [title]" -> ". "; remove every "[...]" (up to the first "]");
 * then "  " -> " " in one left-to-right pass (three spaces leave two), as
 * the harness's preprocess does. */
void choice_hellaswag_clean(char *s);

/* Items encoded once for every model sharing the tokenizer. Item i's pairs
 * are first[i] .. first[i+1]-1. */
typedef struct {
    int n_items, n_pairs;
    int *first;    /* [n_items + 1] */
    int *gold;     /* [n_items] */
    int *line;     /* [n_items] */
    int32_t **ids; /* [n_pairs] [eot] context continuation, owned */
    int *n_ids;    /* [n_pairs] */
    int *n_ctx;    /* [n_pairs] tokens before the continuation (>= 1) */
    int *n_chars;  /* [n_pairs] acc_norm divisor (>= 1) */
    int max_len;   /* longest n_ids */
    int vocab;
    char *source; /* owned copy of the set's source; may be NULL */
} ChoiceEnc;

int choice_encode(ChoiceEnc *e, const ChoiceSet *s, const Tokenizer *tok, ObErr *err);
void choice_enc_free(ChoiceEnc *e);

/* logp[p] = sum of log P(continuation | context) of pair p, for every pair;
 * *n_truncated gets the items cut to fit m's context. Fails (naming the
 * item) when a continuation alone does not fit. */
int choice_score(const Llama *m, const ChoiceEnc *e, double *logp, int *n_truncated, ObErr *err);

/* Index of the largest of x[0..k) (the first of equals). */
int choice_argmax(const double *x, int k);
/* One item's predictions: *pred by logp, *pred_norm by logp / n_chars. */
void choice_predict(const double *logp, const int *n_chars, int k, int *pred, int *pred_norm);

typedef struct {
    int n;           /* items */
    double acc;      /* share of items where the best logp is the right choice */
    double acc_norm; /* the same by logp / characters */
    int truncated;   /* items cut to fit the context */
} ChoiceSummary;

void choice_summarise(const ChoiceEnc *e, const double *logp, int truncated, ChoiceSummary *sum);

#endif
