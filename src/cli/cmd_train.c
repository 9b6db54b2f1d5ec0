/* `obliviate train` (text, or with --labels the unlearning fine-tune) and
 * `obliviate reinforce` (train with the method's step-1 defaults). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "train/textrun.h"

typedef struct {
    TextRunConfig text;
    FinetuneConfig ft;
    TrainConfig *tc; /* text.train or ft.train */
    const char *model, *out, *merge, *labels, *sched;
    int resume;
    StrList mix;
    LoraOpts lora;
    FinetuneOpts fto;
    Opt io[24], optim[16];
} TrainArgs;

/* The optimiser and schedule: one table for every mode, the defaults being
 * the mode's (text, reinforce, or the fine-tune's with --labels). */
static void optim_opts(TrainArgs *a) {
    TrainConfig *t = a->tc;
    const Opt o[] = {
        {"--steps", OPT_LONG, &t->steps,
         "optimizer steps (default 1000; reinforce 150; --labels 3 epochs of blocks)"},
        {"--batch", OPT_INT, &t->batch, "sequences per micro-batch (default 8)"},
        {"--seq", OPT_INT, &t->seq, "tokens per sequence (256; --labels: the block)"},
        {"--accum", OPT_INT, &t->accum, "micro-batches per step (default 1)"},
        {"--lr", OPT_FLOAT, &t->lr, "peak learning rate (1e-3; reinforce, --labels 5e-4)"},
        {"--min-lr", OPT_FLOAT, &t->min_lr,
         "final learning rate (1e-4; reinforce 5e-5; --labels 0)"},
        {"--warmup", OPT_LONG, &t->warmup,
         "linear warmup steps (100; reinforce 16; --labels steps/20)"},
        {"--schedule", OPT_STR, &a->sched, "constant | linear | cosine (cosine; --labels linear)"},
        {"--beta1", OPT_FLOAT, &t->adam.beta1, "AdamW beta1 (default 0.9)"},
        {"--beta2", OPT_FLOAT, &t->adam.beta2, "AdamW beta2 (0.95; --labels 0.98)"},
        {"--adam-eps", OPT_FLOAT, &t->adam.eps, "AdamW epsilon (default 1e-8)"},
        {"--wd", OPT_FLOAT, &t->adam.weight_decay,
         "decoupled weight decay, not on norms (0.1; --labels 0)"},
        {"--clip", OPT_FLOAT, &t->clip, "max global gradient norm, 0 = off (default 1)"},
        {"--seed", OPT_U64, &t->seed, "data sampling seed (default 1)"},
        {NULL, 0, NULL, NULL},
    };
    _Static_assert(sizeof o <= sizeof a->optim, "TrainArgs.optim is too small");
    memcpy(a->optim, o, sizeof o);
}

static void io_opts(TrainArgs *a) {
    TrainConfig *t = a->tc;
    const Opt o[] = {
        {"--model|-m", OPT_STR, &a->model, "model to start from (GGUF), required unless --resume"},
        {"--out|-o", OPT_STR, &a->out, "model to write (default model.gguf)"},
        {"--resume", OPT_FLAG, &a->resume, "continue from the checkpoint of --out"},
        {"--ckpt-every", OPT_LONG, &t->ckpt_every,
         "checkpoint every N steps (default: at end; --labels 25)"},
        {"--log-every", OPT_LONG, &t->log_every, "progress line every N steps (10)"},
        {"--mix", OPT_LIST, &a->mix, "text mixed into every batch (repeatable)"},
        {"--mix-rows", OPT_INT, &a->text.mix_rows, "extra rows per batch from --mix"},
        {"--val", OPT_STR, &a->text.val, "held-out text file for validation loss"},
        {"--eval-every", OPT_LONG, &t->eval_every,
         "validation every N steps and at the end (--labels: steps/10)"},
        {"--labels", OPT_STR, &a->labels,
         "unlearning fine-tune: train on a labels file (obliviate labels) instead of text"},
        {"--log", OPT_STR, &t->log_path,
         "one JSON line per step to this file (a fresh run starts it anew, --resume trims it to "
         "the checkpoint)"},
        {"--name", OPT_STR, &t->name, "general.name of the written model"},
        {"--merge", OPT_STR, &a->merge,
         "with --lora-rank: also write the model with the adapter folded in here"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    _Static_assert(sizeof o <= sizeof a->io, "TrainArgs.io is too small");
    memcpy(a->io, o, sizeof o);
}

static void print_result(const TrainArgs *a, const TrainResult *res, const LoraConfig *lo,
                         long lora_params) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, lo->rank ? "adapter" : "model", a->out);
    if (lo->rank) {
        char targets[64];
        lora_targets_str(lo->targets, targets, sizeof targets);
        cJSON_AddNumberToObject(j, "lora_rank", lo->rank);
        cJSON_AddNumberToObject(j, "lora_alpha", lo->alpha);
        cJSON_AddStringToObject(j, "lora_targets", targets);
        cJSON_AddNumberToObject(j, "lora_params", (double)lora_params);
    }
    if (a->merge) cJSON_AddStringToObject(j, "merged", a->merge);
    cJSON_AddNumberToObject(j, "steps", (double)res->steps_done);
    cJSON_AddNumberToObject(j, "loss", res->last_loss);
    if (res->val_loss >= 0) cJSON_AddNumberToObject(j, "val_loss", res->val_loss);
    if (res->best_val_loss >= 0) cJSON_AddNumberToObject(j, "best_val_loss", res->best_val_loss);
    cJSON_AddNumberToObject(j, "tokens_per_s", res->tok_per_s);
    cJSON_AddNumberToObject(j, "seconds", res->seconds);
    cJSON_AddNumberToObject(j, "batch", a->tc->batch);
    cJSON_AddNumberToObject(j, "seq", a->tc->seq);
    print_json(j);
}

