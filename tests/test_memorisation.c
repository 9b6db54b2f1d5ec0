/* Memorisation and membership metrics: ROUGE-L, Min-K% and the AUC on values
 * worked out by hand; the KnowMem file reader and its examples; VerbMem
 * excerpt cutting; and VerbMem, KnowMem and Min-K% scoring on a tiny random
 * model, checked against greedy decoding and log-probabilities recomputed
 * from the training forward (no cache). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "eval/memorisation.h"
#include "eval/mia.h"
#include "eval/rouge.h"
#include "model/sample.h"
#include "tiny.h"
#include "tmpdir.h"

static int near(double a, double b) {
    return fabs(a - b) < 1e-12;
}

static RougeScore rouge(const char *cand, const char *ref) {
    RougeScore s;
    ObErr err;
    memset(&s, 0, sizeof s);
    CHECK(rouge_l(cand, ref, &s, &err) == 0, "%s", err.msg);
    return s;
}

/* ---- ROUGE-L ---- */

static void test_rouge_words(void) {
    char **w;
    int n;
    ObErr err;
    CHECK(rouge_words("The CAT, sat!  don't 42x caf\xC3\xA9", &w, &n, &err) == 0, "%s", err.msg);
    const char *want[] = {"the", "cat", "sat", "don", "t", "42x", "caf\xC3\xA9"};
    CHECK(n == 7, "%d words", n);
    for (int i = 0; i < n && i < 7; i++) CHECK(!strcmp(w[i], want[i]), "word %d: '%s'", i, w[i]);
    free(w);
    CHECK(rouge_words(" ,.;!? ", &w, &n, &err) == 0 && n == 0, "punctuation only: %d words", n);
    free(w);
    CHECK(rouge_words("", &w, &n, &err) == 0 && n == 0, "empty: %d words", n);
    free(w);
}

static void test_rouge_hand(void) {
    /* candidate "the cat sat on the mat" (6 words), reference "the cat on the
     * mat" (5): the LCS is the whole reference, l = 5.
     * P = 5/6, R = 5/5 = 1, F1 = 2 (5/6)(1) / (5/6 + 1) = (10/6) / (11/6) = 10/11. */
    RougeScore s = rouge("the cat sat on the mat", "the cat on the mat");
    CHECK(s.lcs == 5 && s.n_cand == 6 && s.n_ref == 5, "lcs %d, %d/%d words", s.lcs, s.n_cand,
          s.n_ref);
    CHECK(near(s.precision, 5.0 / 6) && near(s.recall, 1.0) && near(s.f1, 10.0 / 11),
          "P %.6f R %.6f F1 %.6f", s.precision, s.recall, s.f1);
    /* swapped: P and R swap, F1 stays */
    s = rouge("the cat on the mat", "the cat sat on the mat");
    CHECK(near(s.precision, 1.0) && near(s.recall, 5.0 / 6) && near(s.f1, 10.0 / 11),
          "swapped: P %.6f R %.6f F1 %.6f", s.precision, s.recall, s.f1);
    /* "police killed the gunman" vs "police kill the gunman": LCS police, the,
     * gunman = 3 of 4 each, P = R = F1 = 3/4 */
    s = rouge("police killed the gunman", "police kill the gunman");
    CHECK(s.lcs == 3 && near(s.f1, 0.75), "lcs %d, F1 %.6f", s.lcs, s.f1);
    /* order matters: "a b c d" vs "d c b a" share one word in order: 1/4 */
    s = rouge("a b c d", "d c b a");
    CHECK(s.lcs == 1 && near(s.f1, 0.25), "reversed: lcs %d, F1 %.6f", s.lcs, s.f1);
    /* case and punctuation are ignored */
    s = rouge("The CAT, sat!", "the cat sat");
    CHECK(near(s.f1, 1.0), "case/punctuation: F1 %.6f", s.f1);
    /* repeated words: candidate "a a a" vs reference "a b a": l = 2,
     * P = R = 2/3, F1 = 2/3 */
    s = rouge("a a a", "a b a");
    CHECK(s.lcs == 2 && near(s.f1, 2.0 / 3), "repeats: lcs %d, F1 %.6f", s.lcs, s.f1);
    /* only ASCII is lowercased: "CAF\xC3\x89" keeps its capital E-acute and differs
     * from "caf\xC3\xA9"; one word of two in common: 1/2 */
    s = rouge("CAF\xC3\x89 cr\xC3\xA8me", "caf\xC3\xA9 cr\xC3\xA8me");
    CHECK(s.lcs == 1 && near(s.f1, 0.5), "non-ASCII: lcs %d, F1 %.6f", s.lcs, s.f1);
}

