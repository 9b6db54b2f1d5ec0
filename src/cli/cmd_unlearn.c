/* `obliviate reinforce` (train with step 1's defaults) and `obliviate
 * unlearn` (the whole method, unlearn/pipeline.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "unlearn/method.h"
#include "unlearn/objective_run.h"

/* The settings of unlearn's own table; the shared groups are in cli/opts.h. */
typedef struct {
    UnlearnConfig c;
    StrList targets;
    float level, level_lr;
    long level_steps;
    int published;
    const char *method;
    /* the field's methods' settings, NAN / -1 where not given: applied over
     * the method's preset */
    float lr, beta, delta, gamma, retain_weight, steer, negate;
    int kl_k, layer;
    LoraOpts lora;
    LabelOpts labels;
    FinetuneOpts ft;
    Opt opts[36];
} UnlearnArgs;

static void unlearn_opts(UnlearnArgs *a) {
    UnlearnConfig *c = &a->c;
    Opt *o = a->opts;
    *o++ = (Opt){"--model|-m", OPT_STR, &c->base, "baseline model that knows the target, required"};
    *o++ = (Opt){"--target", OPT_LIST, &a->targets, "target text to forget (repeatable), required"};
    *o++ =
        (Opt){"--anchors", OPT_STR, &c->anchors, "anchor dictionary (JSON / JSON Lines), required"};
    *o++ = (Opt){"--out|-o", OPT_STR, &c->out, "unlearned model to write, required"};
    *o++ = (Opt){"--work", OPT_STR, &c->work, "work folder for every stage's file (unlearn-work)"};
    *o++ = (Opt){"--reinforce-steps", OPT_LONG, &c->reinforce.steps, "reinforcement steps (150)"};
    *o++ =
        (Opt){"--reinforce-lr", OPT_FLOAT, &c->reinforce.lr, "reinforcement learning rate (5e-4)"};
    *o++ = (Opt){"--alpha", OPT_FLOAT, &c->labels.alphas[0],
                 "label strength; alpha/2 and 2 alpha are kept too (default 0: labels from the "
                 "translated text alone)"};
    *o++ = (Opt){"--method", OPT_STR, &a->method,
                 "whp (default), whp-published (the paper's recipe; also --published), or the "
                 "field's: ga, graddiff, ga-kl, npo, npo-graddiff, npo-kl, simnpo, undial, rmu, "
                 "task-vector; and level, whp-level (docs/method.md)"};
    *o++ = (Opt){"--published", OPT_FLAG, &a->published,
                 "the paper's recipe: hard labels, alpha 5, no forbidden keys, no suppression, no "
                 "in-key labels (overrides those five settings)"};
    *o++ = (Opt){"--steps", OPT_LONG, &c->finetune.train.steps,
                 "fine-tune steps (default: 3 epochs of blocks)"};
    *o++ = (Opt){"--lr", OPT_FLOAT, &a->lr,
                 "fine-tune learning rate (whp 5e-4; the field's methods: the demo's sweep, "
                 "docs/method.md)"};
    *o++ = (Opt){"--beta", OPT_FLOAT, &a->beta,
                 "npo* 0.1, simnpo 4.5, undial 10: the objective's inverse temperature"};
    *o++ = (Opt){"--delta", OPT_FLOAT, &a->delta,
                 "simnpo: margin on the mean token loss (0); level: nats added to the level (0)"};
    *o++ = (Opt){"--forget-weight", OPT_FLOAT, &a->gamma,
                 "weight of the forget term (1; simnpo 0.125)"};
    *o++ = (Opt){"--retain-weight", OPT_FLOAT, &a->retain_weight,
                 "weight of the retain term of graddiff, *-kl, npo-graddiff, simnpo (1), rmu "
                 "(100; the authors' 1200)"};
    *o++ = (Opt){"--kl-k", OPT_INT, &a->kl_k,
                 "baseline tokens kept per position for KL and UNDIAL targets (32)"};
    *o++ = (Opt){"--layer", OPT_INT, &a->layer,
                 "rmu: the block whose output is steered (default 7/32 of the depth)"};
    *o++ = (Opt){"--steer", OPT_FLOAT, &a->steer, "rmu: length of the random target vector (6.5)"};
    *o++ = (Opt){"--negate", OPT_FLOAT, &a->negate,
                 "task-vector: BASE - NEGATE x (reinforced - BASE) (0.5; MUSE's 5)"};
    *o++ = (Opt){"--level", OPT_FLOAT, &a->level,
                 "level: the mean token loss the target is brought to (default 0: the baseline's "
                 "on --retain)"};
    *o++ = (Opt){"--level-steps", OPT_LONG, &a->level_steps,
                 "whp-level: steps of the level stage after WHP's (100)"};
    *o++ = (Opt){"--level-lr", OPT_FLOAT, &a->level_lr,
                 "whp-level: learning rate of the level stage (1e-4)"};
    *o++ = (Opt){"--batch", OPT_INT, &c->finetune.train.batch, "fine-tune batch (8)"};
    *o++ = (Opt){"--seed", OPT_U64, &c->seed, "seed for every stage (1)"};
    *o++ = (Opt)OPT_PRECISION;
    *o = (Opt){NULL, 0, NULL, NULL};
}

