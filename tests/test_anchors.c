/* Tests for anchor dictionaries and block translation (WHP steps 2 and 3):
 * parsing (JSON object, JSON Lines), merging, pruning, malformed inputs,
 * tokenization in both forms, longest whole-word matching, the position map
 * on a hand-computed example, repeats, possessives, forbidden tokens,
 * truncation at max_len and seeded value choice.
 *
 * The tokenizer is trained here on a small text (ANCHORS_TRAIN in anchors_tok.h, 20 times) so that,
 * as the checks on its tokens below state: "Holmes", " Holmes", "Sherlock",
 * " Watson", " Jones", " Brown", " Tom", " met", " said" are single tokens;
 * "Watson" is W|at|son, "Jones" J|ones, "Brown" B|rown, "Tom" T|om,
 * "Tomorrow" T|om|or|row; "Moriarty" and "Lestrade" (never seen) are several
 * tokens in both forms, form 1 starting with a lone space token. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anchors_tok.h"
#include "check.h"
#include "helpers.h"
#include "unlearn/anchors.h"
#include "unlearn/translate.h"

#define FIXTURES "tests/fixtures/anchors/"

/* Tokens of s into out (at most cap); returns the count. */
static int enc(const char *s, int32_t *out, int cap) {
    int32_t *ids;
    size_t n;
    ObErr err;
    if (tok_encode(&tok, s, strlen(s), &ids, &n, &err)) return -1;
    int k = (int)n < cap ? (int)n : cap;
    memcpy(out, ids, (size_t)k * sizeof *ids);
    free(ids);
    return k;
}

static int tok_id(const char *s) {
    int32_t id[8];
    return enc(s, id, 8) == 1 ? id[0] : -1;
}

static int seq_is(const TokSeq *s, const char *text) {
    int32_t ids[64];
    int n = enc(text, ids, 64);
    return s->n == n && !memcmp(s->ids, ids, (size_t)n * sizeof *ids);
}

static int arr_eq(const int32_t *a, const int32_t *b, int n) {
    return !memcmp(a, b, (size_t)n * sizeof *a);
}