static void test_rouge_empty(void) {
    RougeScore s = rouge("", "the cat");
    CHECK(s.n_cand == 0 && s.precision == 0 && s.recall == 0 && s.f1 == 0, "empty candidate");
    s = rouge("the cat", "");
    CHECK(s.n_ref == 0 && s.precision == 0 && s.recall == 0 && s.f1 == 0, "empty reference");
    s = rouge("", "");
    CHECK(s.f1 == 0 && s.lcs == 0, "both empty score 0");
    s = rouge("...", "!!!");
    CHECK(s.f1 == 0 && s.n_cand == 0 && s.n_ref == 0, "punctuation only");
    s = rouge("dog", "cat");
    CHECK(s.lcs == 0 && s.f1 == 0, "nothing in common");
}

/* The O(min(n, m)) LCS against a full table, on random word sequences. */
static int lcs_table(char **a, int na, char **b, int nb) {
    int *t = calloc((size_t)(na + 1) * (nb + 1), sizeof(int));
    for (int i = 1; i <= na; i++)
        for (int j = 1; j <= nb; j++) {
            int *c = &t[i * (nb + 1) + j], up = t[(i - 1) * (nb + 1) + j],
                left = t[i * (nb + 1) + j - 1];
            *c = !strcmp(a[i - 1], b[j - 1]) ? t[(i - 1) * (nb + 1) + j - 1] + 1
                                             : (up > left ? up : left);
        }
    int l = t[na * (nb + 1) + nb];
    free(t);
    return l;
}

static void test_rouge_lcs_random(void) {
    static char *vocab[] = {"a", "b", "c", "d"};
    char *a[40], *b[40];
    unsigned x = 12345;
    ObErr err;
    for (int trial = 0; trial < 200; trial++) {
        int na = (int)((x = x * 1103515245u + 12345u) >> 16) % 40;
        int nb = (int)((x = x * 1103515245u + 12345u) >> 16) % 40;
        for (int i = 0; i < na; i++) a[i] = vocab[((x = x * 1103515245u + 12345u) >> 16) % 4];
        for (int i = 0; i < nb; i++) b[i] = vocab[((x = x * 1103515245u + 12345u) >> 16) % 4];
        int want = lcs_table(a, na, b, nb);
        int got = rouge_lcs(a, na, b, nb, &err), back = rouge_lcs(b, nb, a, na, &err);
        CHECK(got == want && back == want, "trial %d (%d x %d): %d / %d, table %d", trial, na, nb,
              got, back, want);
    }
}

/* ---- Min-K% and AUC ---- */

