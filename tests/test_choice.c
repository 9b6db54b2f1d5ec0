/* Multiple choice, next-sentence items and relearning: acc / acc_norm on a
 * worked example, each layout's fixture parsed to (contexts, choices, right
 * index), malformed lines refused with file:line, sentence splitting on a
 * worked text, seeded items, and the scores of a tiny model checked against
 * llama_forward. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "eval/choice.h"
#include "eval/nextsent.h"
#include "eval/relearn.h"
#include "helpers.h"
#include "tiny.h"
#include "tmpdir.h"
#include "train/trainer.h"

#define FIX "tests/fixtures/choice/"

/* ---- acc and acc_norm ---- */

static void test_acc_norm_worked(void) {
    /* logp / characters: -6/4 = -1.5, -9/10 = -0.9, -12/20 = -0.6, -7.5/5 = -1.5:
     * the raw sum picks choice 0, the per-character figure choice 2. */
    double logp[4] = {-6.0, -9.0, -12.0, -7.5};
    int chars[4] = {4, 10, 20, 5};
    int pred, pred_norm;
    choice_predict(logp, chars, 4, &pred, &pred_norm);
    CHECK(pred == 0 && pred_norm == 2, "pred %d, pred_norm %d", pred, pred_norm);
    /* Ties go to the first: -2 = -2; then -4/2 = -2/1. */
    double tie[2] = {-2.0, -2.0}, tie2[2] = {-4.0, -2.0};
    int one[2] = {1, 1}, two_one[2] = {2, 1};
    choice_predict(tie, one, 2, &pred, &pred_norm);
    CHECK(pred == 0 && pred_norm == 0, "tie: %d %d", pred, pred_norm);
    choice_predict(tie2, two_one, 2, &pred, &pred_norm);
    CHECK(pred == 1 && pred_norm == 0, "normalised tie: %d %d", pred, pred_norm);

    /* Four items: 0 and 3 the worked example (right: 2), 1 the normalised tie
     * (right: 1), 2 the plain tie (right: 0). acc: items 1, 2 -> 2/4;
     * acc_norm: items 0, 2, 3 -> 3/4. */
    int first[5] = {0, 4, 6, 8, 12}, gold[4] = {2, 1, 0, 2};
    double all[12] = {-6.0, -9.0, -12.0, -7.5, -4.0, -2.0, -2.0, -2.0, -6.0, -9.0, -12.0, -7.5};
    int nch[12] = {4, 10, 20, 5, 2, 1, 1, 1, 4, 10, 20, 5};
    ChoiceEnc e = {.n_items = 4, .n_pairs = 12, .first = first, .gold = gold, .n_chars = nch};
    ChoiceSummary s;
    choice_summarise(&e, all, 1, &s);
    CHECK(s.n == 4 && s.acc == 0.5 && s.acc_norm == 0.75 && s.truncated == 1,
          "n %d acc %g acc_norm %g", s.n, s.acc, s.acc_norm);
}

/* ---- the layouts ---- */

static int item_is(const ChoiceItem *it, int k, int gold, const char *ctx,
                   const char *const *cont) {
    if (it->k != k || it->gold != gold) return 0;
    for (int i = 0; i < k; i++)
        if (strcmp(it->ctx[i], ctx) || strcmp(it->cont[i], cont[i])) return 0;
    return 1;
}

static void test_hellaswag_clean(void) {
    char a[] = "  [header] How to water a houseplant [title] Check the soil.  ";
    choice_hellaswag_clean(a);
    /* strip; " [title]" -> ". " gives "houseplant.  Check"; "[header]" goes (the
     * space after it stays: nothing strips again); "  " -> " " */
    CHECK(!strcmp(a, " How to water a houseplant. Check the soil."), "[%s]", a);
    char b[] = "a   b [x";
    choice_hellaswag_clean(b); /* three spaces leave two; an unclosed "[" stays */
    CHECK(!strcmp(b, "a  b [x"), "[%s]", b);
}