static void print_done(const UnlearnConfig *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", c->out);
    cJSON_AddStringToObject(j, "work", c->work);
    print_json(j);
}

int cmd_unlearn(int argc, char **argv) {
    static UnlearnArgs a; /* its tables point into it: large, and one per process */
    memset(&a, 0, sizeof a);
    unlearn_config_defaults(&a.c);
    a.method = "whp";
    a.lr = a.beta = a.delta = a.gamma = a.retain_weight = a.steer = a.negate = a.level =
        a.level_lr = NAN;
    a.level_steps = -1;
    a.kl_k = a.layer = -2;
    unlearn_opts(&a);
    lora_opts(&a.lora, &a.c.lora);
    label_opts(&a.labels, &a.c.labels);
    finetune_opts(&a.ft, &a.c.finetune, 0);
    Command cmd = {"unlearn",
                   "--model BASE.gguf --target TEXT --anchors DICT -o OUT.gguf [options]",
                   "Runs the whole method: reinforce, anchors, generic labels, fine-tune. Each "
                   "stage writes its file into --work; a rerun skips stages whose inputs did not "
                   "change and resumes an interrupted training stage from its checkpoint. With "
                   "--lora-rank both training stages train adapters and --out gets the merged "
                   "model.",
                   "obliviate unlearn -m base.gguf --target forget.txt --anchors anchors.json -o "
                   "unlearned.gguf",
                   a.opts,
                   0,
                   0};
    const Opt *groups[] = {a.labels.opts, a.ft.opts, a.lora.opts, NULL};
    int rc = args_options(&cmd, groups, argc, argv);
    if (rc != ARGS_RUN) return rc;
    UnlearnConfig *c = &a.c;
    c->targets = a.targets.items, c->n_targets = a.targets.n;
    const char *bad = lora_opts_finish(&a.lora);
    if (!bad) bad = label_opts_finish(&a.labels);
    if (!bad) bad = finetune_opts_finish(&a.ft);
    if (bad) return cli_usage(cmd.name, bad);
    const UnlearnMethod *m = unlearn_method_find(a.published ? "whp-published" : a.method);
    if (!m || (a.published && strcmp(a.method, "whp") && strcmp(a.method, "whp-published"))) {
        char names[256], msg[320];
        unlearn_method_names(names, sizeof names);
        snprintf(msg, sizeof msg, "--method must be one of %s (--published is whp-published)",
                 names);
        return cli_usage(cmd.name, msg);
    }
    if (!c->base || !a.targets.n || (m->needs_anchors && !c->anchors) || !c->out)
        return cli_fail(cmd.name, m->needs_anchors
                                      ? "--model, --target, --anchors and --out are required"
                                      : "--model, --target and --out are required");
    if (!m->needs_anchors && c->anchors)
        return cli_usage(cmd.name, "--anchors is WHP's: this method does not use it");
    if (m->preset) m->preset(c); /* the method's own settings win over WHP's flags */
    if (!isnan(a.lr)) c->finetune.train.lr = a.lr;
    ObjectiveConfig *ob = &c->objective;
    if (!isnan(a.beta)) ob->forget.beta = a.beta;
    if (!isnan(a.delta)) ob->forget.delta = a.delta;
    if (!isnan(a.gamma)) ob->forget.gamma = a.gamma;
    if (!isnan(a.retain_weight)) ob->alpha = a.retain_weight;
    if (a.kl_k != -2) ob->kl_k = a.kl_k;
    if (a.layer != -2) ob->layer = a.layer;
    if (!isnan(a.steer)) ob->steer = a.steer;
    if (!isnan(a.negate)) c->negate = a.negate;
    if (!isnan(a.level)) ob->forget.level = a.level;
    if (!isnan(a.level_lr)) c->level_train.lr = a.level_lr;
    if (a.level_steps >= 0) c->level_train.steps = a.level_steps;
    c->prec = cli_precision();
    ObErr err;
    if (m->check(c, &err)) return cli_usage(cmd.name, err.msg);
    if (m->run(c, &err)) return cli_fail(cmd.name, err.msg);
    print_done(c);
    return 0;
}
