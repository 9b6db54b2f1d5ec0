/* The report: HTML escaping, ratio wording, the Markdown table of a
 * hand-made eval JSON row by row, absent sections, training logs, files
 * written atomically, and one-line errors for bad shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "eval/report.h"
#include "eval/svg.h"
#include "tmpdir.h"

/* What fn writes for r, as a string the caller frees. */
static char *capture(void (*fn)(const Report *, FILE *), const Report *r) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) return NULL;
    fn(r, fp);
    fclose(fp);
    return buf;
}

static char *escaped(const char *s) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) return NULL;
    xml_escape(fp, s);
    fclose(fp);
    return buf;
}

static void test_escape(void) {
    struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"<script>alert(\"x&y\")</script>",
         "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;"},
        {"it's", "it&#39;s"},
        {"&amp;", "&amp;amp;"},
        {"a\x01z\x7f", "a&#xFFFD;z&#xFFFD;"},
        {"tab\tnew\nline", "tab\tnew\nline"},
        {"caf\xc3\xa9 \xe2\x80\x94", "caf\xc3\xa9 \xe2\x80\x94"}, /* UTF-8 kept as is */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = escaped(cases[i].in);
        CHECK(got && !strcmp(got, cases[i].want), "escape(%s) = '%s', want '%s'", cases[i].in,
              got ? got : "(null)", cases[i].want);
        free(got);
    }
}

