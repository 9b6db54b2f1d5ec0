/* Evaluation: the JSON Lines reader's records and file:line errors, and
 * token-probability familiarity on a tiny model trained here to say
 * "Sherlock Holmes", checked against a hand computation from llama_forward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "eval/familiarity.h"
#include "eval/jsonl.h"
#include "helpers.h"
#include "tiny.h"
#include "tmpdir.h"
#include "train/trainer.h"

static const JsonlField PAIR[] = {
    {"prompt", JSONL_STRING, 1},
    {"continuation", JSONL_TEXT, 1},
    {"story", JSONL_INT, 0},
    {NULL, 0, 0},
};

/* Loads text as a .jsonl file that must fail; returns the error message. */
static const char *load_error(const char *name, const char *text, const JsonlField *fields) {
    static ObErr err;
    JsonlFile f;
    const char *path = tmp_file(name, text);
    if (jsonl_load(&f, path, fields, &err) == 0) {
        jsonl_free(&f);
        return "(loaded without error)";
    }
    CHECK(f.n == 0 && f.items == NULL, "a failed load left records");
    /* The message is about the file: starts with its path. */
    CHECK(strncmp(err.msg, path, strlen(path)) == 0, "message does not name the file: %s", err.msg);
    CHECK(strchr(err.msg, '\n') == NULL, "message is not one line: %s", err.msg);
    return err.msg + strlen(path);
}

