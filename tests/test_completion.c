/* Completion familiarity (eval/completion.h): whole-word key search, the
 * leak rule and the weighted score on hand-made strings, prompt cutting
 * (deterministic for a seed, just before key occurrences, inside one
 * document) and an end-to-end run where a tiny model trained on text about
 * "Zorbin" leaks the name and its untrained initialisation does not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "eval/completion.h"
#include "tiny.h"
#include "train/trainer.h"

static int found(const char *text, const char *key) {
    return comp_find_word(text, strlen(text), key, 0, 0) >= 0;
}

static void test_find_word(void) {
    CHECK(found("said Mr. Holmes.", "Holmes"), "plain word");
    CHECK(found("Holmes", "Holmes"), "the whole text");
    CHECK(!found("a Holmesian view", "Holmes"), "prefix of a longer word");
    CHECK(!found("the Tomorrow", "Tom"), "Tom in Tomorrow");
    CHECK(!found("XHolmes", "Holmes"), "suffix of a longer word");
    CHECK(!found("Holmes2", "Holmes"), "digit glued after");
    CHECK(!found("said holmes", "Holmes"), "case-sensitive");
    CHECK(found("Holmes's pipe", "Holmes"), "apostrophe ends the word");
    CHECK(found("Holmes\xE2\x80\x99s pipe", "Holmes"), "U+2019 is punctuation");
    CHECK(found("\xE2\x80\x9CHolmes\xE2\x80\x9D", "Holmes"), "curly quotes around");
    CHECK(!found("Holmes\xC3\xA9", "Holmes"), "a non-ASCII letter glued after");
    CHECK(!found("\xC3\xA9Holmes", "Holmes"), "a non-ASCII letter glued before");
    CHECK(!found("Holmes\xFF", "Holmes"), "a stray byte counts as a letter");
    CHECK(found("down Baker Street.", "Baker Street"), "multi-word key");
    CHECK(found("down Baker\n  Street.", "Baker Street"), "any whitespace run between words");
    CHECK(!found("down BakerStreet.", "Baker Street"), "the space is required");
    CHECK(!found("down Baker Streets", "Baker Street"), "multi-word key glued after");
    CHECK(found("the Red-headed League met", "Red-headed League"), "hyphenated key");
    CHECK(found("Mrs. Hudson came", "Mrs. Hudson"), "key with a full stop");
    /* min_end: only occurrences ending after it */
    const char *t = "Holmes and Holmes";
    CHECK(comp_find_word(t, strlen(t), "Holmes", 0, 6) == 11, "min_end skips the first");
    CHECK(comp_find_word(t, strlen(t), "Holmes", 0, 17) == -1, "nothing ends after the text");
    CHECK(comp_find_word(t, strlen(t), "Holmes", 1, 0) == 11, "from");
}

static int parse_dict(AnchorDict *d, const char *json) {
    ObErr err;
    int rc = anchors_parse(d, json, strlen(json), "t.json", &err);
    CHECK(rc == 0, "%s", err.msg);
    return rc;
}

/* Judges and returns the class; the leaked/shared keys joined by ',' in out. */
static CompClass judge(const AnchorDict *d, const char *prompt, const char *completion,
                       char *leaked, char *shared) {
    CompJudgement j;
    ObErr err;
    leaked[0] = shared[0] = 0;
    if (comp_judge(d, prompt, completion, &j, &err)) {
        CHECK(0, "%s", err.msg);
        return COMP_NONE;
    }
    for (int i = 0; i < j.n_leaked; i++)
        strcat(strcat(leaked, i ? "," : ""), d->items[j.leaked[i]].key);
    for (int i = 0; i < j.n_shared; i++)
        strcat(strcat(shared, i ? "," : ""), d->items[j.shared[i]].key);
    CompClass c = j.cls;
    comp_judgement_free(&j);
    return c;
}