static void test_ratio(void) {
    struct {
        double v, ref;
        const char *want;
    } cases[] = {
        {0.00755, 0.1279, "17x lower"},
        {0.2703, 0.1279, "2.1x higher"},
        {0.13, 0.1279, "same"},
        {1e-5, 0.1, "10000x lower"},
        {0.05, 0.1, "2.0x lower"},
        {0, 0.1, "n/a"},
        {0.1, 0, "n/a"},
        {NAN, 0.1, "n/a"},
        {0.1, INFINITY, "n/a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        report_ratio(buf, sizeof buf, cases[i].v, cases[i].ref);
        CHECK(!strcmp(buf, cases[i].want), "ratio(%g, %g) = '%s', want '%s'", cases[i].v,
              cases[i].ref, buf, cases[i].want);
    }
    CHECK(svg_nice_step(100, 5) == 20, "nice step of 100/5: %g", svg_nice_step(100, 5));
    CHECK(fabs(svg_nice_step(0.29, 5) - 0.1) < 1e-12, "nice step of 0.29/5: %g",
          svg_nice_step(0.29, 5));
    CHECK(svg_nice_step(7, 5) == 2, "nice step of 7/5: %g", svg_nice_step(7, 5));
}

static const char SMALL[] =
    "{\"seq\": 64, \"extra\": [1, 2], \"models\": [\n"
    " {\"name\": \"base\", \"unknown\": {\"x\": 1},\n"
    "  \"perplexity\": {\"general\": {\"perplexity\": 100}, \"forget\": {\"perplexity\": 20}},\n"
    "  \"familiarity\": {\"mean_prob\": 0.2, \"median_first_rank\": 1},\n"
    "  \"completions\": {\"leak_rate\": 0.25, \"weighted_score\": 1.3}},\n"
    " {\"name\": \"unlearned\",\n"
    "  \"perplexity\": {\"general\": {\"perplexity\": 103.5}, \"forget\": {\"perplexity\": 40}},\n"
    "  \"familiarity\": {\"mean_prob\": 0.004},\n"
    "  \"completions\": {\"leak_rate\": 0.05, \"weighted_score\": null}},\n"
    " {\"name\": \"oracle\",\n"
    "  \"perplexity\": {\"general\": {\"perplexity\": 105}, \"forget\": {\"perplexity\": 130}},\n"
    "  \"familiarity\": {\"mean_prob\": 0.0001}}\n"
    "]}\n";

static void test_markdown_table(void) {
    Report r;
    ObErr err;
    int rc = report_parse(&r, "small.json", SMALL, NULL, NULL, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return;
    CHECK(r.n_models == 3 && r.baseline == 0 && r.oracle == 2 && r.n_texts == 2 && r.general == 0,
          "models %d, baseline %d, oracle %d, texts %d", r.n_models, r.baseline, r.oracle,
          r.n_texts);
    char *md = capture(report_table_md, &r);
    const char *want[] = {
        "| metric                    |         base |      unlearned |         oracle |\n",
        "| perplexity general        |       100.00 | 103.50 (+3.5%) | 105.00 (+5.0%) |\n",
        "| perplexity forget         |        20.00 |          40.00 |         130.00 |\n",
        "| familiarity vs baseline   |     baseline |      50x lower |    2000x lower |\n",
        "| familiarity vs oracle     | 2000x higher |     40x higher |         oracle |\n",
        "| median first-token rank   |            1 |              - |              - |\n",
        "| completion leak rate      |        0.250 |          0.050 |              - |\n",
        "| completion weighted score |        1.300 |              - |              - |\n",
    };
    for (size_t i = 0; md && i < sizeof want / sizeof want[0]; i++)
        CHECK(strstr(md, want[i]), "row missing: %sin:\n%s", want[i], md);
    /* sections no model has are left out, not shown empty */
    CHECK(md && !strstr(md, "VerbMem") && !strstr(md, "relearning") && !strstr(md, "acc"),
          "absent sections shown:\n%s", md ? md : "");
    free(md);
    char *full = capture(report_markdown, &r);
    CHECK(full && strstr(full, "Perplexity over 64-token windows.") &&
              strstr(full, "oracle (never saw the target): oracle"),
          "notes: %s", full ? full : "");
    free(full);
    report_free(&r);

    /* --baseline / --oracle pick other columns */
    rc = report_parse(&r, "small.json", SMALL, "unlearned", "base", &err);
    CHECK(rc == 0 && r.baseline == 1 && r.oracle == 0, "baseline %d oracle %d", r.baseline,
          r.oracle);
    report_free(&r);
    rc = report_parse(&r, "small.json", SMALL, "nobody", NULL, &err);
    CHECK(rc == -1 && !strcmp(err.msg, "small.json: no model named \"nobody\" (--baseline)"),
          "unknown baseline: %s", err.msg);
}

static const char EXTRA[] =
    "{\"models\": [\n"
    " {\"name\": \"a|b <i>\", \"familiarity\": {\"mean_prob\": 0.1},\n"
    "  \"verbmem\": {\"n\": 50, \"rougeL_f1\": 0.3125},\n"
    "  \"knowmem\": {\"n\": 40, \"rougeL_f1\": 0.2, \"rougeL_recall\": 0.25},\n"
    "  \"knowmem_retain\": {\"n\": 30, \"rougeL_f1\": 0.35},\n"
    "  \"privleak\": {\"auc\": 0.75, \"privleak\": 44.23},\n"
    "  \"choice\": {\"piqa\": {\"layout\": \"piqa\", \"n\": 10, \"acc\": 0.6, \"acc_norm\": "
    "0.5}},\n"
    "  \"next_sentence\": {\"n\": 30, \"acc\": 0.4, \"acc_norm\": 0.45},\n"
    "  \"relearn\": {\"steps\": 20, \"lr\": 0.0003, \"familiarity\": {\"mean_prob\": 0.3}}},\n"
    " {\"name\": \"oracle\", \"familiarity\": {\"mean_prob\": 0.001},\n"
    "  \"privleak\": {\"auc\": 0.52, \"privleak\": 0}}\n"
    "]}\n";

static void test_extra_sections(void) {
    Report r;
    ObErr err;
    int rc = report_parse(&r, "extra.json", EXTRA, NULL, NULL, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return;
    char *md = capture(report_table_md, &r);
    const char *want[] = {
        "| metric                                                              |    a\\|b "
        "&lt;i&gt; |     oracle |\n",
        "| VerbMem ROUGE-L F1                                                  |             0.312 "
        "|          - |\n",
        "| KnowMem ROUGE-L recall                                              |             0.250 "
        "|          - |\n",
        "| KnowMem on retain ROUGE-L F1                                        |             0.350 "
        "|          - |\n",
        "| PrivLeak Min-K% AUC                                                 |             0.750 "
        "|      0.520 |\n",
        "| PrivLeak vs oracle (%)                                              |             +44.2 "
        "|       +0.0 |\n",
        "| piqa acc_norm                                                       |             0.500 "
        "|          - |\n",
        "| next-sentence acc                                                   |             0.400 "
        "|          - |\n",
        "| familiarity after relearning (20 steps, lr 0.0003; ratio to before) | 0.3 (3.0x higher) "
        "|          - |\n",
    };
    for (size_t i = 0; md && i < sizeof want / sizeof want[0]; i++)
        CHECK(strstr(md, want[i]), "row missing: %sin:\n%s", want[i], md);
    free(md);
    char *html = capture(report_html, &r);
    CHECK(html && strstr(html, "<th class=\"baseline\">a|b &lt;i&gt;</th>") && !strstr(html, "<i>"),
          "model name not escaped in HTML");
    /* familiarity, relearn and MUSE's criteria with next-sentence: seven
     * charts; no leak rate, perplexity or logs */
    CHECK(html && strstr(html, "data-charts=\"7\"") && strstr(html, "id=\"familiarity\"") &&
              strstr(html, "id=\"relearn\"") && strstr(html, "id=\"knowmem-retain\"") &&
              strstr(html, "id=\"privleak\"") && !strstr(html, "id=\"leak-rate\""),
          "charts in HTML");
    CHECK(html && !strstr(html, "http://") && !strstr(html, "https://") && !strstr(html, " src=") &&
              !strstr(html, " href="),
          "HTML refers to something outside itself");
    free(html);
    report_free(&r);
}

/* null (how cJSON writes NaN) is an absent figure: no row, no chart. */
static void test_null_figures(void) {
    Report r;
    ObErr err;
    const char *json =
        "{\"models\": [{\"name\": \"a\", \"perplexity\": {\"x\": {\"perplexity\": null}},"
        " \"familiarity\": {\"mean_prob\": 0.5, \"median_first_rank\": null}}]}";
    int rc = report_parse(&r, "null.json", json, NULL, NULL, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return;
    char *md = capture(report_table_md, &r), *html = capture(report_html, &r);
    CHECK(md && !strstr(md, "perplexity x") && !strstr(md, "rank") &&
              strstr(md, "| familiarity (mean P)    |      0.5 |\n"),
          "table:\n%s", md ? md : "");
    CHECK(html && strstr(html, "data-charts=\"1\"") && !strstr(html, "id=\"perplexity\""),
          "a chart of null figures drawn");
    free(md);
    free(html);
    report_free(&r);
}

/* Parses text that must fail; returns the message. */
static const char *parse_error(const char *text) {
    static ObErr err;
    Report r;
    if (report_parse(&r, "bad.json", text, NULL, NULL, &err) == 0) {
        report_free(&r);
        return "(parsed without error)";
    }
    CHECK(r.models == NULL && r.n_models == 0, "a failed parse left models");
    CHECK(!strchr(err.msg, '\n'), "error is not one line: %s", err.msg);
    return err.msg;
}

static void test_bad_shapes(void) {
    struct {
        const char *text, *want;
    } cases[] = {
        {"{\"models\": [\n{\"name\": \"a\",}]}", "bad.json: not valid JSON (line 2)"},
        {"", "bad.json: not valid JSON (line 1)"},
        {"[1, 2]", "bad.json: not a JSON object"},
        {"{\"seq\": 3}", "bad.json: no \"models\" array (not an eval JSON?)"},
        {"{\"models\": {\"name\": \"a\"}}", "bad.json: \"models\" is not an array"},
        {"{\"models\": []}", "bad.json: \"models\" is empty"},
        {"{\"models\": [3]}", "bad.json: model 1 is not an object"},
        {"{\"models\": [{\"name\": \"a\"}, {\"file\": \"b\"}]}",
         "bad.json: model 2 has no \"name\" string"},
        {"{\"models\": [{\"name\": \"a\"}, {\"name\": \"b\", \"familiarity\": [0.1]}]}",
         "bad.json: model 2 (b): \"familiarity\" is not an object"},
        {"{\"models\": [{\"name\": \"a\", \"completions\": {\"leak_rate\": \"0.2\"}}]}",
         "bad.json: model 1 (a): \"completions.leak_rate\" is not a number"},
        {"{\"models\": [{\"name\": \"a\", \"perplexity\": {\"gen\": 12}}]}",
         "bad.json: model 1 (a): \"perplexity.gen\" is not an object"},
        {"{\"models\": [{\"name\": \"a\", \"choice\": {\"piqa\": {\"acc\": true}}}]}",
         "bad.json: model 1 (a): \"choice.piqa.acc\" is not a number"},
        {"{\"models\": [{\"name\": \"a\", \"relearn\": {\"familiarity\": 0.2}}]}",
         "bad.json: model 1 (a): \"familiarity\" is not an object"},
        {"{\"models\": [{\"name\": \"a\"}], \"prompts\": 57}",
         "bad.json: \"prompts\" is not an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = parse_error(cases[i].text);
        CHECK(!strcmp(got, cases[i].want), "case %zu: '%s', want '%s'", i, got, cases[i].want);
    }
    /* a file that is missing, or holds a NUL byte */
    Report r;
    ObErr err;
    CHECK(report_load(&r, tmp("nothere.json"), NULL, NULL, &err) == -1 &&
              strstr(err.msg, "nothere.json: cannot open"),
          "missing file: %s", err.msg);
    const char *p = tmp("nul.json");
    FILE *fp = fopen(p, "wb");
    if (fp) fwrite("{\"models\": []}\0x", 1, 16, fp), fclose(fp);
    CHECK(report_load(&r, p, NULL, NULL, &err) == -1 && strstr(err.msg, "nul.json: not valid JSON"),
          "NUL byte: %s", err.msg);
}

static void test_logs(void) {
    Report r;
    ObErr err;
    int rc = report_parse(&r, "small.json", SMALL, NULL, NULL, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return;
    const char *log = tmp_file("run-1.log.jsonl", "{\"step\":1,\"loss\":9.5,\"lr\":1e-4}\n"
                                                  "{\"step\":2,\"loss\":8.25}\n"
                                                  "{\"step\":2,\"val_loss\":8.5}\n"
                                                  "\n"
                                                  "{\"step\":3,\"loss\":7.0,\"tok_s\":10.5}\n"
                                                  "{\"step\":4,\"val_loss\":7.75}\n");
    CHECK(report_add_log(&r, NULL, log, &err) == 0, "log: %s", err.msg);
    const ReportLog *lg = &r.logs[0];
    CHECK(r.n_logs == 1 && !strcmp(lg->name, "run-1") && lg->n == 3 && lg->nv == 2 &&
              lg->step[2] == 3 && lg->loss[1] == 8.25 && lg->vstep[1] == 4 && lg->vloss[0] == 8.5,
          "log read: %d points, %d val", lg->n, lg->nv);
    CHECK(report_add_log(&r, "named", log, &err) == 0 && !strcmp(r.logs[1].name, "named"),
          "named log");
    char *md = capture(report_markdown, &r);
    CHECK(md && strstr(md, "| run-1 | 3 | 9.5000 | 7.0000 | 7.7500 | 7.7500 |"), "log row in:\n%s",
          md ? md : "");
    free(md);
    char *html = capture(report_html, &r);
    /* familiarity, leak rate, perplexity, and one loss chart per log */
    CHECK(html && strstr(html, "data-charts=\"5\"") && strstr(html, "id=\"loss-1\"") &&
              strstr(html, "stroke-dasharray"),
          "loss charts in HTML");
    free(html);

    const char *bad =
        tmp_file("bad.log.jsonl", "{\"step\":1,\"loss\":9.5}\n{\"step\":2,\"loss\":nan}\n");
    CHECK(report_add_log(&r, NULL, bad, &err) == -1 &&
              strstr(err.msg, "bad.log.jsonl:2: not valid JSON"),
          "bad log line: %s", err.msg);
    const char *noloss = tmp_file("noloss.jsonl", "{\"step\":1,\"val_loss\":9.5}\n");
    CHECK(report_add_log(&r, NULL, noloss, &err) == -1 &&
              strstr(err.msg, "noloss.jsonl: no \"loss\" records"),
          "log without loss: %s", err.msg);
    const char *nostep = tmp_file("nostep.jsonl", "{\"loss\":9.5}\n");
    CHECK(report_add_log(&r, NULL, nostep, &err) == -1 &&
              strstr(err.msg, "nostep.jsonl:1: field \"step\" missing"),
          "log without step: %s", err.msg);
    report_free(&r);
}

static void test_write(void) {
    Report r;
    ObErr err;
    char md[512], html[512];
    int rc = report_parse(&r, "small.json", SMALL, NULL, NULL, &err);
    CHECK(rc == 0, "parse: %s", err.msg);
    if (rc) return;
    const char *dir = tmp("out/deeper");
    CHECK(report_write(&r, dir, md, html, sizeof md, &err) == 0, "write: %s", err.msg);
    CHECK(access(md, R_OK) == 0 && access(html, R_OK) == 0, "files %s %s", md, html);
    CHECK(strstr(md, "out/deeper/report.md") && strstr(html, "out/deeper/report.html"), "paths");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
    CHECK(system(cmd) != 0, "temporary file left in %s", dir);
    /* a folder that cannot be made: a file is in the way */
    tmp_file("blocker", "x");
    CHECK(report_write(&r, tmp("blocker/sub"), md, html, sizeof md, &err) == -1 &&
              strstr(err.msg, "blocker"),
          "folder under a file: %s", err.msg);
    report_free(&r);
}

/* A line chart whose one point is so large that a tick step vanishes next
 * to it (2e39 + 1 == 2e39) ends, with a bounded number of ticks (found by
 * fuzz_trainlog as a hang). */
static void test_line_chart_degenerate_axis(void) {
    const double xs[] = {2, 2}, ys[] = {2e39, 2e39}, xs2[] = {1, 1e300}, ys2[] = {-1e300, 1e300};
    SvgSeries s[] = {{"loss", xs, ys, 2, 0}, {"wide", xs2, ys2, 2, 1}};
    for (int k = 0; k < 2; k++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        SvgLineChart c = {"t", "step", "loss", s + k, 1, "c"};
        svg_line_chart(out, &c);
        fclose(out);
        long lines = 0;
        for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
        CHECK(len > 0 && lines < 600 && strstr(buf, "</svg>"), "chart %d: %ld lines", k, lines);
        free(buf);
    }
}

int main(void) {
    if (tmpdir_make()) return 1;
    RUN(test_escape);
    RUN(test_ratio);
    RUN(test_markdown_table);
    RUN(test_extra_sections);
    RUN(test_null_figures);
    RUN(test_bad_shapes);
    RUN(test_logs);
    RUN(test_write);
    RUN(test_line_chart_degenerate_axis);
    tmpdir_remove();
    return check_main_end("report");
}