static void test_fixtures(void) {
    ChoiceSet s;
    ObErr err;
    int rc = choice_load(&s, FIX "hellaswag.jsonl", CHOICE_AUTO, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK(s.layout == CHOICE_HELLASWAG && s.n == 6, "layout %d, %d items", s.layout, s.n);
        const char *c0[] = {" waits for the water to boil and pours it over the leaves.",
                            " throws the kettle out of the window.",
                            " paints the stove a bright shade of blue.",
                            " reads a map of the moon aloud."};
        CHECK(item_is(&s.items[0], 4, 0,
                      "Making tea: A woman fills a kettle with water and sets it on the stove. She",
                      c0),
              "hellaswag item 1");
        CHECK(s.items[1].gold == 1 &&
                  !strcmp(s.items[1].ctx[0], "Riding a bike: A boy climbs onto his bicycle at "
                                             "the top of the hill. He"),
              "string label, plain ctx");
        /* brackets cleaned; ctx_b capitalized; a cleaned ending keeps the space
         * its bracket left, after the joining space (as the harness does) */
        const char *c2[] = {"  If it feels dry, give the plant a drink.",
                            " and then bury the finger there for a week.",
                            " until the plant begins to speak.",
                            " so the pot can be sold at once."};
        CHECK(item_is(&s.items[2], 4, 0,
                      "Home and Garden: How to water a houseplant. Check the soil. Push a finger "
                      "into the soil",
                      c2),
              "hellaswag item 3");
        CHECK(s.items[3].line == 4 && !strcmp(s.items[3].ctx[0], s.items[3].ctx[3]),
              "no activity label");
        choice_set_free(&s);
    }

    rc = choice_load(&s, FIX "piqa.jsonl", CHOICE_AUTO, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (!rc) {
        const char *c[] = {" put the jar in the freezer for a day.",
                           " run the lid under hot water for a minute, then twist."};
        CHECK(s.layout == CHOICE_PIQA && s.n == 5, "piqa %d %d", s.layout, s.n);
        CHECK(item_is(&s.items[1], 2, 1, "Question: To loosen a tight jar lid,\nAnswer:", c),
              "piqa item 2");
        choice_set_free(&s);
    }

    rc = choice_load(&s, FIX "arc.jsonl", CHOICE_AUTO, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (!rc) {
        const char *c[] = {" a ruler", " a thermometer", " a balance", " a compass"};
        CHECK(s.layout == CHOICE_ARC && s.n == 5, "arc %d %d", s.layout, s.n);
        CHECK(
            item_is(&s.items[2], 4, 2,
                    "Question: Which tool is best for measuring the mass of a stone?\nAnswer:", c),
            "arc item 3 (numeric labels)");
        CHECK(s.items[1].k == 3 && s.items[1].gold == 1, "3 choices, key B");
        CHECK(s.items[4].k == 5 && s.items[4].gold == 3, "5 choices, key D");
        choice_set_free(&s);
    }

    rc = choice_load(&s, FIX "boolq.jsonl", CHOICE_AUTO, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (!rc) {
        const char *c[] = {" no", " yes"};
        CHECK(s.layout == CHOICE_BOOLQ && s.n == 5, "boolq %d %d", s.layout, s.n);
        CHECK(item_is(&s.items[1], 2, 0,
                      "The library opens at nine in the morning and closes at five, except on "
                      "Sundays when it stays shut.\nQuestion: is the library open on "
                      "sundays?\nAnswer:",
                      c),
              "boolq item 2");
        CHECK(s.items[0].gold == 1, "true -> yes");
        choice_set_free(&s);
    }

    rc = choice_load(&s, FIX "winogrande.jsonl", CHOICE_AUTO, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK(s.layout == CHOICE_WINOGRANDE && s.n == 5, "winogrande %d %d", s.layout, s.n);
        const ChoiceItem *it = &s.items[1];
        CHECK(it->k == 2 && it->gold == 1 &&
                  !strcmp(it->ctx[0], "Maria lent her umbrella to Anna because Maria") &&
                  !strcmp(it->ctx[1], "Maria lent her umbrella to Anna because Anna") &&
                  !strcmp(it->cont[0], " was about to walk home in the rain.") &&
                  !strcmp(it->cont[1], it->cont[0]),
              "winogrande item 2");
        choice_set_free(&s);
    }

    /* A forced layout reads the file as that layout. */
    rc = choice_load(&s, FIX "boolq.jsonl", CHOICE_BOOLQ, &err);
    CHECK(rc == 0 && s.n == 5, "forced boolq: %s", rc ? err.msg : "");
    if (!rc) choice_set_free(&s);
}

/* Loads text as a file that must fail; returns the message after the path. */
static const char *load_error(const char *name, const char *text, ChoiceLayout layout) {
    static ObErr err;
    ChoiceSet s;
    const char *path = tmp_file(name, text);
    if (choice_load(&s, path, layout, &err) == 0) {
        choice_set_free(&s);
        return "(loaded without error)";
    }
    CHECK(s.n == 0 && s.items == NULL, "a failed load left items");
    CHECK(strncmp(err.msg, path, strlen(path)) == 0, "message does not name the file: %s", err.msg);
    return err.msg + strlen(path);
}

static void test_malformed(void) {
    struct {
        const char *name, *text, *want;
        ChoiceLayout layout;
    } cases[] = {
        {"h1.jsonl",
         "{\"ctx\": \"a\", \"endings\": [\"b\", \"c\"], \"label\": 0}\n\n"
         "{\"ctx\": \"a\", \"endings\": [\"b\", \"c\"], \"label\": 2}\n",
         ":3: \"label\" must be an index 0..1 (a number or a string)", CHOICE_AUTO},
        {"h2.jsonl",
         "{\"ctx\": \"a\", \"endings\": [\"b\", \"c\"], \"label\": 0}\n"
         "{\"endings\": [\"b\", \"c\"], \"label\": 0}\n",
         ":2: needs field \"ctx\" or \"ctx_a\"", CHOICE_AUTO},
        {"h3.jsonl",
         "{\"ctx\": \"a\", \"endings\": [\"b\", \"c\"], \"label\": 0}\n"
         "{\"ctx\": \"a\", \"endings\": [\"b\", 3], \"label\": 0}\n",
         ":2: field \"endings\" must be a non-empty array of strings, not an array", CHOICE_AUTO},
        {"h4.jsonl", "{\"ctx\": \"a\", \"endings\": [\"b\", \"[x]\"], \"label\": \"one\"}\n",
         ":1: \"label\" must be an index 0..1 (a number or a string)", CHOICE_AUTO},
        {"h5.jsonl", "{\"ctx\": \"a\", \"endings\": [\"b\", \"[x]\"], \"label\": 1}\n",
         ":1: ending 2 is empty after clean-up", CHOICE_AUTO},
        {"p1.jsonl",
         "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 0}\n"
         "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 2}\n",
         ":2: \"label\" must be 0 or 1", CHOICE_AUTO},
        {"p2.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"label\": 1}\n",
         ":1: field \"sol2\" missing", CHOICE_AUTO},
        {"a1.jsonl",
         "{\"question\": \"q\", \"choices\": {\"text\": [\"x\", \"y\"], \"label\": [\"A\", "
         "\"B\"]}, \"answerKey\": \"C\"}\n",
         ":1: \"answerKey\" \"C\" is not among the labels", CHOICE_AUTO},
        {"a2.jsonl",
         "{\"question\": \"q\", \"choices\": {\"text\": [\"x\", \"y\"], \"label\": [\"A\"]}, "
         "\"answerKey\": \"A\"}\n",
         ":1: \"choices\" has 2 texts but 1 labels", CHOICE_AUTO},
        {"a3.jsonl", "{\"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answerKey\": \"A\"}\n",
         ":1: field \"choices\" must be an object, not an array", CHOICE_AUTO},
        {"b1.jsonl",
         "{\"passage\": \"p\", \"question\": \"q\", \"answer\": true}\n"
         "{\"passage\": \"p\", \"question\": \"q\", \"answer\": \"yes\"}\n",
         ":2: field \"answer\" must be true or false, not a string", CHOICE_AUTO},
        {"w1.jsonl",
         "{\"sentence\": \"He left as _ was late.\", \"option1\": \"a\", \"option2\": \"b\", "
         "\"answer\": \"1\"}\n"
         "{\"sentence\": \"He left as it was late.\", \"option1\": \"a\", \"option2\": \"b\", "
         "\"answer\": \"1\"}\n",
         ":2: \"sentence\" has no \"_\" to fill", CHOICE_AUTO},
        {"w2.jsonl",
         "{\"sentence\": \"He left as _ was late.\", \"option1\": \"a\", \"option2\": \"b\", "
         "\"answer\": \"3\"}\n",
         ":1: \"answer\" must be \"1\" or \"2\"", CHOICE_AUTO},
        {"w3.jsonl",
         "{\"sentence\": \"It was _\", \"option1\": \"a\", \"option2\": \"b\", \"answer\": 1}\n",
         ":1: nothing follows the \"_\" to score", CHOICE_AUTO},
        {"u1.jsonl", "{\"foo\": 1}\n", ":1: cannot tell the layout", CHOICE_AUTO},
        {"u2.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 0}\n",
         ":1: field \"question\" missing", CHOICE_ARC},
        {"u3.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\", \"label\": 0}\nnope\n",
         ":2: not valid JSON", CHOICE_AUTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m = load_error(cases[i].name, cases[i].text, cases[i].layout);
        CHECK(!strncmp(m, cases[i].want, strlen(cases[i].want)), "%s: got '%s', want '%s'",
              cases[i].name, m, cases[i].want);
    }
    ChoiceLayout l;
    CHECK(choice_layout_parse("winogrande", &l) == 0 && l == CHOICE_WINOGRANDE, "parse name");
    CHECK(choice_layout_parse("next_sentence", &l) == -1 && choice_layout_parse("x", &l) == -1,
          "unknown names");
}

/* ---- sentences ---- */

static void test_sentences(void) {
    const char *text =
        "Mr. Brown met J. Smith at noon. They talked!\n\"Will it rain?\" she "
        "asked. \"No,\" he said.  It was late... Everyone left.\n\n"
        "Chapter two\n  \nIt begins\nhere. the end? no. He said \xE2\x80\x9CGo.\xE2\x80\x9D "
        "Then he left";
    const char *want[] = {"Mr. Brown met J. Smith at noon.",
                          "They talked!",
                          "\"Will it rain?\" she asked.",
                          "\"No,\" he said.",
                          "It was late...",
                          "Everyone left.",
                          "Chapter two",
                          "It begins here. the end? no.",
                          "He said \xE2\x80\x9CGo.\xE2\x80\x9D",
                          "Then he left"};
    char **s;
    int n;
    ObErr err;
    CHECK(sentences_split(text, strlen(text), &s, &n, &err) == 0, "%s", err.msg);
    int nw = (int)(sizeof want / sizeof want[0]);
    CHECK(n == nw, "%d sentences, want %d", n, nw);
    for (int i = 0; i < n && i < nw; i++)
        CHECK(!strcmp(s[i], want[i]), "sentence %d: [%s], want [%s]", i + 1, s[i], want[i]);
    sentences_free(s, n);
    CHECK(sentences_split("  \n ", 4, &s, &n, &err) == 0 && n == 0, "blank text: %d", n);
    sentences_free(s, n);
}

/* Which numbered sentence a continuation " Sentence number N ..." is. */
static int number_of(const char *cont) {
    int k = -1;
    return sscanf(cont, " Sentence number %d", &k) == 1 ? k : -1;
}

static void test_nextsent_items(void) {
    enum { NS = 30 };
    char *sent[NS], buf[NS][64];
    for (int i = 0; i < NS; i++) {
        snprintf(buf[i], sizeof buf[i], "Sentence number %d is%s here.", i, i % 3 ? "" : " also");
        sent[i] = buf[i];
    }
    sent[7] = "Too short."; /* under 20 bytes: never a target or distractor */
    NextSentConfig c;
    nextsent_config_defaults(&c);
    CHECK(c.n == 200 && c.choices == 4 && c.context == 2, "defaults");
    c.n = 6, c.seed = 7;
    ChoiceSet a, b, d;
    ObErr err;
    int cand;
    int rc = nextsent_build(&a, sent, NS, &c, "t.txt", &cand, &err) ||
             nextsent_build(&b, sent, NS, &c, "t.txt", &cand, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(cand == NS - 2, "%d candidates (not sentence 0, not the short one)", cand);
    CHECK(a.n == 6 && a.layout == CHOICE_NEXT_SENTENCE, "%d items", a.n);
    int same = a.n == b.n, golds = 0, last = -1;
    for (int i = 0; i < a.n; i++) {
        const ChoiceItem *x = &a.items[i], *y = &b.items[i];
        same &= x->gold == y->gold && x->k == 4;
        for (int k = 0; k < x->k && same; k++)
            same &= !strcmp(x->cont[k], y->cont[k]) && !strcmp(x->ctx[k], y->ctx[k]);
        int t = number_of(x->cont[x->gold]);
        CHECK(t >= 1 && t != 7 && t > last, "item %d: target %d (in text order)", i, t);
        last = t;
        char want[160];
        if (t >= 2)
            snprintf(want, sizeof want, "%s %s", sent[t - 2], sent[t - 1]);
        else
            snprintf(want, sizeof want, "%s", sent[0]);
        CHECK(!strcmp(x->ctx[0], want), "item %d context [%s], want [%s]", i, x->ctx[0], want);
        for (int k = 0; k < x->k; k++) {
            int j = number_of(x->cont[k]);
            CHECK(j >= 0 && j != 7, "choice [%s]", x->cont[k]);
            if (k != x->gold) CHECK(abs(j - t) > 2, "distractor %d too close to %d", j, t);
            for (int k2 = 0; k2 < k; k2++) CHECK(strcmp(x->cont[k], x->cont[k2]), "repeat");
        }
        golds |= 1 << x->gold;
    }
    CHECK(same, "same seed, different items");
    CHECK(golds != 1, "right answer always first");
    c.seed = 8;
    CHECK(nextsent_build(&d, sent, NS, &c, "t.txt", &cand, &err) == 0, "%s", err.msg);
    int differ = 0;
    for (int i = 0; i < d.n && i < a.n; i++)
        differ |= strcmp(a.items[i].cont[0], d.items[i].cont[0]);
    CHECK(differ, "another seed gave the same items");
    choice_set_free(&a), choice_set_free(&b), choice_set_free(&d);

    c.n = 1000; /* more than there are: all candidates */
    CHECK(nextsent_build(&a, sent, NS, &c, NULL, &cand, &err) == 0 && a.n == NS - 2, "all: %d",
          a.n);
    choice_set_free(&a);
    CHECK(nextsent_build(&a, sent, 6, &c, "few.txt", &cand, &err) == -1 &&
              strstr(err.msg, "few.txt: only 6 sentences"),
          "too few: %s", err.msg);
}

/* ---- scoring on a tiny model ---- */

/* log P(ids[n_ctx..n) | before) from a plain llama_forward over the last
 * ctx_len tokens. */
static int make_tokenizer(Tokenizer *tok, ObErr *err) {
    const char *t = "The cat sat on the mat. The dog ran in the park. Birds sing in the morning. "
                    "Question: Answer: yes no. A kettle of water boils on the stove.";
    size_t len = strlen(t);
    return tok_train_texts(tok, &t, &len, 1, 300, 0, err);
}

static void test_score_tiny(void) {
    Tokenizer tok;
    ObErr err;
    int rc = make_tokenizer(&tok, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    Llama m;
    LlamaConfig cfg = tiny_config(tok.n_vocab);
    CHECK(llama_create(&m, &cfg, &err) == 0, "%s", err.msg);
    llama_init_random(&m, 11);
    char long_ctx[2048] = "";
    for (int i = 0; i < 20; i++) strcat(long_ctx, "The dog ran in the park. ");
    ChoiceSet s = {0};
    const char *ctx1[] = {"The cat sat on the", "The cat sat on the", "The cat sat on the"};
    const char *cont1[] = {" mat.", " dog in the morning.", " park"};
    const char *ctx2[] = {"Birds sing in the morning because the dog",
                          "Birds sing in the morning because the cat"};
    const char *cont2[] = {" ran in the park.", " ran in the park."};
    const char *ctx3[] = {long_ctx, long_ctx}; /* ends in a space: it moves to the continuation */
    const char *cont3[] = {"Birds sing.", "The cat sat."};
    rc = choice_add(&s, ctx1, cont1, 3, 0, 1, &err) || choice_add(&s, ctx2, cont2, 2, 1, 2, &err) ||
         choice_add(&s, ctx3, cont3, 2, 0, 3, &err);
    CHECK(rc == 0, "%s", err.msg);
    ChoiceEnc e;
    rc = rc || choice_encode(&e, &s, &tok, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) goto out;
    CHECK(e.n_items == 3 && e.n_pairs == 7 && e.first[3] == 7, "pairs %d", e.n_pairs);
    CHECK(e.n_ids[5] > 64, "long item has %d tokens", e.n_ids[5]);
    CHECK(e.n_chars[0] == 4 && e.n_chars[1] == 19 && e.n_chars[5] == 11, "chars %d %d %d",
          e.n_chars[0], e.n_chars[1], e.n_chars[5]);
    CHECK(e.ids[0][0] == tok.eot_id, "pairs start with <|endoftext|>");
    {
        int32_t *want;
        size_t nw;
        CHECK(tok_encode(&tok, " Birds sing.", 12, &want, &nw, &err) == 0, "%s", err.msg);
        CHECK((size_t)(e.n_ids[5] - e.n_ctx[5]) == nw &&
                  !memcmp(e.ids[5] + e.n_ctx[5], want, nw * sizeof(int32_t)),
              "trailing space moved to the continuation");
        free(want);
    }
    double logp[7];
    int truncated;
    rc = choice_score(&m, &e, logp, &truncated, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) goto out_e;
    CHECK(truncated == 1, "%d truncated", truncated);
    for (int p = 0; p < 7; p++) {
        double want = logp_by_hand(&m, e.ids[p], e.n_ids[p], e.n_ctx[p]);
        CHECK(fabs(logp[p] - want) < 1e-3, "pair %d: logp %.6f, by hand %.6f", p, logp[p], want);
    }
    ChoiceSummary sum;
    choice_summarise(&e, logp, truncated, &sum);
    int right = (choice_argmax(logp, 3) == 0) + (choice_argmax(logp + 3, 2) == 1) +
                (choice_argmax(logp + 5, 2) == 0);
    CHECK(sum.n == 3 && fabs(sum.acc - right / 3.0) < 1e-12, "acc %g, want %d/3", sum.acc, right);

    /* The shipped fixtures encode and score. */
    const char *files[] = {"hellaswag", "piqa", "arc", "boolq", "winogrande"};
    for (int f = 0; f < 5; f++) {
        char path[128];
        snprintf(path, sizeof path, FIX "%s.jsonl", files[f]);
        ChoiceSet fs;
        ChoiceEnc fe;
        double lp[256];
        int t;
        rc = choice_load(&fs, path, CHOICE_AUTO, &err) || choice_encode(&fe, &fs, &tok, &err);
        CHECK(rc == 0, "%s: %s", path, err.msg);
        if (rc) continue;
        CHECK(fe.n_pairs <= 256 && choice_score(&m, &fe, lp, &t, &err) == 0, "%s", err.msg);
        choice_summarise(&fe, lp, t, &sum);
        CHECK(sum.n == fs.n && sum.acc >= 0 && sum.acc <= 1 && sum.acc_norm >= 0 &&
                  sum.acc_norm <= 1,
              "%s: n %d acc %g", path, sum.n, sum.acc);
        choice_enc_free(&fe), choice_set_free(&fs);
    }

    /* A continuation that cannot fit is refused, naming the item. */
    ChoiceSet big = {0};
    const char *bc[] = {"x", "x"}, *bl[] = {long_ctx, " y"};
    CHECK(choice_add(&big, bc, bl, 2, 0, 0, &err) == 0, "%s", err.msg);
    big.source = malloc(8);
    strcpy(big.source, "b.jsonl");
    ChoiceEnc be;
    CHECK(choice_encode(&be, &big, &tok, &err) == 0, "%s", err.msg);
    CHECK(choice_score(&m, &be, logp, &truncated, &err) == -1 &&
              strstr(err.msg, "b.jsonl: item 1: choice 1 has") == err.msg,
          "too long: %s", err.msg);
    choice_enc_free(&be), choice_set_free(&big);
out_e:
    choice_enc_free(&e);
out:
    choice_set_free(&s);
    llama_free(&m);
    tok_free(&tok);
}

/* ---- relearning ---- */

static void test_relearn(void) {
    Tokenizer tok;
    ObErr err;
    int rc = make_tokenizer(&tok, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    TokenStream ds = {0};
    char text[4096] = "";
    for (int i = 0; i < 40; i++) strcat(text, "The cat sat on the mat. ");
    Llama m;
    LlamaConfig cfg = tiny_config(tok.n_vocab);
    rc = dataset_append_text(&ds, &tok, text, strlen(text), &err) || llama_create(&m, &cfg, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    llama_init_random(&m, 5);
    float before = m.params[100];
    RelearnConfig c;
    relearn_config_defaults(&c);
    CHECK(c.steps == 20 && fabsf(c.lr - 3e-4f) < 1e-9f && c.batch == 4, "defaults");
    c.steps = 3, c.seq = 500; /* capped at the context, 64 */
    setenv("TMPDIR", tmpdir, 1);
    RelearnResult res;
    rc = relearn_run(&m, &tok, &ds, &c, &res, &err);
    unsetenv("TMPDIR");
    CHECK(rc == 0, "%s", err.msg);
    CHECK(res.steps == 3 && res.seq == 64 && res.last_loss > 0, "steps %ld seq %d loss %g",
          res.steps, res.seq, res.last_loss);
    CHECK(m.params[100] != before, "parameters unchanged");
    int left = 0;
    DIR *d = opendir(tmpdir);
    for (struct dirent *x; d && (x = readdir(d));) left += !strncmp(x->d_name, "obliviate-", 10);
    if (d) closedir(d);
    CHECK(left == 0, "%d temporary folders left", left);
    c.steps = 0;
    CHECK(relearn_run(&m, &tok, &ds, &c, &res, &err) == -1, "0 steps accepted");
    llama_free(&m);
    dataset_free(&ds);
    tok_free(&tok);
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_acc_norm_worked);
    RUN(test_hellaswag_clean);
    RUN(test_fixtures);
    RUN(test_malformed);
    RUN(test_sentences);
    RUN(test_nextsent_items);
    RUN(test_score_tiny);
    RUN(test_relearn);
    tmpdir_remove();
    return check_main_end("choice");
}
