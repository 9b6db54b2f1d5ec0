/* obliviate eval: the option table of eval/evaluate.h's EvalConfig, the
 * call, and the table or JSON it prints. The option table points into
 * file-scope storage so that it can be a plain table (one command runs per
 * process). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "eval/evaluate.h"
#include "util/jsonfile.h"

static EvalConfig cfg;
static EvalOpts g;
static const char *json_path;

static const Opt OPTS[] = {
    {"--json", OPT_STR, &json_path,
     "also write every figure, per prompt too, to FILE; "
     "'-': JSON on stdout instead of the table"},
    OPT_PRECISION,
    {NULL, 0, NULL, NULL},
};

static const Command CMD = {
    "eval",
    "--model A.gguf [--model B.gguf ...] [--text NAME=FILE ...] [--prompts FILE] "
    "[--completions N --completion-target FILE --anchors DICT]",
    "Compares models that share one tokenizer: perplexity (exp of the mean "
    "next-token loss over consecutive non-overlapping windows) on each named "
    "text, and token-probability familiarity on a prompts file: the probability "
    "of each continuation after <|endoftext|> + prompt, its mean over the "
    "prompts, the mean log-probability, the median rank of the continuation's "
    "first token and the share of prompts where it is the most likely token. "
    "Completion familiarity (the paper's, judged without an external model): N "
    "prompts cut at seeded random places of the target that a key of the anchor "
    "dictionary follows within 8 tokens, completed greedily; a completion leaks "
    "(\"unique\", weight 5) when it names a key its prompt does not, is "
    "\"typical\" (weight 1) when it names only keys the prompt has; reported: "
    "the leak rate and (5 unique + typical) / N. "
    "Prints a table (rows: metrics, columns: models); progress goes to stderr.",
    "obliviate eval -m baseline.gguf -m unlearned.gguf --text general=heldout.txt "
    "--text forget=forget.txt --prompts data/familiarity/sherlock.jsonl "
    "--json eval.json",
    OPTS,
    0,
    0,
};

int cmd_eval(int argc, char **argv) {
    eval_config_defaults(&cfg);
    eval_opts(&g, &cfg, 1);
    const Opt *groups[] = {g.opts, NULL};
    int rc = args_options(&CMD, groups, argc, argv);
    if (rc != ARGS_RUN) return rc;
    eval_opts_finish(&g);
    int to_stdout = json_path && !strcmp(json_path, "-");
    cJSON *res;
    char *table = NULL;
    ObErr err;
    cfg.prec = cli_precision();
    if (!to_stdout && eval_check_output(&cfg, json_path, &err)) return cli_fail(CMD.name, err.msg);
    if (eval_run(&cfg, &res, to_stdout ? NULL : &table, &err)) return cli_fail(CMD.name, err.msg);
    if (to_stdout) {
        char *s = cJSON_Print(res);
        if (s) puts(s);
        free(s);
    } else {
        fputs(table, stdout);
    }
    rc = json_path && !to_stdout ? ob_json_write(json_path, res, &err) : 0;
    free(table);
    cJSON_Delete(res);
    return rc ? cli_fail(CMD.name, err.msg) : 0;
}
