/* obliviate compare: the option table of eval/compare.h's CompareConfig
 * (eval's measures as eval names them), the call, and the table. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "eval/compare.h"

static CompareConfig cfg;
static EvalOpts ev;
static StrList targets, lrs, sets;

static const Opt OPTS[] = {
    {"--model|-m", OPT_STR, &cfg.base, "baseline model that knows the target, required"},
    {"--oracle", OPT_STR, &cfg.oracle, "model trained without the target, required"},
    {"--target", OPT_LIST, &targets, "target text to forget (repeatable), required"},
    {"--retain", OPT_STR, &cfg.retain, "general text for the methods with a retain term"},
    {"--anchors", OPT_STR, &cfg.anchors,
     "WHP's anchor dictionary (whp, whp-published); also the completion measure's"},
    {"--work", OPT_STR, &cfg.work,
     "folder for every method's work, the models compared, compare.json and the report "
     "(compare-work)"},
    {"--methods", OPT_STR, &cfg.methods, "comma-separated methods (default: every one)"},
    {"--steps", OPT_LONG, &cfg.steps,
     "unlearning steps of every method that trains (default 0: each method's own)"},
    {"--snapshots", OPT_INT, &cfg.snapshots,
     "checkpoints per run that MUSE's selection rule considers (default 4; 0: none)"},
    {"--lr", OPT_LIST, &lrs, "METHOD=LR: a method's learning rate (repeatable)"},
    {"--set", OPT_LIST, &sets,
     "METHOD.KEY=VALUE: a method's setting, KEY one of unlearn's flags lr, beta, delta, "
     "forget-weight, retain-weight, kl-k, layer, steer, negate (repeatable)"},
    {"--block", OPT_INT, &cfg.unlearn.labels.block, "tokens per window (default 256)"},
    {"--batch", OPT_INT, &cfg.unlearn.finetune.train.batch, "unlearning batch (default 8)"},
    {"--reinforce-steps", OPT_LONG, &cfg.unlearn.reinforce.steps,
     "WHP's and the task vector's reinforcement steps (150)"},
    {"--seed", OPT_U64, &cfg.unlearn.seed, "seed for every method and the evaluation (1)"},
    OPT_PRECISION,
    {NULL, 0, NULL, NULL},
};

static const Command CMD = {
    "compare",
    "--model BASE.gguf --oracle ORACLE.gguf --target TEXT [--retain TEXT] [--anchors DICT] "
    "[eval's measures]",
    "Runs every unlearning method (unlearn --method) from one baseline with the same budget "
    "of unlearning steps, then evaluates all of them with the oracle in one eval (the measures "
    "are eval's options). Model selection is reported two ways: the model after the budget, "
    "and MUSE's rule, the first kept checkpoint whose KnowMem on the target is at or below the "
    "oracle's (with --knowmem). Writes WORK/compare.json and WORK/report, prints a table with "
    "a row per model. A rerun skips finished methods; a killed one resumes.",
    "obliviate compare -m baseline.gguf --oracle oracle.gguf --target forget.txt --retain "
    "general.txt --anchors anchors.json --steps 100 --knowmem knowmem.jsonl --text "
    "forget=forget.txt",
    OPTS,
    0,
    0,
};

int cmd_compare(int argc, char **argv) {
    compare_config_defaults(&cfg);
    eval_opts(&ev, &cfg.eval, 0);
    const Opt *groups[] = {ev.opts, NULL};
    int rc = args_options(&CMD, groups, argc, argv);
    if (rc != ARGS_RUN) return rc;
    eval_opts_finish(&ev);
    cfg.targets = targets.items, cfg.n_targets = targets.n;
    if (lrs.n + sets.n > COMPARE_MAX_SET) return cli_usage(CMD.name, "--lr and --set: at most 32");
    for (int i = 0; i < lrs.n + sets.n; i++) {
        int is_lr = i < lrs.n;
        static char store[COMPARE_MAX_SET][256];
        const char *arg = is_lr ? lrs.items[i] : sets.items[i - lrs.n];
        char *spec = store[i], *end = NULL;
        if (strlen(arg) >= sizeof store[i]) return cli_usage(CMD.name, "--lr/--set: too long");
        strcpy(spec, arg);
        char *eq = strchr(spec, '='), *dot = is_lr ? NULL : strchr(spec, '.');
        double v = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || end == eq + 1 || *end || !isfinite(v) || (!is_lr && (!dot || dot > eq)))
            return cli_usage(CMD.name,
                             is_lr ? "--lr takes METHOD=LR" : "--set takes METHOD.KEY=VALUE");
        *eq = 0;
        if (dot) *dot = 0;
        cfg.set[cfg.n_set].method = spec, cfg.set[cfg.n_set].key = is_lr ? "lr" : dot + 1;
        cfg.set[cfg.n_set++].value = v;
    }
    cfg.unlearn.prec = cfg.eval.prec = cli_precision();
    cfg.eval.seed = cfg.unlearn.seed;
    cJSON *res;
    char *table = NULL;
    ObErr err;
    if (compare_run(&cfg, &res, &table, &err)) return cli_fail(CMD.name, err.msg);
    fputs(table, stdout);
    free(table);
    cJSON_Delete(res);
    return 0;
}
