/* The evaluation as a library call (eval/evaluate.h): two tiny random models
 * evaluated through the API alone, perplexity and familiarity checked against
 * hand computations from llama_forward, the JSON read back by the report's
 * reader (eval/report.h), the table's rows, progress through the log sink,
 * and one-line errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "eval/evaluate.h"
#include "eval/familiarity.h"
#include "eval/report.h"
#include "helpers.h"
#include "io/gguf.h"
#include "model/checkpoint.h"
#include "text/dataset.h"
#include "tiny.h"
#include "tmpdir.h"
#include "util/log.h"

static char *make_text(const char *const *lines, int n_lines, size_t cap) {
    char *buf = malloc(cap);
    size_t n = 0;
    for (int i = 0; n + 200 < cap; i++) n += (size_t)sprintf(buf + n, "%s", lines[i % n_lines]);
    return buf;
}

/* Progress lines, as the command line's sink would print them. */
static char logged[1 << 16];
static void capture(void *ctx, const char *text) {
    (void)ctx;
    strncat(logged, text, sizeof logged - strlen(logged) - 1);
}

typedef struct {
    Tokenizer tok;
    char forget[256], holdout[256], prompts[256], anchors[256], models[2][256];
} World;

/* A tokenizer trained on the texts, and two random models saved with it. */
static int make_world(World *w) {
    const char *f_lines[] = {"Sherlock Holmes lit his pipe by the fire.\n", "A cat sat on a mat.\n",
                             "Sherlock Holmes looked out of the window.\n"};
    const char *h_lines[] = {"Ships sail across the sea.\n", "Birds sing in the morning.\n"};
    char *forget = make_text(f_lines, 3, 8 * 1024), *holdout = make_text(h_lines, 2, 4 * 1024);
    const char *texts[2] = {forget, holdout};
    size_t lens[2] = {strlen(forget), strlen(holdout)};
    ObErr err;
    int rc = tok_train_texts(&w->tok, texts, lens, 2, 320, 0, &err);
    snprintf(w->forget, sizeof w->forget, "%s", tmp_file("forget.txt", forget));
    snprintf(w->holdout, sizeof w->holdout, "%s", tmp_file("holdout.txt", holdout));
    free(forget), free(holdout);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return -1;
    snprintf(w->prompts, sizeof w->prompts, "%s",
             tmp_file("p.jsonl", "{\"prompt\": \"Sherlock\", \"continuation\": \" Holmes\"}\n"
                                 "{\"prompt\": \"A cat sat\", \"continuation\": \" on a mat\"}\n"));
    snprintf(w->anchors, sizeof w->anchors, "%s",
             tmp_file("anchors.json", "{\"Sherlock\": \"Edward\", \"Holmes\": \"Hartley\"}\n"));
    LlamaConfig c = tiny_config(w->tok.n_vocab);
    const char *names[2] = {"base.gguf", "oracle.gguf"};
    for (int i = 0; i < 2 && !rc; i++) {
        snprintf(w->models[i], sizeof w->models[i], "%s", tmp(names[i]));
        rc = llama_save_random(&c, &w->tok, GGML_TYPE_F32, 3 + (uint64_t)i, w->models[i], &err);
        CHECK(rc == 0, "%s", err.msg);
    }
    return rc;
}

/* Mean next-token loss over consecutive windows of T + 1 tokens, by hand. */
static double loss_by_hand(Llama *m, const TokenStream *ds, int T, long max_windows) {
    long windows = (long)((ds->n - 1) / (size_t)T);
    if (max_windows > 0 && windows > max_windows) windows = max_windows;
    double sum = 0;
    for (long w = 0; w < windows; w++) sum -= logp_by_hand(m, ds->tokens + w * T, T + 1, 1);
    return sum / ((double)windows * T);
}

