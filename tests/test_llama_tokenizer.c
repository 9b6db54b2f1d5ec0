/* The SentencePiece-style (Llama-2) tokenizer against npm llama-tokenizer-js:
 * a tokenizer GGUF is built from the package's vocabulary, written and read
 * back, and 1,200 varied strings (ASCII, punctuation, digits, whitespace runs,
 * newlines, accents, CJK, emoji, characters only byte fallback can spell) are
 * encoded by both; the ids must be identical. Plus unit tests on a small
 * hand-made vocabulary that need nothing installed. Without node or the
 * package (tools/llamatok/setup.sh) the comparison prints SKIP. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "helpers.h"
#include "text/tokenizer.h"
#include "text/tokenizer_gguf.h"
#include "util/fileio.h"

#define N_STRINGS 1200

static char tmpdir[] = "/tmp/obliviate-llamatok-XXXXXX";

/* ---- a small vocabulary for unit tests ---- */

static int build_small(Tokenizer *t, ObErr *err) {
    static const char *const base[] = {"<unk>", "<s>", "</s>"};
    static const char *const rest[] = {"\xe2\x96\x81",
                                       "a",
                                       "b",
                                       "c",
                                       "\xe2\x96\x81"
                                       "a",
                                       "ab",
                                       "\xe2\x96\x81"
                                       "ab",
                                       "bc",
                                       "abc",
                                       "\xc3\xa9"};
    static const float rest_scores[] = {0, 0, 0, 0, -3, -1, -2, -4, -5, 0};
    const char *tokens[3 + 256 + 10];
    char bytes[256][8];
    float scores[3 + 256 + 10] = {0};
    int32_t types[3 + 256 + 10];
    int n = 0;
    for (int i = 0; i < 3; i++) types[n] = i ? 3 : 2, tokens[n++] = base[i];
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        types[n] = 6, tokens[n++] = bytes[b];
    }
    for (int i = 0; i < 10; i++) types[n] = 1, scores[n] = rest_scores[i], tokens[n++] = rest[i];
    TokSpec s = tok_spec_llama(n, tokens, scores, types);
    return tok_build(t, &s, err);
}

/* ids: 259 ▁, 260 a, 261 b, 262 c, 263 ▁a, 264 ab, 265 ▁ab, 266 bc, 267 abc, 268 é */
static void test_merge_by_score(void) {
    Tokenizer t;
    ObErr err;
    CHECK(build_small(&t, &err) == 0, "%s", err.msg);
    /* "▁abc": ab (-1) beats ▁a (-3) and bc (-4); then ▁ab (-2) beats abc (-5) */
    CHECK(encode_is(&t, "abc", (int32_t[]){265, 262}, 2), "abc");
    CHECK(encode_is(&t, "bc", (int32_t[]){259, 266}, 2), "bc");
    /* é is a token; ü is not and falls back to its two bytes */
    CHECK(encode_is(&t, "\xc3\xa9", (int32_t[]){259, 268}, 2), "é");
    CHECK(encode_is(&t, "\xc3\xbc", (int32_t[]){259, 3 + 0xC3, 3 + 0xBC}, 3), "ü");
    CHECK(encode_is(&t, "a b", (int32_t[]){263, 259, 261}, 3), "a b");
    char *s;
    size_t n;
    CHECK(tok_decode(&t, (int32_t[]){265, 262, 259, 3 + 0xC3, 3 + 0xBC}, 5, &s, &n, &err) == 0,
          "%s", err.msg);
    CHECK(!strcmp(s, " abc \xc3\xbc"), "decoded '%s'", s);
    free(s);
    tok_free(&t);
}

static void test_gguf_round_trip(void) {
    Tokenizer t, u;
    ObErr err;
    char p[128];
    snprintf(p, sizeof p, "%s/small.gguf", tmpdir);
    CHECK(build_small(&t, &err) == 0, "%s", err.msg);
    CHECK(tokenizer_save(&t, p, &err) == 0, "%s", err.msg);
    CHECK(tokenizer_load(&u, p, &err) == 0, "%s", err.msg);
    CHECK(u.kind == TOK_SPM && u.bos_id == 1 && u.eos_id == 2 && u.unk_id == 0 && u.add_bos &&
              u.add_space_prefix && u.eot_id == 1,
          "metadata lost");
    CHECK(tok_vocab_hash(&t) == tok_vocab_hash(&u), "vocabulary changed");
    CHECK(encode_is(&u, "abc", (int32_t[]){265, 262}, 2), "abc after reload");
    tok_free(&t);
    tok_free(&u);
}

