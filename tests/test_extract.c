/* Tests for `anchors extract` (unlearn/extract.h) on small texts made here:
 * the log-odds statistics against hand-computed values; invented names of a
 * made-up target ranking first against general text without them, with no
 * function word among the keys; a word capitalised only at sentence starts
 * not taken for a name; people's values by gender (title Miss/Mrs., the
 * female list) and never a name of the target; determinism with the seed;
 * the written file loads with anchors_load; the found-share rule of
 * extract_expect; the model-evidence path on tiny random models (runs and is
 * deterministic; no claim on quality); and corpus_name_list, which prepares
 * the name lists extract reads. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "text/corpus.h"
#include "tiny.h"
#include "unlearn/anchors.h"
#include "unlearn/extract.h"

/* ---- texts ------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t n, cap;
} Buf;

static void put(Buf *b, const char *s) {
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        b->cap = (b->n + k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    memcpy(b->s + b->n, s, k + 1);
    b->n += k;
}

static const char *const subj[] = {"The man",    "A woman", "The old farmer", "My friend",
                                   "The doctor", "A child", "The teacher",    "His brother"};
static const char *const verb[] = {"walked to",   "looked at",  "went to",
                                   "spoke about", "thought of", "waited near"};
static const char *const obj[] = {"the house",   "the river",  "the market",   "a small garden",
                                  "the station", "the church", "an open field"};
static const char *const tail[] = {" in the morning", " with his sister", " after the rain", "",
                                   " before dinner"};

/* n ordinary sentences, picked by a small LCG from seed. */
static void generic(Buf *b, int n, uint32_t seed) {
    char line[256];
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t r = seed >> 8;
        snprintf(line, sizeof line, "%s %s %s%s.%s", subj[r % 8], verb[(r / 8) % 6],
                 obj[(r / 48) % 7], tail[(r / 336) % 5], i % 6 == 5 ? "\n\n" : " ");
        put(b, line);
    }
}

/* The made-up target: ordinary sentences with the story's names. */
static char *make_target(size_t *len) {
    Buf b = {0};
    for (int k = 0; k < 12; k++) {
        generic(&b, 20, 100 + (uint32_t)k);
        put(&b, "Zorblax went to Quentavia with Mrs. Plimby. ");
        put(&b, "The old farmer looked at Quentavia in the morning. ");
        if (k % 2 == 0) {
            put(&b, "Then Zelda Quorn waited near the church. ");
            put(&b, "My friend spoke about Miss Tavi Wrenn before dinner. ");
            put(&b, "Mr. Drogo Fenk walked to the market. ");
            put(&b, "Afterwards the man went to the house. ");
            put(&b, "The doctor looked at John Brackwater. ");
        }
        if (k % 3 == 0) put(&b, "A woman said that Mary was at the station. ");
        put(&b, "\n\n");
    }
    *len = b.n;
    return b.s;
}

/* General text: the same kind of sentences, no story names. */
static char *make_general(size_t *len) {
    Buf b = {0};
    generic(&b, 2500, 7);
    for (int k = 0; k < 40; k++) put(&b, "The man came back afterwards with his brother. ");
    for (int k = 0; k < 40; k++) put(&b, "A child went to the river with John. ");
    *len = b.n;
    return b.s;
}

static const char *female_names[] = {"Zelda", "Mary", "Anne", "Rose", "Emma",
                                     "Clara", "Lucy", "Ada",  "Ida",  "Grace"};
static const char *male_names[] = {"John",  "Peter", "Hugo",  "Felix",
                                   "Oscar", "Otto",  "Basil", "Cyril"};

static char *target_text, *general_text;
static size_t target_len, general_len;
static NameList lists[2];

static int in_list(const char *s, const char *const *l, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, l[i])) return 1;
    return 0;
}

/* Does the word occur in the target (case-insensitively, as a whole word)? */
static int target_has_word(const char *w) {
    size_t n = strlen(w);
    for (const char *p = target_text; (p = strcasestr(p, w)); p++) {
        int before = p > target_text && ((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z');
        int after = (p[n] | 32) >= 'a' && (p[n] | 32) <= 'z';
        if (!before && !after) return 1;
    }
    return 0;
}

static const ExtractProposal *find(const ExtractResult *r, const char *key, int *rank) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->p[i].key, key)) {
            if (rank) *rank = i;
            return &r->p[i];
        }
    return NULL;
}