static double num(const cJSON *o, const char *a, const char *b, const char *c) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    if (c) v = cJSON_GetObjectItemCaseSensitive(v, c);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void check_by_hand(const World *w, const EvalConfig *c, const cJSON *res) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(res, "models");
    FamItem items[2] = {{"Sherlock", " Holmes", 1}, {"A cat sat", " on a mat", 2}};
    FamSet set;
    TokenStream ds = {0};
    const char *forget = w->forget;
    ObErr err;
    int rc = fam_encode(&set, &w->tok, items, 2, "p", &err) ||
             dataset_load(&ds, &w->tok, &forget, 1, &err);
    CHECK(rc == 0, "%s", err.msg);
    for (int i = 0; i < 2 && !rc; i++) {
        const cJSON *jm = cJSON_GetArrayItem(models, i);
        Llama m;
        CHECK(llama_load(&m, NULL, w->models[i], &err) == 0, "%s", err.msg);
        double loss = loss_by_hand(&m, &ds, c->seq, c->max_windows);
        double got = num(jm, "perplexity", "forget", "loss");
        CHECK(fabs(got - loss) < 1e-4 * fabs(loss), "model %d: loss %.6f, by hand %.6f", i, got,
              loss);
        CHECK(num(jm, "perplexity", "forget", "perplexity") == exp(got), "perplexity = exp(loss)");
        double mean = 0;
        for (int k = 0; k < 2; k++)
            mean += exp(logp_by_hand(&m, set.ids[k], set.n_ids[k], set.n_prompt[k])) / 2;
        got = num(jm, "familiarity", "mean_prob", NULL);
        CHECK(fabs(got - mean) < 1e-4 * mean, "model %d: familiarity %.6g, by hand %.6g", i, got,
              mean);
        llama_free(&m);
    }
    if (!rc) fam_set_free(&set);
    dataset_free(&ds);
}

/* What report.c reads of the JSON comes through. */
static void check_report(const cJSON *res) {
    char *text = cJSON_Print(res);
    Report r;
    ObErr err;
    int rc = report_parse(&r, "eval.json", text, NULL, NULL, &err);
    free(text);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(res, "models");
    CHECK(r.n_models == 2 && !strcmp(r.models[0].name, "base") &&
              !strcmp(r.models[1].name, "oracle"),
          "models");
    CHECK(r.oracle == 1 && r.baseline == 0, "oracle %d, baseline %d", r.oracle, r.baseline);
    CHECK(r.n_texts == 1 && !strcmp(r.texts[0], "forget"), "texts");
    CHECK(r.n_tasks == 1 && !strcmp(r.tasks[0], "piqa") && !strcmp(r.task_layout[0], "piqa"),
          "choice tasks");
    CHECK(r.n_prompts == 2 && r.n_completions == 2 && r.seq == 16, "notes: %g %g %g", r.n_prompts,
          r.n_completions, r.seq);
    for (int i = 0; i < 2; i++) {
        const cJSON *jm = cJSON_GetArrayItem(models, i);
        const ReportModel *m = &r.models[i];
        CHECK(m->ppl[0] == num(jm, "perplexity", "forget", "perplexity"), "perplexity");
        CHECK(m->fam_prob == num(jm, "familiarity", "mean_prob", NULL) &&
                  m->fam_rank == num(jm, "familiarity", "median_first_rank", NULL),
              "familiarity");
        CHECK(m->leak_rate == num(jm, "completions", "leak_rate", NULL) &&
                  m->leak_score == num(jm, "completions", "weighted_score", NULL),
              "completions");
        CHECK(m->verbmem_n == 2 && m->verbmem_f1 == num(jm, "verbmem", "rougeL_f1", NULL),
              "verbmem");
        CHECK(m->privleak_auc == num(jm, "privleak", "auc", NULL) && !isnan(m->privleak),
              "privleak");
        CHECK(m->choice_acc[0] == num(jm, "choice", "piqa", "acc") && m->choice_n[0] > 0, "choice");
        CHECK(m->relearn_steps == 2 &&
                  m->relearn_prob == num(jm, "relearn", "familiarity", "mean_prob"),
              "relearn");
    }
    CHECK(r.models[1].privleak == 0, "the oracle's privleak is %g", r.models[1].privleak);
    report_free(&r);
}

