/* Tests for the byte-level BPE tokenizer: training, round trips, GPT-2
 * pre-tokenization, rebuilding from arrays, error messages, long inputs. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "helpers.h"
#include "text/tokenizer.h"

static uint32_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

static const char *const WORDS[] = {
    "the",    "of",     "and",   "to",    "a",      "world", "in",    "is",     "that",  "hello",
    "it",     "was",    "for",   "on",    "are",    "as",    "with",  "his",    "they",  "at",
    "be",     "this",   "from",  "have",  "or",     "by",    "one",   "had",    "not",   "but",
    "what",   "all",    "were",  "when",  "we",     "there", "can",   "an",     "your",  "which",
    "their",  "said",   "if",    "do",    "will",   "each",  "about", "how",    "up",    "out",
    "them",   "then",   "she",   "many",  "some",   "so",    "these", "would",  "other", "into",
    "has",    "more",   "her",   "two",   "like",   "him",   "see",   "time",   "could", "no",
    "make",   "than",   "first", "been",  "its",    "who",   "now",   "people", "my",    "made",
    "over",   "did",    "down",  "only",  "way",    "find",  "use",   "may",    "water", "long",
    "little", "very",   "after", "words", "called", "just",  "where", "most",   "know",  "learning",
    "model",  "forget", "it's",  "don't",
};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

static void append(char *buf, size_t *n, const char *s) {
    size_t k = strlen(s);
    memcpy(buf + *n, s, k);
    *n += k;
}

/* English-like text: skewed word frequencies, sentences, numbers. */
static char *gen_corpus(size_t target, uint64_t seed, size_t *len) {
    char *buf = malloc(target + 64);
    size_t n = 0;
    int in_sentence = 0;
    while (n < target) {
        uint32_t r1 = lcg(&seed) % N_WORDS, r2 = lcg(&seed) % N_WORDS, r = lcg(&seed);
        const char *w = WORDS[r1 < r2 ? r1 : r2];
        if (n > 0) append(buf, &n, " ");
        if (!in_sentence) {
            buf[n++] = (char)(w[0] - 'a' + 'A');
            append(buf, &n, w + 1);
        } else {
            append(buf, &n, w);
        }
        in_sentence = 1;
        if (r % 23 == 0) {
            char num[16];
            snprintf(num, sizeof num, " %u", lcg(&seed) % 2000);
            append(buf, &n, num);
        }
        if (r % 11 == 0) append(buf, &n, ",");
        if (r % 9 == 0) {
            append(buf, &n, r % 5 == 0 ? "?" : ".");
            in_sentence = 0;
            if (r % 4 == 0) append(buf, &n, "\n");
        }
    }
    *len = n;
    return buf;
}

static int train_on(Tokenizer *t, const char *text, size_t len, int vocab) {
    ObErr err = {{0}};
    const char *texts[1] = {text};
    int rc = tok_train_texts(t, texts, &len, 1, vocab, 0, &err);
    CHECK(rc == 0, "train: %s", err.msg);
    return rc;
}

static Tokenizer small_tok(void) {
    size_t len;
    char *text = gen_corpus(200000, 42, &len);
    Tokenizer t;
    train_on(&t, text, len, 512);
    free(text);
    return t;
}

static int find_tok(const Tokenizer *t, const char *s) {
    for (int i = 0; i < t->n_vocab; i++) {
        if (strcmp(t->tokens[i], s) == 0) return i;
    }
    return -1;
}

/* encode then decode; returns 1 if exact. */
static int round_trips(const Tokenizer *t, const char *s, size_t n) {
    ObErr err = {{0}};
    int32_t *ids;
    size_t n_ids, n_out;
    char *out;
    if (tok_encode(t, s, n, &ids, &n_ids, &err) < 0) return 0;
    int ok = tok_decode(t, ids, n_ids, &out, &n_out, &err) == 0;
    ok = ok && n_out == n && memcmp(out, s, n) == 0 && out[n_out] == 0;
    for (size_t i = 0; i < n_ids; i++) ok = ok && ids[i] != t->eot_id;
    free(ids);
    free(out);
    return ok;
}

