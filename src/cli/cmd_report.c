/* obliviate report: an eval JSON and training logs -> report.md and a
 * self-contained report.html with charts. The work is in eval/report.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "eval/report.h"

int cmd_report(int argc, char **argv) {
    const char *eval_path = NULL, *out_dir = NULL, *baseline = NULL, *oracle = NULL;
    StrList logs = {0};
    Opt opts[] = {
        {"--eval", OPT_STR, &eval_path, "results of obliviate eval --json"},
        {"--log", OPT_LIST, &logs,
         "NAME=FILE (or FILE): training log from obliviate train --log; repeatable"},
        {"--out|-o", OPT_STR, &out_dir, "folder for report.md and report.html (created)"},
        {"--baseline", OPT_STR, &baseline, "model the changes are measured from (default: first)"},
        {"--oracle", OPT_STR, &oracle, "model that never saw the target (default: \"oracle\")"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"report",
                   "--eval EVAL.json [--log NAME=FILE ...] --out DIR",
                   "Writes DIR/report.md (the models side by side: perplexities and the general "
                   "one's change vs the baseline, familiarity and its ratio to the baseline's "
                   "and the oracle's, completion leak rate, and memorisation, membership, "
                   "multiple-choice and relearning figures when the JSON has them) and "
                   "DIR/report.html (the same table with charts of familiarity, leak rate, "
                   "perplexity and the loss curves of each log; one file, no external "
                   "resources). Prints the table on stdout and the two paths on stderr.",
                   "obliviate report --eval .cache/demo/eval.json "
                   "--log baseline=.cache/demo/models/baseline.log.jsonl -o .cache/demo/report",
                   opts,
                   0,
                   0};
    int rc = args_options(&cmd, NULL, argc, argv);
    if (rc != ARGS_RUN) return rc;
    rc = 0; /* from here: 0 while every step succeeds */
    if (!eval_path || !out_dir) {
        fprintf(stderr, "obliviate report: --eval and --out are required (see --help)\n");
        return 2;
    }
    ObErr err;
    Report r;
    if (report_load(&r, eval_path, baseline, oracle, &err)) return cli_fail(cmd.name, err.msg);
    for (int i = 0; i < logs.n && !rc; i++) {
        const char *spec = logs.items[i], *eq = strchr(spec, '=');
        char name[128];
        if (eq && (eq == spec || !eq[1] || (size_t)(eq - spec) >= sizeof name)) {
            report_free(&r);
            fprintf(stderr, "obliviate report: --log wants NAME=FILE, got '%s'\n", spec);
            return 2;
        }
        if (eq) memcpy(name, spec, (size_t)(eq - spec)), name[eq - spec] = 0;
        rc = report_add_log(&r, eq ? name : NULL, eq ? eq + 1 : spec, &err);
    }
    char md[4096], html[4096];
    if (!rc) rc = report_write(&r, out_dir, md, html, sizeof md, &err);
    if (!rc) {
        report_table_md(&r, stdout);
        fprintf(stderr, "report: %s\nreport: %s\n", md, html);
    }
    report_free(&r);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}