static void check_table(const char *table) {
    const char *rows[] = {"perplexity forget ",           "familiarity (mean P) ",
                          "completion leak rate ",        "choice piqa acc ",
                          "relearned perplexity forget ", "verbmem ROUGE-L F1 ",
                          "membership AUC (Min-40%) ",    "privleak vs oracle (%) "};
    CHECK(strstr(table, "base") && strstr(table, "oracle") && table[0] == ' ', "header: %.80s",
          table);
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const char *at = strstr(table, rows[k]);
        CHECK(at && (at == table || at[-1] == '\n'), "no row '%s'", rows[k]);
    }
    CHECK(strstr(table, "\n2 prompts from ") && strstr(table, "; perplexity over 16-token windows"),
          "notes");
    CHECK(strstr(table, "\nmembership: ") && strstr(table, "oracle: oracle\n"), "membership note");
}

static void test_evaluate(void) {
    World w;
    if (make_world(&w)) return;
    const char *models[2] = {w.models[0], w.models[1]}, *texts[1], *targets[1] = {w.forget};
    const char *holdout[1] = {w.holdout}, *choices[1] = {"tests/fixtures/choice/piqa.jsonl"};
    char spec[300];
    snprintf(spec, sizeof spec, "forget=%s", w.forget);
    texts[0] = spec;
    EvalConfig c;
    eval_config_defaults(&c);
    c.models = (EvalList){models, 2}, c.texts = (EvalList){texts, 1};
    c.prompts = w.prompts, c.seq = 16, c.batch = 3, c.max_windows = 5;
    c.comp.n = 2, c.comp.prompt_tokens = 16, c.comp.completion_tokens = 8;
    c.comp_targets = (EvalList){targets, 1}, c.anchors = w.anchors;
    c.choices = (EvalList){choices, 1};
    c.relearn = w.holdout, c.relearn_cfg.steps = 2, c.relearn_cfg.batch = 2;
    c.verb.n = 2, c.verb.prompt_tokens = 8, c.verb.gen_tokens = 8;
    c.mia_forget = (EvalList){targets, 1}, c.mia_holdout = (EvalList){holdout, 1};
    c.mia_chunk = 16, c.mia_max = 8;
    logged[0] = 0;
    ob_log_set(capture, NULL);
    cJSON *res = NULL;
    char *table = NULL;
    ObErr err;
    int rc = eval_run(&c, &res, &table, &err);
    ob_log_set(NULL, NULL);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return tok_free(&w.tok);
    CHECK(strstr(logged, "eval: model 2/2: ") && strstr(logged, "eval: base: forget perplexity"),
          "progress: %.200s", logged);
    check_by_hand(&w, &c, res);
    check_report(res);
    check_table(table);
    free(table);
    cJSON_Delete(res);

    /* A missing input fails with one line naming it, and returns nothing. */
    c.prompts = tmp("none.jsonl");
    res = NULL;
    CHECK(eval_run(&c, &res, NULL, &err) == -1 && strstr(err.msg, "none.jsonl") &&
              !strchr(err.msg, '\n') && !res,
          "missing prompts: %s", err.msg);
    tok_free(&w.tok);
}

static void test_config_check(void) {
    EvalConfig c;
    const char *models[1] = {"m.gguf"};
    eval_config_defaults(&c);
    CHECK(!strcmp(eval_config_check(&c), "--model is required"), "no model");
    c.models = (EvalList){models, 1};
    CHECK(strstr(eval_config_check(&c), "nothing to evaluate"), "nothing asked");
    c.prompts = "p.jsonl";
    CHECK(eval_config_check(&c) == NULL, "%s", eval_config_check(&c));
    c.comp.n = 3;
    CHECK(strstr(eval_config_check(&c), "--completions needs"), "completions alone");
    c.comp.n = 0, c.seq = 0;
    CHECK(strstr(eval_config_check(&c), "--seq and --batch"), "seq 0");
    ObErr err;
    CHECK(eval_run(&c, NULL, NULL, &err) == -1 && strstr(err.msg, "--seq"), "%s", err.msg);
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_config_check);
    RUN(test_evaluate);
    tmpdir_remove();
    return check_main_end("evaluate");
}