/* What the flags say, checked; NULL or a one-line complaint. */
static const char *train_check(TrainArgs *a, int n_pos) {
    int s = schedule_parse(a->sched);
    if (s < 0) return "--schedule must be constant, linear or cosine";
    a->tc->sched = (Schedule)s;
    if ((a->mix.n > 0) != (a->text.mix_rows > 0)) return "--mix and --mix-rows go together";
    if (a->labels && n_pos) return "--labels takes no text files (--retain adds general text)";
    if (a->labels && a->mix.n) return "with --labels, general text to keep is --retain";
    if (!a->labels && (a->fto.retain || strcmp(a->fto.targets, "soft") || !isnan(a->ft.alpha)))
        return "--targets, --retain and --alpha go with --labels";
    if (!a->resume && !a->model) return "--model is required (or --resume)";
    const char *bad = lora_opts_finish(&a->lora);
    if (bad) return bad;
    if (a->lora.lora->rank && !a->model) return "--lora-rank needs --model (the frozen base)";
    if (a->merge && !a->lora.lora->rank) return "--merge goes with --lora-rank";
    return a->labels ? finetune_opts_finish(&a->fto) : NULL;
}

/* Runs the mode the flags chose; prints its summary. */
static int train_go(TrainArgs *a, char **pos, int n_pos, ObErr *err) {
    LoraConfig lo;
    long lora_params;
    TrainResult tr;
    a->ft.prec = a->text.prec = cli_precision();
    if (a->labels) {
        FinetuneConfig *f = &a->ft;
        f->model = a->model, f->labels = a->labels, f->out = a->out, f->resume = a->resume;
        f->merge = a->merge;
        FinetuneResult r;
        if (finetune_run(f, &r, err)) return -1;
        tr = r.train, lo = r.lora, lora_params = r.lora_params;
    } else {
        TextRunConfig *t = &a->text;
        t->model = a->model, t->out = a->out, t->resume = a->resume, t->merge = a->merge;
        t->texts = (const char *const *)pos, t->n_texts = n_pos;
        t->mix = a->mix.items, t->n_mix = a->mix.n;
        TextRunResult r;
        if (textrun_run(t, &r, err)) return -1;
        tr = r.train, lo = r.lora, lora_params = r.lora_params;
    }
    print_result(a, &tr, &lo, lora_params);
    return 0;
}

static int train_main(int argc, char **argv, int reinforce) {
    static TrainArgs a; /* its tables point into it */
    memset(&a, 0, sizeof a);
    int labels = 0; /* --labels picks the fine-tune's defaults before parsing */
    for (int i = 0; i < argc; i++) labels |= !strcmp(argv[i], "--labels");
    reinforce ? textrun_config_reinforce(&a.text) : textrun_config_defaults(&a.text);
    finetune_config_defaults(&a.ft);
    a.tc = labels ? &a.ft.train : &a.text.train;
    a.sched = labels ? "linear" : "cosine", a.out = "model.gguf";
    optim_opts(&a), io_opts(&a);
    lora_opts(&a.lora, labels ? &a.ft.lora : &a.text.lora);
    finetune_opts(&a.fto, &a.ft, 1);
    Command cmd = {
        reinforce ? "reinforce" : "train",
        "[options] FILE...  |  --labels FILE [options]",
        reinforce ? "Step 1 of the method: continues training the baseline on the target text "
                    "so it knows it even better: `obliviate train` with step 1's defaults. With "
                    "--lora-rank R it trains a LoRA adapter on the frozen model instead, and -o "
                    "is the adapter (labels --reinforced takes it)."
                  : "Trains a model on text files (each file a document, <|endoftext|> before "
                    "each) with AdamW, random windows of --seq tokens, gradient accumulation "
                    "and clipping; or, with --labels, fine-tunes it on generic labels (the "
                    "unlearning step, with that step's defaults), keeping the model with the "
                    "best held-out loss in --out and checkpoints in <out>.ckpt.gguf. "
                    "Checkpoints carry the optimizer state (<checkpoint>.state); --resume "
                    "continues bit-identically. With --lora-rank the model's weights stay "
                    "frozen (memory-mapped, BF16/F16/F32 as stored) and only a LoRA adapter "
                    "trains; --out (and each checkpoint) is then the adapter, and --merge "
                    "writes the full model too. Prints JSON.",
        reinforce ? "obliviate reinforce -m base.gguf -o reinforced.gguf forget.txt"
                  : "obliviate train -m base0.gguf -o base.gguf --steps 2000 --lr 1e-3 "
                    "corpus.txt",
        a.io,
        0,
        -1};
    const Opt *groups[] = {a.optim, a.fto.opts, a.lora.opts, NULL};
    char **pos;
    int n_pos, rc = args_parse_groups(&cmd, groups, argc, argv, &pos, &n_pos);
    if (rc != ARGS_RUN) return rc;
    const char *bad = train_check(&a, n_pos);
    ObErr err;
    /* the ranges before any file is read */
    int range = !bad && (a.labels ? finetune_config_check(&a.ft, "--", &err)
                                  : train_config_check(a.tc, "--", &err));
    rc = bad                              ? cli_usage(cmd.name, bad)
         : range                          ? cli_usage(cmd.name, err.msg)
         : train_go(&a, pos, n_pos, &err) ? cli_fail(cmd.name, err.msg)
                                          : 0;
    free(pos);
    return rc;
}

int cmd_train(int argc, char **argv) {
    return train_main(argc, argv, 0);
}

int cmd_reinforce(int argc, char **argv) {
    return train_main(argc, argv, 1);
}
