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
#include "eval/evaluate.h"
#include "util/jsonfile.h"

static EvalConfig cfg;
static StrList models, texts, targets, choices, verb_targets, mia_forget, mia_holdout;
static const char *json_path;

static const Opt OPTS[] = {
    {"--model|-m", OPT_LIST, &models, "model (GGUF); repeat to compare models"},
    {"--text", OPT_LIST, &texts, "NAME=FILE: perplexity on a text file; repeatable"},
    {"--prompts", OPT_STR, &cfg.prompts,
     "familiarity prompts, JSON Lines {\"prompt\", \"continuation\"}"},
    {"--seq", OPT_INT, &cfg.seq, "tokens per perplexity window (default 256)"},
    {"--batch", OPT_INT, &cfg.batch, "windows per forward pass (default 4)"},
    {"--max-windows", OPT_LONG, &cfg.max_windows, "at most N windows per text (default: all)"},
    {"--completions", OPT_INT, &cfg.comp.n,
     "completion familiarity on N prompts cut from the target (default 0: off)"},
    {"--completion-target", OPT_LIST, &targets,
     "text the prompts are cut from (the forget set); repeatable"},
    {"--anchors", OPT_STR, &cfg.anchors, "anchor dictionary: its keys are the target's own terms"},
    {"--completion-tokens", OPT_INT, &cfg.comp.completion_tokens,
     "tokens generated per prompt (default 24)"},
    {"--completion-prompt-tokens", OPT_INT, &cfg.comp.prompt_tokens,
     "tokens of target text per prompt (default 48)"},
    {"--seed", OPT_U64, &cfg.seed,
     "seed for the prompts, excerpts, chunks, next-sentence items and relearning (default 1)"},
    {"--choice", OPT_LIST, &choices,
     "NAME=FILE: multiple choice, JSON Lines in the hellaswag, piqa, arc, boolq or "
     "winogrande layout; repeatable"},
    {"--choice-layout", OPT_STR, &cfg.choice_layout,
     "layout of every --choice file (default auto: from the first line's fields)"},
    {"--next-sentence", OPT_STR, &cfg.next_sentence,
     "held-out general text to cut next-sentence items from"},
    {"--next-sentence-n", OPT_INT, &cfg.next.n, "next-sentence items (default 200)"},
    {"--next-sentence-choices", OPT_INT, &cfg.next.choices,
     "choices per next-sentence item (default 4)"},
    {"--relearn", OPT_STR, &cfg.relearn,
     "fine-tune each model on this text (never-seen stories), then measure again"},
    {"--relearn-steps", OPT_LONG, &cfg.relearn_cfg.steps, "relearning steps (default 20)"},
    {"--relearn-lr", OPT_FLOAT, &cfg.relearn_cfg.lr,
     "relearning learning rate, constant (default 3e-4)"},
    {"--relearn-batch", OPT_INT, &cfg.relearn_cfg.batch,
     "relearning windows of --seq tokens per step (default 4)"},
    {"--verbmem", OPT_INT, &cfg.verb.n,
     "VerbMem on N excerpts: ROUGE-L of greedy continuations (default 0: off)"},
    {"--verbmem-target", OPT_LIST, &verb_targets,
     "text the excerpts are cut from; repeatable (default: --completion-target, else "
     "--mia-forget)"},
    {"--verbmem-prompt-tokens", OPT_INT, &cfg.verb.prompt_tokens,
     "prompt tokens per excerpt (default 32)"},
    {"--verbmem-tokens", OPT_INT, &cfg.verb.gen_tokens,
     "tokens generated and compared (default 128)"},
    {"--knowmem", OPT_STR, &cfg.knowmem,
     "KnowMem questions, JSON Lines {\"question\", \"answer\"}, asked few-shot"},
    {"--knowmem-shots", OPT_INT, &cfg.know.shots, "other questions shown as examples (default 3)"},
    {"--knowmem-tokens", OPT_INT, &cfg.know.max_tokens, "longest answer generated (default 32)"},
    {"--mia-forget", OPT_LIST, &mia_forget,
     "membership inference: text the models were trained on (members); repeatable"},
    {"--mia-holdout", OPT_LIST, &mia_holdout,
     "unseen text of the same source (non-members); repeatable"},
    {"--mia-chunk", OPT_INT, &cfg.mia_chunk, "tokens per membership chunk (default 128)"},
    {"--mia-max-chunks", OPT_INT, &cfg.mia_max,
     "at most N chunks per set, a seeded choice (default 200; 0: all)"},
    {"--oracle", OPT_STR, &cfg.oracle,
     "model (name or file) PrivLeak is relative to (default: the one named oracle)"},
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

static EvalList list(const StrList *l) {
    return (EvalList){l->items, l->n};
}

int cmd_eval(int argc, char **argv) {
    eval_config_defaults(&cfg);
    int rc = args_options(&CMD, NULL, argc, argv);
    if (rc != ARGS_RUN) return rc;
    cfg.models = list(&models), cfg.texts = list(&texts), cfg.comp_targets = list(&targets);
    cfg.choices = list(&choices), cfg.verb_targets = list(&verb_targets);
    cfg.mia_forget = list(&mia_forget), cfg.mia_holdout = list(&mia_holdout);
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