static void test_byte_unicode_map(void) {
    Tokenizer t;
    if (train_on(&t, "hello hello", 11, 257) < 0) return;
    CHECK(t.n_vocab == 257 && t.n_merges == 0, "n_vocab %d merges %d", t.n_vocab, t.n_merges);
    CHECK(strcmp(t.tokens[' '], "\xC4\xA0") == 0, "space is Ġ");
    CHECK(strcmp(t.tokens['\n'], "\xC4\x8A") == 0, "newline is Ċ");
    CHECK(strcmp(t.tokens['a'], "a") == 0, "a is a");
    CHECK(strcmp(t.tokens[0], "\xC4\x80") == 0, "byte 0 is Ā");
    CHECK(strcmp(t.tokens[127], "\xC4\xA1") == 0, "byte 127 is U+0121");
    CHECK(strcmp(t.tokens[173], "\xC5\x83") == 0, "byte 173 is U+0143 Ń");
    CHECK(strcmp(t.tokens[255], "\xC3\xBF") == 0, "byte 255 is ÿ");
    CHECK(strcmp(t.tokens[161], "\xC2\xA1") == 0, "byte 161 is ¡");
    size_t len;
    const char *b = tok_token_bytes(&t, ' ', &len);
    CHECK(b && len == 1 && b[0] == ' ', "token 32 bytes");
    CHECK(t.eot_id == 256 && t.types[256] == 3, "eot %d", t.eot_id);
    tok_free(&t);
}

static void check_merges_well_formed(const Tokenizer *t) {
    for (int i = 0; i < t->n_merges; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", t->merges[i]);
        char *sp = strchr(buf, ' ');
        CHECK(sp && !strchr(sp + 1, ' '), "merge %d '%s' has one space", i, buf);
        if (!sp) continue;
        *sp = 0;
        CHECK(find_tok(t, buf) >= 0 && find_tok(t, sp + 1) >= 0, "merge %d parts", i);
        char cat[256];
        snprintf(cat, sizeof cat, "%s%s", buf, sp + 1);
        CHECK(strcmp(cat, t->tokens[256 + i]) == 0, "merge %d -> token %d", i, 256 + i);
    }
}

static void test_train_small(void) {
    Tokenizer t = small_tok(), t2 = small_tok();
    CHECK(t.n_vocab == 512, "n_vocab %d", t.n_vocab);
    CHECK(t.n_merges == 255, "n_merges %d", t.n_merges);
    CHECK(t.eot_id == 511 && t.types[511] == 3, "eot %d", t.eot_id);
    CHECK(t.tokens[511] && strcmp(t.tokens[511], "<|endoftext|>") == 0, "eot text");
    for (int i = 0; i < 511; i++) CHECK(t.types[i] == 1, "type of %d", i);
    CHECK(find_tok(&t, "\xC4\xA0the") >= 0, "Ġthe is a token");
    CHECK(find_tok(&t, "\xC4\xA0world") >= 0, "Ġworld is a token");
    ObErr err = {{0}};
    int32_t *ids;
    size_t n;
    CHECK(tok_encode(&t, " the", 4, &ids, &n, &err) == 0 && n == 1, "' the' -> %zu ids", n);
    free(ids);
    check_merges_well_formed(&t);
    int same = t.n_merges == t2.n_merges && t.n_vocab == t2.n_vocab;
    for (int i = 0; same && i < t.n_merges; i++) same = !strcmp(t.merges[i], t2.merges[i]);
    CHECK(same, "training is deterministic");
    tok_free(&t);
    tok_free(&t2);
}

