/* `obliviate anchors check`: what an anchor dictionary will do
 * (unlearn/anchors_check.h). `obliviate anchors extract`: proposes a
 * dictionary from the target itself (unlearn/extract_files.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "unlearn/anchors_check.h"
#include "unlearn/extract_files.h"

static const char check_summary[] =
    "Shows what an anchor dictionary will do: each key's tokens in both forms "
    "(form 0 at the start of a text or after a newline or quote, form 1 after a "
    "space), its values and theirs, how often the translation replaces the key "
    "in the target texts, what pruning dropped, and conflicts: keys that are "
    "token prefixes of other keys, keys never in the target, values containing "
    "keys, and values of different keys sharing a first token (the "
    "forbidden-token rule makes them exclude each other).";

/* Prints the check as JSON or as a table. */
static int print_check(const AnchorsCheck *c, int json) {
    if (json) return print_json(anchors_check_json(c)), 0;
    char *text = anchors_check_text(c);
    if (!text) return cli_fail("anchors check", "out of memory");
    fputs(text, stdout);
    free(text);
    return 0;
}

static int anchors_check(int argc, char **argv) {
    AnchorsCheckConfig c;
    anchors_check_config_default(&c);
    StrList target = {{0}, 0};
    int json = 0;
    Opt opts[] = {
        {"--dict", OPT_STR, &c.dict, "anchor dictionary: JSON object or JSON Lines, required"},
        {"--tokenizer", OPT_STR, &c.tokenizer, "tokenizer or model GGUF file, required"},
        {"--target", OPT_LIST, &target, "target text file (repeatable; also as FILE...)"},
        {"--json", OPT_FLAG, &json, "print JSON instead of a table"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"anchors check",
                   "--dict FILE --tokenizer TOK.gguf [--target TEXT]... [TEXT...]",
                   check_summary,
                   "obliviate anchors check --dict anchors.json --tokenizer tok.gguf "
                   "--target target.txt",
                   opts,
                   0,
                   -1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc != ARGS_RUN) return rc;
    if (!c.dict || !c.tokenizer)
        return free(pos), cli_fail(cmd.name, "--dict and --tokenizer are required");
    const char **targets = calloc((size_t)(target.n + n_pos) + 1, sizeof *targets);
    if (!targets) return free(pos), cli_fail(cmd.name, "out of memory");
    for (int i = 0; i < target.n; i++) targets[i] = target.items[i];
    for (int i = 0; i < n_pos; i++) targets[target.n + i] = pos[i];
    c.targets = targets;
    c.n_targets = target.n + n_pos;
    AnchorsCheck chk;
    ObErr err;
    rc = anchors_check_run(&c, &chk, &err) ? cli_fail(cmd.name, err.msg) : print_check(&chk, json);
    anchors_check_free(&chk);
    free(targets);
    free(pos);
    return rc;
}

/* ---- extract ---------------------------------------------------------- */

/* What the options give before they are checked into the config. */
typedef struct {
    StrList target, general;
    long top, min_count, n_values, max_occ, batch;
    float alpha0, weight;
    int quiet;
} ExtractArgs;

static const char extract_summary[] =
    "Proposes an anchor dictionary from the target itself, for a person to review: words "
    "and 2-3 word capitalised names far more frequent in T than in G (log-odds with an "
    "informative Dirichlet prior, ranked by delta - 2 sigma), combined with the models' "
    "evidence (R's extra confidence in the term, or without R B's confidence beyond the "
    "term's frequency in G). People get names from the first-name lists (gender from "
    "titles, the lists, pronouns) and common surnames, never a name that occurs in T; other "
    "terms get B's own likely substitutes in context. Writes the dictionary in rank order "
    "and, with --report, each proposal's counts, scores and evidence. See "
    "src/unlearn/extract.h for every heuristic.";

/* Parses the options into c and a; args_options's status. */
static int extract_args(int argc, char **argv, ExtractFilesConfig *c, ExtractArgs *a) {
    Opt opts[] = {
        {"--target", OPT_LIST, &a->target, "target text T (repeatable), required"},
        {"--general", OPT_LIST, &a->general, "general text G (repeatable), required"},
        {"--model", OPT_STR, &c->model, "base model B (GGUF with its tokenizer), required"},
        {"--reinforced", OPT_STR, &c->reinforced, "reinforced model R: evidence log p_R - log p_B"},
        {"--female-names", OPT_STR, &c->female_names, "female first names, one a line"},
        {"--male-names", OPT_STR, &c->male_names, "male first names, one a line"},
        {"--top", OPT_LONG, &a->top, "keys in the output (default 200)"},
        {"--min-count", OPT_LONG, &a->min_count, "occurrences in T a candidate needs (default 3)"},
        {"--values", OPT_LONG, &a->n_values, "values per key (default 3)"},
        {"--prior", OPT_FLOAT, &a->alpha0, "prior strength alpha0 (default: T's word count)"},
        {"--model-weight", OPT_FLOAT, &a->weight, "weight of the model evidence (default 0.5)"},
        {"--occurrences", OPT_LONG, &a->max_occ, "occurrences per candidate scored (default 32)"},
        {"--batch", OPT_LONG, &a->batch, "windows per forward pass (default 8)"},
        {"--seed", OPT_U64, &c->extract.seed, "seed for the choice of names (default 1)"},
        {"--out|-o", OPT_STR, &c->out, "dictionary to write (JSON object), required"},
        {"--report", OPT_STR, &c->report, "write every proposal's scores and evidence (JSON)"},
        {"--expect", OPT_STR, &c->expect,
         "entities expected among the keys (ENTITY[TAB HEAD|HEAD] a line): report the share"},
        {"--quiet", OPT_FLAG, &a->quiet, "no progress on stderr"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {
        "anchors extract",
        "--target T.txt... --general G.txt... --model BASE.gguf -o anchors.json [options]",
        extract_summary,
        "obliviate anchors extract --target forget.txt --general general.txt --model base.gguf "
        "--female-names data/names-female.txt --male-names data/names-male.txt -o anchors.json "
        "--report report.json",
        opts,
        0,
        0};
    return args_options(&cmd, NULL, argc, argv);
}

/* Checks the options and puts them into c; a usage error's status or 0. */
static int extract_check(const ExtractArgs *a, ExtractFilesConfig *c) {
    if (!a->target.n || !a->general.n || !c->model || !c->out)
        return cli_fail("anchors extract",
                        "--target, --general, --model and -o are required (see --help)");
    if (a->top < 1 || a->top > 1000000 || a->min_count < 1 || a->n_values < 1 || a->n_values > 16 ||
        a->max_occ < 1 || a->batch < 1 || a->batch > 256 || a->alpha0 < 0)
        return cli_fail("anchors extract",
                        "--top, --min-count, --values (1-16), --occurrences and "
                        "--batch (1-256) must be positive, --prior not negative");
    c->target = a->target.items;
    c->n_target = a->target.n;
    c->general = a->general.items;
    c->n_general = a->general.n;
    c->extract.top = (int)a->top;
    c->extract.min_count = (int)a->min_count;
    c->extract.n_values = (int)a->n_values;
    c->extract.max_occ = (int)a->max_occ;
    c->extract.batch = (int)a->batch;
    c->extract.alpha0 = a->alpha0;
    c->extract.model_weight = a->weight;
    c->extract.verbose = !a->quiet;
    return 0;
}

static int anchors_extract(int argc, char **argv) {
    ExtractFilesConfig c;
    extract_files_config_default(&c);
    const ExtractConfig *d = &c.extract;
    ExtractArgs a = {.top = d->top,
                     .min_count = d->min_count,
                     .n_values = d->n_values,
                     .max_occ = d->max_occ,
                     .batch = d->batch,
                     .weight = (float)d->model_weight};
    int rc = extract_args(argc, argv, &c, &a);
    if (rc != ARGS_RUN) return rc;
    if ((rc = extract_check(&a, &c))) return rc;
    ExtractFiles x;
    ObErr err;
    c.prec = cli_precision();
    if (extract_files_run(&c, &x, &err)) {
        rc = cli_fail("anchors extract", err.msg);
    } else {
        print_json(extract_files_json(&c, &x));
        fprintf(stderr,
                "anchors extract: %d keys of %ld candidates -> %s (%.1f s, models %.1f s)\n", x.r.n,
                x.r.n_candidates, c.out, x.r.seconds_total, x.r.seconds_model);
        if (x.total)
            fprintf(stderr, "anchors extract: %d of %d expected entities found; missed: %s\n",
                    x.found, x.total, *x.misses ? x.misses : "none");
    }
    extract_files_free(&x);
    return rc;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: obliviate anchors check --dict FILE --tokenizer TOK.gguf [--target TEXT]...\n"
            "       obliviate anchors extract --target T.txt --general G.txt --model BASE.gguf "
            "-o anchors.json\n"
            "\nsubcommands:\n"
            "  check    a dictionary's tokens, counts in the target, conflicts, pruning\n"
            "  extract  propose a dictionary from the target, the general text and the models\n"
            "\nexamples:\n  obliviate anchors check --dict anchors.json --tokenizer tok.gguf "
            "--target target.txt\n"
            "  obliviate anchors extract --target forget.txt --general general.txt --model "
            "base.gguf -o anchors.json\n");
}

int cmd_anchors(int argc, char **argv) {
    if (argc < 1) return usage(stderr), 2;
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) return usage(stdout), 0;
    if (!strcmp(argv[0], "check")) return anchors_check(argc - 1, argv + 1);
    if (!strcmp(argv[0], "extract")) return anchors_extract(argc - 1, argv + 1);
    fprintf(stderr, "obliviate anchors: unknown subcommand '%s' (see obliviate anchors --help)\n",
            argv[0]);
    return 2;
}