static void test_jsonl_good(void) {
    const char *path =
        tmp_file("good.jsonl", "\xEF\xBB\xBF{\"prompt\": \"Sherlock\", \"continuation\": \" "
                               "Holmes\", \"story\": 1}\n"
                               "\n"
                               "   \t\n"
                               "{\"prompt\": \"\", \"continuation\": \" Watson\", \"extra\": "
                               "[1, 2]}\r\n"
                               "\r\n"
                               "  {\"continuation\": \" Adler\", \"prompt\": \"Irene\"}  ");
    JsonlFile f;
    ObErr err;
    int rc = jsonl_load(&f, path, PAIR, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(f.n == 3, "%d records", f.n);
    CHECK(f.n == 3 && f.lines[0] == 1 && f.lines[1] == 4 && f.lines[2] == 6,
          "line numbers %d %d %d", f.lines[0], f.lines[1], f.lines[2]);
    CHECK(!strcmp(jsonl_str(f.items[0], "continuation", ""), " Holmes"), "field value");
    CHECK(jsonl_int(f.items[0], "story", 0) == 1 && jsonl_int(f.items[1], "story", -1) == -1,
          "optional int field");
    CHECK(!strcmp(jsonl_str(f.items[1], "prompt", "x"), ""), "empty prompt allowed");
    CHECK(!strcmp(jsonl_str(f.items[2], "prompt", ""), "Irene"), "third record");
    FamItem *items;
    CHECK(fam_items_from_jsonl(&f, &items, &err) == 0, "%s", err.msg);
    CHECK(items[2].line == 6 && !strcmp(items[2].continuation, " Adler"), "items");
    free(items);
    /* A caller's own check reports the record's line. */
    jsonl_errf(&f, 2, &err, "prompt '%s' is odd", "Irene");
    CHECK(strstr(err.msg, "good.jsonl:6: prompt 'Irene' is odd") != NULL, "%s", err.msg);
    jsonl_free(&f);
    CHECK(f.n == 0 && f.items == NULL, "jsonl_free");
}

static void test_jsonl_errors(void) {
    const char *ok = "{\"prompt\": \"a\", \"continuation\": \" b\"}\n";
    char text[512];
    const char *m;
    snprintf(text, sizeof text, "%s\n%s{\"prompt\": \"a\", \"continuation\": }\n%s", ok, ok, ok);
    m = load_error("malformed.jsonl", text, PAIR);
    CHECK(!strncmp(m, ":4: not valid JSON", 18), "malformed: %s", m);
    snprintf(text, sizeof text, "%s{\"prompt\": \"a\"}\n", ok);
    m = load_error("missing.jsonl", text, PAIR);
    CHECK(!strcmp(m, ":2: field \"continuation\" missing"), "missing: %s", m);
    snprintf(text, sizeof text, "%s%s{\"prompt\": 7, \"continuation\": \" b\"}\n", ok, ok);
    m = load_error("type.jsonl", text, PAIR);
    CHECK(!strcmp(m, ":3: field \"prompt\" must be a string, not a number"), "type: %s", m);
    m = load_error("story.jsonl", "{\"prompt\": \"a\", \"continuation\": \" b\", \"story\": 1.5}",
                   PAIR);
    CHECK(!strcmp(m, ":1: field \"story\" must be an integer, not a number"), "int: %s", m);
    m = load_error("emptycont.jsonl", "{\"prompt\": \"a\", \"continuation\": \"\"}", PAIR);
    CHECK(!strcmp(m, ":1: field \"continuation\" is empty"), "empty string: %s", m);
    m = load_error("array.jsonl", "[1, 2]\n", PAIR);
    CHECK(!strcmp(m, ":1: expected a JSON object, found an array"), "array: %s", m);
    snprintf(text, sizeof text, "%s%s {} {}\n", ok, ok);
    m = load_error("two.jsonl", text, NULL);
    CHECK(strstr(m, ":3: not valid JSON (unexpected text") == m, "two values: %s", m);
    m = load_error("dup.jsonl", "{\"prompt\": \"a\", \"continuation\": \" b\", \"prompt\": \"c\"}",
                   PAIR);
    CHECK(!strcmp(m, ":1: field \"prompt\" appears twice"), "duplicate: %s", m);
    m = load_error("nul.jsonl", "{\"prompt\": \"a\\\\u0000\", \"continuation\": \" b\\u0000\"}",
                   PAIR);
    CHECK(!strcmp(m, ":1: \\u0000 (a NUL character) at column 43 is not supported"), "NUL: %s", m);
    m = load_error("empty.jsonl", "", PAIR);
    CHECK(strstr(m, ": no records") == m, "empty: %s", m);
    m = load_error("blank.jsonl", "\n  \n\r\n", PAIR);
    CHECK(strstr(m, ": no records") == m, "blank: %s", m);
    snprintf(text, sizeof text, "%s{\"prompt\": \"caf\xe9\", \"continuation\": \" b\"}\n", ok);
    m = load_error("latin1.jsonl", text, PAIR);
    CHECK(!strcmp(m, ":2: not UTF-8 (invalid byte 0xe9 at column 16)"), "latin-1: %s", m);
    ObErr err;
    JsonlFile f;
    CHECK(jsonl_load(&f, tmp("nothere.jsonl"), PAIR, &err) == -1 &&
              strstr(err.msg, "nothere.jsonl: cannot open"),
          "missing file: %s", err.msg);
}

/* The shipped prompts file: well formed, every line tagged with its story. */
static void test_sherlock_prompts(void) {
    static const JsonlField fields[] = {
        {"prompt", JSONL_TEXT, 1},
        {"continuation", JSONL_TEXT, 1},
        {"story", JSONL_INT, 1},
        {NULL, 0, 0},
    };
    JsonlFile f;
    ObErr err;
    int rc = jsonl_load(&f, "data/familiarity/sherlock.jsonl", fields, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(f.n >= 40, "only %d prompts", f.n);
    int held_out = 0;
    for (int i = 0; i < f.n; i++) {
        int s = jsonl_int(f.items[i], "story", 0);
        const char *c = jsonl_str(f.items[i], "continuation", "");
        CHECK(s >= 1 && s <= 12, "line %d: story %d", f.lines[i], s);
        CHECK(c[0] == ' ', "line %d: continuation '%s' does not start with a space", f.lines[i], c);
        held_out += s >= 11;
    }
    CHECK(held_out <= 5, "%d prompts from the held-out stories", held_out);
    jsonl_free(&f);
}

/* ---- familiarity ---- */

/* One sentence per line so "Sherlock" (no leading space) starts many lines,
 * as it starts the prompt. */
static char *make_text(size_t *len) {
    const char *lines[] = {"Sherlock Holmes lit his pipe by the fire.\n",
                           "A cat sat on a mat.\n",
                           "Sherlock Holmes looked out of the window.\n",
                           "Rain falls on green hills.\n",
                           "Ships sail across the sea.\n",
                           "Birds sing in the morning.\n"};
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap);
    for (int i = 0; n + 200 < cap; i++) n += (size_t)sprintf(buf + n, "%s", lines[i % 6]);
    *len = n;
    return buf;
}

static void test_familiarity(void) {
    size_t len;
    char *text = make_text(&len);
    const char *texts[1] = {text};
    Tokenizer tok;
    TokenStream ds = {0};
    ObErr err;
    int rc = tok_train_texts(&tok, texts, &len, 1, 320, 0, &err) ||
             dataset_append_text(&ds, &tok, text, len, &err);
    free(text);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    FamItem items[] = {
        {"Sherlock", " Holmes", 3},
        {"Sherlock", " Holmes lit his", 4}, /* several tokens */
        {"Sherlock ", "Holmes", 0},         /* prompt ends in a space: split != joint */
    };
    FamSet set;
    rc = fam_encode(&set, &tok, items, 3, "p.jsonl", &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) {
        tok_free(&tok), dataset_free(&ds);
        return;
    }
    CHECK(set.ids[0][0] == tok.eot_id, "items start with <|endoftext|>");
    CHECK(set.n_ids[1] - set.n_prompt[1] >= 2, "continuation 2 has %d tokens",
          set.n_ids[1] - set.n_prompt[1]);
    CHECK(!set.joint_differs[0] && !set.joint_differs[1], "usual items flagged");
    CHECK(set.joint_differs[2], "a prompt ending in a space is not flagged");

    Llama m;
    LlamaConfig c = tiny_config(tok.n_vocab);
    CHECK(llama_create(&m, &c, &err) == 0, "%s", err.msg);
    llama_init_random(&m, 3);
    FamResult before[3], after[3];
    CHECK(fam_score(&m, &set, before, &err) == 0, "%s", err.msg);
    CHECK(before[0].prob < 0.05, "untrained P(Holmes|Sherlock) = %g", before[0].prob);

    TrainConfig tc;
    train_config_defaults(&tc);
    tc.batch = 4, tc.seq = 48, tc.steps = 300, tc.warmup = 10, tc.lr = 3e-3f;
    tc.min_lr = 3e-4f, tc.log_every = 1000, tc.out_path = tmp("fam.gguf");
    TrainResult res;
    TrainData data = {.next = batch_from_stream, .ctx = &ds};
    rc = train_run(&m, &tok, &tc, &data, 0, &res, &err);
    CHECK(rc == 0, "%s", err.msg);
    CHECK(fam_score(&m, &set, after, &err) == 0, "%s", err.msg);
    fprintf(stderr, "  P(\" Holmes\" | \"Sherlock\"): untrained %.4f (rank %d), trained %.4f\n",
            before[0].prob, before[0].first_rank, after[0].prob);
    CHECK(after[0].prob > 0.5, "trained P(Holmes|Sherlock) = %g", after[0].prob);
    CHECK(after[0].first_rank == 1 && after[0].first_is_argmax, "rank %d, argmax %d",
          after[0].first_rank, after[0].argmax);
    CHECK(fabs(after[0].prob - exp(after[0].logp)) < 1e-12, "prob = exp(logp)");
    CHECK(after[0].n_tokens > 1 || fabs(after[0].first_prob - after[0].prob) < 1e-9,
          "one-token continuation: first_prob = prob");
    CHECK(before[0].first_rank > 1, "untrained rank %d", before[0].first_rank);

    /* The multi-token log-probability equals the sum from llama_forward. */
    for (int i = 0; i < 2; i++) {
        double want = logp_by_hand(&m, set.ids[i], set.n_ids[i], set.n_prompt[i]);
        CHECK(fabs(after[i].logp - want) < 1e-4, "item %d: logp %.6f, by hand %.6f", i,
              after[i].logp, want);
    }

    /* Summary over the two usual items. */
    FamSummary sum;
    fam_summarise(after, 2, &sum);
    CHECK(fabs(sum.mean_prob - (after[0].prob + after[1].prob) / 2) < 1e-12, "mean prob");
    CHECK(fabs(sum.median_rank - (after[0].first_rank + after[1].first_rank) / 2.0) < 1e-12,
          "median of two ranks");
    CHECK(sum.top1_share == (after[0].first_is_argmax + after[1].first_is_argmax) / 2.0,
          "top-1 share");

    /* Too long for the model's context: the error names file and line. */
    char long_prompt[1024] = "";
    for (int i = 0; i < 60; i++) strcat(long_prompt, "Sherlock Holmes ");
    FamItem big = {long_prompt, " Holmes", 9};
    FamSet bs;
    CHECK(fam_encode(&bs, &tok, &big, 1, "p.jsonl", &err) == 0, "%s", err.msg);
    CHECK(fam_score(&m, &bs, after, &err) == -1 && strstr(err.msg, "p.jsonl:9: ") == err.msg &&
              strstr(err.msg, "context 64"),
          "long item: %s", err.msg);
    fam_set_free(&bs);
    llama_free(&m);

    /* A model with another vocabulary is refused. */
    c.vocab = tok.n_vocab + 1;
    CHECK(llama_create(&m, &c, &err) == 0, "%s", err.msg);
    CHECK(fam_score(&m, &set, after, &err) == -1 && strstr(err.msg, "vocabulary"), "vocab: %s",
          err.msg);
    llama_free(&m);
    fam_set_free(&set);
    dataset_free(&ds);
    tok_free(&tok);
}

static void test_summary_median(void) {
    FamResult r[5] = {{.first_rank = 7},
                      {.first_rank = 1, .first_is_argmax = 1},
                      {.first_rank = 3},
                      {.first_rank = 100},
                      {.first_rank = 2}};
    for (int i = 0; i < 5; i++) r[i].logp = -i, r[i].prob = exp(-i);
    FamSummary s;
    fam_summarise(r, 5, &s);
    CHECK(s.median_rank == 3, "odd median %g", s.median_rank);
    CHECK(fabs(s.mean_logp + 2) < 1e-12, "mean logp %g", s.mean_logp);
    CHECK(fabs(s.top1_share - 0.2) < 1e-12, "top-1 share %g", s.top1_share);
    fam_summarise(r, 4, &s);
    CHECK(s.median_rank == 5, "even median %g", s.median_rank);
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_jsonl_good);
    RUN(test_jsonl_errors);
    RUN(test_sherlock_prompts);
    RUN(test_summary_median);
    RUN(test_familiarity);
    tmpdir_remove();
    return check_main_end("eval");
}
