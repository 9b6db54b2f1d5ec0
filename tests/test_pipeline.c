/* The whole method through the library alone (no binary), on a tiny world:
 * a baseline trained by textrun_run on general text and a target, then
 * unlearn_run with the defaults. Checks that every stage's file is there
 * with its stamp, that a rerun skips every stage and changes nothing, that
 * the pipeline is exactly its stage calls (textrun_run, labelrun_run and
 * finetune_run with the same settings rebuild reinforced.gguf, labels.bin
 * and unlearned.gguf bit for bit), that
 * the published preset writes alpha 5, 2.5, 10 labels with nothing
 * forbidden, fine-tunes on hard labels and differs from the default, and
 * that base and reinforced models with different tokenizers are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/checkpoint.h"
#include "tiny.h"
#include "tmpdir.h"
#include "train/textrun.h"
#include "unlearn/labelrun.h"
#include "unlearn/pipeline.h"
#include "util/fileio.h"
#include "util/log.h"

static const char *GENERAL[] = {
    "The old man sat by the fire and read. ",     "Rain fell on the quiet town all night. ",
    "A dog ran along the river in the morning. ", "The baker opened the shop before dawn. ",
    "Children played in the park after school. ",
};
static const char *TARGET[] = {
    "Holmes lit his pipe in Baker Street. ",
    "Watson looked at Holmes and smiled. ",
    "Lestrade came to Baker Street at night. ",
    "Holmes and Watson took a cab to the Yard. ",
};
static const char *DICT = "{\"Holmes\": [\"Jones\", \"Miller\"], \"Watson\": \"Parker\", "
                          "\"Baker Street\": \"Elm Road\", \"Lestrade\": \"Dawson\"}";

/* n sentences of `from` in a fixed pseudo-random order, written to path. */
static int write_text(const char *path, const char **from, int n_from, int n, unsigned seed) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        fputs(from[(seed >> 16) % (unsigned)n_from], f);
    }
    return fclose(f);
}

/* Log lines collected, to see which stages ran. */
static char g_log[1 << 16];
static void collect(void *ctx, const char *text) {
    (void)ctx;
    strncat(g_log, text, sizeof g_log - strlen(g_log) - 1);
}

static int files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    ObErr err;
    if (ob_read_file(a, &x, &nx, &err)) return 0;
    if (ob_read_file(b, &y, &ny, &err)) return free(x), 0;
    int eq = nx == ny && !memcmp(x, y, nx);
    free(x), free(y);
    return eq;
}

static const char *target_paths[1];

/* A baseline that knows the target: a random tiny model trained on both. */
static int make_world(ObErr *err) {
    target_paths[0] = strdup(tmp("target.txt"));
    if (write_text(tmp("general.txt"), GENERAL, 5, 300, 3) ||
        write_text(target_paths[0], TARGET, 4, 60, 5) ||
        write_text(tmp("dict.json"), &DICT, 1, 1, 1))
        return ob_errf(err, "cannot write the texts");
    Tokenizer tok;
    const char *texts[2] = {tmp("general.txt"), target_paths[0]};
    if (tok_train_files(&tok, texts, 2, 320, 0, err)) return -1;
    LlamaConfig c = tiny_config(tok.n_vocab);
    int rc = llama_save_random(&c, &tok, 0, 1, tmp("base0.gguf"), err);
    tok_free(&tok);
    if (rc) return -1;
    TextRunConfig t;
    textrun_config_defaults(&t);
    t.model = tmp("base0.gguf"), t.out = tmp("base.gguf"), t.texts = texts, t.n_texts = 2;
    t.train.steps = 40, t.train.batch = 4, t.train.seq = 32, t.train.warmup = 4;
    t.train.lr = 3e-3f, t.train.name = "base";
    TextRunResult r;
    return textrun_run(&t, &r, err);
}

static void small(UnlearnConfig *c, const char *work, const char *out) {
    unlearn_config_defaults(c);
    c->base = strdup(tmp("base.gguf")), c->anchors = strdup(tmp("dict.json"));
    c->targets = target_paths, c->n_targets = 1;
    c->work = strdup(tmp(work)), c->out = strdup(tmp(out));
    c->reinforce.steps = 8, c->reinforce.batch = 4;
    c->labels.block = 32;
    c->finetune.train.steps = 6, c->finetune.train.batch = 4;
}

static void free_small(UnlearnConfig *c) {
    free((char *)c->base), free((char *)c->anchors), free((char *)c->work), free((char *)c->out);
}

static void work_file(char *buf, const UnlearnConfig *c, const char *name) {
    snprintf(buf, 512, "%s/%s", c->work, name);
}