/* GPT-2's bpe() written naively from the public arrays, for one piece. */
static size_t ref_bpe(const Tokenizer *t, const int *rank, const int *res, const char *s, size_t n,
                      int32_t *ids) {
    int v = t->n_vocab;
    for (size_t i = 0; i < n; i++) ids[i] = (unsigned char)s[i];
    for (;;) {
        int best = -1;
        int32_t a = 0, b = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            int r = rank[ids[i] * v + ids[i + 1]];
            if (r >= 0 && (best < 0 || r < best)) best = r, a = ids[i], b = ids[i + 1];
        }
        if (best < 0) return n;
        size_t j = 0;
        for (size_t i = 0; i < n;) {
            if (i + 1 < n && ids[i] == a && ids[i + 1] == b) {
                ids[j++] = res[best];
                i += 2;
            } else {
                ids[j++] = ids[i++];
            }
        }
        n = j;
    }
}

static void build_ref_ranks(const Tokenizer *t, int *rank, int *res) {
    for (int i = 0; i < t->n_vocab * t->n_vocab; i++) rank[i] = -1;
    for (int m = 0; m < t->n_merges; m++) {
        char buf[256], cat[256];
        snprintf(buf, sizeof buf, "%s", t->merges[m]);
        char *sp = strchr(buf, ' ');
        *sp = 0;
        snprintf(cat, sizeof cat, "%s%s", buf, sp + 1);
        int a = find_tok(t, buf), b = find_tok(t, sp + 1);
        if (rank[a * t->n_vocab + b] < 0) rank[a * t->n_vocab + b] = m;
        res[m] = find_tok(t, cat);
    }
}

/* Single-piece words (letters only) of lengths 1..400 cover both the short
 * and the long-piece merge paths. */
static void test_matches_reference_bpe(void) {
    Tokenizer t = small_tok();
    int *rank = malloc(sizeof(int) * (size_t)t.n_vocab * (size_t)t.n_vocab);
    int *res = malloc(sizeof(int) * (size_t)t.n_merges);
    build_ref_ranks(&t, rank, res);
    uint64_t seed = 7;
    char word[512];
    int32_t ref[512];
    int bad = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 0, target = 1 + lcg(&seed) % 400;
        while (n < target) {
            const char *w = WORDS[lcg(&seed) % 40];
            for (size_t k = 0; w[k] && w[k] != '\'' && n < target; k++) word[n++] = w[k];
        }
        size_t n_ref = ref_bpe(&t, rank, res, word, n, ref), n_ids;
        int32_t *ids;
        ObErr err = {{0}};
        if (tok_encode(&t, word, n, &ids, &n_ids, &err) < 0) {
            bad++;
            continue;
        }
        if (n_ids != n_ref || memcmp(ids, ref, n_ref * sizeof *ref) != 0) bad++;
        free(ids);
    }
    CHECK(bad == 0, "%d of 300 words differ from reference bpe", bad);
    free(rank);
    free(res);
    tok_free(&t);
}

/* Plain BPE written naively over space-separated lowercase words: recount
 * every pair each step, same tie rule (count, then smaller a, then b). */
typedef struct {
    int32_t ids[64];
    int n, count;
} RefWord;

static int ref_add_word(RefWord *words, int n_words, const char *w, size_t n) {
    for (int i = 0; i < n_words; i++) {
        int same = words[i].n == (int)n;
        for (size_t k = 0; same && k < n; k++) same = words[i].ids[k] == (unsigned char)w[k];
        if (same) {
            words[i].count++;
            return n_words;
        }
    }
    words[n_words].n = (int)n;
    words[n_words].count = 1;
    for (size_t k = 0; k < n; k++) words[n_words].ids[k] = (unsigned char)w[k];
    return n_words + 1;
}