/* ---- llama-tokenizer-js ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33) % n;
}

static const char *const PIECES[] = {
    "Harry",
    "Potter",
    "went",
    "to",
    "Hogwarts",
    "the",
    "of",
    "and",
    "unbelievable",
    "Dumbledore's",
    "don't",
    "I'm",
    "it's",
    "naïve",
    "café",
    "résumé",
    "Zürich",
    "Ærø",
    "São Paulo",
    "jalapeño",
    "façade",
    "Ελληνικά",
    "русский",
    "日本語",
    "中文字符",
    "한국어",
    "ひらがな",
    "カタカナ",
    "العربية",
    "हिन्दी",
    "ไทย",
    "😀",
    "👍🏽",
    "👨‍👩‍👧",
    "🇫🇷",
    "🦄",
    "∑∫√",
    "→⇒",
    "©®™",
    "€£¥",
    "½¾",
    "\xef\xbf\xbd",
    "\xee\x80\x80",
    "\xf0\x9d\x94\x98",
    "\xf0\x9f\xa7\xbf",
    "\xe1\x9a\xa0",
    "\xea\x99\xae",
    "0",
    "1",
    "42",
    "3.14159",
    "2024",
    "1,000,000",
    "007",
    "x86_64",
    "C++",
    "e.g.",
    "U.S.A.",
    "#hashtag",
    "@user",
    "<s>",
    "</s>",
    "<unk>",
    "<0x0A>",
    "\xe2\x96\x81",
    "http://example.com/a?b=c",
    "a_b-c",
    "(parens)",
    "[brackets]",
    "{braces}",
    "\"quotes\"",
    "'single'",
    "`tick`",
    "...",
    "!!!",
    "???",
    ";",
    ":",
    "--",
    "—",
    "–",
    "…",
    "«»",
    "¿¡",
};
#define N_PIECES (sizeof PIECES / sizeof PIECES[0])
static const char *const SPACES[] = {" ",  " ",    " ",    "  ", "   ", "\n",   "\n\n",
                                     "\t", " \n ", "\r\n", "",   "",    "    ", " \t "};
#define N_SPACES (sizeof SPACES / sizeof SPACES[0])

/* A string of 1-12 pieces joined by random whitespace, sometimes with
 * leading or trailing whitespace. */
static void gen(char *out, size_t cap) {
    size_t k = 0;
    int n = 1 + (int)rnd(12);
    if (rnd(6) == 0) k += (size_t)snprintf(out + k, cap - k, "%s", SPACES[rnd(N_SPACES)]);
    for (int i = 0; i < n && k + 64 < cap; i++) {
        if (i) k += (size_t)snprintf(out + k, cap - k, "%s", SPACES[rnd(N_SPACES)]);
        const char *p = PIECES[rnd(N_PIECES)];
        if (rnd(8) == 0) { /* digits runs */
            k += (size_t)snprintf(out + k, cap - k, "%u", rnd(1000000));
        } else {
            k += (size_t)snprintf(out + k, cap - k, "%s", p);
        }
    }
    if (rnd(6) == 0 && k + 8 < cap)
        k += (size_t)snprintf(out + k, cap - k, "%s", SPACES[rnd(N_SPACES)]);
    if (k == 0) snprintf(out, cap, "x");
}

static int run(const char *cmd) {
    return system(cmd) == 0;
}

/* The package's vocabulary -> a tokenizer GGUF -> read back (the GGUF path
 * is what obliviate uses for models). */
static int load_package_vocab(Tokenizer *t) {
    char cmd[512], vj[128], gg[128];
    ObErr err;
    snprintf(vj, sizeof vj, "%s/vocab.json", tmpdir);
    snprintf(gg, sizeof gg, "%s/llama2-tok.gguf", tmpdir);
    snprintf(cmd, sizeof cmd, "node tools/llamatok/llamatok.mjs vocab %s", vj);
    if (!run(cmd)) return 0;
    cJSON *j = read_json(vj);
    const cJSON *tk = cJSON_GetObjectItem(j, "tokens"), *sc = cJSON_GetObjectItem(j, "scores"),
                *ty = cJSON_GetObjectItem(j, "types");
    int n = cJSON_GetArraySize(tk), ok = n == 32000;
    const char **tokens = calloc((size_t)n, sizeof *tokens);
    float *scores = calloc((size_t)n, sizeof *scores);
    int32_t *types = calloc((size_t)n, sizeof *types);
    const cJSON *a = tk->child, *b = sc->child, *c = ty->child;
    for (int i = 0; i < n; i++, a = a->next, b = b->next, c = c->next) {
        tokens[i] = a->valuestring;
        scores[i] = (float)b->valuedouble;
        types[i] = (int32_t)c->valuedouble;
    }
    TokSpec s = tok_spec_llama(n, tokens, scores, types);
    Tokenizer built;
    ok = ok && tok_build(&built, &s, &err) == 0;
    if (ok) {
        ok = tokenizer_save(&built, gg, &err) == 0 && tokenizer_load(t, gg, &err) == 0;
        tok_free(&built);
    }
    if (!ok) fprintf(stderr, "  vocabulary: %s\n", err.msg);
    free(tokens);
    free(scores);
    free(types);
    cJSON_Delete(j);
    return ok;
}