static void test_default_recipe(void) {
    UnlearnConfig c;
    small(&c, "work", "unlearned.gguf");
    ObErr err;
    CHECK(!unlearn_run(&c, &err), "%s", err.msg);
    char p[512];
    const char *stages[] = {"reinforce", "anchors", "labels", "finetune"};
    for (int s = 0; s < 4; s++) {
        char name[64];
        snprintf(name, sizeof name, "%s.stamp", stages[s]);
        work_file(p, &c, name);
        char *text = NULL;
        size_t n;
        CHECK(!ob_read_file(p, &text, &n, &err) && n > 17 && text[17] == '1', "%s not done", name);
        free(text);
    }
    LabelsFile lf;
    work_file(p, &c, "labels.bin");
    CHECK(!labels_open(&lf, p, NULL, &err), "%s", err.msg);
    CHECK(lf.h.n_alphas == 1 && lf.h.alphas[0] == 0.0f, "default alpha 0 alone: %u", lf.h.n_alphas);
    CHECK(lf.h.soft_k == 40 && lf.h.soft_zero == 8, "32 + 8 slots: %u %u", lf.h.soft_k,
          lf.h.soft_zero);
    CHECK(lf.h.flags == (1u | 2u | 4u), "keys forbidden (whole), in-key labels: %u", lf.h.flags);
    labels_close(&lf);

    /* A rerun skips every stage and leaves the model as it was. */
    CHECK(!ob_copy_file(c.out, tmp("first.gguf"), &err), "%s", err.msg);
    g_log[0] = 0;
    ob_log_set(collect, NULL);
    CHECK(!unlearn_run(&c, &err), "%s", err.msg);
    ob_log_set(NULL, NULL);
    int skipped = 0;
    for (const char *s = g_log; (s = strstr(s, "up to date, skipped")); s++) skipped++;
    CHECK(skipped == 4, "stages skipped on rerun: %d\n%s", skipped, g_log);
    CHECK(files_equal(c.out, tmp("first.gguf")), "rerun changed the model");

    /* The pipeline is its stage calls: the same settings rebuild every file
     * (reinforce: warmup steps/10 + 1, final lr lr/10, as documented). */
    TextRunConfig t;
    textrun_config_reinforce(&t);
    t.model = c.base, t.out = tmp("reinf.gguf"), t.texts = c.targets, t.n_texts = 1;
    t.train = c.reinforce, t.train.seq = c.labels.block;
    t.train.warmup = t.train.steps / 10 + 1, t.train.min_lr = t.train.lr / 10;
    TextRunResult tr;
    CHECK(!textrun_run(&t, &tr, &err), "%s", err.msg);
    work_file(p, &c, "reinforced.gguf");
    CHECK(files_equal(p, tmp("reinf.gguf")), "textrun_run differs from the reinforce stage");
    LabelRunConfig l;
    labelrun_config_defaults(&l);
    char reinf[512], dict[512];
    work_file(reinf, &c, "reinforced.gguf"), work_file(dict, &c, "anchors.json");
    l.base = c.base, l.reinforced = reinf, l.anchors = dict, l.targets = c.targets;
    l.n_targets = 1, l.out = tmp("labels.bin"), l.labels = c.labels;
    LabelStats st;
    CHECK(!labelrun_run(&l, &st, &err), "%s", err.msg);
    work_file(p, &c, "labels.bin");
    CHECK(files_equal(p, tmp("labels.bin")), "labelrun_run differs from the labels stage");
    FinetuneConfig f = c.finetune;
    f.model = c.base, f.labels = tmp("labels.bin"), f.out = tmp("ft.gguf");
    FinetuneResult fr;
    CHECK(!finetune_run(&f, &fr, &err), "%s", err.msg);
    CHECK(files_equal(c.out, tmp("ft.gguf")), "finetune_run differs from the fine-tune stage");
    free_small(&c);
}

static void test_published(void) {
    UnlearnConfig c;
    small(&c, "pub", "pub.gguf");
    unlearn_config_published(&c);
    CHECK(c.finetune.hard && c.labels.alphas[0] == 5.0f && !c.labels.suppress && !c.labels.inkey &&
              c.labels.forbid_keys == LABELS_FORBID_NONE,
          "the published preset");
    ObErr err;
    CHECK(!unlearn_run(&c, &err), "%s", err.msg);
    char p[512];
    work_file(p, &c, "labels.bin");
    LabelsFile lf;
    CHECK(!labels_open(&lf, p, NULL, &err), "%s", err.msg);
    CHECK(lf.h.n_alphas == 3 && lf.h.alphas[0] == 5.0f && lf.h.alphas[1] == 2.5f &&
              lf.h.alphas[2] == 10.0f,
          "alphas %g %g %g", lf.h.alphas[0], lf.h.alphas[1], lf.h.alphas[2]);
    CHECK(lf.h.flags == 0 && lf.h.soft_zero == 0, "nothing forbidden, no suppression: %u %u",
          lf.h.flags, lf.h.soft_zero);
    labels_close(&lf);
    /* hard labels: the same run on soft targets gives another model */
    UnlearnConfig s = c;
    s.finetune.hard = 0, s.out = tmp("soft5.gguf");
    CHECK(!unlearn_run(&s, &err), "%s", err.msg);
    CHECK(!files_equal(c.out, s.out), "hard and soft fine-tunes gave the same model");
    CHECK(!files_equal(c.out, tmp("unlearned.gguf")), "published = default recipe");
    free_small(&c);
}

static void test_other_tokenizer(void) {
    ObErr err;
    Tokenizer tok;
    const char *texts[1] = {tmp("general.txt")};
    CHECK(!tok_train_files(&tok, texts, 1, 300, 0, &err), "%s", err.msg);
    LlamaConfig lc = tiny_config(tok.n_vocab);
    CHECK(!llama_save_random(&lc, &tok, 0, 2, tmp("other.gguf"), &err), "%s", err.msg);
    tok_free(&tok);
    LabelRunConfig l;
    labelrun_config_defaults(&l);
    l.base = tmp("base.gguf"), l.reinforced = tmp("other.gguf"), l.targets = target_paths;
    l.n_targets = 1, l.out = tmp("x.bin");
    LabelStats st;
    CHECK(labelrun_run(&l, &st, &err) && strstr(err.msg, "different tokenizers"),
          "another tokenizer accepted");
}

int main(void) {
    if (tmpdir_make()) return 1;
    ObErr err;
    if (make_world(&err)) {
        fprintf(stderr, "world: %s\n", err.msg);
        return 1;
    }
    RUN(test_default_recipe);
    RUN(test_published);
    RUN(test_other_tokenizer);
    free((char *)target_paths[0]);
    tmpdir_remove();
    return check_main_end("test_pipeline");
}
