/* The report: an eval JSON (obliviate eval --json) and training logs turned
 * into a Markdown summary and one self-contained HTML page with charts.
 *
 * report_load reads and checks the JSON once into plain structs; every figure
 * it does not find is NAN, and a section absent from every model yields no
 * row and no chart. Keys it does not know are ignored. Keys it reads:
 *   models[]: name, perplexity{TEXT: {perplexity}},
 *     familiarity{mean_prob, median_first_rank}, completions{leak_rate, weighted_score},
 *     verbmem{n, rougeL_f1}, knowmem{n, rougeL_f1, rougeL_recall}, knowmem_retain{n, rougeL_f1},
 *     privleak{auc, privleak},
 *     choice{TASK: {layout, n, acc, acc_norm}}, next_sentence{n, acc, acc_norm},
 *     relearn{steps, lr, familiarity{mean_prob}}
 *   prompts{n}, completions{n}, seq (for the notes under the table)
 * A log is JSON Lines from obliviate train --log: {"step", "loss"} per step and
 * {"step", "val_loss"} per validation. */
#ifndef OB_REPORT_H
#define OB_REPORT_H

#include <stdio.h>

#include "util/err.h"

#define REPORT_MAX_TEXTS 16
#define REPORT_MAX_TASKS 16
#define REPORT_MAX_LOGS 32

typedef struct {
    char *name;
    double ppl[REPORT_MAX_TEXTS]; /* by Report.texts */
    double fam_prob, fam_rank;    /* familiarity: mean P(continuation), median first rank */
    double leak_rate, leak_score; /* completions: leak rate, weighted score */
    double verbmem_n, verbmem_f1;
    double knowmem_n, knowmem_f1, knowmem_recall;
    double kr_n, kr_f1; /* knowmem_retain: KnowMem on general text */
    double privleak_auc, privleak;
    double choice_n[REPORT_MAX_TASKS], choice_acc[REPORT_MAX_TASKS],
        choice_acc_norm[REPORT_MAX_TASKS]; /* by Report.tasks */
    double ns_n, ns_acc, ns_acc_norm;      /* next_sentence */
    double relearn_steps, relearn_lr, relearn_prob;
} ReportModel;

typedef struct {
    char *name, *path;
    double *step, *loss; /* [n] training loss per logged step */
    int n;
    double *vstep, *vloss; /* [nv] validation loss */
    int nv;
} ReportLog;

typedef struct {
    char *eval_path;
    ReportModel *models; /* [n_models], in the JSON's order */
    int n_models;
    int baseline, oracle;          /* model indexes; oracle -1 when there is none */
    char *texts[REPORT_MAX_TEXTS]; /* perplexity texts, in order of first appearance */
    int n_texts;
    int general; /* the text whose change vs the baseline is shown: "general*" or the first */
    char *tasks[REPORT_MAX_TASKS], *task_layout[REPORT_MAX_TASKS]; /* choice tasks */
    int n_tasks;
    double n_prompts, n_completions, seq; /* NAN when absent */
    ReportLog logs[REPORT_MAX_LOGS];
    int n_logs;
} Report;

/* Reads and checks an eval JSON. Errors are one line naming the file: "PATH:
 * not valid JSON near byte 120", "PATH: \"models\" is not an array", "PATH:
 * model 2 (oracle): \"familiarity\" is not an object". baseline and oracle
 * name models (NULL: the first model; the one named "oracle", if any).
 * On failure r is left empty (report_free is still safe). */
int report_load(Report *r, const char *eval_path, const char *baseline, const char *oracle,
                ObErr *err);
/* Same, from JSON text in memory; name stands in for the path in errors. */
int report_parse(Report *r, const char *name, const char *json, const char *baseline,
                 const char *oracle, ObErr *err);
/* Adds a training log ("PATH:LINE: not valid JSON" on a bad line; a log
 * without any loss record is an error). name NULL: the file name without
 * ".log.jsonl" or ".jsonl". */
int report_add_log(Report *r, const char *name, const char *path, ObErr *err);
void report_free(Report *r);

/* "17x lower" / "2.1x higher" / "same": value against ref, for figures where
 * lower means forgotten. "n/a" when either is absent or not positive. */
void report_ratio(char *buf, size_t cap, double value, double ref);

/* The side-by-side table (rows: metrics, columns: models) in Markdown. */
void report_table_md(const Report *r, FILE *out);
/* The whole Markdown summary: title, table, notes, logs. */
void report_markdown(const Report *r, FILE *out);
/* The HTML page: the table, the charts, and an inline script that records
 * errors and failed self-checks in <body data-errors="N"> (for headless
 * browser tests). */
void report_html(const Report *r, FILE *out);

/* Writes DIR/report.md and DIR/report.html (each atomically), creating DIR
 * if needed; md_path/html_path (each cap bytes) receive the paths. */
int report_write(const Report *r, const char *dir, char *md_path, char *html_path, size_t cap,
                 ObErr *err);

#endif