static void test_llama_tokenizer_js(void) {
    Tokenizer t;
    CHECK(load_package_vocab(&t), "could not build the tokenizer from llama-tokenizer-js");
    if (check_failures_in_test) return;
    static char texts[N_STRINGS][512];
    snprintf(texts[0], sizeof texts[0], "Harry Potter went to Hogwarts.");
    for (int i = 1; i < N_STRINGS; i++) gen(texts[i], sizeof texts[i]);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < N_STRINGS; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(texts[i]));
    char in[128], out[128], cmd[512];
    snprintf(in, sizeof in, "%s/texts.json", tmpdir);
    snprintf(out, sizeof out, "%s/ids.json", tmpdir);
    char *js = cJSON_PrintUnformatted(arr);
    FILE *fp = fopen(in, "w");
    fputs(js, fp);
    fclose(fp);
    free(js);
    cJSON_Delete(arr);
    snprintf(cmd, sizeof cmd, "node tools/llamatok/llamatok.mjs encode %s %s", in, out);
    CHECK(run(cmd), "llama-tokenizer-js failed");
    cJSON *res = read_json(out);
    CHECK(cJSON_GetArraySize(res) == N_STRINGS, "got %d results", cJSON_GetArraySize(res));
    int mismatches = 0, tokens = 0, i = 0;
    for (const cJSON *r = res ? res->child : NULL; r; r = r->next, i++) {
        int32_t *ids;
        size_t n;
        ObErr err;
        CHECK(tok_encode(&t, texts[i], strlen(texts[i]), &ids, &n, &err) == 0, "%s", err.msg);
        int same = (size_t)cJSON_GetArraySize(r) == n + 1 && (int)r->child->valuedouble == t.bos_id;
        size_t k = 0;
        for (const cJSON *x = r->child ? r->child->next : NULL; same && x; x = x->next, k++)
            same = (int)x->valuedouble == ids[k];
        tokens += (int)n;
        if (!same && mismatches++ < 5) {
            char *theirs = cJSON_PrintUnformatted(r);
            fprintf(stderr, "  mismatch on \"%s\": ours", texts[i]);
            for (size_t q = 0; q < n; q++) fprintf(stderr, " %d", ids[q]);
            fprintf(stderr, ", theirs %s\n", theirs);
            free(theirs);
        }
        free(ids);
    }
    static const int32_t harry[] = {1, 10686, 10173, 357, 3512, 304, 27675, 29893, 5708, 29889};
    int32_t *ids;
    size_t n;
    ObErr err;
    tok_encode(&t, texts[0], strlen(texts[0]), &ids, &n, &err);
    CHECK(n == 9 && !memcmp(ids, harry + 1, sizeof harry - 4), "Harry Potter sentence");
    free(ids);
    CHECK(mismatches == 0, "%d of %d strings differ", mismatches, N_STRINGS);
    printf("llama-tokenizer-js: %d strings, %d tokens, %d mismatches\n", i, tokens, mismatches);
    cJSON_Delete(res);
    tok_free(&t);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return perror("mkdtemp"), 1;
    RUN(test_merge_by_score);
    RUN(test_gguf_round_trip);
    if (access("tools/llamatok/node_modules/llama-tokenizer-js/package.json", F_OK) != 0 ||
        system("node --version >/dev/null 2>&1") != 0)
        printf("SKIP llama-tokenizer-js comparison: node or tools/llamatok/node_modules missing "
               "(run tools/llamatok/setup.sh)\n");
    else
        RUN(test_llama_tokenizer_js);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_main_end("llama tokenizer");
}
