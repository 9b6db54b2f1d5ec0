/* Tests for the anchors-check analysis (unlearn/anchors_check.h) through its
 * API: key counts in a target, prefix conflicts, values that are keys,
 * shared first tokens, unused keys and pruning, in the struct, the JSON and
 * the table, against values worked out by hand below; and its errors.
 *
 * The tokenizer is trained as in test_anchors.c (the same text, 20 times,
 * 400 tokens), whose checks establish: "Sherlock", " Sherlock", " Holmes",
 * " Watson", " Jones", " Brown", " Tom", " Tomorrow", "Smith", " Smith" are
 * single tokens; "Watson" is W|at|son, "Jones" J|ones, "Tom" T|om. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchors_tok.h"
#include "check.h"
#include "helpers.h"
#include "tmpdir.h"
#include "unlearn/anchors_check.h"

/* Keys in byte order: 0 Moriarty, 1 Sherlock, 2 Sherlock Holmes, 3 Tom,
 * 4 Watson. By hand:
 *   prefix: Sherlock's tokens start Sherlock Holmes's in both forms;
 *   value is a key: Tom -> "Watson" (value 0) holds the key Watson;
 *   shared first tokens: "Jones" / "Jones Brown" (keys 1, 2) and "Smith" /
 *     "Smith" (keys 0, 4), each in form 0 and form 1: four runs of two;
 *   pruning: nothing (Holmes is no key). */
static const char *DICT = "{\"Sherlock\": \"Jones\", \"Sherlock Holmes\": \"Jones Brown\", "
                          "\"Tom\": [\"Watson\", \"Brown\"], \"Watson\": \"Smith\", "
                          "\"Moriarty\": \"Smith\"}";

/* Matches, scanning as the translation does: "Sherlock Holmes" (form 0,
 * the longer key wins over Sherlock), " Tom" twice (form 1), " Sherlock"
 * (form 1), " Watson" (form 1), "Watson" after the newline (form 0);
 * " Tomorrow" is one token, no Tom. Moriarty never occurs. */
static const char *TARGET = "Sherlock Holmes met Tom. Sherlock said Tom met Watson.\n"
                            "Watson said Tomorrow.";
static const long COUNT[5][2] = {{0, 0}, {0, 1}, {1, 0}, {0, 2}, {1, 1}};

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* The check of DICT over TARGET. */
static int analyse(AnchorDict *d, AnchorsCheck *c, ObErr *err) {
    const char *target = tmp("target.txt");
    CHECK(write_file(target, TARGET) == 0, "write target");
    return anchors_check_analyse(d, &tok, "t.json", &target, 1, c, err);
}