static int ref_best_pair(const RefWord *words, int n_words, int n_tok, int64_t *counts, int32_t *a,
                         int32_t *b) {
    memset(counts, 0, sizeof *counts * (size_t)n_tok * (size_t)n_tok);
    for (int w = 0; w < n_words; w++) {
        for (int i = 0; i + 1 < words[w].n; i++) {
            counts[words[w].ids[i] * n_tok + words[w].ids[i + 1]] += words[w].count;
        }
    }
    int64_t best = 1;
    for (int i = 0; i < n_tok * n_tok; i++) {
        if (counts[i] > best) best = counts[i], *a = i / n_tok, *b = i % n_tok;
    }
    return best >= 2;
}

/* Returns the number of merges; merge m joins (ma[m], mb[m]). */
static int ref_train(RefWord *words, int n_words, int n_tok_max, int32_t *ma, int32_t *mb) {
    int64_t *counts = malloc(sizeof *counts * (size_t)n_tok_max * (size_t)n_tok_max);
    int n_tok = 256, m = 0;
    int32_t a = 0, b = 0;
    while (n_tok < n_tok_max && ref_best_pair(words, n_words, n_tok, counts, &a, &b)) {
        ma[m] = a, mb[m++] = b;
        for (int w = 0; w < n_words; w++) {
            int j = 0, n = words[w].n;
            for (int i = 0; i < n;) {
                if (i + 1 < n && words[w].ids[i] == a && words[w].ids[i + 1] == b) {
                    words[w].ids[j++] = n_tok, i += 2;
                } else {
                    words[w].ids[j++] = words[w].ids[i++];
                }
            }
            words[w].n = j;
        }
        n_tok++;
    }
    free(counts);
    return m;
}

static void test_matches_naive_trainer(void) {
    uint64_t seed = 77;
    char text[30000];
    size_t n = 0;
    RefWord *words = calloc(4000, sizeof *words);
    int n_words = 0;
    while (n < sizeof text - 40) {
        char w[24];
        size_t k = 0, len = 1 + lcg(&seed) % 8;
        int kind = (int)(lcg(&seed) % 4);
        const char *src = WORDS[lcg(&seed) % 30];
        for (; k < len; k++) {
            w[k] = kind == 0 ? "ab"[lcg(&seed) % 2] : kind == 1 ? 'a' : src[k % strlen(src)];
            if (w[k] == '\'') w[k] = 'q';
        }
        char piece[26];
        size_t pn = 0;
        if (n > 0) piece[pn++] = text[n++] = ' ';
        memcpy(piece + pn, w, k);
        memcpy(text + n, w, k);
        n += k;
        n_words = ref_add_word(words, n_words, piece, pn + k);
    }
    int32_t ma[200], mb[200];
    int m = ref_train(words, n_words, 256 + 150, ma, mb);
    Tokenizer t;
    if (train_on(&t, text, n, 256 + 150 + 1) < 0) return;
    CHECK(t.n_merges == m, "%d merges, naive %d", t.n_merges, m);
    for (int i = 0; i < m && i < t.n_merges; i++) {
        char want[256];
        snprintf(want, sizeof want, "%s %s", t.tokens[ma[i]], t.tokens[mb[i]]);
        CHECK(!strcmp(t.merges[i], want), "merge %d '%s' vs naive '%s'", i, t.merges[i], want);
    }
    tok_free(&t);
    free(words);
}

static const char *const SAMPLES[] = {
    "Hello, world! It's a test.\n",
    "café naïve résumé Ångström",
    "Γειά σου κόσμε",
    "Привет, мир!",
    "你好，世界。日本",
    "مرحبا بالعالم",
    "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇯🇵",
    "combining e\xCC\x81 a\xCC\x8A\xCC\x81 n\xCC\x83",
    "नमस्ते दुनिया",
    "lone \x80 continuation \xBF\xBF bytes",
    "truncated \xF0\x9F\x98 four-byte",
    "overlong \xC0\xAF and \xE0\x80\xAF and \xC1\xBF",
    "ff \xFF\xFE surrogate \xED\xA0\x80 end \xF4\x90\x80\x80",
    "line one\r\nline two\r\n\ttab\t\tand   spaces     \n\n\n  ",
    "   leading and trailing   ",
    "numbers 12345 67.89 1,000,000 3rd 'quoted' \"double\" (parens) [x]{y}",
    "",
    " ",
    "\n",
};

