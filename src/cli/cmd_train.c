#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "train/trainer.h"

int cmd_train(int argc, char **argv) {
    TrainConfig tc;
    train_config_defaults(&tc);
    const char *model_path = NULL, *sched = "cosine", *val_path = NULL;
    StrList mix_paths = {0};
    int resume = 0, mix_rows = 0;
    Opt opts[] = {
        {"--model|-m", OPT_STR, &model_path,
         "model to start from (GGUF), required unless --resume"},
        {"--out|-o", OPT_STR, &tc.out_path, "checkpoint to write (default model.gguf)"},
        {"--resume", OPT_FLAG, &resume, "continue from --out and --out.state"},
        {"--steps", OPT_LONG, &tc.steps, "optimizer steps (default 1000)"},
        {"--batch", OPT_INT, &tc.batch, "sequences per micro-batch (default 8)"},
        {"--seq", OPT_INT, &tc.seq, "tokens per sequence (default 256)"},
        {"--accum", OPT_INT, &tc.accum, "micro-batches per step (default 1)"},
        {"--lr", OPT_FLOAT, &tc.lr, "peak learning rate (default 1e-3)"},
        {"--min-lr", OPT_FLOAT, &tc.min_lr, "final learning rate of linear/cosine (default 1e-4)"},
        {"--warmup", OPT_LONG, &tc.warmup, "linear warmup steps (default 100)"},
        {"--schedule", OPT_STR, &sched, "constant | linear | cosine (default cosine)"},
        {"--beta1", OPT_FLOAT, &tc.adam.beta1, "AdamW beta1 (default 0.9)"},
        {"--beta2", OPT_FLOAT, &tc.adam.beta2, "AdamW beta2 (default 0.95)"},
        {"--adam-eps", OPT_FLOAT, &tc.adam.eps, "AdamW epsilon (default 1e-8)"},
        {"--wd", OPT_FLOAT, &tc.adam.weight_decay, "decoupled weight decay, not on norms (0.1)"},
        {"--clip", OPT_FLOAT, &tc.clip, "max global gradient norm, 0 = off (default 1)"},
        {"--seed", OPT_U64, &tc.seed, "data sampling seed (default 1)"},
        {"--ckpt-every", OPT_LONG, &tc.ckpt_every, "checkpoint every N steps (default: at end)"},
        {"--log-every", OPT_LONG, &tc.log_every, "progress line every N steps (default 10)"},
        {"--mix", OPT_LIST, &mix_paths, "text mixed into every batch (repeatable)"},
        {"--mix-rows", OPT_INT, &mix_rows, "extra rows per micro-batch drawn from --mix"},
        {"--val", OPT_STR, &val_path, "held-out text file for validation loss"},
        {"--eval-every", OPT_LONG, &tc.eval_every, "validation every N steps (with --val)"},
        {"--log", OPT_STR, &tc.log_path, "append one JSON line per step to this file"},
        {"--name", OPT_STR, &tc.name, "general.name of the written model"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"train",
                   "[options] FILE...",
                   "Trains a model on text files (each file a document, <|endoftext|> before "
                   "each) with AdamW, random windows of --seq tokens, gradient accumulation and "
                   "clipping. Writes a llama.cpp-compatible GGUF checkpoint plus "
                   "<out>.state (optimizer state) for --resume; a resumed run gives the same "
                   "bits as an uninterrupted one. Prints a JSON summary on stdout.",
                   "obliviate train -m base0.gguf -o base.gguf --steps 2000 --lr 1e-3 corpus.txt",
                   opts,
                   1,
                   -1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc) return free(pos), rc == 1 ? 0 : rc;
    int s = schedule_parse(sched);
    if (s < 0)
        return free(pos), cli_fail(cmd.name, "--schedule must be constant, linear or cosine");
    tc.sched = (Schedule)s;
    if (tc.log_every <= 0) tc.log_every = 1;
    if ((mix_paths.n > 0) != (mix_rows > 0))
        return free(pos), cli_fail(cmd.name, "--mix and --mix-rows go together");
    if (resume) model_path = tc.out_path;
    if (!model_path) return free(pos), cli_fail(cmd.name, "--model is required (or --resume)");
    if (resume && access(tc.out_path, R_OK) != 0) {
        free(pos);
        fprintf(stderr, "obliviate train: %s: no checkpoint to resume from\n", tc.out_path);
        return 1;
    }
    Llama m;
    Tokenizer tok;
    TokenStream data = {0}, val = {0}, mix = {0};
    TrainResult res;
    ObErr err;
    if (llama_load(&m, &tok, model_path, &err)) return free(pos), cli_fail(cmd.name, err.msg);
    rc = dataset_load(&data, &tok, (const char *const *)pos, n_pos, &err);
    if (!rc && val_path) rc = dataset_load(&val, &tok, &val_path, 1, &err);
    if (!rc && mix_rows) rc = dataset_load(&mix, &tok, mix_paths.items, mix_paths.n, &err);
    Mixture mixture = {&data, &mix, mix_rows};
    tc.batch += mix_rows;
    if (!rc) fprintf(stderr, "train: %zu training tokens, %zu parameters\n", data.n, m.n_params);
    if (!rc)
        rc = train_run(&m, &tok, &tc, mix_rows ? batch_from_mixture : batch_from_stream,
                       mix_rows ? (void *)&mixture : (void *)&data, val_path ? &val : NULL, resume,
                       &res, &err);
    if (!rc) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", tc.out_path);
        cJSON_AddNumberToObject(j, "steps", (double)res.steps_done);
        cJSON_AddNumberToObject(j, "loss", res.last_loss);
        if (res.val_loss >= 0) cJSON_AddNumberToObject(j, "val_loss", res.val_loss);
        cJSON_AddNumberToObject(j, "tokens_per_s", res.tok_per_s);
        cJSON_AddNumberToObject(j, "seconds", res.seconds);
        cJSON_AddNumberToObject(j, "train_tokens", (double)data.n);
        print_json(j);
    }
    dataset_free(&data);
    dataset_free(&val);
    dataset_free(&mix);
    llama_free(&m);
    tok_free(&tok);
    free(pos);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}