static void test_struct(void) {
    AnchorDict d;
    if (dict_from(&d, DICT)) return;
    AnchorsCheck c;
    ObErr err = {{0}};
    int rc = analyse(&d, &c, &err);
    CHECK(rc == 0, "analyse: %s", err.msg);
    if (rc) goto done;
    CHECK(d.n == 5 && d.n_dropped == 0, "keys %d, dropped %d", d.n, d.n_dropped);
    CHECK(anchors_find(&d, "Moriarty") == 0 && anchors_find(&d, "Watson") == 4, "key order");
    for (int a = 0; a < d.n; a++)
        CHECK(c.count[a][0] == COUNT[a][0] && c.count[a][1] == COUNT[a][1],
              "%s: count %ld + %ld, want %ld + %ld", d.items[a].key, c.count[a][0], c.count[a][1],
              COUNT[a][0], COUNT[a][1]);
    int32_t *ids;
    size_t n;
    CHECK(tok_encode(&tok, TARGET, strlen(TARGET), &ids, &n, &err) == 0, "encode");
    CHECK(c.have_target && c.target_tokens == (long)n, "target tokens %ld, want %zu",
          c.target_tokens, n);
    free(ids);
    CHECK(c.n_prefix == 1, "prefix conflicts: %d", c.n_prefix);
    if (c.n_prefix == 1)
        CHECK(c.prefix[0].a == 1 && c.prefix[0].b == 2 && c.prefix[0].forms == 3,
              "prefix %d of %d, forms %d", c.prefix[0].a, c.prefix[0].b, c.prefix[0].forms);
    CHECK(c.n_vkey == 1, "values holding keys: %d", c.n_vkey);
    if (c.n_vkey == 1)
        CHECK(c.vkey[0].a == 3 && c.vkey[0].v == 0 && c.vkey[0].n_keys == 1 &&
                  c.vkey[0].keys[0] == 4,
              "value is key: %d/%d", c.vkey[0].a, c.vkey[0].v);
    CHECK(c.n_first == 12, "first tokens: %d (6 values, 2 forms)", c.n_first);
    /* the runs of equal (form, token) */
    int runs = 0, shared = 0, pairs[2] = {0, 0};
    for (int i = 0, j; i < c.n_first; i = j, runs++) {
        for (j = i + 1; j < c.n_first && c.first[j].form == c.first[i].form &&
                        c.first[j].tok == c.first[i].tok;
             j++) {
        }
        if (j - i == 1) continue;
        shared++;
        CHECK(j - i == 2, "a run of %d", j - i);
        int a = c.first[i].a, b = c.first[i + 1].a;
        pairs[0] += a == 1 && b == 2;
        pairs[1] += a == 0 && b == 4;
    }
    CHECK(runs == 8 && shared == 4, "runs %d, shared %d", runs, shared);
    CHECK(pairs[0] == 2 && pairs[1] == 2, "pairs: Sherlock %d, Smith %d", pairs[0], pairs[1]);
done:
    anchors_check_free(&c);
    anchors_free(&d);
}

static const cJSON *item(const cJSON *o, const char *path) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok(buf, "."); k && o; k = strtok(NULL, "."))
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItem(o, k);
    return o;
}

static void test_json_and_table(void) {
    AnchorDict d;
    if (dict_from(&d, DICT)) return;
    AnchorsCheck c;
    ObErr err = {{0}};
    if (analyse(&d, &c, &err)) {
        CHECK(0, "analyse: %s", err.msg);
        anchors_check_free(&c);
        anchors_free(&d);
        return;
    }
    cJSON *j = anchors_check_json(&c);
    CHECK(!strcmp(cJSON_GetStringValue(item(j, "dict")), "t.json"), "dict");
    CHECK(cJSON_GetNumberValue(item(j, "keys")) == 5, "keys");
    CHECK(cJSON_GetNumberValue(item(j, "target_tokens")) == c.target_tokens, "target_tokens");
    CHECK(cJSON_GetNumberValue(item(j, "anchors.3.count.1")) == 2, "Tom's form-1 count");
    CHECK(!strcmp(cJSON_GetStringValue(item(j, "conflicts.prefix.0.longer")), "Sherlock Holmes"),
          "prefix");
    CHECK(cJSON_GetArraySize(item(j, "conflicts.prefix.0.forms")) == 2, "prefix forms");
    CHECK(cJSON_GetArraySize(item(j, "conflicts.unused")) == 1 &&
              !strcmp(cJSON_GetStringValue(item(j, "conflicts.unused.0")), "Moriarty"),
          "unused");
    CHECK(!strcmp(cJSON_GetStringValue(item(j, "conflicts.value_is_key.0.keys.0")), "Watson"),
          "value is key");
    CHECK(cJSON_GetArraySize(item(j, "conflicts.first_token")) == 4, "first_token runs");
    CHECK(cJSON_GetArraySize(item(j, "pruned")) == 0, "pruned");
    cJSON_Delete(j);

    char *text = anchors_check_text(&c), head[128];
    CHECK(text != NULL, "table");
    snprintf(head, sizeof head, "t.json: 5 keys, 0 dropped by pruning; target: %ld tokens\n",
             c.target_tokens);
    const char *want[] = {
        "\"Tom\"  [T om] [ĠTom]  count 0 + 2\n    -> \"Watson\"  [W at son] [ĠWatson]\n",
        "\ndropped by pruning: none\n",
        "  prefix: \"Sherlock\" is a token prefix of \"Sherlock Holmes\" (forms 0, 1); the "
        "longer key wins\n",
        "  unused: \"Moriarty\" never occurs in the target\n",
        "  value is a key: \"Tom\" -> \"Watson\" contains the key \"Watson\"\n",
        "(form 1), forbidden once one is used: \"Moriarty\" -> \"Smith\", \"Watson\" -> "
        "\"Smith\"\n",
    };
    for (size_t i = 0; text && i < sizeof want / sizeof *want; i++)
        CHECK(strstr(text, want[i]) != NULL, "table lacks: %s", want[i]);
    CHECK(text && !strncmp(text, head, strlen(head)), "table starts: %.80s", text);
    free(text);
    anchors_check_free(&c);
    anchors_free(&d);
}