static void test_round_trip(void) {
    Tokenizer t = small_tok();
    uint64_t seed = 12345;
    char buf[301];
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        size_t n = lcg(&seed) % 301;
        for (size_t k = 0; k < n; k++) buf[k] = (char)(lcg(&seed) & 0xFF);
        if (!round_trips(&t, buf, n)) bad++;
    }
    CHECK(bad == 0, "%d random byte strings failed to round trip", bad);
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        CHECK(round_trips(&t, SAMPLES[i], strlen(SAMPLES[i])), "sample %zu", i);
    }
    const char nul[] = "a\0b\0\0 c\0";
    CHECK(round_trips(&t, nul, sizeof nul), "NUL bytes");
    ObErr err = {{0}};
    int32_t *ids;
    size_t n;
    CHECK(tok_encode(&t, "", 0, &ids, &n, &err) == 0 && ids && n == 0, "empty text");
    free(ids);
    tok_free(&t);
}

/* Whether some token of encode(s) starts at byte offset off. */
static int has_boundary(const Tokenizer *t, const char *s, size_t off) {
    ObErr err = {{0}};
    int32_t *ids;
    size_t n, pos = 0, len;
    if (tok_encode(t, s, strlen(s), &ids, &n, &err) < 0) return 0;
    int found = off == 0;
    for (size_t i = 0; i < n && pos < off; i++) {
        tok_token_bytes(t, ids[i], &len);
        pos += len;
        if (pos == off) found = 1;
    }
    free(ids);
    return found;
}

static int last_token_is(const Tokenizer *t, const char *s, const char *want) {
    ObErr err = {{0}};
    int32_t *ids;
    size_t n, len;
    if (tok_encode(t, s, strlen(s), &ids, &n, &err) < 0 || n == 0) return 0;
    const char *b = tok_token_bytes(t, ids[n - 1], &len);
    int ok = len == strlen(want) && memcmp(b, want, len) == 0;
    free(ids);
    return ok;
}

static void test_pretokenization(void) {
    Tokenizer t = small_tok();
    CHECK(last_token_is(&t, "Hello world", " world"), "space attaches to 'world'");
    CHECK(has_boundary(&t, "Hello world", 5), "boundary before ' world'");
    CHECK(last_token_is(&t, "   the", " the"), "'   the' ends with ' the'");
    CHECK(has_boundary(&t, "   the", 2), "'   the' splits as '  ' + ' the'");
    CHECK(has_boundary(&t, "   x", 2), "'   x' splits as '  ' + ' x'");
    CHECK(has_boundary(&t, "it's", 2), "'it's' splits before 's");
    CHECK(has_boundary(&t, "the123", 3), "letters and digits split");
    CHECK(has_boundary(&t, "the, world", 3) && has_boundary(&t, "the, world", 4), "comma");
    CHECK(has_boundary(&t,
                       "a\xFF"
                       "b",
                       1) &&
              has_boundary(&t,
                           "a\xFF"
                           "b",
                           2),
          "invalid byte");
    tok_free(&t);
}

static int same_encoding(const Tokenizer *a, const Tokenizer *b, const char *s, size_t n) {
    ObErr err = {{0}};
    int32_t *ia, *ib;
    size_t na, nb;
    if (tok_encode(a, s, n, &ia, &na, &err) < 0) return 0;
    if (tok_encode(b, s, n, &ib, &nb, &err) < 0) {
        free(ia);
        return 0;
    }
    int same = na == nb && memcmp(ia, ib, na * sizeof *ia) == 0;
    free(ia);
    free(ib);
    return same;
}

static int from_arrays(Tokenizer *out, const Tokenizer *t, const char **tokens,
                       const int32_t *types, const char **merges, ObErr *err) {
    return tok_from_arrays(
        out, tokens ? tokens : (const char *const *)t->tokens, types ? types : t->types, t->n_vocab,
        merges ? merges : (const char *const *)t->merges, t->n_merges, t->eot_id, err);
}