static int run_extract(ExtractResult *r, uint64_t seed, Llama *base, Llama *reinf,
                       const Tokenizer *tok) {
    ExtractText t = {"target", target_text, target_len}, g = {"general", general_text, general_len};
    ExtractInput in = {&t, 1, &g, 1, base, reinf, tok, lists};
    ExtractConfig c;
    extract_config_default(&c);
    c.top = 30;
    c.seed = seed;
    ObErr err;
    int rc = extract_run(&in, &c, r, &err);
    if (rc) fprintf(stderr, "  extract_run: %s\n", err.msg);
    return rc;
}

/* ---- tests ------------------------------------------------------------ */

/* y_T 10, y_G 5, n_T 100, n_G 1000, alpha0 50:
 *   a = 50 * 15 / 1100 = 0.6818182
 *   delta = ln(10.6818182 / 139.3181818) - ln(5.6818182 / 1044.3181818)
 *         = ln(0.07667210) - ln(0.00544069) = -2.568203 - (-5.213834) = 2.645631
 *   sigma = sqrt(1 / 10.6818182 + 1 / 5.6818182) = sqrt(0.0936170 + 0.1760000)
 *         = 0.519247, z = 5.09513 */
static void test_log_odds(void) {
    double d, s, z = extract_log_odds(10, 5, 100, 1000, 50, &d, &s);
    CHECK(fabs(d - 2.645631) < 1e-5, "delta %.7f", d);
    CHECK(fabs(s - 0.519247) < 1e-5, "sigma %.7f", s);
    CHECK(fabs(z - 5.09513) < 1e-4, "z %.6f", z);
    /* equal rates: delta 0 whatever the prior */
    z = extract_log_odds(10, 100, 1000, 10000, 500, &d, &s);
    CHECK(fabs(d) < 1e-12 && fabs(z) < 1e-12, "delta %g z %g", d, z);
    /* a word only in T: positive, and more occurrences give a larger z */
    double z3 = extract_log_odds(3, 0, 1000, 100000, 1000, NULL, NULL);
    double z30 = extract_log_odds(30, 0, 1000, 100000, 1000, NULL, NULL);
    CHECK(z3 > 0 && z30 > z3, "z3 %g z30 %g", z3, z30);
}

static const char *const function_words[] = {"the", "The", "a",    "to",  "with", "at", "in",
                                             "and", "his", "that", "was", "near", NULL};

static void test_names_rank_first(void) {
    ExtractResult r;
    if (run_extract(&r, 1, NULL, NULL, NULL)) {
        CHECK(0, "extract failed");
        return;
    }
    CHECK(r.n > 5, "%d keys", r.n);
    int rz = -1, rq = -1, rp = -1;
    find(&r, "Zorblax", &rz);
    find(&r, "Quentavia", &rq);
    find(&r, "Plimby", &rp);
    CHECK(rz >= 0 && rz < 3, "Zorblax at rank %d", rz);
    CHECK(rq >= 0 && rq < 3, "Quentavia at rank %d", rq);
    CHECK(rp >= 0 && rp < 3, "Plimby at rank %d", rp);
    for (int i = 0; function_words[i]; i++)
        CHECK(!find(&r, function_words[i], NULL), "function word '%s' is a key", function_words[i]);
    /* ordinary words of both texts are not proposed */
    CHECK(!find(&r, "house", NULL) && !find(&r, "walked", NULL), "ordinary words proposed");
    /* capitalised only at sentence starts, and common in G: no key, no person */
    CHECK(!find(&r, "Afterwards", NULL) && !find(&r, "afterwards", NULL), "Afterwards proposed");
    CHECK(!find(&r, "Then", NULL), "Then proposed");
    /* the report carries the counts */
    const ExtractProposal *p = find(&r, "Zorblax", NULL);
    CHECK(p && p->count_t == 12 && p->count_g == 0 && p->z > 2 && p->lb > 0, "Zorblax stats");
    CHECK(!strcmp(r.evidence, "none"), "evidence %s", r.evidence);
    for (int i = 1; i < r.n; i++)
        CHECK(r.p[i - 1].final >= r.p[i].final, "not in rank order at %d", i);
    extract_free(&r);
}