static void test_min_k(void) {
    /* n = 5, k = 0.4: m = floor(2.0) = 2 lowest of {-1, -5, -2, -4, -3}:
     * -5 and -4, mean -4.5 */
    double a[] = {-1, -5, -2, -4, -3};
    CHECK(near(mia_min_k(a, 5, 0.4), -4.5), "n 5: %.6f", mia_min_k(a, 5, 0.4));
    /* n = 4: m = floor(1.6) = 1: the minimum, -5 */
    double b[] = {-1, -5, -2, -4};
    CHECK(near(mia_min_k(b, 4, 0.4), -5), "n 4");
    /* n = 1: floor(0.4) = 0, raised to 1 */
    double c[] = {-7};
    CHECK(near(mia_min_k(c, 1, 0.4), -7), "n 1");
    /* k = 1: the mean of all, (-1 - 2 - 3) / 3 = -2 */
    double d[] = {-3, -1, -2};
    CHECK(near(mia_min_k(d, 3, 1.0), -2), "k 1");
    /* 0.29 x 100 is 28.999999999999996 in doubles; it counts as 29: the
     * lowest 29 of 0, -1, .., -99 are -71 .. -99, mean -85 */
    double e[100];
    for (int i = 0; i < 100; i++) e[i] = -i;
    CHECK(near(mia_min_k(e, 100, 0.29), -85), "k n near an integer: %.6f", mia_min_k(e, 100, 0.29));
    /* 127 scored tokens at k = 0.4: floor(50.8) = 50 */
    double f[127];
    for (int i = 0; i < 127; i++) f[i] = i < 50 ? -10 : -1;
    CHECK(near(mia_min_k(f, 127, 0.4), -10), "127 tokens use the lowest 50");
}

static void test_auc(void) {
    /* members {3, 2, 2}, non-members {2, 1}: pairs (3,2) 1, (3,1) 1, (2,2) 1/2,
     * (2,1) 1, (2,2) 1/2, (2,1) 1: 5 of 6 */
    double m[] = {3, 2, 2}, n[] = {2, 1};
    CHECK(near(mia_auc(m, 3, n, 2), 5.0 / 6), "worked example: %.6f", mia_auc(m, 3, n, 2));
    double same[] = {1, 1};
    CHECK(near(mia_auc(same, 2, same, 1), 0.5), "all ties: 1/2");
    double hi[] = {5, 6}, lo[] = {1, 2, 3};
    CHECK(near(mia_auc(hi, 2, lo, 3), 1.0) && near(mia_auc(lo, 3, hi, 2), 0.0), "separated");
    CHECK(isnan(mia_auc(hi, 0, lo, 3)) && isnan(mia_auc(hi, 2, lo, 0)), "empty set: NAN");
    /* PrivLeak: (0.75 - 0.5) / 0.5 x 100 = 50; (0.25 - 0.5) / 0.5 x 100 = -50 */
    CHECK(near(mia_privleak(0.75, 0.5), 50) && near(mia_privleak(0.25, 0.5), -50) &&
              near(mia_privleak(0.5, 0.5), 0),
          "privleak");
    CHECK(isnan(mia_privleak(0.5, 0)) && isnan(mia_privleak(0.5, NAN)), "no oracle AUC: NAN");
}

static void test_mia_chunks(void) {
    /* [eot, 1..10, eot, 11..15]: windows of 4 at 1 and 5 in the first document
     * (9..12 would cross its end), at 12 in the second (5 tokens, one window) */
    int32_t t[17] = {99, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99, 11, 12, 13, 14, 15};
    TokenStream ds = {t, 17};
    size_t *s;
    int n, avail;
    ObErr err;
    CHECK(mia_chunks(&ds, 99, 4, 0, 1, &s, &n, &avail, &err) == 0, "%s", err.msg);
    CHECK(n == 3 && avail == 3 && s[0] == 1 && s[1] == 5 && s[2] == 12, "n %d: %zu %zu %zu", n,
          s[0], s[1], s[2]);
    free(s);
    size_t *s1, *s2;
    int n1, n2;
    CHECK(mia_chunks(&ds, 99, 4, 2, 7, &s1, &n1, &avail, &err) == 0 &&
              mia_chunks(&ds, 99, 4, 2, 7, &s2, &n2, &avail, &err) == 0,
          "%s", err.msg);
    CHECK(n1 == 2 && avail == 3 && s1[0] < s1[1] && s1[0] == s2[0] && s1[1] == s2[1],
          "capped draw: %d, reproducible, in text order", n1);
    free(s1), free(s2);
    CHECK(mia_chunks(&ds, 99, 11, 0, 1, &s, &n, &avail, &err) == -1 && strstr(err.msg, "11 tokens"),
          "no window: %s", err.msg);
}