/* Expects from_arrays to fail with a one-line message containing want. */
static void expect_error(const Tokenizer *t, const char **tokens, const int32_t *types,
                         const char **merges, const char *want) {
    Tokenizer bad;
    ObErr err = {{0}};
    int rc = from_arrays(&bad, t, tokens, types, merges, &err);
    CHECK(rc < 0, "expected failure '%s'", want);
    if (rc == 0) tok_free(&bad);
    CHECK(strstr(err.msg, want) && !strchr(err.msg, '\n'), "message '%s' lacks '%s'", err.msg,
          want);
}

static void test_from_arrays(void) {
    Tokenizer t = small_tok(), t2;
    ObErr err = {{0}};
    CHECK(from_arrays(&t2, &t, NULL, NULL, NULL, &err) == 0, "from_arrays: %s", err.msg);
    size_t len;
    char *text = gen_corpus(30000, 99, &len);
    CHECK(same_encoding(&t, &t2, text, len), "identical encodings of corpus text");
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        CHECK(same_encoding(&t, &t2, SAMPLES[i], strlen(SAMPLES[i])), "sample %zu", i);
    }
    free(text);
    tok_free(&t2);

    const char **toks = malloc(sizeof *toks * (size_t)t.n_vocab);
    const char **merges = malloc(sizeof *merges * (size_t)t.n_merges);
    int32_t *types = malloc(sizeof *types * (size_t)t.n_vocab);
    memcpy(toks, t.tokens, sizeof *toks * (size_t)t.n_vocab);
    memcpy(merges, t.merges, sizeof *merges * (size_t)t.n_merges);
    memcpy(types, t.types, sizeof *types * (size_t)t.n_vocab);
    merges[3] = "\xC4\xA0the zzzq";
    expect_error(&t, NULL, NULL, merges, "merge 3 '\xC4\xA0the zzzq': unknown token 'zzzq'");
    merges[3] = "abc";
    expect_error(&t, NULL, NULL, merges, "merge 3 'abc'");
    merges[3] = "\xC3\xBF \xC3\xBF";
    expect_error(&t, NULL, NULL, merges, "is not a token");
    toks['A'] = "\xC4\xA0\xC4\xA0\xC4\xA0\xC4\xA0\xC4\xA0\xC4\xA0";
    expect_error(&t, toks, NULL, NULL, "byte 0x41");
    toks['A'] = t.tokens['A'];
    toks[300] = "\xE4\xB8\xAD";
    expect_error(&t, toks, NULL, NULL, "token 300");
    toks[300] = "\xC3";
    expect_error(&t, toks, NULL, NULL, "token 300");
    types[t.eot_id] = 1;
    expect_error(&t, NULL, types, NULL, "not a control token");
    free(toks);
    free(merges);
    free(types);
    tok_free(&t);
}