static void check_values_in(const ExtractProposal *p, const char *const *list, int n,
                            const char *what) {
    for (int v = 0; v < p->n_values; v++) {
        char first[64];
        snprintf(first, sizeof first, "%s", p->values[v]);
        first[strcspn(first, " ")] = 0;
        CHECK(in_list(first, list, n), "%s -> %s: not a %s name", p->key, p->values[v], what);
    }
}

static void test_people_and_gender(void) {
    ExtractResult r;
    if (run_extract(&r, 1, NULL, NULL, NULL)) {
        CHECK(0, "extract failed");
        return;
    }
    const ExtractProposal *plimby = find(&r, "Plimby", NULL), *zelda = find(&r, "Zelda", NULL),
                          *tavi = find(&r, "Tavi", NULL), *drogo = find(&r, "Drogo", NULL),
                          *zq = find(&r, "Zelda Quorn", NULL), *zorb = find(&r, "Zorblax", NULL);
    CHECK(plimby && plimby->kind == EXTRACT_PERSON, "Mrs. Plimby is not a person");
    CHECK(zorb && zorb->kind == EXTRACT_OTHER, "Zorblax (no title, no list) taken for a person");
    /* female list */
    CHECK(zelda && zelda->kind == EXTRACT_PERSON && zelda->gender == 1, "Zelda: female person");
    if (zelda) check_values_in(zelda, female_names, 10, "female");
    /* title Miss */
    CHECK(tavi && tavi->kind == EXTRACT_PERSON && tavi->gender == 1, "Miss Tavi: female");
    if (tavi) check_values_in(tavi, female_names, 10, "female");
    /* title Mr. */
    CHECK(drogo && drogo->kind == EXTRACT_PERSON && drogo->gender == 0, "Mr. Drogo: male");
    if (drogo) check_values_in(drogo, male_names, 8, "male");
    /* "Zelda Quorn" is pruned: both its words are keys */
    CHECK(!zq && find(&r, "Quorn", NULL), "Zelda Quorn kept or Quorn missing");
    /* "John" is common in G, so "John Brackwater" stays, and maps its
     * surname as "Brackwater" alone does */
    const ExtractProposal *jb = find(&r, "John Brackwater", NULL),
                          *brack = find(&r, "Brackwater", NULL);
    CHECK(!find(&r, "John", NULL), "John (common in G) is a key");
    CHECK(jb && jb->kind == EXTRACT_PERSON && jb->gender == 0, "John Brackwater: male person");
    CHECK(brack && brack->kind == EXTRACT_PERSON, "Brackwater: person");
    for (int v = 0; jb && brack && v < jb->n_values && v < brack->n_values; v++) {
        const char *sp = strchr(jb->values[v], ' ');
        CHECK(sp && !strcmp(sp + 1, brack->values[v]), "John Brackwater -> %s, Brackwater -> %s",
              jb->values[v], brack->values[v]);
        char first[64];
        snprintf(first, sizeof first, "%.*s", sp ? (int)(sp - jb->values[v]) : 0, jb->values[v]);
        CHECK(in_list(first, male_names, 8), "John -> %s: not a male name", first);
    }
    /* no value of a person is a name of the target (Mary is in the female
     * list and in the target) */
    for (int i = 0; i < r.n; i++) {
        const ExtractProposal *p = &r.p[i];
        CHECK(p->n_values >= 1, "%s has no values", p->key);
        for (int v = 0; v < p->n_values; v++) {
            CHECK(strcmp(p->values[v], p->key), "%s maps to itself", p->key);
            if (p->kind != EXTRACT_PERSON) continue;
            char w[128];
            snprintf(w, sizeof w, "%s", p->values[v]);
            for (char *s = strtok(w, " "); s; s = strtok(NULL, " "))
                CHECK(!target_has_word(s), "%s -> %s: '%s' occurs in the target", p->key,
                      p->values[v], s);
        }
    }
    extract_free(&r);
}