static void test_leak_rule(void) {
    AnchorDict d;
    if (parse_dict(&d, "{\"Holmes\": \"Hartley\", \"Watson\": \"Fenton\", \"Baker Street\": "
                       "\"Elm Street\", \"Irene\": \"Margaret\"}"))
        return;
    char l[256], s[256];
    CompClass c;
    c = judge(&d, "The door opened and in came Mr.", " Holmes with his pipe.", l, s);
    CHECK(c == COMP_UNIQUE && !strcmp(l, "Holmes") && !*s, "key only in completion: %d %s|%s", c, l,
          s);
    c = judge(&d, "Holmes said nothing.", " Then Holmes rose.", l, s);
    CHECK(c == COMP_TYPICAL && !*l && !strcmp(s, "Holmes"), "key in both: %d %s|%s", c, l, s);
    c = judge(&d, "He spoke of", " a Holmesian method and Ireneus.", l, s);
    CHECK(c == COMP_NONE && !*l && !*s, "key inside other words: %d %s|%s", c, l, s);
    c = judge(&d, "He spoke of", " the rain.", l, s);
    CHECK(c == COMP_NONE && !*l && !*s, "no key: %d %s|%s", c, l, s);
    c = judge(&d, "We walked down", " Baker Street in the rain.", l, s);
    CHECK(c == COMP_UNIQUE && !strcmp(l, "Baker Street"), "multi-word key: %d %s|%s", c, l, s);
    c = judge(&d, "We walked down Baker", " Street in the rain.", l, s);
    CHECK(c == COMP_UNIQUE && !strcmp(l, "Baker Street"), "key finished by the completion: %s", l);
    c = judge(&d, "We walked down Baker Street", ", then Baker Street again.", l, s);
    CHECK(c == COMP_TYPICAL && !strcmp(s, "Baker Street"), "multi-word key in both: %s", s);
    c = judge(&d, "I saw Holmes", "es and more Holmeses.", l, s);
    CHECK(c == COMP_NONE, "a suffix glued to the prompt's key is no match: %d %s|%s", c, l, s);
    c = judge(&d, "Holmes turned to", " Watson and Irene, and Holmes smiled.", l, s);
    CHECK(c == COMP_UNIQUE && !strcmp(l, "Irene,Watson") && !strcmp(s, "Holmes"),
          "leaked and shared together count as unique: %d %s|%s", c, l, s);
    c = judge(&d, "", "Irene", l, s);
    CHECK(c == COMP_UNIQUE && !strcmp(l, "Irene"), "empty prompt: %d %s", c, l);
    c = judge(&d, "Irene", "", l, s);
    CHECK(c == COMP_NONE, "empty completion: %d", c);
    anchors_free(&d);
}

static void test_weighted_score(void) {
    CHECK(fabs(comp_weighted_score(3, 2, 10) - 1.7) < 1e-12, "(5*3 + 2) / 10");
    CHECK(comp_weighted_score(0, 0, 0) == 0, "no prompts");
    CHECK(comp_weighted_score(4, 0, 4) == 5, "all unique: 5");
    CompResult r[5];
    memset(r, 0, sizeof r);
    CompClass cls[5] = {COMP_UNIQUE, COMP_TYPICAL, COMP_NONE, COMP_UNIQUE, COMP_TYPICAL};
    for (int i = 0; i < 5; i++) r[i].j.cls = cls[i];
    CompSummary s;
    comp_summarise(r, 5, &s);
    CHECK(s.n == 5 && s.unique == 2 && s.typical == 2, "counts %d %d %d", s.n, s.unique, s.typical);
    CHECK(fabs(s.leak_rate - 0.4) < 1e-12, "leak rate %g", s.leak_rate);
    CHECK(fabs(s.score - 12.0 / 5) < 1e-12, "score %g", s.score);
}

/* ---- a tiny world: "Zorbin" and "Quillon" are the target's own names ---- */

static const char *LINES[] = {
    "The old wizard Zorbin lit his pipe by the fire.\n",
    "A cat sat on a mat and the dog slept.\n",
    "Rain falls on green hills near the quiet town.\n",
    "Ships sail across the sea in the early morning.\n",
    "Everyone knew that the wise Quillon kept the keys.\n",
    "Birds sing in the morning while the sun rises.\n",
};

static char *make_text(size_t *len, int n_lines) {
    size_t cap = 80 * (size_t)n_lines + 1, n = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < n_lines; i++) n += (size_t)sprintf(buf + n, "%s", LINES[i % 6]);
    *len = n;
    return buf;
}

typedef struct {
    Tokenizer tok;
    TokenStream ds; /* three documents */
    AnchorDict d;
} World;

static int world_make(World *w) {
    ObErr err;
    size_t len;
    memset(w, 0, sizeof *w);
    char *text = make_text(&len, 1200);
    const char *texts[1] = {text};
    int rc = tok_train_texts(&w->tok, texts, &len, 1, 400, 0, &err);
    /* documents of 1, 90 and 600 lines: the first is shorter than a prompt window */
    size_t l6, l90, l600;
    char *t6 = make_text(&l6, 1), *t90 = make_text(&l90, 90), *t600 = make_text(&l600, 600);
    if (!rc)
        rc = dataset_append_text(&w->ds, &w->tok, t6, l6, &err) ||
             dataset_append_text(&w->ds, &w->tok, t90, l90, &err) ||
             dataset_append_text(&w->ds, &w->tok, t600, l600, &err);
    free(text), free(t6), free(t90), free(t600);
    const char *dict = "{\"Zorbin\": \"Bob\", \"Quillon\": \"Sam\"}";
    if (!rc) rc = anchors_parse(&w->d, dict, strlen(dict), "d.json", &err);
    if (!rc) rc = anchors_tokenize(&w->d, &w->tok, &err);
    CHECK(rc == 0, "%s", err.msg);
    return rc;
}