/* Without targets: no counts, no unused keys; a pruned key is reported. */
static void test_no_target_pruned(void) {
    AnchorDict d;
    if (dict_from(&d, "{\"Holmes\": \"Brown\", \"Sherlock\": \"Jones\", "
                      "\"Sherlock Holmes\": \"Jones Brown\"}"))
        return;
    AnchorsCheck c;
    ObErr err = {{0}};
    CHECK(anchors_check_analyse(&d, &tok, "p.json", NULL, 0, &c, &err) == 0, "%s", err.msg);
    CHECK(!c.have_target && d.n == 2 && d.n_dropped == 1, "keys %d, dropped %d", d.n, d.n_dropped);
    CHECK(c.n_prefix == 0 && c.n_vkey == 0, "conflicts %d %d", c.n_prefix, c.n_vkey);
    cJSON *j = anchors_check_json(&c);
    CHECK(!item(j, "target_tokens") && !item(j, "conflicts.unused"), "no target fields");
    CHECK(cJSON_GetArraySize(item(j, "pruned")) == 1, "pruned");
    cJSON_Delete(j);
    char *text = anchors_check_text(&c);
    CHECK(text && strstr(text, "p.json: 2 keys, 1 dropped by pruning\n") &&
              strstr(text, "\nconflicts:\n  none\n") && !strstr(text, "count"),
          "table: %s", text ? text : "(null)");
    free(text);
    anchors_check_free(&c);
    anchors_free(&d);
}

static void test_errors(void) {
    AnchorsCheckConfig cfg;
    anchors_check_config_default(&cfg);
    CHECK(!cfg.dict && !cfg.tokenizer && !cfg.n_targets, "defaults");
    AnchorsCheck c;
    ObErr err = {{0}};
    cfg.dict = tmp("missing.json");
    cfg.tokenizer = tmp("missing.gguf");
    CHECK(anchors_check_run(&cfg, &c, &err) == -1 && strstr(err.msg, "missing.json"), "%s",
          err.msg);
    anchors_check_free(&c);

    AnchorDict d;
    if (dict_from(&d, DICT)) return;
    const char *bad = tmp("bad.txt");
    CHECK(write_file(bad, "Tom \xff met\n") == 0, "write");
    CHECK(anchors_check_analyse(&d, &tok, "t.json", &bad, 1, &c, &err) == -1 &&
              strstr(err.msg, "bad.txt: not UTF-8 (invalid byte at offset 4)"),
          "%s", err.msg);
    anchors_check_free(&c);
    anchors_free(&d);
}

int main(void) {
    if (tmpdir_make()) return 1;
    if (anchors_tok_train()) return 1;
    RUN(test_struct);
    RUN(test_json_and_table);
    RUN(test_no_target_pruned);
    RUN(test_errors);
    tok_free(&tok);
    tmpdir_remove();
    return check_main_end("anchors_check");
}
