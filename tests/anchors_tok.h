/* The anchor tests' tokenizer and dictionaries: `tok`, a BPE vocabulary of
 * 400 tokens trained on ANCHORS_TRAIN 20 times, small enough that the names
 * split in the ways test_anchors.c checks, and dict_from to parse a
 * dictionary and tokenize it with tok. */
#ifndef OB_TEST_ANCHORS_TOK_H
#define OB_TEST_ANCHORS_TOK_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "helpers.h"
#include "unlearn/anchors.h"

static const char *ANCHORS_TRAIN =
    "Sherlock Holmes met Watson. Holmes said, \"Holmes is here.\"\n"
    "Holmes Holmes Holmes Watson Watson Sherlock Sherlock Smith Smith Jones Jones Brown Brown\n"
    "Smith Jones Brown Ann Ann Tom Tom Tomorrow Tomorrow the the the and and said said met met\n";

static Tokenizer tok; /* anchors_tok_train() in main */

/* 0, or -1 after saying why the tokenizer could not be trained. */
static inline int anchors_tok_train(void) {
    ObErr err = {{0}};
    if (!tok_train_repeated(&tok, ANCHORS_TRAIN, 20, 400, &err)) return 0;
    fprintf(stderr, "tokenizer: %s\n", err.msg);
    return -1;
}

/* *d from the JSON text json, tokenized with tok; 0, or -1 after a failed
 * CHECK. */
static inline int dict_from(AnchorDict *d, const char *json) {
    ObErr err = {{0}};
    int rc = anchors_parse(d, json, strlen(json), "t.json", &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return -1;
    rc = anchors_tokenize(d, &tok, &err);
    CHECK(rc == 0, "tokenize: %s", err.msg);
    return rc;
}

#endif