static void test_seed_determinism(void) {
    ExtractResult a, b, c;
    int rc = run_extract(&a, 7, NULL, NULL, NULL);
    if (!rc && (rc = run_extract(&b, 7, NULL, NULL, NULL))) extract_free(&a);
    if (!rc && (rc = run_extract(&c, 8, NULL, NULL, NULL))) extract_free(&a), extract_free(&b);
    if (rc) {
        CHECK(0, "extract failed");
        return;
    }
    char *ja = extract_dict_json(&a), *jb = extract_dict_json(&b), *jc = extract_dict_json(&c);
    CHECK(ja && jb && !strcmp(ja, jb), "same seed, different dictionaries");
    CHECK(jc && strcmp(ja, jc), "another seed gave the same values");
    CHECK(a.n == c.n, "keys %d vs %d", a.n, c.n);
    for (int i = 0; i < a.n && i < c.n; i++)
        CHECK(!strcmp(a.p[i].key, c.p[i].key), "seed changed key %d", i);
    free(ja);
    free(jb);
    free(jc);
    extract_free(&a);
    extract_free(&b);
    extract_free(&c);
}

static void test_file_loads(void) {
    ExtractResult r;
    if (run_extract(&r, 1, NULL, NULL, NULL)) {
        CHECK(0, "extract failed");
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/ob_extract_%d.json", (int)getpid());
    ObErr err;
    CHECK(extract_save(&r, path, &err) == 0, "save: %s", err.msg);
    AnchorDict d;
    int rc = anchors_load(&d, path, &err);
    CHECK(rc == 0, "load: %s", err.msg);
    if (!rc) {
        CHECK(d.n == r.n, "%d keys loaded of %d", d.n, r.n);
        for (int i = 0; i < r.n; i++) {
            int a = anchors_find(&d, r.p[i].key);
            CHECK(a >= 0, "%s not loaded", r.p[i].key);
            if (a >= 0) CHECK(d.items[a].n_values == r.p[i].n_values, "%s values", r.p[i].key);
        }
        anchors_free(&d);
    }
    /* the report is JSON with every proposal */
    char *rep = extract_report_json(&r, NULL, 0);
    CHECK(rep && strstr(rep, "\"proposals\"") && strstr(rep, "\"Zorblax\""), "report");
    free(rep);
    unlink(path);
    extract_free(&r);
}

static void test_expect_rule(void) {
    ExtractProposal p[3] = {{0}};
    p[0].key = "Holmes";
    p[1].key = "Baker Street";
    p[2].key = "Adlerian";
    ExtractResult r = {0};
    r.p = p;
    r.n = 3;
    const char *list = "# comment\n"
                       "Sherlock Holmes\tHolmes\n" /* found by its head */
                       "Baker Street\tBaker\n"     /* found itself */
                       "Irene Adler\tAdler\n"      /* Adlerian is no match */
                       "\n"
                       "Stoke Moran\tStoke|Moran\n" /* neither head */
                       "Holm\n";                    /* no substring match */
    int found, total;
    char *misses;
    ObErr err;
    CHECK(extract_expect(&r, list, strlen(list), &found, &total, &misses, &err) == 0, "%s",
          err.msg);
    CHECK(found == 2 && total == 5, "found %d of %d", found, total);
    CHECK(!strcmp(misses, "Irene Adler, Stoke Moran, Holm"), "misses '%s'", misses);
    free(misses);
}

static LlamaConfig extract_shape(int vocab) {
    return tiny_shape(32, 1, 2, 2, 64, vocab, 64, 1);
}

static void test_model_evidence(void) {
    Tokenizer tok = {0};
    Llama base = {0}, reinf = {0};
    ObErr err;
    const char *texts[2] = {target_text, general_text};
    size_t lens[2] = {target_len, general_len};
    LlamaConfig c;
    int rc = tok_train_texts(&tok, texts, lens, 2, 400, 0, &err);
    if (!rc) c = extract_shape(tok.n_vocab);
    rc = rc || llama_create(&base, &c, &err) || llama_create(&reinf, &c, &err);
    CHECK(rc == 0, "setup: %s", err.msg);
    if (rc) goto done;
    llama_init_random(&base, 1);
    llama_init_random(&reinf, 2);
    ExtractResult a, b, o;
    if (run_extract(&a, 1, &base, &reinf, &tok)) {
        CHECK(0, "extract with R failed");
        goto done;
    }
    CHECK(!strcmp(a.evidence, "reinforced-minus-base"), "evidence %s", a.evidence);
    CHECK(a.n_scored > 0, "no candidate scored");
    int scored = 0;
    for (int i = 0; i < a.n; i++) {
        scored += a.p[i].n_evidence > 0;
        CHECK(isfinite(a.p[i].evidence) && isfinite(a.p[i].final), "%s: not finite", a.p[i].key);
    }
    CHECK(scored > 0, "no proposal has model evidence");
    if (!run_extract(&b, 1, &base, &reinf, &tok)) {
        char *ja = extract_dict_json(&a), *jb = extract_dict_json(&b);
        CHECK(ja && jb && !strcmp(ja, jb), "dictionary not deterministic");
        for (int i = 0; i < a.n && i < b.n; i++)
            CHECK(a.p[i].evidence == b.p[i].evidence && a.p[i].final == b.p[i].final,
                  "evidence of %s not deterministic", a.p[i].key);
        free(ja), free(jb);
        extract_free(&b);
    } else {
        CHECK(0, "second extract failed");
    }
    /* base only: B's confidence beyond the unigram frequency in G */
    if (!run_extract(&o, 1, &base, NULL, &tok)) {
        CHECK(!strcmp(o.evidence, "base-minus-general-unigram"), "evidence %s", o.evidence);
        CHECK(o.n > 0 && o.n_scored > 0, "base-only run scored nothing");
        extract_free(&o);
    } else {
        CHECK(0, "base-only extract failed");
    }
    extract_free(&a);
done:
    llama_free(&base);
    llama_free(&reinf);
    if (tok.impl) tok_free(&tok);
}

static void test_errors(void) {
    ExtractText t = {"target", "", 0}, g = {"general", general_text, general_len};
    ExtractInput in = {&t, 1, &g, 1, NULL, NULL, NULL, NULL};
    ExtractConfig c;
    extract_config_default(&c);
    ExtractResult r;
    ObErr err;
    CHECK(extract_run(&in, &c, &r, &err) != 0 && strstr(err.msg, "no words"), "empty: %s", err.msg);
    Llama m = {0};
    in.base = &m;
    CHECK(extract_run(&in, &c, &r, &err) != 0 && strstr(err.msg, "tokenizer"), "no tok: %s",
          err.msg);
}

static void test_name_list(void) {
    const char *in = "Zoe\r\n  Anne \n\nAnne\nBea-Marie\nAaron\n";
    CorpusBuf b = {0};
    ObErr err;
    CHECK(corpus_name_list(in, strlen(in), &b, &err) == 0, "%s", err.msg);
    CHECK(b.data && !strcmp(b.data, "Aaron\nAnne\nBea-Marie\nZoe\n"), "got '%s'",
          b.data ? b.data : "");
    corpus_buf_free(&b);
    CHECK(corpus_name_list("\n \n", 3, &b, &err) != 0, "no names accepted");
    CHECK(corpus_name_list("A\tB\n", 4, &b, &err) != 0, "tab inside a name accepted");
    corpus_buf_free(&b);
    NameList l;
    CHECK(extract_names_parse(&l, in, strlen(in), &err) == 0 && l.n == 5 &&
              !strcmp(l.names[0], "Zoe") && !strcmp(l.names[1], "Anne"),
          "parse: %d names", l.n);
    extract_names_free(&l);
}

int main(void) {
    target_text = make_target(&target_len);
    general_text = make_general(&general_len);
    lists[0] = (NameList){(char **)female_names, 10};
    lists[1] = (NameList){(char **)male_names, 8};
    RUN(test_log_odds);
    RUN(test_names_rank_first);
    RUN(test_people_and_gender);
    RUN(test_seed_determinism);
    RUN(test_file_loads);
    RUN(test_expect_rule);
    RUN(test_model_evidence);
    RUN(test_errors);
    RUN(test_name_list);
    free(target_text);
    free(general_text);
    return check_main_end("extract");
}