/* GPT-2's byte-to-unicode string of byte b, written independently. */
static void unicode_of(int b, char out[3]) {
    int cp = b <= 32 ? 256 + b : (b >= 127 && b <= 160) ? b + 162 : b == 173 ? 323 : b;
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

/* A vocabulary whose merged tokens come before the bytes and the special
 * token is first: lookups must go by string, not by layout. */
static void test_from_arrays_any_layout(void) {
    const char *toks[300];
    int32_t types[300];
    char bytes[256][3];
    int n = 0;
    types[n] = 3, toks[n++] = "<|endoftext|>";
    types[n] = 1, toks[n++] = "abc";
    types[n] = 1, toks[n++] = "\xC4\xA0"
                              "ab";
    types[n] = 1, toks[n++] = "ab";
    for (int b = 255; b >= 0; b--) {
        unicode_of(b, bytes[b]);
        types[n] = 1, toks[n++] = bytes[b];
    }
    const char *merges[] = {"a b", "ab c", "\xC4\xA0 ab"};
    Tokenizer t;
    ObErr err = {{0}};
    int rc = tok_from_arrays(&t, toks, types, n, merges, 3, 0, &err);
    CHECK(rc == 0, "from_arrays: %s", err.msg);
    if (rc < 0) return;
    int32_t *ids;
    size_t n_ids;
    const char *text = "abc ab abd";
    CHECK(tok_encode(&t, text, strlen(text), &ids, &n_ids, &err) == 0, "%s", err.msg);
    int32_t want[] = {1, 2, 2, 3 + 256 - 'd'};
    CHECK(n_ids == 4 && memcmp(ids, want, sizeof want) == 0, "ids %zu", n_ids);
    free(ids);
    CHECK(round_trips(&t, text, strlen(text)), "round trip");
    size_t len;
    const char *b = tok_token_bytes(&t, 0, &len);
    CHECK(len == 13 && memcmp(b, "<|endoftext|>", 13) == 0, "control token decodes to text");
    tok_free(&t);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void time_long_input(const Tokenizer *t, const char *what, const char *s, size_t n) {
    double t0 = now_s();
    CHECK(round_trips(t, s, n), "%s round trip", what);
    double dt = now_s() - t0;
    fprintf(stderr, "     encode+decode 1 MB of %s: %.3f s\n", what, dt);
    CHECK(dt < 20.0, "%s took %.1f s", what, dt);
}

static void test_long_inputs(void) {
    Tokenizer t = small_tok();
    size_t n = 1 << 20;
    char *s = malloc(n);
    memset(s, 'a', n);
    time_long_input(&t, "'a'", s, n);
    memset(s, ' ', n);
    time_long_input(&t, "spaces", s, n);
    for (size_t i = 0; i < n; i++) s[i] = "thequickbrownfoxwasasthe"[i % 24];
    time_long_input(&t, "one long word", s, n);
    for (size_t i = 0; i < n; i++) s[i] = "\xF0\x9F\x98\x80"[i % 4];
    time_long_input(&t, "emoji", s, n);
    uint64_t seed = 1;
    for (size_t i = 0; i < n; i++) s[i] = (char)lcg(&seed);
    time_long_input(&t, "random bytes", s, n);
    tok_free(&t);
    free(s);
}

static void test_decode_errors(void) {
    Tokenizer t = small_tok();
    ObErr err = {{0}};
    char *out;
    size_t len;
    int32_t bad1[] = {5, -1}, bad2[] = {t.n_vocab};
    CHECK(tok_decode(&t, bad1, 2, &out, &len, &err) < 0 && strstr(err.msg, "-1"), "%s", err.msg);
    CHECK(tok_decode(&t, bad2, 1, &out, &len, &err) < 0 && strstr(err.msg, "out of range"), "%s",
          err.msg);
    CHECK(tok_token_bytes(&t, -1, &len) == NULL && len == 0, "bytes of -1");
    CHECK(tok_token_bytes(&t, t.n_vocab, &len) == NULL, "bytes of n_vocab");
    int32_t eot = t.eot_id;
    CHECK(tok_decode(&t, &eot, 1, &out, &len, &err) == 0 && !strcmp(out, "<|endoftext|>"),
          "eot decodes to its name");
    free(out);
    tok_free(&t);
}

static void test_train_errors_and_files(void) {
    Tokenizer t;
    ObErr err = {{0}};
    const char *texts[] = {"", ""};
    size_t lens[] = {0, 0};
    CHECK(tok_train_texts(&t, texts, lens, 2, 300, 0, &err) < 0 &&
              strstr(err.msg, "no training text"),
          "%s", err.msg);
    CHECK(tok_train_texts(&t, texts, lens, 0, 300, 0, &err) < 0, "no texts");
    CHECK(tok_train_texts(&t, texts, lens, 1, 256, 0, &err) < 0 && strstr(err.msg, "257"), "%s",
          err.msg);
    CHECK(tok_train_files(&t, NULL, 0, 300, 0, &err) < 0 && strstr(err.msg, "no training text"),
          "%s", err.msg);
    char dir[] = "/tmp/test_tok_XXXXXX", p1[64], p2[64];
    if (!mkdtemp(dir)) return;
    snprintf(p1, sizeof p1, "%s/a.txt", dir);
    snprintf(p2, sizeof p2, "%s/b.txt", dir);
    const char *missing[] = {"/nonexistent/tok.txt"};
    CHECK(tok_train_files(&t, missing, 1, 300, 0, &err) < 0 &&
              strstr(err.msg, "/nonexistent/tok.txt"),
          "%s", err.msg);
    write_bytes(p1, "", 0);
    const char *paths[] = {p1, p2};
    CHECK(tok_train_files(&t, paths, 1, 300, 0, &err) < 0 && strstr(err.msg, "no training text"),
          "%s", err.msg);
    size_t len;
    char *text = gen_corpus(20000, 5, &len);
    write_bytes(p1, text, len / 2);
    write_bytes(p2, text + len / 2, len - len / 2);
    Tokenizer tf, tt;
    const char *halves[] = {text, text + len / 2};
    size_t hl[] = {len / 2, len - len / 2};
    int rc = tok_train_files(&tf, paths, 2, 400, 0, &err);
    CHECK(rc == 0, "train files: %s", err.msg);
    CHECK(tok_train_texts(&tt, halves, hl, 2, 400, 0, &err) == 0, "%s", err.msg);
    int same = rc == 0 && tf.n_merges == tt.n_merges;
    for (int i = 0; same && i < tf.n_merges; i++) same = !strcmp(tf.merges[i], tt.merges[i]);
    CHECK(same, "files and texts train the same");
    if (rc == 0) tok_free(&tf);
    tok_free(&tt);
    free(text);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
}

static void test_early_stop(void) {
    Tokenizer t;
    const char *s = "ab ab ab cd";
    if (train_on(&t, s, strlen(s), 8192) < 0) return;
    CHECK(t.n_vocab < 8192 && t.n_vocab > 257, "n_vocab %d", t.n_vocab);
    CHECK(t.eot_id == t.n_vocab - 1 && t.types[t.eot_id] == 3, "eot last");
    CHECK(round_trips(&t, s, strlen(s)), "round trip");
    tok_free(&t);
}

typedef struct {
    const Tokenizer *t;
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} EncJob;

static void *encode_job(void *arg) {
    EncJob *j = arg;
    ObErr err;
    if (tok_encode(j->t, j->text, j->len, &j->ids, &j->n, &err) < 0) j->ids = NULL;
    return NULL;
}

static void test_concurrent_encode(void) {
    Tokenizer t = small_tok();
    size_t len;
    char *text = gen_corpus(50000, 3, &len);
    EncJob jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (EncJob){&t, text, len, NULL, 0};
        pthread_create(&th[i], NULL, encode_job, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(jobs[i].ids && jobs[i].n == jobs[0].n &&
                  !memcmp(jobs[i].ids, jobs[0].ids, jobs[0].n * sizeof(int32_t)),
              "thread %d", i);
    }
    for (int i = 0; i < 4; i++) free(jobs[i].ids);
    free(text);
    tok_free(&t);
}

int main(void) {
    RUN(test_byte_unicode_map);
    RUN(test_train_small);
    RUN(test_matches_reference_bpe);
    RUN(test_matches_naive_trainer);
    RUN(test_round_trip);
    RUN(test_pretokenization);
    RUN(test_from_arrays);
    RUN(test_from_arrays_any_layout);
    RUN(test_long_inputs);
    RUN(test_decode_errors);
    RUN(test_train_errors_and_files);
    RUN(test_early_stop);
    RUN(test_concurrent_encode);
    return check_main_end("tokenizer");
}