/* ---- KnowMem file ---- */

static void test_knowmem_reader(void) {
    struct {
        const char *text, *want;
    } bad[] = {
        {"{\"question\": \"Q?\", \"answer\": \"A\"}\n{\"question\": \"Q2?\"}\n",
         ":2: field \"answer\" missing"},
        {"{\"question\": \"Q?\", \"answer\": \"A\"}\n\n{\"question\": \"Q?\", \"answer\": \"A\"\n",
         ":3: not valid JSON"},
        {"{\"question\": \"Q?\", \"answer\": \"\"}\n", ":1: field \"answer\" is empty"},
        {"{\"question\": 7, \"answer\": \"A\"}\n", ":1: field \"question\" must be"},
        {"[\"Q?\", \"A\"]\n", ":1: expected a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        JsonlFile f;
        ObErr err;
        const char *path = tmp_file("bad.jsonl", bad[i].text);
        int rc = jsonl_load(&f, path, KNOW_JSONL_FIELDS, &err);
        CHECK(rc == -1 && !strncmp(err.msg, path, strlen(path)) &&
                  !strncmp(err.msg + strlen(path), bad[i].want, strlen(bad[i].want)),
              "case %zu: %s", i, rc ? err.msg : "(loaded)");
        if (!rc) jsonl_free(&f);
    }
}

/* The shipped questions: well formed, enough of them, each from stories 1-10,
 * and no question gives its own answer away. */
static void test_knowmem_shipped(void) {
    static const JsonlField fields[] = {
        {"question", JSONL_TEXT, 1},
        {"answer", JSONL_TEXT, 1},
        {"story", JSONL_INT, 1},
        {NULL, 0, 0},
    };
    JsonlFile f;
    ObErr err;
    int rc = jsonl_load(&f, "data/knowmem/sherlock.jsonl", fields, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(f.n >= 45, "only %d questions", f.n);
    int stories[11] = {0};
    for (int i = 0; i < f.n; i++) {
        int s = jsonl_int(f.items[i], "story", 0);
        const char *q = jsonl_str(f.items[i], "question", ""),
                   *a = jsonl_str(f.items[i], "answer", "");
        CHECK(s >= 1 && s <= 10, "line %d: story %d", f.lines[i], s);
        if (s >= 1 && s <= 10) stories[s]++;
        CHECK(!strcasestr(q, a), "line %d: the question holds its answer", f.lines[i]);
        CHECK(strlen(a) <= 40, "line %d: a long answer", f.lines[i]);
    }
    for (int s = 1; s <= 10; s++) CHECK(stories[s] >= 3, "story %d: %d questions", s, stories[s]);
    jsonl_free(&f);
}

static int load_questions(JsonlFile *f, KnowSet *s, int shots) {
    const char *path = tmp_file("q.jsonl", "{\"question\": \"Who is the detective?\", \"answer\": "
                                           "\"Holmes\"}\n"
                                           "{\"question\": \"Who tells the stories?\", "
                                           "\"answer\": \"Watson\"}\n"
                                           "{\"question\": \"Who is Holmes's landlady?\", "
                                           "\"answer\": \"Mrs. Hudson\"}\n"
                                           "{\"question\": \"Which street?\", \"answer\": "
                                           "\"Baker Street\"}\n"
                                           "{\"question\": \"Which woman?\", \"answer\": \"Irene "
                                           "Adler\"}\n");
    KnowConfig c;
    know_config_defaults(&c);
    c.shots = shots;
    ObErr err;
    int rc = jsonl_load(f, path, KNOW_JSONL_FIELDS, &err) || know_build(s, f, &c, &err);
    CHECK(rc == 0, "%s", err.msg);
    return rc;
}

static void test_knowmem_shots(void) {
    JsonlFile f;
    KnowSet s, again;
    if (load_questions(&f, &s, 3)) return;
    for (int i = 0; i < s.n; i++) {
        /* item 0's answer "Holmes" is in item 2's question: never its example,
         * but three others remain */
        CHECK(s.n_shots[i] == 3, "item %d: %d examples", i, s.n_shots[i]);
        for (int a = 0; a < s.n_shots[i]; a++) {
            int j = s.shots[i][a];
            CHECK(j != i, "item %d is its own example", i);
            CHECK(!(i == 0 && j == 2), "item 0 shown the question naming Holmes");
            for (int b = 0; b < a; b++) CHECK(s.shots[i][b] != j, "item %d: example twice", i);
        }
    }
    JsonlFile f2;
    if (!load_questions(&f2, &again, 3)) {
        int same = 1;
        for (int i = 0; i < s.n; i++)
            for (int a = 0; a < s.n_shots[i]; a++) same &= s.shots[i][a] == again.shots[i][a];
        CHECK(same, "examples differ between two builds with one seed");
        know_set_free(&again), jsonl_free(&f2);
    }
    /* the prompt: examples in order, then the question */
    ObErr err;
    char *p = know_prompt(&s, 1, 1, &err), want[512];
    int e = s.shots[1][s.n_shots[1] - 1];
    snprintf(want, sizeof want,
             "Question: %s\nAnswer: %s\n\nQuestion: Who tells the stories?\nAnswer:", s.question[e],
             s.answer[e]);
    CHECK(p && !strcmp(p, want), "prompt:\n%s\nwant:\n%s", p ? p : "(null)", want);
    free(p);
    p = know_prompt(&s, 3, 0, &err);
    CHECK(p && !strcmp(p, "Question: Which street?\nAnswer:"), "zero-shot prompt: %s", p);
    free(p);
    know_set_free(&s), jsonl_free(&f);
    /* more examples asked for than there are other items: all that qualify */
    if (load_questions(&f, &s, 10)) return;
    CHECK(s.n_shots[0] == 3 && s.n_shots[1] == 4, "capped: %d and %d", s.n_shots[0], s.n_shots[1]);
    know_set_free(&s), jsonl_free(&f);
}

/* ---- on a tiny model ---- */

typedef struct {
    Tokenizer tok;
    TokenStream ds;
    Llama m;
} Fixture;

static char *story_text(size_t *len) {
    const char *lines[] = {"Sherlock Holmes lit his pipe by the fire and looked at the rain.\n",
                           "A cat sat on a mat near the door of the old house.\n",
                           "Doctor Watson wrote the story down in his notebook that night.\n",
                           "Birds sing in the morning while rain falls on green hills.\n"};
    size_t cap = 32 * 1024, n = 0;
    char *buf = malloc(cap);
    for (int i = 0; n + 200 < cap; i++) n += (size_t)sprintf(buf + n, "%s", lines[(i * 7) % 4]);
    *len = n;
    return buf;
}

static int fixture(Fixture *fx) {
    size_t len;
    char *text = story_text(&len);
    const char *texts[1] = {text};
    ObErr err;
    memset(fx, 0, sizeof *fx);
    int rc = tok_train_texts(&fx->tok, texts, &len, 1, 320, 0, &err) ||
             dataset_append_text(&fx->ds, &fx->tok, text, len, &err) ||
             dataset_append_text(&fx->ds, &fx->tok, text, 2000, &err);
    free(text);
    if (!rc) {
        LlamaConfig c = tiny_config(fx->tok.n_vocab);
        rc = llama_create(&fx->m, &c, &err);
        if (!rc) llama_init_random(&fx->m, 5);
    }
    CHECK(rc == 0, "%s", err.msg);
    return rc;
}

static void fixture_free(Fixture *fx) {
    llama_free(&fx->m);
    dataset_free(&fx->ds);
    tok_free(&fx->tok);
}

static void test_verb_cut(void) {
    Fixture fx;
    if (fixture(&fx)) return;
    VerbConfig c;
    verb_config_defaults(&c);
    c.n = 6, c.prompt_tokens = 12, c.gen_tokens = 20, c.seed = 3;
    VerbSet s, s2;
    ObErr err;
    CHECK(verb_cut(&s, &fx.ds, &fx.tok, &c, &err) == 0, "%s", err.msg);
    CHECK(verb_cut(&s2, &fx.ds, &fx.tok, &c, &err) == 0, "%s", err.msg);
    CHECK(s.n == 6 && s.n_candidates > 100, "%d excerpts of %ld", s.n, s.n_candidates);
    for (int i = 0; i < s.n; i++) {
        size_t p = s.at[i];
        CHECK(s.at[i] == s2.at[i], "excerpt %d differs between two cuts with one seed", i);
        CHECK(i == 0 || s.at[i] > s.at[i - 1], "excerpts not in text order");
        CHECK(s.prompt[i][0] == fx.tok.eot_id, "prompt starts with <|endoftext|>");
        int one_doc = 1;
        for (size_t k = p - 12; k < p + 20; k++) one_doc &= fx.ds.tokens[k] != fx.tok.eot_id;
        CHECK(one_doc, "excerpt %d spans two documents", i);
        CHECK(!memcmp(s.prompt[i] + 1, fx.ds.tokens + p - 12, 12 * sizeof(int32_t)) &&
                  !memcmp(s.truth[i], fx.ds.tokens + p, 20 * sizeof(int32_t)),
              "excerpt %d tokens", i);
        /* the cut falls between words */
        size_t lp = strlen(s.prompt_text[i]);
        char last = s.prompt_text[i][lp - 1], first = s.truth_text[i][0];
        CHECK(last == ' ' || last == '\n' || first == ' ' || first == '\n',
              "excerpt %d cut inside a word: ...'%c' | '%c'...", i, last, first);
    }
    verb_set_free(&s2);
    c.seed = 4;
    CHECK(verb_cut(&s2, &fx.ds, &fx.tok, &c, &err) == 0, "%s", err.msg);
    int differ = 0;
    for (int i = 0; i < s.n; i++) differ |= s.at[i] != s2.at[i];
    CHECK(differ, "another seed, the same excerpts");
    verb_set_free(&s2), verb_set_free(&s);
    c.prompt_tokens = 100000;
    CHECK(verb_cut(&s, &fx.ds, &fx.tok, &c, &err) == -1 && strstr(err.msg, "no document"),
          "too long: %s", err.msg);
    fixture_free(&fx);
}

/* Greedy continuation by full forwards over the growing sequence. */
static int greedy_by_hand(Llama *m, const int32_t *prompt, int n, int max_new, int32_t eot,
                          int32_t *out) {
    int32_t seq[64];
    ObErr err;
    memcpy(seq, prompt, sizeof(int32_t) * (size_t)n);
    int k = 0;
    if (llama_alloc_batch(m, 1, 64, &err)) return -1;
    while (k < max_new) {
        llama_forward(m, seq, NULL, n + k, NULL);
        int32_t next =
            sample_argmax(m->acts.logits + (size_t)(n + k - 1) * m->cfg.vocab, m->cfg.vocab);
        if (next == eot) break;
        out[k] = next, seq[n + k] = next, k++;
    }
    return k;
}

static void test_verb_generate(void) {
    Fixture fx;
    if (fixture(&fx)) return;
    VerbConfig c;
    verb_config_defaults(&c);
    c.n = 2, c.prompt_tokens = 16, c.gen_tokens = 128, c.seed = 1;
    VerbSet s;
    ObErr err;
    if (verb_cut(&s, &fx.ds, &fx.tok, &c, &err)) {
        CHECK(0, "%s", err.msg);
        fixture_free(&fx);
        return;
    }
    VerbResult res[2];
    int g = 0;
    CHECK(verb_generate(&fx.m, &s, &fx.tok, res, &g, &err) == 0, "%s", err.msg);
    /* context 64: 1 + 16 prompt tokens leave 47 */
    CHECK(g == 47, "capped to %d tokens", g);
    for (int i = 0; i < s.n; i++) {
        int32_t want[64];
        int n = greedy_by_hand(&fx.m, s.prompt[i], 17, g, fx.tok.eot_id, want);
        char *text = NULL, *truth = NULL;
        size_t len;
        tok_decode(&fx.tok, want, (size_t)n, &text, &len, &err);
        tok_decode(&fx.tok, s.truth[i], (size_t)g, &truth, &len, &err);
        CHECK(res[i].n_tokens == n && text && !strcmp(res[i].text, text),
              "excerpt %d: cached %d tokens '%s', by hand %d '%s'", i, res[i].n_tokens, res[i].text,
              n, text ? text : "");
        RougeScore r = rouge(res[i].text, truth);
        CHECK(near(r.f1, res[i].score.f1) && res[i].score.f1 >= 0 && res[i].score.f1 <= 1,
              "excerpt %d: F1 %.4f against the capped truth %.4f", i, res[i].score.f1, r.f1);
        free(text), free(truth);
    }
    CHECK(near(verb_mean_f1(res, 2), (res[0].score.f1 + res[1].score.f1) / 2), "mean F1");
    verb_results_free(res, s.n);
    verb_set_free(&s);
    c.prompt_tokens = 63;
    CHECK(verb_cut(&s, &fx.ds, &fx.tok, &c, &err) == 0, "%s", err.msg);
    CHECK(verb_generate(&fx.m, &s, &fx.tok, res, &g, &err) == -1 && strstr(err.msg, "no room"),
          "prompt fills the context: %s", err.msg);
    verb_set_free(&s);
    fixture_free(&fx);
}

static void test_know_generate(void) {
    Fixture fx;
    JsonlFile f;
    KnowSet s;
    if (fixture(&fx)) return;
    if (load_questions(&f, &s, 3)) return fixture_free(&fx);
    s.cfg.max_tokens = 8;
    KnowResult res[5];
    ObErr err;
    CHECK(know_generate(&fx.m, &s, &fx.tok, res, &err) == 0, "%s", err.msg);
    for (int i = 0; i < s.n; i++) {
        const char *a = res[i].answer;
        size_t len = strlen(a);
        CHECK(!strchr(a, '\n') && (len == 0 || (a[0] != ' ' && a[len - 1] != ' ')),
              "item %d: answer not trimmed: '%s'", i, a);
        CHECK(res[i].n_tokens <= 8, "item %d: %d tokens", i, res[i].n_tokens);
        CHECK(res[i].shots <= s.n_shots[i] && res[i].shots >= 0, "item %d: %d shots", i,
              res[i].shots);
        RougeScore r = rouge(a, s.answer[i]);
        CHECK(near(r.f1, res[i].score.f1) && near(r.recall, res[i].score.recall), "item %d score",
              i);
    }
    /* the context (64) cannot hold 3 examples + question + 8 tokens: the
     * first examples are dropped; the prompt that was used still fits */
    for (int i = 0; i < s.n; i++) {
        char *p = know_prompt(&s, i, res[i].shots, &err);
        int32_t *ids;
        size_t n;
        CHECK(p && tok_encode(&fx.tok, p, strlen(p), &ids, &n, &err) == 0, "%s", err.msg);
        CHECK(1 + (int)n + 8 <= 64, "item %d: %zu prompt tokens with %d shots", i, n, res[i].shots);
        if (res[i].shots < s.n_shots[i]) {
            char *more = know_prompt(&s, i, res[i].shots + 1, &err);
            int32_t *ids2;
            size_t n2;
            tok_encode(&fx.tok, more, strlen(more), &ids2, &n2, &err);
            CHECK(1 + (int)n2 + 8 > 64, "item %d: dropped an example that fitted", i);
            free(more), free(ids2);
        }
        free(p), free(ids);
    }
    double f1, recall;
    know_means(res, s.n, &f1, &recall);
    CHECK(f1 >= 0 && f1 <= 1 && recall >= 0 && recall <= 1, "means %.3f %.3f", f1, recall);
    know_results_free(res, s.n);
    /* a question too long for any prompt: file:line */
    s.cfg.max_tokens = 60;
    CHECK(know_generate(&fx.m, &s, &fx.tok, res, &err) == -1 && strstr(err.msg, "q.jsonl:1: ") &&
              strstr(err.msg, "context 64"),
          "too long: %s", err.msg);
    know_set_free(&s), jsonl_free(&f);
    fixture_free(&fx);
}

/* Min-K% from the cached forward equals the one from llama_forward. */
static void test_mia_score(void) {
    Fixture fx;
    if (fixture(&fx)) return;
    size_t *st;
    int n, avail;
    ObErr err;
    const int L = 32;
    if (mia_chunks(&fx.ds, fx.tok.eot_id, L, 3, 9, &st, &n, &avail, &err)) {
        CHECK(0, "%s", err.msg);
        return fixture_free(&fx);
    }
    double scores[3];
    CHECK(mia_score_chunks(&fx.m, fx.ds.tokens, st, n, L, 0.4, scores, &err) == 0, "%s", err.msg);
    CHECK(llama_alloc_batch(&fx.m, 1, L, &err) == 0, "%s", err.msg);
    for (int c = 0; c < n; c++) {
        const int32_t *t = fx.ds.tokens + st[c];
        double logp[32];
        llama_forward(&fx.m, t, NULL, L, NULL);
        int V = fx.m.cfg.vocab;
        for (int i = 1; i < L; i++) {
            const float *row = fx.m.acts.logits + (size_t)(i - 1) * V;
            double mx = row[0], z = 0;
            for (int v = 1; v < V; v++) mx = fmax(mx, row[v]);
            for (int v = 0; v < V; v++) z += exp(row[v] - mx);
            logp[i - 1] = row[t[i]] - mx - log(z);
        }
        /* 31 scored tokens: the floor(12.4) = 12 lowest, by selection */
        double sum = 0;
        for (int k = 0; k < 12; k++) {
            int lo = k;
            for (int j = k + 1; j < 31; j++) lo = logp[j] < logp[lo] ? j : lo;
            double tmp = logp[k];
            logp[k] = logp[lo], logp[lo] = tmp;
            sum += logp[k];
        }
        CHECK(fabs(scores[c] - sum / 12) < 1e-4, "chunk %d: %.6f, by hand %.6f", c, scores[c],
              sum / 12);
    }
    free(st);
    CHECK(mia_score_chunks(&fx.m, fx.ds.tokens, NULL, 0, 65, 0.4, scores, &err) == -1 &&
              strstr(err.msg, "context 64"),
          "chunk longer than the context: %s", err.msg);
    fixture_free(&fx);
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_rouge_words);
    RUN(test_rouge_hand);
    RUN(test_rouge_empty);
    RUN(test_rouge_lcs_random);
    RUN(test_min_k);
    RUN(test_auc);
    RUN(test_mia_chunks);
    RUN(test_knowmem_reader);
    RUN(test_knowmem_shipped);
    RUN(test_knowmem_shots);
    RUN(test_verb_cut);
    RUN(test_verb_generate);
    RUN(test_know_generate);
    RUN(test_mia_score);
    tmpdir_remove();
    return check_main_end("memorisation");
}
