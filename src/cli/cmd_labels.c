/* `obliviate labels`: generic labels for the target text (WHP steps 3-4). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "unlearn/labelrun.h"

/* "2.5,5,10" -> c->alphas; 0 on success. */
static int parse_alphas(const char *s, LabelConfig *c) {
    c->n_alphas = 0;
    while (*s) {
        char *end;
        errno = 0;
        float a = strtof(s, &end);
        if (end == s || errno || !isfinite(a) || a < 0.0f || c->n_alphas == LABELS_MAX_ALPHAS)
            return -1;
        c->alphas[c->n_alphas++] = a;
        if (*end == ',' && end[1])
            s = end + 1;
        else if (*end)
            return -1;
        else
            s = end;
    }
    return c->n_alphas ? 0 : -1;
}

static void print_summary(const char *out, const LabelConfig *c, const LabelStats *st) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "labels", out);
    cJSON_AddNumberToObject(j, "blocks", (double)st->blocks);
    cJSON_AddNumberToObject(j, "block", st->block);
    cJSON_AddNumberToObject(j, "positions", (double)st->positions);
    cJSON_AddNumberToObject(j, "labelled", (double)st->labelled);
    cJSON *al = cJSON_AddArrayToObject(j, "alphas"), *ch = cJSON_AddArrayToObject(j, "changed");
    for (int a = 0; a < c->n_alphas; a++) {
        cJSON_AddItemToArray(al, cJSON_CreateNumber(c->alphas[a]));
        double share = st->labelled ? (double)st->changed[a] / (double)st->labelled : 0.0;
        cJSON_AddItemToArray(ch, cJSON_CreateNumber(share));
    }
    cJSON_AddNumberToObject(j, "soft_k", c->soft_k);
    cJSON_AddStringToObject(j, "forbid_keys",
                            c->forbid_keys == LABELS_FORBID_FIRST   ? "first"
                            : c->forbid_keys == LABELS_FORBID_WHOLE ? "whole"
                                                                    : "none");
    cJSON_AddNumberToObject(j, "suppress", c->soft_k ? c->suppress : 0);
    cJSON_AddBoolToObject(j, "inkey", c->inkey != 0);
    cJSON_AddNumberToObject(j, "seconds", st->seconds);
    cJSON_AddNumberToObject(j, "tokens_per_s", st->tokens_per_s);
    print_json(j);
    fprintf(stderr, "labels: %ld blocks of %d, %ld of %ld positions labelled; changed", st->blocks,
            st->block, st->labelled, st->positions);
    for (int a = 0; a < c->n_alphas; a++)
        fprintf(stderr, "%s %.1f%% at alpha %g", a ? "," : "",
                st->labelled ? 100.0 * (double)st->changed[a] / (double)st->labelled : 0.0,
                c->alphas[a]);
    fprintf(stderr, "; %.1f s, %.0f tok/s -> %s\n", st->seconds, st->tokens_per_s, out);
}

static const char LABELS_USAGE[] =
    "--base B.gguf --reinforced R.gguf [--anchors A.json] -o OUT --target TEXT...";
static const char LABELS_SUMMARY[] =
    "Makes the generic labels of the WHP method: the target text is cut into blocks, each block "
    "is translated with the anchor dictionary, and at every position the label comes from v = g "
    "- alpha * max(r - g, 0), g being the baseline's logits on the translated block and r the "
    "reinforced model's on the original. Keeps the hard label (argmax v) and a soft target "
    "(top-k of softmax v plus the remaining mass) for each alpha. Without --anchors only the "
    "alpha term acts. The defaults are those of `obliviate unlearn`. Prints a JSON summary on "
    "stdout.";
static const char LABELS_EXAMPLE[] = "obliviate labels --base base.gguf --reinforced reinf.gguf "
                                     "--anchors anchors.json --alpha 0,2.5,5 -o labels.bin "
                                     "--target book.txt";

int cmd_labels(int argc, char **argv) {
    static LabelRunConfig c; /* the tables point into it */
    labelrun_config_defaults(&c);
    const char *alpha_s = "0";
    StrList targets = {0};
    LabelOpts lo;
    label_opts(&lo, &c.labels);
    Opt opts[] = {
        {"--base", OPT_STR, &c.base, "baseline model B (GGUF), required"},
        {"--reinforced", OPT_STR, &c.reinforced,
         "reinforced model R (GGUF, same tokenizer), or a LoRA adapter of the baseline (train "
         "--lora-rank): then one frozen, mapped copy of the baseline serves both models"},
        {"--anchors", OPT_STR, &c.anchors, "anchor dictionary (JSON or JSON Lines)"},
        {"--target", OPT_LIST, &targets, "target text file (repeatable; also positional)"},
        {"--out|-o", OPT_STR, &c.out, "labels file to write, required"},
        {"--alpha", OPT_STR, &alpha_s,
         "one or more alphas, comma-separated (default 0: labels from the translated text "
         "alone)"},
        {"--batch", OPT_INT, &c.labels.batch, "blocks per forward pass (default 4)"},
        {"--seed", OPT_U64, &c.labels.seed, "seed for choosing anchor values (default 1)"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"labels", LABELS_USAGE, LABELS_SUMMARY, LABELS_EXAMPLE, opts, 0, -1};
    const Opt *groups[] = {lo.opts, NULL};
    char **pos;
    int n_pos, rc = args_parse_groups(&cmd, groups, argc, argv, &pos, &n_pos);
    if (rc != ARGS_RUN) return rc;
    const char *files[64];
    int n_files = 0;
    for (int i = 0; i < targets.n && n_files < 64; i++) files[n_files++] = targets.items[i];
    for (int i = 0; i < n_pos && n_files < 64; i++) files[n_files++] = pos[i];
    const char *bad =
        targets.n + n_pos > 64               ? "at most 64 target files"
        : !c.base || !c.reinforced || !c.out ? "--base, --reinforced and -o are required"
        : !n_files                           ? "no target text (--target FILE)"
        : parse_alphas(alpha_s, &c.labels) ? "--alpha: expected 1 to 8 numbers >= 0, e.g. 2.5,5,10"
                                           : label_opts_finish(&lo);
    free(pos);
    if (bad) return cli_fail(cmd.name, bad);
    c.targets = files, c.n_targets = n_files, c.prec = cli_precision();
    LabelStats st;
    ObErr err;
    if (labelrun_run(&c, &st, &err)) return cli_fail(cmd.name, err.msg);
    print_summary(c.out, &c.labels, &st);
    return 0;
}
