/* tokenizer.json: the byte-level pre-tokenizers of GPT-2, Llama-3 and SmolLM
 * (where each splits digits, told apart by what merges can reach), Llama-3's
 * whole-piece lookup, write/read round trips, GGUF round trips, and refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "helpers.h"
#include "text/tokenizer_gguf.h"
#include "text/tokenizer_hf.h"

static const char *const PRE[3] = {
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}",
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
    "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
    "false,\"trim_offsets\":true,\"use_regex\":false}]}",
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}]"
    "}",
};

/* GPT-2's byte -> character map, as UTF-8. */
static void byte_char(int b, char out[3]) {
    int cp = b <= 32 ? 256 + b : (b >= 127 && b <= 160) ? b + 162 : b == 173 ? 323 : b;
    if (cp < 0x80)
        out[0] = (char)cp, out[1] = 0;
    else
        out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

/* 256 byte tokens, merges 1 2 / 12 3 / 123 4, a lone "Ġhello" token no
 * merge makes, and <|endoftext|>. */
static char *make_json(int pre) {
    size_t cap = 1 << 16, k = 0;
    char *s = malloc(cap), c[3];
    k += (size_t)snprintf(s + k, cap - k,
                          "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":262,\"content\":"
                          "\"<|endoftext|>\",\"special\":true}],\"normalizer\":null,"
                          "\"pre_tokenizer\":%s,\"model\":{\"type\":\"BPE\",\"vocab\":{",
                          PRE[pre]);
    for (int b = 0; b < 256; b++) {
        byte_char(b, c);
        if (b == '"' || b == '\\')
            k += (size_t)snprintf(s + k, cap - k, "\"\\%s\":%d,", c, b);
        else
            k += (size_t)snprintf(s + k, cap - k, "\"%s\":%d,", c, b);
    }
    k += (size_t)snprintf(s + k, cap - k,
                          "\"12\":256,\"123\":257,\"1234\":258,\"\xc4\xa0hello\":259,\"ab\":260,"
                          "\"abc\":261},\"merges\":[\"1 2\",[\"12\",\"3\"],\"123 4\",\"a b\","
                          "\"ab c\"]}}");
    return s;
}

static void test_pre_tokenizers(void) {
    Tokenizer t[3];
    ObErr err;
    for (int p = 0; p < 3; p++) {
        char *js = make_json(p);
        CHECK(tokenizer_hf_parse(&t[p], js, strlen(js), "tokenizer.json", -1, -1, 0, &err) == 0,
              "pre %d: %s", p, err.msg);
        free(js);
        CHECK(t[p].pre == p && t[p].kind == TOK_BPE && t[p].eot_id == 262, "pre %d read as %d", p,
              t[p].pre);
    }
    /* GPT-2: "1234" is one piece; Llama-3: "123" "4"; SmolLM: one digit each */
    CHECK(encode_is(&t[0], "1234", (int32_t[]){258}, 1), "gpt-2");
    CHECK(encode_is(&t[1], "1234", (int32_t[]){257, '4'}, 2), "llama-bpe");
    CHECK(encode_is(&t[2], "1234", (int32_t[]){'1', '2', '3', '4'}, 4), "smollm");
    CHECK(encode_is(&t[0], "abc", (int32_t[]){261}, 1), "merges");
    /* Llama-3 takes a piece that is a token whole (ignore_merges) */
    CHECK(encode_is(&t[1], " hello", (int32_t[]){259}, 1), "llama-bpe whole piece");
    for (int p = 0; p < 3; p++) tok_free(&t[p]);
}

static void test_round_trips(void) {
    char dir[] = "/tmp/obliviate-tokhf-XXXXXX", path[128], gg[128];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(gg, sizeof gg, "%s/tok.gguf", dir);
    for (int p = 0; p < 3; p++) {
        Tokenizer a, b, c;
        ObErr err;
        char *js = make_json(p);
        CHECK(tokenizer_hf_parse(&a, js, strlen(js), "t.json", -1, -1, 0, &err) == 0, "%s",
              err.msg);
        free(js);
        CHECK(tokenizer_hf_write(&a, path, &err) == 0, "%s", err.msg);
        CHECK(tokenizer_hf_read(&b, path, -1, -1, 0, &err) == 0, "%s", err.msg);
        CHECK(tokenizer_save(&a, gg, &err) == 0 && tokenizer_load(&c, gg, &err) == 0, "%s",
              err.msg);
        CHECK(tok_vocab_hash(&a) == tok_vocab_hash(&b) && tok_vocab_hash(&a) == tok_vocab_hash(&c),
              "pre %d: tokenizer changed in a round trip", p);
        CHECK(b.pre == p && c.pre == p, "pre %d came back as %d / %d", p, b.pre, c.pre);
        tok_free(&a), tok_free(&b), tok_free(&c);
    }
    unlink(path);
    unlink(gg);
    rmdir(dir);
}

static void refused(const char *json, const char *want) {
    Tokenizer t;
    ObErr err;
    int rc = tokenizer_hf_parse(&t, json, strlen(json), "tok.json", -1, -1, 0, &err);
    CHECK(rc != 0, "accepted %s", json);
    if (!rc) tok_free(&t);
    CHECK(rc == 0 || (strstr(err.msg, want) && !strncmp(err.msg, "tok.json: ", 10)),
          "'%s' lacks '%s'", err.msg, want);
}

static void test_refusals(void) {
    refused("[]", "not a JSON object");
    refused("{\"model\":{\"type\":\"Unigram\"}}", "model type Unigram is not supported");
    refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":2},\"merges\":[]}}",
            "no token has id 1");
    refused("{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"BPE\",\"vocab\":"
            "{\"a\":0},\"merges\":[]}}",
            "pre_tokenizer Whitespace is not supported");
    refused(
        "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{\"a\":0},\"merges\":[]}}",
        "replacement is not supported");
}

int main(void) {
    RUN(test_pre_tokenizers);
    RUN(test_round_trips);
    RUN(test_refusals);
    return check_main_end("tokenizer json");
}