static void world_free(World *w) {
    anchors_free(&w->d);
    dataset_free(&w->ds);
    tok_free(&w->tok);
}

static CompConfig small_config(int n, uint64_t seed) {
    CompConfig c;
    comp_config_defaults(&c);
    c.n = n, c.seed = seed, c.prompt_tokens = 16, c.completion_tokens = 10;
    return c;
}

static int is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void test_cut(void) {
    World w;
    if (world_make(&w)) return;
    ObErr err;
    CompConfig c = small_config(40, 7);
    CompSet a, b, other;
    int rc = comp_cut(&a, &w.ds, &w.tok, &w.d, &c, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return world_free(&w);
    CHECK(a.n == 40 && a.n_candidates > 100, "%d prompts of %ld candidates", a.n, a.n_candidates);
    /* deterministic: the same seed gives the same prompts, another seed others */
    CHECK(comp_cut(&b, &w.ds, &w.tok, &w.d, &c, &err) == 0, "%s", err.msg);
    int same = b.n == a.n;
    for (int i = 0; same && i < a.n; i++)
        same = a.at[i] == b.at[i] && a.n_ids[i] == b.n_ids[i] &&
               !memcmp(a.ids[i], b.ids[i], sizeof(int32_t) * (size_t)a.n_ids[i]) &&
               !strcmp(a.prompt[i], b.prompt[i]);
    CHECK(same, "same seed, different prompts");
    c.seed = 8;
    CHECK(comp_cut(&other, &w.ds, &w.tok, &w.d, &c, &err) == 0, "%s", err.msg);
    int differ = 0;
    for (int i = 0; i < a.n && i < other.n; i++) differ += a.at[i] != other.at[i];
    CHECK(differ > 0, "seed 8 cut the same places as seed 7");

    /* each prompt: <|endoftext|> + the stream's tokens just before a key */
    const int32_t *t = w.ds.tokens;
    size_t doc1_end = 0; /* the second <|endoftext|>: documents 1 and 2 meet */
    for (size_t i = 1; i < w.ds.n && !doc1_end; i++)
        if (t[i] == w.tok.eot_id) doc1_end = i;
    for (int i = 0; i < a.n; i++) {
        int n = a.n_ids[i] - 1, form, len;
        CHECK(i == 0 || a.at[i] > a.at[i - 1], "prompt %d: not in text order", i);
        CHECK(a.ids[i][0] == w.tok.eot_id, "prompt %d: no <|endoftext|> first", i);
        CHECK(n >= 8 && n <= 16 && a.start[i] + (size_t)n == a.at[i], "prompt %d: %d tokens", i, n);
        CHECK(!memcmp(a.ids[i] + 1, t + a.start[i], sizeof(int32_t) * (size_t)n),
              "prompt %d: not the stream's tokens", i);
        for (int k = 1; k <= n; k++)
            CHECK(a.ids[i][k] != w.tok.eot_id, "prompt %d crosses a document boundary", i);
        CHECK(a.start[i] > doc1_end, "prompt %d from the document shorter than a window", i);
        CHECK(a.lead[i] >= 1 && a.lead[i] <= 8, "prompt %d: lead %d", i, a.lead[i]);
        size_t k = a.at[i] + (size_t)a.lead[i] - 1;
        int key = anchors_match(&w.d, t, (int)w.ds.n, (int)k, &form, &len);
        CHECK(key >= 0 && key == a.key[i], "prompt %d: no key %d tokens on", i, a.lead[i]);
        for (size_t q = a.at[i]; q < k; q++)
            CHECK(anchors_match(&w.d, t, (int)w.ds.n, (int)q, &form, &len) < 0,
                  "prompt %d: lead is not the nearest key", i);
        const char *keytext = w.d.items[a.key[i]].key;
        CHECK(strstr(a.truth[i], keytext) != NULL, "prompt %d: truth '%s' lacks %s", i, a.truth[i],
              keytext);
        /* cut between words, started at a word start */
        size_t pl = strlen(a.prompt[i]);
        CHECK(!(pl && is_letter(a.prompt[i][pl - 1]) && is_letter(a.truth[i][0])),
              "prompt %d cut inside a word: '%s' | '%s'", i, a.prompt[i], a.truth[i]);
        size_t pb;
        const char *prev = tok_token_bytes(&w.tok, t[a.start[i] - 1], &pb);
        CHECK(a.prompt[i][0] == ' ' || prev[pb - 1] == '\n' || t[a.start[i] - 1] == w.tok.eot_id,
              "prompt %d starts mid-line: '%s'", i, a.prompt[i]);
    }
    comp_set_free(&a), comp_set_free(&b), comp_set_free(&other);

    /* more prompts asked for than places: all of them */
    c.n = 1000000;
    CHECK(comp_cut(&a, &w.ds, &w.tok, &w.d, &c, &err) == 0, "%s", err.msg);
    CHECK(a.n == a.n_candidates, "%d prompts of %ld candidates", a.n, a.n_candidates);
    comp_set_free(&a);
    /* a window longer than any document: no candidate, one-line error */
    c.prompt_tokens = 20000;
    CHECK(comp_cut(&a, &w.ds, &w.tok, &w.d, &c, &err) == -1 && strstr(err.msg, "no place"),
          "no candidates: %s", err.msg);
    world_free(&w);
}

static LlamaConfig comp_shape(int vocab) {
    return tiny_shape(48, 2, 4, 2, 96, vocab, 40, 1);
}

static void test_end_to_end(void) {
    World w;
    if (world_make(&w)) return;
    ObErr err;
    CompConfig c = small_config(20, 1);
    CompSet s;
    Llama m;
    LlamaConfig lc = comp_shape(w.tok.n_vocab);
    int rc = comp_cut(&s, &w.ds, &w.tok, &w.d, &c, &err) || llama_create(&m, &lc, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return world_free(&w);
    llama_init_random(&m, 5);
    CompResult before[20], after[20];
    CompSummary sb, sa;
    CHECK(comp_generate(&m, &s, &w.tok, &w.d, before, &err) == 0, "%s", err.msg);
    comp_summarise(before, s.n, &sb);

    TrainConfig tc;
    train_config_defaults(&tc);
    tc.batch = 4, tc.seq = 32, tc.steps = 150, tc.warmup = 10, tc.lr = 1e-2f;
    tc.min_lr = 1e-3f, tc.log_every = 1000;
    char path[64];
    snprintf(path, sizeof path, "/tmp/obliviate-completion-%d.gguf", (int)getpid());
    tc.out_path = path;
    TrainResult res;
    TrainData data = {.next = batch_from_stream, .ctx = &w.ds};
    rc = train_run(&m, &w.tok, &tc, &data, 0, &res, &err);
    CHECK(rc == 0, "%s", err.msg);
    remove(path);
    char state[80];
    snprintf(state, sizeof state, "%s.state", path);
    remove(state);
    CHECK(comp_generate(&m, &s, &w.tok, &w.d, after, &err) == 0, "%s", err.msg);
    comp_summarise(after, s.n, &sa);
    fprintf(stderr, "  leak rate: untrained %.2f (score %.2f), trained %.2f (score %.2f)\n",
            sb.leak_rate, sb.score, sa.leak_rate, sa.score);
    for (int i = 0; i < 3; i++) fprintf(stderr, "  '%s' -> '%s'\n", s.prompt[i], after[i].text);
    CHECK(sa.leak_rate >= 0.5, "trained leak rate %.2f", sa.leak_rate);
    CHECK(sb.leak_rate < 0.1, "untrained leak rate %.2f", sb.leak_rate);
    CHECK(sa.score > sb.score, "scores %.2f %.2f", sa.score, sb.score);
    for (int i = 0; i < s.n; i++) {
        CHECK(after[i].n_tokens >= 1 && after[i].n_tokens <= c.completion_tokens,
              "completion %d: %d tokens", i, after[i].n_tokens);
        char *dec;
        size_t len;
        if (tok_decode(&w.tok, after[i].ids, (size_t)after[i].n_tokens, &dec, &len, &err) == 0) {
            CHECK(!strcmp(dec, after[i].text), "completion %d: text differs from its tokens", i);
            free(dec);
        }
    }
    /* greedy decoding is deterministic */
    CompResult again[20];
    CHECK(comp_generate(&m, &s, &w.tok, &w.d, again, &err) == 0, "%s", err.msg);
    for (int i = 0; i < s.n; i++)
        CHECK(!strcmp(again[i].text, after[i].text), "completion %d differs on a rerun", i);
    comp_results_free(again, s.n);

    /* prompt + completion longer than the context: refused */
    comp_results_free(after, s.n);
    CompConfig big = c;
    big.completion_tokens = 30;
    CompSet bs;
    CHECK(comp_cut(&bs, &w.ds, &w.tok, &w.d, &big, &err) == 0, "%s", err.msg);
    CHECK(comp_generate(&m, &bs, &w.tok, &w.d, after, &err) == -1 && strstr(err.msg, "context 40"),
          "too long: %s", err.msg);
    comp_set_free(&bs);
    comp_results_free(before, s.n);
    comp_set_free(&s);
    llama_free(&m);
    world_free(&w);
}

int main(void) {
    RUN(test_find_word);
    RUN(test_leak_rule);
    RUN(test_weighted_score);
    RUN(test_cut);
    RUN(test_end_to_end);
    return check_main_end("completion");
}