static const char *arr_str(const int32_t *a, int n) {
    static char buf[1024];
    size_t k = 0;
    for (int i = 0; i < n && k < sizeof buf - 16; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%d", i ? "," : "", (int)a[i]);
    buf[k] = 0;
    return buf;
}

/* anchors_parse(text) fails with one line containing want. */
static void expect_error(const char *text, size_t len, const char *name, const char *want) {
    AnchorDict d;
    ObErr err = {{0}};
    int rc = anchors_parse(&d, text, len, name, &err);
    CHECK(rc == -1, "%s parsed, expected \"%s\"", name, want);
    CHECK(strstr(err.msg, want) != NULL, "message \"%s\" lacks \"%s\"", err.msg, want);
    CHECK(!strchr(err.msg, '\n'), "message spans lines: %s", err.msg);
    CHECK(d.n == 0 && d.items == NULL, "failed parse left anchors");
}

static void expect_load_error(const char *file, const char *want) {
    AnchorDict d;
    ObErr err = {{0}};
    CHECK(anchors_load(&d, file, &err) == -1, "%s loaded", file);
    CHECK(strstr(err.msg, want) != NULL, "message \"%s\" lacks \"%s\"", err.msg, want);
    CHECK(!strchr(err.msg, '\n'), "message spans lines: %s", err.msg);
}

static int has_values(const Anchor *a, int n, const char *const *want) {
    if (a->n_values != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(a->values[i], want[i])) return 0;
    return 1;
}

/* ---- the tokenizer the tests rely on ---------------------------------- */

static void test_tokenizer_assumptions(void) {
    int32_t ids[16];
    const char *single[] = {"Holmes", " Holmes", "Sherlock",  " Sherlock", " Watson",
                            " Jones", " Brown",  " Tom",      " met",      " said",
                            "Smith",  " Smith",  " Tomorrow", "."};
    for (size_t i = 0; i < sizeof single / sizeof *single; i++)
        CHECK(tok_id(single[i]) >= 0, "\"%s\" is not one token", single[i]);
    CHECK(enc("Watson", ids, 16) == 3, "Watson: %d tokens", enc("Watson", ids, 16));
    CHECK(enc("Jones", ids, 16) == 2, "Jones");
    CHECK(enc("Brown", ids, 16) == 2, "Brown");
    CHECK(enc("Tom", ids, 16) == 2, "Tom");
    CHECK(enc("Tomorrow", ids, 16) == 4, "Tomorrow");
    int32_t tom[2], tomorrow[4];
    enc("Tom", tom, 2);
    enc("Tomorrow", tomorrow, 4);
    CHECK(arr_eq(tom, tomorrow, 2), "Tom's tokens should start Tomorrow's");
    CHECK(enc("Moriarty", ids, 16) > 2, "Moriarty");
    CHECK(enc(" Moriarty", ids, 16) > 2 && ids[0] == tok_id(" "), " Moriarty");
    CHECK(enc("\xE2\x80\x99", ids, 16) == 3, "the curly apostrophe should be three byte tokens");
}

/* ---- parsing, merging, pruning ---------------------------------------- */

static void test_parse_object(void) {
    AnchorDict d;
    ObErr err = {{0}};
    int rc = anchors_load(&d, FIXTURES "holmes.json", &err);
    CHECK(rc == 0, "load: %s", err.msg);
    if (rc) return;
    /* Sorted by key; "Sherlock Holmes" and "Holmes's" pruned. */
    const char *keys[] = {"Baker", "Baker Street", "Holmes", "Sherlock", "Watson"};
    CHECK(d.n == 5, "n = %d", d.n);
    for (int i = 0; i < d.n && i < 5; i++)
        CHECK(!strcmp(d.items[i].key, keys[i]), "key %d = %s", i, d.items[i].key);
    CHECK(d.n_dropped == 2, "dropped %d", d.n_dropped);
    const char *baker[] = {"Main"}, *watson[] = {"Jones", "Brown"}, *sher[] = {"Tom", "Ann"};
    CHECK(has_values(&d.items[0], 1, baker), "Baker trimmed to Main");
    CHECK(has_values(&d.items[4], 2, watson), "Watson: unique values in first-seen order");
    CHECK(has_values(&d.items[3], 2, sher), "Sherlock values");
    CHECK(anchors_find(&d, "Holmes") == 2 && anchors_find(&d, "Holmes's") == -1 &&
              anchors_find(&d, "Sherlock Holmes") == -1 && anchors_find(&d, "Zzz") == -1,
          "anchors_find");
    CHECK(strstr(d.dropped_report, "\"Sherlock Holmes\": each of its words is a key\n") != NULL,
          "report: %s", d.dropped_report);
    CHECK(strstr(d.dropped_report, "\"Holmes's\": possessive of the key \"Holmes\"\n") != NULL,
          "report: %s", d.dropped_report);
    anchors_free(&d);
}

static void test_parse_jsonl_merge(void) {
    AnchorDict d;
    ObErr err = {{0}};
    int rc = anchors_load(&d, FIXTURES "holmes.jsonl", &err);
    CHECK(rc == 0, "load: %s", err.msg);
    if (rc) return;
    CHECK(d.n == 3, "n = %d", d.n);
    const char *holmes[] = {"Smith", "Brown"}, *watson[] = {"Jones", "Green"}, *sh[] = {"Tom"};
    int h = anchors_find(&d, "Holmes"), w = anchors_find(&d, "Watson"),
        s = anchors_find(&d, "Sherlock");
    CHECK(h >= 0 && has_values(&d.items[h], 2, holmes), "Holmes merged across lines");
    CHECK(w >= 0 && has_values(&d.items[w], 2, watson), "Watson merged across lines");
    CHECK(s >= 0 && has_values(&d.items[s], 1, sh), "Sherlock");
    CHECK(d.n_dropped == 2, "dropped %d", d.n_dropped);
    CHECK(strstr(d.dropped_report, "\"Holmes\xE2\x80\x99s\": possessive of the key \"Holmes\"") !=
              NULL,
          "report: %s", d.dropped_report);
    anchors_free(&d);

    /* CRLF line ends, blank lines, a one-line file that is also an object. */
    const char *crlf = "{\"a\": \"b\"}\r\n\r\n  \r\n{\"a\": [\"c\", \"b\"], \"d\": \"e\"}\r\n";
    rc = anchors_parse(&d, crlf, strlen(crlf), "crlf.jsonl", &err);
    CHECK(rc == 0 && d.n == 2 && d.items[0].n_values == 2, "crlf: %s", err.msg);
    anchors_free(&d);
    const char *dup = "{\"a\": \"b\", \"a\": [\"c\"]}";
    rc = anchors_parse(&d, dup, strlen(dup), "dup.json", &err);
    CHECK(rc == 0 && d.n == 1 && d.items[0].n_values == 2, "duplicate keys in one object merge");
    anchors_free(&d);
}

static void test_pruning(void) {
    AnchorDict d;
    ObErr err = {{0}};
    const char *j =
        "{\"Sherlock Holmes\": \"Tom Smith\", \"Sherlock\": \"Tom\", \"Holmes\": \"Smith\","
        " \"Holmes's\": \"Smith's\", \"Holmes\xE2\x80\x99s\": \"Smith\xE2\x80\x99s\","
        " \"Watson's\": \"Jones's\", \"Baker Street\": \"Main Road\","
        " \"Baker\": \"Main\", \"Sherlock Holmes's\": \"Tom Smith's\"}";
    int rc = anchors_parse(&d, j, strlen(j), "t.json", &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    /* Kept: parts, "Watson's" (no key "Watson"), "Baker Street" ("Street" is
     * no key). Dropped: both words keys, possessives of keys, and "Sherlock
     * Holmes's" (possessive of the key "Sherlock Holmes", itself dropped:
     * the rules look at the keys before pruning). */
    const char *keys[] = {"Baker", "Baker Street", "Holmes", "Sherlock", "Watson's"};
    CHECK(d.n == 5 && d.n_dropped == 4, "n %d dropped %d", d.n, d.n_dropped);
    for (int i = 0; i < d.n && i < 5; i++)
        CHECK(!strcmp(d.items[i].key, keys[i]), "key %d = %s", i, d.items[i].key);
    int lines = 0;
    for (const char *p = d.dropped_report; *p; p++) lines += *p == '\n';
    CHECK(lines == 4, "report has %d lines:\n%s", lines, d.dropped_report);
    anchors_free(&d);

    /* A single word is never pruned for being "all keys". */
    rc = anchors_parse(&d, "{\"Holmes\": \"Smith\"}", 19, "t.json", &err);
    CHECK(rc == 0 && d.n == 1 && d.n_dropped == 0 && !strcmp(d.dropped_report, ""), "single");
    anchors_free(&d);
}

static void test_malformed(void) {
    expect_load_error(FIXTURES "bad_value.jsonl",
                      "bad_value.jsonl:3: value of \"Harry\" is not a string or an array of "
                      "strings");
    expect_load_error(FIXTURES "bad_json.jsonl", "bad_json.jsonl:2: invalid JSON at column");
    expect_load_error(FIXTURES "broken.json", "broken.json:4: invalid JSON");
    expect_load_error(FIXTURES "not_utf8.jsonl", "not_utf8.jsonl:2: invalid UTF-8 at byte 34");
    expect_load_error(FIXTURES "not_object.jsonl", "not_object.jsonl:2: expected a JSON object");
    expect_load_error(FIXTURES "missing.json", "missing.json");

    const char *e1 = "{\"Harry\": [\"Jon\", 1]}";
    expect_error(e1, strlen(e1), "t.json",
                 "t.json: value of \"Harry\" is not a string or an "
                 "array of strings");
    const char *e2 = "{\"Harry\": {\"a\": \"b\"}}";
    expect_error(e2, strlen(e2), "t.json", "value of \"Harry\" is not a string");
    const char *e3 = "{\"Harry\": []}";
    expect_error(e3, strlen(e3), "t.json", "t.json: key \"Harry\" has no values");
    const char *e4 = "{\"Harry\": [\"Jon\", \"  \"]}";
    expect_error(e4, strlen(e4), "t.json", "t.json: empty value for key \"Harry\"");
    const char *e5 = "{\" \\t\": \"Jon\"}";
    expect_error(e5, strlen(e5), "t.json", "t.json: empty key");
    const char *e6 = "{\"a\": \"b\"}\n{\"Harry\": \"\"}\n";
    expect_error(e6, strlen(e6), "t.jsonl", "t.jsonl:2: empty value for key \"Harry\"");
    expect_error("", 0, "t.json", "t.json: no entries");
    expect_error("\n \n", 3, "t.json", "t.json: no entries");
    expect_error("{}", 2, "t.json", "t.json: no entries");
    expect_error("[\"a\"]", 5, "t.json", "t.json:1: expected a JSON object");
    expect_error("\n\n\"a\"", 5, "t.json", "t.json:3: expected a JSON object");
    expect_error("{\"a\": \"b\"} x", 12, "t.json", "t.json:1: invalid JSON at column 12");
    expect_error("{\"a\": \"b\xC3\"}", 11, "t.json", "t.json:1: invalid UTF-8 at byte 8");
    expect_error("{\"a\": \"b\"}\n\x00", 12, "t.json", "t.json:2: NUL byte");
    const char *e7 = "{\"a\": \"\\ud800\"}";
    expect_error(e7, strlen(e7), "t.json", "t.json");
    /* A key with a newline is quoted on one line. */
    const char *e8 = "{\"Har\\nry\": 7}";
    expect_error(e8, strlen(e8), "t.json", "value of \"Har\\x0ary\"");
    /* Deep nesting does not crash. */
    char deep[4200];
    size_t k = 0;
    for (int i = 0; i < 2000; i++) deep[k++] = '[';
    for (int i = 0; i < 2000; i++) deep[k++] = ']';
    expect_error(deep, k, "deep.json", "deep.json:1: invalid JSON");
}

static void test_save_roundtrip(void) {
    AnchorDict d, e;
    ObErr err = {{0}};
    char path[64];
    snprintf(path, sizeof path, "/tmp/ob_anchors_%d.json", (int)getpid());
    int rc = anchors_load(&d, FIXTURES "holmes.jsonl", &err) || anchors_save(&d, path, &err) ||
             anchors_load(&e, path, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(e.n == d.n, "n");
    for (int i = 0; i < d.n && i < e.n; i++) {
        CHECK(!strcmp(d.items[i].key, e.items[i].key), "key %d", i);
        CHECK(has_values(&e.items[i], d.items[i].n_values, (const char *const *)d.items[i].values),
              "values of %s", d.items[i].key);
    }
    anchors_free(&d);
    anchors_free(&e);
    remove(path);
}

/* ---- tokenization and matching ---------------------------------------- */

static void test_tokenize_forms(void) {
    AnchorDict d;
    if (dict_from(&d, "{\"Holmes\": \"Smith\", \"Watson\": [\"Jones\", \"Lestrade\"]}")) return;
    int h = anchors_find(&d, "Holmes"), w = anchors_find(&d, "Watson");
    CHECK(seq_is(&d.items[h].key_tok[0], "Holmes") && seq_is(&d.items[h].key_tok[1], " Holmes"),
          "Holmes forms");
    CHECK(seq_is(&d.items[w].key_tok[0], "Watson") && d.items[w].key_tok[0].n == 3 &&
              seq_is(&d.items[w].key_tok[1], " Watson") && d.items[w].key_tok[1].n == 1,
          "Watson forms");
    CHECK(seq_is(&d.items[w].val_tok[0][1], "Lestrade") &&
              seq_is(&d.items[w].val_tok[1][1], " Lestrade"),
          "value forms");

    /* Form 0 at the start, after a newline and after a quote; form 1 after
     * a space. */
    int32_t ids[64];
    int n = enc("Holmes met Watson.\nHolmes said \"Holmes\" and Holmes", ids, 64);
    /* Holmes Ġmet ĠWatson . \n Holmes Ġsaid Ġ" Holmes " Ġand ĠHolmes */
    int want_pos[] = {0, 2, 5, 8, 11}, want_form[] = {0, 1, 0, 0, 1};
    int want_a[] = {h, w, h, h, h}, got = 0;
    for (int i = 0; i < n; i++) {
        int form, len, a = anchors_match(&d, ids, n, i, &form, &len);
        if (a < 0) continue;
        CHECK(got < 5 && i == want_pos[got] && form == want_form[got] && a == want_a[got],
              "match %d at %d: anchor %d form %d", got, i, a, form);
        got++;
    }
    CHECK(got == 5, "%d matches in %s", got, arr_str(ids, n));
    anchors_free(&d);
}

static void test_match_edges(void) {
    AnchorDict d;
    if (dict_from(&d, "{\"Watson\": \"Jones\", \"Moriarty\": \"Brown\", \"Tom\": \"Ann\","
                      " \"Holmes\": \"Smith\"}"))
        return;
    int w = anchors_find(&d, "Watson"), m = anchors_find(&d, "Moriarty"),
        t = anchors_find(&d, "Tom"), h = anchors_find(&d, "Holmes");
    int32_t ids[64];
    int form, len, n;

    /* Multi-token key at the start of a block (form 0: W|at|son). */
    n = enc("Watson met Holmes", ids, 64);
    CHECK(anchors_match(&d, ids, n, 0, &form, &len) == w && form == 0 && len == 3, "start");
    CHECK(anchors_match(&d, ids, n, 4, &form, &len) == h && form == 1 && len == 1, "single");
    /* Running across the end of the block: not matched. */
    CHECK(anchors_match(&d, ids, 2, 0, &form, &len) == -1, "cut key matched");
    CHECK(anchors_match(&d, ids, 3, 0, &form, &len) == w, "key ending at the block end");

    n = enc("Holmes Moriarty", ids, 64);
    int mlen = d.items[m].key_tok[1].n;
    CHECK(n == 1 + mlen, "Moriarty tokens %d", n);
    CHECK(anchors_match(&d, ids, n, 1, &form, &len) == m && form == 1 && len == mlen, "Moriarty");
    CHECK(anchors_match(&d, ids, n - 1, 1, &form, &len) == -1, "Moriarty cut by the block end");

    /* Whole words: "Tom" is T|om and "Tomorrow" T|om|or|row, but "Tom" does
     * not match inside "Tomorrow"; nor "Holmes" glued to a non-ASCII letter
     * (é, two byte tokens); it does match before a curly apostrophe (three
     * byte tokens) and before "'s". */
    n = enc("Tomorrow Tom", ids, 64);
    CHECK(anchors_match(&d, ids, n, 0, &form, &len) == -1, "Tom inside Tomorrow");
    CHECK(anchors_match(&d, ids, n, n - 1, &form, &len) == t && form == 1, "Tom");
    CHECK(anchors_match(&d, ids, 2, 0, &form, &len) == t, "Tom cut from Tomorrow at the block end");
    n = enc("Holmes\xC3\xA9 Holmes\xE2\x80\x99s Holmes's", ids, 64);
    CHECK(anchors_match(&d, ids, n, 0, &form, &len) == -1, "Holmes glued to é: %s",
          arr_str(ids, n));
    int hits = 0;
    for (int i = 1; i < n; i++) hits += anchors_match(&d, ids, n, i, &form, &len) == h;
    CHECK(hits == 2, "Holmes before ’s and 's: %d", hits);
    /* Glued on the left: "xHolmes" would be one word; a digit after a digit
     * likewise ("221B" keys); after a special token the word is whole. */
    int32_t x = tok_id("x"), hol = tok_id("Holmes"), glued[3] = {x, hol, tok_id(".")};
    CHECK(anchors_match(&d, glued, 3, 1, &form, &len) == -1, "xHolmes");
    int32_t after_eot[2] = {tok.eot_id, hol};
    CHECK(anchors_match(&d, after_eot, 2, 1, &form, &len) == h, "after eot");
    /* Ids outside the vocabulary never match; positions outside [0, n) neither. */
    int32_t bad[2] = {-5, tok.n_vocab + 3};
    CHECK(anchors_match(&d, bad, 2, 0, &form, &len) == -1, "negative id");
    CHECK(anchors_match(&d, bad, 2, 1, &form, &len) == -1, "id past the vocabulary");
    CHECK(anchors_match(&d, glued, 3, 3, &form, &len) == -1, "i == n");
    anchors_free(&d);

    AnchorDict e;
    if (dict_from(&e, "{\"221B\": \"10\"}")) return;
    n = enc("at 221B and 1221B", ids, 64);
    hits = 0;
    for (int i = 0; i < n;) { /* scanning as the translation does */
        int a = anchors_match(&e, ids, n, i, &form, &len);
        hits += a == 0;
        i += a == 0 ? len : 1;
    }
    CHECK(hits == 1, "221B matched %d times in %s", hits, arr_str(ids, n));
    anchors_free(&e);
}

static void test_longest_match(void) {
    AnchorDict d;
    int32_t ids[64];
    int form, len;
    int n = enc("Sherlock Holmes met Sherlock and Holmes", ids, 64);
    CHECK(n == 6, "%d tokens", n); /* Sherlock ĠHolmes Ġmet ĠSherlock Ġand ĠHolmes */

    /* "Sherlock Holmes" with "Sherlock": the longer key wins at 0. */
    if (dict_from(&d, "{\"Sherlock\": \"Tom\", \"Sherlock Holmes\": \"Tom Smith\"}")) return;
    int sh = anchors_find(&d, "Sherlock"), shh = anchors_find(&d, "Sherlock Holmes");
    CHECK(anchors_match(&d, ids, n, 0, &form, &len) == shh && len == 2, "longest at 0");
    CHECK(anchors_match(&d, ids, n, 3, &form, &len) == sh && len == 1, "Sherlock alone");
    CHECK(anchors_match(&d, ids, 1, 0, &form, &len) == sh && len == 1, "longest that fits");
    anchors_free(&d);

    /* ... with "Holmes": the same. */
    if (dict_from(&d, "{\"Holmes\": \"Smith\", \"Sherlock Holmes\": \"Tom Smith\"}")) return;
    int ho = anchors_find(&d, "Holmes");
    shh = anchors_find(&d, "Sherlock Holmes");
    CHECK(anchors_match(&d, ids, n, 0, &form, &len) == shh && len == 2, "longest at 0");
    CHECK(anchors_match(&d, ids, n, 1, &form, &len) == ho, "Holmes alone");
    CHECK(anchors_match(&d, ids, n, 5, &form, &len) == ho, "Holmes at the end");
    anchors_free(&d);

    /* ... with both parts: pruning drops it, the parts match separately. */
    if (dict_from(&d, "{\"Holmes\": \"Smith\", \"Sherlock\": \"Tom\","
                      " \"Sherlock Holmes\": \"Tom Smith\"}"))
        return;
    CHECK(d.n == 2 && anchors_find(&d, "Sherlock Holmes") == -1, "pruned");
    CHECK(anchors_match(&d, ids, n, 0, &form, &len) == anchors_find(&d, "Sherlock") && len == 1,
          "Sherlock");
    CHECK(anchors_match(&d, ids, n, 1, &form, &len) == anchors_find(&d, "Holmes"), "Holmes");
    Translation tr;
    ObRng rng;
    ObErr err = {{0}};
    ob_rng_seed(&rng, 1);
    CHECK(translation_init(&tr, 64, 64, &err) == 0, "%s", err.msg);
    CHECK(translate_block(&d, ids, n, &rng, &tr, &err) == 0, "%s", err.msg);
    char *out;
    size_t olen;
    tok_decode(&tok, tr.tokens, (size_t)tr.n_trans, &out, &olen, &err);
    CHECK(!strcmp(out, "Tom Smith met Tom and Smith"), "translated: %s", out);
    free(out);
    translation_free(&tr);
    anchors_free(&d);
}

/* ---- translation ------------------------------------------------------ */

static void test_map_hand_computed(void) {
    AnchorDict d;
    if (dict_from(&d, "{\"Watson\": \"Brown\", \"Holmes\": \"Jones\"}")) return;
    int32_t orig[16];
    int n = enc("Watson met Holmes. Holmes said Watson", orig, 16);
    /* orig: W at son | Ġmet | ĠHolmes | . | ĠHolmes | Ġsaid | ĠWatson
     *       0 1  2     3      4         5   6         7       8        */
    CHECK(n == 9, "n = %d", n);
    int32_t B = orig[0] == tok_id("W") ? (int32_t)tok_id("B") : -1;
    int32_t rown = (int32_t)tok_id("rown"), met = (int32_t)tok_id(" met"),
            Jones1 = (int32_t)tok_id(" Jones"), dot = (int32_t)tok_id("."),
            said = (int32_t)tok_id(" said"), Brown1 = (int32_t)tok_id(" Brown"),
            J = (int32_t)tok_id("J");
    const int32_t want_tokens[8] = {B, rown, met, Jones1, dot, Jones1, said, Brown1};
    /* Watson (3 tokens) -> B rown: 0, 1 -> -1, 2 -> 1. met -> 2. Holmes ->
     * Jones: 4 -> 3. "." -> 4, then -1: Holmes repeats after it. Holmes ->
     * 5. said -> 6, then -1: Watson repeats. Watson -> 7, then -1: last. */
    const int32_t want_map[9] = {-1, -1, 1, 2, 3, -1, 5, -1, -1};
    const Forbid want_forbid[4] = {{B, 2}, {Brown1, 2}, {J, 4}, {Jones1, 4}};

    Translation tr;
    ObRng rng;
    ObErr err = {{0}};
    ob_rng_seed(&rng, 42);
    CHECK(translation_init(&tr, 16, 16, &err) == 0, "%s", err.msg);
    CHECK(translate_block(&d, orig, n, &rng, &tr, &err) == 0, "%s", err.msg);
    CHECK(tr.n_orig == 9 && tr.n_trans == 8 && tr.n_cut == 0 && tr.n_matches == 4,
          "n_orig %d n_trans %d n_cut %d matches %d", tr.n_orig, tr.n_trans, tr.n_cut,
          tr.n_matches);
    CHECK(arr_eq(tr.tokens, want_tokens, 8), "tokens %s", arr_str(tr.tokens, tr.n_trans));
    CHECK(arr_eq(tr.map, want_map, 9), "map %s", arr_str(tr.map, 9));
    /* In-key: inside the 3-token Watson at 0-2 the next token is the key's
     * (0, 1); the -1s at 5 and 7 are the repeat rule's, not in-key. */
    const uint8_t want_inkey[9] = {1, 1, 0, 0, 0, 0, 0, 0, 0};
    CHECK(!memcmp(tr.inkey, want_inkey, 9), "inkey %d %d %d %d %d %d %d %d %d", tr.inkey[0],
          tr.inkey[1], tr.inkey[2], tr.inkey[3], tr.inkey[4], tr.inkey[5], tr.inkey[6], tr.inkey[7],
          tr.inkey[8]);
    CHECK(tr.n_forbid == 4, "%d forbid events", tr.n_forbid);
    for (int k = 0; k < 4 && k < tr.n_forbid; k++)
        CHECK(tr.forbid[k].token == want_forbid[k].token &&
                  tr.forbid[k].from == want_forbid[k].from,
              "forbid %d: %d from %d", k, tr.forbid[k].token, tr.forbid[k].from);
    char *text;
    size_t len;
    tok_decode(&tok, tr.tokens, (size_t)tr.n_trans, &text, &len, &err);
    CHECK(!strcmp(text, "Brown met Jones. Jones said Brown"), "%s", text);
    free(text);

    /* max_len: translated tokens past it are dropped, their originals -1. */
    const int32_t want_map4[9] = {-1, -1, 1, 2, 3, -1, -1, -1, -1};
    const int32_t want_map3[9] = {-1, -1, 1, 2, -1, -1, -1, -1, -1};
    const int32_t want_map1[9] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};
    const int32_t *want_cut[3] = {want_map4, want_map3, want_map1};
    const int caps[3] = {4, 3, 1};
    for (int c = 0; c < 3; c++) {
        Translation tc;
        ob_rng_seed(&rng, 42);
        CHECK(translation_init(&tc, 16, caps[c], &err) == 0, "%s", err.msg);
        CHECK(translate_block(&d, orig, n, &rng, &tc, &err) == 0, "%s", err.msg);
        CHECK(tc.n_trans == caps[c] && tc.n_cut == 8 - caps[c], "cap %d: n_trans %d cut %d",
              caps[c], tc.n_trans, tc.n_cut);
        CHECK(arr_eq(tc.tokens, want_tokens, caps[c]), "cap %d tokens", caps[c]);
        CHECK(arr_eq(tc.map, want_cut[c], 9), "cap %d map %s", caps[c], arr_str(tc.map, 9));
        CHECK(tc.n_forbid == 4, "cap %d: events are kept", caps[c]);
        translation_free(&tc);
    }

    /* The block cut before the last Watson: it runs to the end, no repeat. */
    CHECK(translate_block(&d, orig, 8, &rng, &tr, &err) == 0, "%s", err.msg);
    const int32_t want_map8[8] = {-1, -1, 1, 2, 3, -1, 5, -1};
    CHECK(tr.n_orig == 8 && arr_eq(tr.map, want_map8, 8), "map %s", arr_str(tr.map, 8));
    /* Too long a block is an error, not an overflow. */
    CHECK(translate_block(&d, orig, 17, &rng, &tr, &err) == -1, "block past orig_cap");
    translation_free(&tr);
    anchors_free(&d);
}

static void test_repeat_same_value(void) {
    AnchorDict d;
    if (dict_from(&d, "{\"Holmes\": [\"Jones\", \"Brown\", \"Smith\"], \"Watson\": \"Tom\"}"))
        return;
    int32_t orig[32];
    int n = enc("Holmes met Holmes. Watson and Holmes", orig, 32);
    /* Holmes | Ġmet | ĠHolmes | . | ĠWatson | Ġand | ĠHolmes */
    CHECK(n == 7, "n = %d", n);
    Translation tr;
    ObErr err = {{0}};
    CHECK(translation_init(&tr, 32, 32, &err) == 0, "%s", err.msg);
    int seen[3] = {0, 0, 0};
    for (uint64_t seed = 0; seed < 40; seed++) {
        ObRng rng;
        ob_rng_seed(&rng, seed);
        CHECK(translate_block(&d, orig, n, &rng, &tr, &err) == 0, "%s", err.msg);
        int h = anchors_find(&d, "Holmes"), v = tr.choice[h];
        seen[v]++;
        const char *name = d.items[h].values[v];
        char want[128];
        snprintf(want, sizeof want, "%s met %s. Tom and %s", name, name, name);
        char *text;
        size_t len;
        tok_decode(&tok, tr.tokens, (size_t)tr.n_trans, &text, &len, &err);
        CHECK(!strcmp(text, want), "seed %d: %s", (int)seed, text);
        free(text);
        /* Repeats of Holmes at 2 and 6: map[1] and map[5] are -1; Watson is
         * new at 4, so map[3] keeps its label. */
        CHECK(tr.map[1] == -1 && tr.map[5] == -1 && tr.map[3] >= 0 && tr.map[2] >= 0 &&
                  tr.map[0] >= 0,
              "seed %d map %s", (int)seed, arr_str(tr.map, n));
        /* One pair of events per replacement first used (Holmes, Watson). */
        CHECK(tr.n_forbid == 4 && tr.forbid[0].from == 0 && tr.forbid[2].from == 4,
              "seed %d: %d events", (int)seed, tr.n_forbid);
    }
    CHECK(seen[0] && seen[1] && seen[2], "values chosen %d %d %d", seen[0], seen[1], seen[2]);
    translation_free(&tr);
    anchors_free(&d);
}

static void test_possessive(void) {
    AnchorDict d;
    if (dict_from(&d, "{\"Holmes\": \"Smith\", \"Holmes's\": \"Brown's\"}")) return;
    CHECK(d.n == 1 && d.n_dropped == 1, "Holmes's pruned");
    int32_t orig[32];
    int n = enc("Holmes's hat and Holmes\xE2\x80\x99s", orig, 32);
    Translation tr;
    ObRng rng;
    ObErr err = {{0}};
    ob_rng_seed(&rng, 7);
    CHECK(translation_init(&tr, 32, 32, &err) == 0, "%s", err.msg);
    CHECK(translate_block(&d, orig, n, &rng, &tr, &err) == 0, "%s", err.msg);
    char *text;
    size_t len;
    tok_decode(&tok, tr.tokens, (size_t)tr.n_trans, &text, &len, &err);
    CHECK(!strcmp(text, "Smith's hat and Smith\xE2\x80\x99s"), "%s", text);
    CHECK(tr.n_matches == 2, "matches %d", tr.n_matches);
    /* "'" "s" keep their labels: orig 0 Holmes -> 0 Smith, 1 ' -> 1, 2 s -> 2. */
    CHECK(tr.map[0] == 0 && tr.map[1] == 1 && tr.map[2] == 2, "map %s", arr_str(tr.map, n));
    free(text);
    translation_free(&tr);
    anchors_free(&d);
}

static void test_forbidden_forms(void) {
    /* A multi-token key and value in form 1 (" Moriarty" -> " Lestrade",
     * both starting with the lone space token): the events are the value's
     * first token in both forms ("L", "Ġ"), from the key's last token. */
    AnchorDict d;
    if (dict_from(&d, "{\"Moriarty\": \"Lestrade\"}")) return;
    int32_t orig[32];
    int n = enc("Holmes Moriarty and", orig, 32);
    int k = d.items[0].key_tok[1].n, v = d.items[0].val_tok[1][0].n;
    CHECK(n == k + 2, "n %d", n);
    Translation tr;
    ObRng rng;
    ObErr err = {{0}};
    ob_rng_seed(&rng, 3);
    CHECK(translation_init(&tr, 32, 32, &err) == 0, "%s", err.msg);
    CHECK(translate_block(&d, orig, n, &rng, &tr, &err) == 0, "%s", err.msg);
    int32_t L = (int32_t)tok_id("L"), sp = (int32_t)tok_id(" ");
    CHECK(tr.n_forbid == 2 && tr.forbid[0].token == L && tr.forbid[1].token == sp &&
              tr.forbid[0].from == k && tr.forbid[1].from == k,
          "events %d: %d@%d %d@%d", tr.n_forbid, tr.forbid[0].token, tr.forbid[0].from,
          tr.forbid[1].token, tr.forbid[1].from);
    CHECK(tr.map[0] == 0 && tr.map[k] == v && tr.map[k + 1] == -1, "map %s", arr_str(tr.map, n));
    for (int i = 1; i < k; i++) CHECK(tr.map[i] == -1, "map[%d] = %d", i, tr.map[i]);
    for (int i = 0; i < n; i++)
        CHECK(tr.inkey[i] == (i >= 1 && i < k), "inkey[%d] = %d (key at 1..%d)", i, tr.inkey[i], k);
    CHECK(tr.n_trans == v + 2, "n_trans %d", tr.n_trans);
    translation_free(&tr);
    anchors_free(&d);
}

static void test_determinism(void) {
    AnchorDict d;
    if (dict_from(&d, "{\"Holmes\": [\"Jones\", \"Brown\", \"Smith\"], \"Watson\": [\"Tom\", "
                      "\"Ann\"], \"Sherlock\": \"Green\", \"Moriarty\": [\"Lestrade\", \"Ann\"]}"))
        return;
    int32_t a[32], b[32];
    int na = enc("Holmes met Watson", a, 32), nb = enc("the and the", b, 32);
    Translation t1, t2;
    ObErr err = {{0}};
    CHECK(translation_init(&t1, 32, 32, &err) == 0 && translation_init(&t2, 32, 32, &err) == 0,
          "%s", err.msg);
    int differ = 0, prev = -1;
    for (uint64_t seed = 0; seed < 50; seed++) {
        ObRng r1, r2, r3;
        ob_rng_seed(&r1, seed);
        ob_rng_seed(&r2, seed);
        ob_rng_seed(&r3, seed);
        /* Same seed: same choices and output; a block with no key draws the
         * same as one with keys, and the rng ends in the same state. */
        CHECK(translate_block(&d, a, na, &r1, &t1, &err) == 0, "%s", err.msg);
        CHECK(translate_block(&d, b, nb, &r2, &t2, &err) == 0, "%s", err.msg);
        CHECK(t2.n_matches == 0 && arr_eq(t2.tokens, b, nb), "identity on no keys");
        CHECK(arr_eq(t1.choice, t2.choice, d.n), "choices depend on the block");
        CHECK(ob_rng_u64(&r1) == ob_rng_u64(&r2), "draw count depends on the block");
        /* The choice is ob_rng_below(n_values) per anchor, in anchor order. */
        for (int k = 0; k < d.n; k++)
            CHECK(t1.choice[k] == (int32_t)ob_rng_below(&r3, (uint64_t)d.items[k].n_values),
                  "choice %d", k);
        ObRng r4;
        ob_rng_seed(&r4, seed);
        int32_t before[32];
        memcpy(before, t1.tokens, sizeof(int32_t) * (size_t)t1.n_trans);
        int nt = t1.n_trans;
        CHECK(translate_block(&d, a, na, &r4, &t1, &err) == 0, "%s", err.msg);
        CHECK(nt == t1.n_trans && arr_eq(before, t1.tokens, nt), "seed %d not reproducible",
              (int)seed);
        differ += prev >= 0 && t1.choice[0] != prev;
        prev = t1.choice[0];
    }
    CHECK(differ > 0, "seeds never changed a choice");
    translation_free(&t1);
    translation_free(&t2);
    anchors_free(&d);
}

int main(void) {
    if (anchors_tok_train()) return 1;
    RUN(test_tokenizer_assumptions);
    RUN(test_parse_object);
    RUN(test_parse_jsonl_merge);
    RUN(test_pruning);
    RUN(test_malformed);
    RUN(test_save_roundtrip);
    RUN(test_tokenize_forms);
    RUN(test_match_edges);
    RUN(test_longest_match);
    RUN(test_map_hand_computed);
    RUN(test_repeat_same_value);
    RUN(test_possessive);
    RUN(test_forbidden_forms);
    RUN(test_determinism);
    tok_free(&tok);
    return check_main_end("anchors");
}
