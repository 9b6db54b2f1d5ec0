/* text/corpus.c on small texts made here: Project Gutenberg stripping, story
 * splitting past a table of contents, Brown corpus tag removal and
 * detokenisation, and the demo's split into forget / held-out / general text
 * (deterministic, held-out documents never in training). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "text/corpus.h"

/* Runs corpus_strip_gutenberg on s; returns the output (caller frees) or NULL
 * with the error in *err. */
static char *strip(const char *s, ObErr *err) {
    CorpusBuf b = {0};
    if (corpus_strip_gutenberg(s, strlen(s), &b, err)) return corpus_buf_free(&b), NULL;
    return b.data;
}

static char *detag(const char *s, ObErr *err) {
    CorpusBuf b = {0};
    if (corpus_brown_detag(s, strlen(s), &b, err)) return corpus_buf_free(&b), NULL;
    return b.data ? b.data : strdup("");
}

#define CHECK_STR(got, want)                                                                       \
    CHECK((got) && !strcmp((got), (want)), "got \"%s\", want \"%s\"", (got) ? (got) : "(null)",    \
          (want))

static void test_gutenberg_this_variant_bom_crlf(void) {
    const char *s = "\xEF\xBB\xBFProject Gutenberg's Book, by Someone\r\n\r\n"
                    "Title: Book\r\n\r\n"
                    "*** START OF THIS PROJECT GUTENBERG EBOOK BOOK ***\r\n\r\n\r\n"
                    "Produced by a volunteer\r\nand another\r\n\r\n\r\n"
                    "BOOK\r\n\r\nChapter one.\r\nIt was a dark night.\r\n\r\n\r\n"
                    "End of the Project Gutenberg EBook of Book, by Someone\r\n\r\n"
                    "*** END OF THIS PROJECT GUTENBERG EBOOK BOOK ***\r\n\r\n"
                    "***** This file should be named 1.txt *****\r\nLicence text.\r\n";
    ObErr err;
    char *out = strip(s, &err);
    CHECK_STR(out, "BOOK\n\nChapter one.\nIt was a dark night.\n");
    CHECK(out && !strchr(out, '\r'), "CR left");
    free(out);
}

static void test_gutenberg_the_variant(void) {
    const char *s = "The Project Gutenberg eBook of Book\n"
                    "*** START OF THE PROJECT GUTENBERG EBOOK BOOK ***\n"
                    "  Indented first line.\n\nSecond paragraph.  \n"
                    "*** END OF THE PROJECT GUTENBERG EBOOK BOOK ***\n"
                    "Section 1. General Terms of Use\n";
    ObErr err;
    char *out = strip(s, &err);
    CHECK_STR(out, "  Indented first line.\n\nSecond paragraph.\n");
    free(out);
    /* No END line: the body runs to the end. */
    out = strip("***START OF THE PROJECT GUTENBERG EBOOK X***\nBody.\n", &err);
    CHECK_STR(out, "Body.\n");
    free(out);
    CHECK(corpus_has_gutenberg_start(s, strlen(s)), "START line not seen");
    CHECK(!corpus_has_gutenberg_start("*** START: FULL LICENSE ***\n", 28), "licence START");
}

static void test_gutenberg_refusals(void) {
    ObErr err = {{0}};
    char *out = strip("Just some text.\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\n", &err);
    CHECK(out == NULL, "accepted a text without START");
    CHECK(strstr(err.msg, "START") != NULL, "error: %s", err.msg);
    free(out);
    out = strip("*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n\n"
                "*** END OF THE PROJECT GUTENBERG EBOOK X ***\n",
                &err);
    CHECK(out == NULL && strstr(err.msg, "no text"), "empty body: %s", err.msg);
    free(out);
}

static const char *const heads[] = {"I. THE FIRST", "II. THE SECOND", "III. THE THIRD"};

/* A book whose contents list repeats the headings exactly. */
static const char *book = "THE BOOK\n\nContents\n\n"
                          "I. THE FIRST\nII. THE SECOND\nIII. THE THIRD\n\n\n"
                          "I. THE FIRST\n\nOnce upon a time.\n\n\n"
                          "II. THE SECOND\n\nTwice upon a time.\nThe end of two.\n\n"
                          "  III. THE THIRD  \n\nThrice.\n\n\n";

static char *span_str(const char *text, CorpusSpan s) {
    return strndup(text + s.start, s.end - s.start);
}

