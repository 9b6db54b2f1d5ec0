#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "unlearn/labels.h"
#include "unlearn/pipeline.h"

/* `reinforce` is `train` on the target with the reinforcement defaults in
 * front of the user's own flags (later flags win). */
int cmd_reinforce(int argc, char **argv) {
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: obliviate reinforce -m BASE.gguf -o REINFORCED.gguf [train options] "
               "TARGET...\n\nStep 1 of the method: continues training the baseline on the "
               "target text so it knows it even better. It is `obliviate train` with these "
               "defaults, which any train option overrides: --steps 150 --lr 5e-4 --min-lr 5e-5 "
               "--warmup 16 --batch 8 --seq 256 --ckpt-every 50 --log-every 25. With "
               "--lora-rank R it trains a LoRA adapter on the frozen model instead, and -o is "
               "the adapter (labels --reinforced takes it).\n\nexample:\n  "
               "obliviate reinforce -m base.gguf -o reinforced.gguf forget.txt\n");
        return 0;
    }
    const char *defaults[] = {"--steps", "150",      "--lr",         "5e-4",    "--min-lr",
                              "5e-5",    "--warmup", "16",           "--batch", "8",
                              "--seq",   "256",      "--ckpt-every", "50",      "--log-every",
                              "25",      "--name",   "reinforced"};
    int nd = (int)(sizeof defaults / sizeof defaults[0]);
    char **args = malloc(sizeof(char *) * (size_t)(nd + argc + 1));
    if (!args) return cli_fail("reinforce", "out of memory");
    for (int i = 0; i < nd; i++) args[i] = (char *)defaults[i];
    for (int i = 0; i < argc; i++) args[nd + i] = argv[i];
    args[nd + argc] = NULL;
    int rc = cmd_train(nd + argc, args);
    free(args);
    return rc;
}

int cmd_unlearn(int argc, char **argv) {
    UnlearnConfig c;
    unlearn_config_defaults(&c);
    StrList targets = {0};
    int hard = 0;
    const char *forbid = "whole";
    int no_inkey = 0, published = 0;
    const char *lora_targets = "q,k,v,o";
    lora_config_defaults(&c.lora);
    c.lora.rank = 0, c.lora.alpha = 0; /* off unless --lora-rank */
    Opt opts[] = {
        {"--model|-m", OPT_STR, &c.base, "baseline model that knows the target, required"},
        {"--target", OPT_LIST, &targets, "target text to forget (repeatable), required"},
        {"--anchors", OPT_STR, &c.anchors, "anchor dictionary (JSON / JSON Lines), required"},
        {"--out|-o", OPT_STR, &c.out, "unlearned model to write, required"},
        {"--work", OPT_STR, &c.work, "work folder for every stage's file (unlearn-work)"},
        {"--reinforce-steps", OPT_LONG, &c.reinforce_steps, "reinforcement steps (150)"},
        {"--reinforce-lr", OPT_FLOAT, &c.reinforce_lr, "reinforcement learning rate (5e-4)"},
        {"--alpha", OPT_FLOAT, &c.alpha,
         "label strength; alpha/2 and 2 alpha are kept too (default 0: labels from the translated "
         "text alone)"},
        {"--soft-k", OPT_INT, &c.soft_k, "soft-target tokens kept per position (32)"},
        {"--hard", OPT_FLAG, &hard, "fine-tune on argmax labels, as published (default soft)"},
        {"--published", OPT_FLAG, &published,
         "the paper's recipe: hard labels, alpha 5, no forbidden keys, no suppression, no in-key "
         "labels (overrides those five settings)"},
        {"--forbid-keys", OPT_STR, &forbid,
         "anchor keys forbidden in every label: first (every key's first token), whole (keys "
         "that are one token) or none (default whole)"},
        {"--suppress", OPT_INT, &c.suppress,
         "forbidden tokens listed with target 0 in each soft target (default 8; 0: none)"},
        {"--no-inkey", OPT_FLAG, &no_inkey,
         "leave the positions inside anchor keys unlabelled, as published"},
        {"--block", OPT_INT, &c.block, "tokens per block (256, at most the context)"},
        {"--retain", OPT_STR, &c.retain,
         "general text mixed into the fine-tune to keep general ability (not in the paper)"},
        {"--retain-rows", OPT_INT, &c.retain_rows, "rows of --retain per batch (default 4)"},
        {"--steps", OPT_LONG, &c.steps, "fine-tune steps (default: 3 epochs of blocks)"},
        {"--lr", OPT_FLOAT, &c.lr, "fine-tune learning rate (5e-4)"},
        {"--batch", OPT_INT, &c.batch, "fine-tune batch (8)"},
        {"--seed", OPT_U64, &c.seed, "seed for every stage (1)"},
        {"--lora-rank", OPT_INT, &c.lora.rank,
         "reinforce and fine-tune LoRA adapters of this rank on the frozen, mapped model (for "
         "models too large to train whole); --out gets the merged model (default 0: off)"},
        {"--lora-alpha", OPT_FLOAT, &c.lora.alpha, "LoRA alpha (default 2 x rank)"},
        {"--lora-targets", OPT_STR, &lora_targets,
         "matrices with an adapter, from q,k,v,o,gate,up,down (default q,k,v,o)"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"unlearn",
                   "--model BASE.gguf --target TEXT --anchors DICT -o OUT.gguf [options]",
                   "Runs the whole method: reinforce, anchors, generic labels, fine-tune. Each "
                   "stage writes its file into --work; a rerun skips stages whose inputs did not "
                   "change and resumes an interrupted training stage from its checkpoint.",
                   "obliviate unlearn -m base.gguf --target forget.txt --anchors anchors.json -o "
                   "unlearned.gguf",
                   opts,
                   0,
                   0};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    free(pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (!c.base || !targets.n || !c.anchors || !c.out)
        return cli_fail(cmd.name, "--model, --target, --anchors and --out are required");
    c.targets = targets.items, c.n_targets = targets.n;
    if (c.lora.rank < 0 || c.lora.alpha < 0)
        return cli_fail(cmd.name, "--lora-rank and --lora-alpha must be positive");
    if (c.lora.rank && lora_parse_targets(lora_targets, &c.lora.targets))
        return cli_fail(cmd.name,
                        "--lora-targets: a comma-separated subset of q,k,v,o,gate,up,down");
    if (c.lora.rank && c.lora.alpha == 0) c.lora.alpha = 2.0f * (float)c.lora.rank;
    c.targets_mode = hard ? "hard" : "soft";
    if (no_inkey) c.inkey = 0;
    if (!strcmp(forbid, "first"))
        c.forbid_keys = LABELS_FORBID_FIRST;
    else if (!strcmp(forbid, "whole"))
        c.forbid_keys = LABELS_FORBID_WHOLE;
    else if (!strcmp(forbid, "none"))
        c.forbid_keys = LABELS_FORBID_NONE;
    else
        return cli_fail(cmd.name, "--forbid-keys must be first, whole or none");
    /* Last, so that it overrides the five settings it names (until 2026-12-07
     * it ran before targets_mode was set and fine-tuned on soft targets). */
    if (published) unlearn_config_published(&c);
    if (c.suppress < 0 || c.soft_k < 0 || c.soft_k + c.suppress > SOFT_K_MAX)
        return cli_fail(cmd.name, "--soft-k plus --suppress must be 0..256 (SOFT_K_MAX)");
    ObErr err;
    if (unlearn_run(&c, &err)) return cli_fail(cmd.name, err.msg);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", c.out);
    cJSON_AddStringToObject(j, "work", c.work);
    print_json(j);
    return 0;
}