static void test_split_headings_skips_contents(void) {
    CorpusSpan parts[3];
    ObErr err;
    int rc = corpus_split_headings(book, strlen(book), heads, 3, parts, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    char *p0 = span_str(book, parts[0]), *p1 = span_str(book, parts[1]),
         *p2 = span_str(book, parts[2]);
    CHECK_STR(p0, "I. THE FIRST\n\nOnce upon a time.");
    CHECK_STR(p1, "II. THE SECOND\n\nTwice upon a time.\nThe end of two.");
    CHECK_STR(p2, "  III. THE THIRD  \n\nThrice.");
    free(p0), free(p1), free(p2);
    /* Contents spaced by blank lines are skipped as well. */
    const char *b2 = "I. THE FIRST\n\nII. THE SECOND\n\nIII. THE THIRD\n\nPreface.\n\n"
                     "I. THE FIRST\nA.\nII. THE SECOND\nB.\nIII. THE THIRD\nC.\n";
    rc = corpus_split_headings(b2, strlen(b2), heads, 3, parts, &err);
    CHECK(rc == 0 && !strncmp(b2 + parts[0].start, "I. THE FIRST\nA.", 15), "%s", err.msg);
}

static void test_split_headings_errors(void) {
    CorpusSpan parts[3];
    ObErr err = {{0}};
    const char *const missing[] = {"I. THE FIRST", "II. THE MISSING", "III. THE THIRD"};
    CHECK(corpus_split_headings(book, strlen(book), missing, 3, parts, &err) == -1, "no error");
    CHECK(strstr(err.msg, "\"II. THE MISSING\" not found") != NULL, "error: %s", err.msg);
    /* Out of order: III before II. */
    const char *const order[] = {"I. THE FIRST", "III. THE THIRD", "II. THE SECOND"};
    CHECK(corpus_split_headings(book, strlen(book), order, 3, parts, &err) == -1, "no error");
    CHECK(strstr(err.msg, "\"II. THE SECOND\" not found after \"III. THE THIRD\""), "%s", err.msg);
    const char *bare = "I. THE FIRST\n\nText.\n\nII. THE SECOND\n\n";
    CHECK(corpus_split_headings(bare, strlen(bare), heads, 2, parts, &err) == -1, "no error");
    CHECK(strstr(err.msg, "\"II. THE SECOND\" is followed by no text"), "%s", err.msg);
}

static void test_split_prefix(void) {
    const char *t = "Preface.\nCHAPTER 1. A\n\ntext a\n\nCHAPTER 2. B\ntext b\n\n";
    CorpusSpan *p = NULL;
    int n = 0;
    ObErr err;
    CHECK(corpus_split_prefix(t, strlen(t), "CHAPTER ", &p, &n, &err) == 0 && n == 2, "%s",
          err.msg);
    if (n == 2) {
        char *a = span_str(t, p[0]), *b = span_str(t, p[1]);
        CHECK_STR(a, "CHAPTER 1. A\n\ntext a");
        CHECK_STR(b, "CHAPTER 2. B\ntext b");
        free(a), free(b);
    }
    free(p);
    CHECK(corpus_split_prefix("no chapters\n", 12, "CHAPTER ", &p, &n, &err) == -1, "no error");
}

static void test_brown_detag(void) {
    const char *s =
        "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at "
        "investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` "
        "no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n\n\n"
        "\t``/`` Only/rb a/at handful/nn ''/'' ,/, the/at jury/nn said/vbd ;/. ;/.\n"
        "was/bedz it/pps won/vbn by/in Ivan/np Allen/np Jr./np ./.\n"
        "Why/wrb (/( or/cc how/wrb )/) ?/. ?/.\n\n\n\n"
        "\tHe/pps said/vbd :/: '/' pro/jj '/' and/cc '/' con/jj '/' !/. !/.\n"
        "A/at 1/8''/nn ''/'' bar/nn ,/, 3/cd //in 4/cd ,/, not/* didn't/dod* --/-- yes/rb ./.\n";
    const char *want =
        "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary "
        "election produced \"no evidence\" that any irregularities took place.\n"
        "\n"
        "\"Only a handful,\" the jury said;\n"
        "was it won by Ivan Allen Jr.\n"
        "Why (or how)?\n"
        "\n"
        "He said: 'pro' and 'con'!\n"
        "A 1/8\" bar, 3 / 4, not didn't -- yes.\n";
    ObErr err;
    char *out = detag(s, &err);
    CHECK_STR(out, want);
    free(out);
    out = detag("\tGood/jj ./.\nbad token ./.\n", &err);
    CHECK(out == NULL && strstr(err.msg, "line 2") && strstr(err.msg, "\"bad\""), "error: %s",
          out ? out : err.msg);
    free(out);
}

static void test_append_doc_and_helpers(void) {
    CorpusBuf b = {0};
    ObErr err;
    CHECK(corpus_append_doc(&b, "\n\n  one\ntwo  \n\n", 15, &err) == 0, "%s", err.msg);
    CHECK(corpus_append_doc(&b, " \n\t\n", 4, &err) == 0, "%s", err.msg); /* appends nothing */
    CHECK(corpus_append_doc(&b, "three", 5, &err) == 0, "%s", err.msg);
    CHECK_STR(b.data, "  one\ntwo\n\nthree\n");
    corpus_buf_free(&b);
    char t[] = "a\x02"
               "b\tc\x7f\n";
    CHECK(corpus_replace_controls(t, strlen(t)) == 2 && !strcmp(t, "a b\tc \n"), "%s", t);
    CHECK(corpus_count_words(" one two\n\nthree ", 16) == 3, "word count");
    CHECK(corpus_normalize("\xEF\xBB\xBF"
                           "a\r\nb\r",
                           8, &b, &err) == 0,
          "%s", err.msg);
    CHECK_STR(b.data, "a\nb");
    corpus_buf_free(&b);
}

/* ---- the demo pipeline on a tiny world ---- */

static const char *demo_book =
    "\xEF\xBB\xBFHeader\r\n*** START OF THIS PROJECT GUTENBERG EBOOK B ***\r\n"
    "I. THE FIRST\r\nII. THE SECOND\r\nIII. THE THIRD\r\n\r\n"
    "I. THE FIRST\r\n\r\nOne.\r\n\r\nII. THE SECOND\r\nTwo.\r\n"
    "III. THE THIRD\r\nThree.\r\n"
    "*** END OF THIS PROJECT GUTENBERG EBOOK B ***\r\nLicence.\r\n";

static const char *demo_moby = "*** START OF THE PROJECT GUTENBERG EBOOK MOBY ***\n"
                               "CHAPTER 1. A\nCall me.\n\nCHAPTER 2. B\nSea.\n\n"
                               "CHAPTER 3. C\nWhale.\n\nCHAPTER 4. D\nEnd.\n"
                               "*** END OF THE PROJECT GUTENBERG EBOOK MOBY ***\nLicence.\n";

static CorpusDemoIn demo_input(const CorpusDoc *brown, const CorpusDoc *sotu) {
    return (CorpusDemoIn){.target_name = "book.txt",
                          .target = demo_book,
                          .target_len = strlen(demo_book),
                          .headings = heads,
                          .n_parts = 3,
                          .n_forget = 2,
                          .brown = brown,
                          .n_brown = 4,
                          .sotu = sotu,
                          .n_sotu = 2,
                          .moby_name = "moby.txt",
                          .moby = demo_moby,
                          .moby_len = strlen(demo_moby),
                          .chapter_prefix = "CHAPTER ",
                          .heldout_every = 2};
}

#define DOC(name, text)                                                                            \
    { name, text, sizeof text - 1 }

static void test_prepare_demo(void) {
    const CorpusDoc brown[4] = {
        DOC("cb01", "\tB/np one/cd ./.\n"), DOC("ca01", "\tA/np one/cd ./.\n"),
        DOC("cb02", "\tB/np two/cd ./.\n"), DOC("ca02", "\tA/np two/cd ./.\n")};
    const CorpusDoc sotu[2] = {DOC("1791_b.txt", "Second address.\r\n"),
                               DOC("1790_a.txt", "First\x02 address.")};
    CorpusDemoIn in = demo_input(brown, sotu);
    CorpusDemoOut a, b;
    ObErr err;
    int rc = corpus_prepare_demo(&in, &a, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK_STR(a.parts[0].data, "I. THE FIRST\n\nOne.\n");
    CHECK_STR(a.parts[2].data, "III. THE THIRD\nThree.\n");
    CHECK_STR(a.forget.data, "I. THE FIRST\n\nOne.\n\nII. THE SECOND\nTwo.\n");
    CHECK_STR(a.target_heldout.data, "III. THE THIRD\nThree.\n");
    /* Sorted by name; every 2nd document held out; the last half of the chapters held out. */
    CHECK_STR(a.general_train.data, "A one.\n\nB one.\n\nFirst  address.\n\n"
                                    "CHAPTER 1. A\nCall me.\n\nCHAPTER 2. B\nSea.\n");
    CHECK_STR(a.general_heldout.data, "A two.\n\nB two.\n\nSecond address.\n\n"
                                      "CHAPTER 3. C\nWhale.\n\nCHAPTER 4. D\nEnd.\n");
    CHECK(a.brown_train == 2 && a.brown_heldout == 2 && a.sotu_train == 1 && a.sotu_heldout == 1 &&
              a.chapters_train == 2 && a.chapters_heldout == 2,
          "counts %d %d %d %d %d %d", a.brown_train, a.brown_heldout, a.sotu_train, a.sotu_heldout,
          a.chapters_train, a.chapters_heldout);
    CHECK(a.controls_replaced == 1, "controls %zu", a.controls_replaced);

    /* Deterministic, whatever order the documents come in. */
    const CorpusDoc brown2[4] = {brown[3], brown[2], brown[1], brown[0]};
    const CorpusDoc sotu2[2] = {sotu[1], sotu[0]};
    CorpusDemoIn in2 = demo_input(brown2, sotu2);
    rc = corpus_prepare_demo(&in2, &b, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (!rc) {
        CorpusBuf *x[] = {&a.forget, &a.target_heldout, &a.general_train, &a.general_heldout};
        CorpusBuf *y[] = {&b.forget, &b.target_heldout, &b.general_train, &b.general_heldout};
        for (int i = 0; i < 4; i++)
            CHECK(x[i]->len == y[i]->len && !memcmp(x[i]->data, y[i]->data, x[i]->len),
                  "output %d differs between runs", i);
        corpus_demo_free(&b);
    }
    corpus_demo_free(&a);
}

static void test_prepare_demo_errors(void) {
    const CorpusDoc brown[4] = {DOC("ca01", "\tA/np ./.\n"), DOC("ca02", "\tA/np ./.\n"),
                                DOC("ca03", "\tA/np ./.\n"), DOC("ca04", "\tno tag here\n")};
    const CorpusDoc sotu[2] = {DOC("1790.txt", "Fine."), DOC("1791.txt", "caf\xe9 au lait")};
    CorpusDemoIn in = demo_input(brown, sotu);
    CorpusDemoOut out;
    ObErr err;
    CHECK(corpus_prepare_demo(&in, &out, &err) == -1, "bad Brown file accepted");
    CHECK(strstr(err.msg, "ca04: line 1") == err.msg, "error: %s", err.msg);
    in.n_brown = 3;
    CHECK(corpus_prepare_demo(&in, &out, &err) == -1, "Latin-1 accepted");
    CHECK(strstr(err.msg, "1791.txt: not UTF-8 at byte 3"), "error: %s", err.msg);
    in.n_sotu = 1;
    const char *const missing[] = {"I. THE FIRST", "II. THE SECOND", "IV. THE FOURTH"};
    in.headings = missing;
    CHECK(corpus_prepare_demo(&in, &out, &err) == -1, "missing story accepted");
    CHECK(strstr(err.msg, "book.txt: heading \"IV. THE FOURTH\" not found") == err.msg, "%s",
          err.msg);
    in.headings = heads;
    CHECK(corpus_prepare_demo(&in, &out, &err) == 0, "%s", err.msg);
    corpus_demo_free(&out);
}

static void test_unwrap(void) {
    const char *in = "Title\n\nTo Sherlock\n  Holmes she is\nalways THE woman.\n\n\nNext para.\n";
    const char *want = "Title\n\nTo Sherlock Holmes she is always THE woman.\n\n\nNext para.\n";
    CorpusBuf out = {0};
    ObErr err;
    CHECK(corpus_unwrap(in, strlen(in), &out, &err) == 0, "%s", err.msg);
    CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0, "got '%.*s'",
          (int)out.len, out.data);
    corpus_buf_free(&out);
}

int main(void) {
    RUN(test_unwrap);
    RUN(test_gutenberg_this_variant_bom_crlf);
    RUN(test_gutenberg_the_variant);
    RUN(test_gutenberg_refusals);
    RUN(test_split_headings_skips_contents);
    RUN(test_split_headings_errors);
    RUN(test_split_prefix);
    RUN(test_brown_detag);
    RUN(test_append_doc_and_helpers);
    RUN(test_prepare_demo);
    RUN(test_prepare_demo_errors);
    return check_main_end("corpus");
}
