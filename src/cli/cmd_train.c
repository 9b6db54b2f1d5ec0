#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "train/trainer.h"
#include "unlearn/finetune.h"

/* Everything the training data of one run needs, text or labels. */
typedef struct {
    TokenStream data, val, mix;
    Mixture mixture;
    StreamEval stream_eval;
    LabelsFile lf;
    LabelsData ld;
    int have_lf;
    TrainData td;
} Sources;

static void sources_free(Sources *s) {
    dataset_free(&s->data);
    dataset_free(&s->val);
    dataset_free(&s->mix);
    free(s->stream_eval.inp);
    if (s->have_lf) labels_data_free(&s->ld), labels_close(&s->lf);
}

/* Text mode: positional files, optionally --mix and --val. */
static int text_sources(Sources *s, const Tokenizer *tok, TrainConfig *tc, char **files, int n,
                        const StrList *mix, int mix_rows, const char *val_path, ObErr *err) {
    if (n == 0) return ob_errf(err, "no training text files given");
    if (dataset_load(&s->data, tok, (const char *const *)files, n, err)) return -1;
    if (mix_rows && dataset_load(&s->mix, tok, mix->items, mix->n, err)) return -1;
    s->mixture = (Mixture){&s->data, &s->mix, mix_rows};
    tc->batch += mix_rows;
    s->td = (TrainData){mix_rows ? batch_from_mixture : batch_from_stream,
                        mix_rows ? (void *)&s->mixture : (void *)&s->data, NULL, NULL};
    if (val_path) {
        if (dataset_load(&s->val, tok, &val_path, 1, err)) return -1;
        size_t bt = (size_t)tc->batch * tc->seq;
        int32_t *buf = ob_malloc(sizeof(int32_t) * 2 * bt, "validation batch", err);
        if (!buf) return -1;
        s->stream_eval = (StreamEval){&s->val, tc->seq, 64, buf, buf + bt};
        s->td.eval = stream_eval, s->td.eval_ctx = &s->stream_eval;
    }
    fprintf(stderr, "train: %zu training tokens\n", s->data.n);
    return 0;
}

/* Labels mode (the unlearning fine-tune): inputs and targets from a labels
 * file, a held-out share of blocks, the best checkpoint kept. */
static int label_sources(Sources *s, const Tokenizer *tok, TrainConfig *tc, const char *path,
                         float alpha, const char *targets, double val_share, const StrList *mix,
                         int mix_rows, ObErr *err) {
    int soft = !strcmp(targets, "soft");
    if (!soft && strcmp(targets, "hard")) return ob_errf(err, "--targets must be soft or hard");
    if (labels_open(&s->lf, path, tok, err)) return -1;
    s->have_lf = 1;
    tc->seq = (int)s->lf.h.block;
    tc->soft_k = soft ? (int)s->lf.h.soft_k : 0;
    if (mix_rows && dataset_load(&s->mix, tok, mix->items, mix->n, err)) return -1;
    tc->batch += mix_rows; /* the retain rows ride along in every batch */
    if (labels_data_init(&s->ld, &s->lf, alpha, soft, val_share, tc->batch, err)) {
        labels_close(&s->lf);
        s->have_lf = 0;
        return -1;
    }
    s->ld.retain = &s->mix, s->ld.retain_rows = mix_rows;
    s->td = (TrainData){batch_from_labels, &s->ld, s->ld.n_val ? labels_eval : NULL, &s->ld};
    fprintf(stderr, "train: %llu label blocks (%llu held out), %s targets, alpha %g\n",
            (unsigned long long)s->lf.h.n_blocks, (unsigned long long)s->ld.n_val, targets, alpha);
    return 0;
}

static void print_result(const TrainConfig *tc, const TrainResult *res, const char *out,
                         const Lora *lo, const char *merged) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, lo ? "adapter" : "model", out);
    if (lo) {
        char targets[64];
        lora_targets_str(lo->cfg.targets, targets, sizeof targets);
        cJSON_AddNumberToObject(j, "lora_rank", lo->cfg.rank);
        cJSON_AddNumberToObject(j, "lora_alpha", lo->cfg.alpha);
        cJSON_AddStringToObject(j, "lora_targets", targets);
        cJSON_AddNumberToObject(j, "lora_params", (double)lo->n_params);
    }
    if (merged) cJSON_AddStringToObject(j, "merged", merged);
    cJSON_AddNumberToObject(j, "steps", (double)res->steps_done);
    cJSON_AddNumberToObject(j, "loss", res->last_loss);
    if (res->val_loss >= 0) cJSON_AddNumberToObject(j, "val_loss", res->val_loss);
    if (res->best_val_loss >= 0) cJSON_AddNumberToObject(j, "best_val_loss", res->best_val_loss);
    cJSON_AddNumberToObject(j, "tokens_per_s", res->tok_per_s);
    cJSON_AddNumberToObject(j, "seconds", res->seconds);
    cJSON_AddNumberToObject(j, "batch", tc->batch);
    cJSON_AddNumberToObject(j, "seq", tc->seq);
    print_json(j);
}

int cmd_train(int argc, char **argv) {
    TrainConfig tc;
    train_config_defaults(&tc);
    const char *model_path = NULL, *sched = "cosine", *val_path = NULL, *labels = NULL;
    const char *out = "model.gguf", *targets = "soft";
    const char *lora_targets = "q,k,v,o", *merge = NULL;
    LoraConfig lc;
    lora_config_defaults(&lc);
    lc.rank = 0, lc.alpha = 0; /* 0: no adapter; alpha 0: 2 x rank */
    StrList mix_paths = {0};
    int resume = 0, mix_rows = 0;
    float alpha = 5.0f, val_share = 0.05f;
    Opt opts[] = {
        {"--model|-m", OPT_STR, &model_path,
         "model to start from (GGUF), required unless --resume"},
        {"--out|-o", OPT_STR, &out, "model to write (default model.gguf)"},
        {"--resume", OPT_FLAG, &resume, "continue from the checkpoint of --out"},
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
        {"--mix", OPT_LIST, &mix_paths,
         "text mixed into every batch (repeatable); with --labels, general text to retain"},
        {"--mix-rows", OPT_INT, &mix_rows, "extra rows per micro-batch drawn from --mix"},
        {"--val", OPT_STR, &val_path, "held-out text file for validation loss"},
        {"--eval-every", OPT_LONG, &tc.eval_every, "validation every N steps (and at the end)"},
        {"--labels", OPT_STR, &labels,
         "unlearning fine-tune: train on a labels file (obliviate labels) instead of text"},
        {"--alpha", OPT_FLOAT, &alpha, "with --labels: which alpha's labels (default 5)"},
        {"--targets", OPT_STR, &targets, "with --labels: soft | hard (default soft)"},
        {"--val-share", OPT_FLOAT, &val_share,
         "with --labels: held-out share of blocks; the best model is kept (default 0.05)"},
        {"--log", OPT_STR, &tc.log_path, "append one JSON line per step to this file"},
        {"--name", OPT_STR, &tc.name, "general.name of the written model"},
        {"--lora-rank", OPT_INT, &lc.rank,
         "train a LoRA adapter of this rank on the frozen, memory-mapped model; --out is then "
         "the adapter (llama.cpp's LoRA GGUF) (default 0: train every weight)"},
        {"--lora-alpha", OPT_FLOAT, &lc.alpha,
         "LoRA scale numerator: W + alpha/rank B A (2 x rank)"},
        {"--lora-targets", OPT_STR, &lora_targets,
         "matrices with an adapter, from q,k,v,o,gate,up,down (default q,k,v,o)"},
        {"--merge", OPT_STR, &merge,
         "with --lora-rank: also write the model with the adapter folded in here"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"train",
                   "[options] FILE...  |  --labels FILE [options]",
                   "Trains a model on text files (each file a document, <|endoftext|> before "
                   "each) with AdamW, random windows of --seq tokens, gradient accumulation and "
                   "clipping; or, with --labels, fine-tunes it on generic labels (the unlearning "
                   "step), keeping the model with the best held-out loss in --out and "
                   "checkpoints in <out>.ckpt.gguf. Checkpoints carry the optimizer state "
                   "(<checkpoint>.state); --resume continues bit-identically. With --lora-rank "
                   "the model's weights stay frozen (memory-mapped, BF16/F16/F32 as stored) and "
                   "only a LoRA adapter trains; --out (and each checkpoint) is then the adapter, "
                   "and --merge writes the full model too. Prints JSON.",
                   "obliviate train -m base0.gguf -o base.gguf --steps 2000 --lr 1e-3 corpus.txt",
                   opts,
                   0,
                   -1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc) return free(pos), rc == 1 ? 0 : rc;
    int s = schedule_parse(sched);
    const char *bad = s < 0 ? "--schedule must be constant, linear or cosine"
                      : (mix_paths.n > 0) != (mix_rows > 0) ? "--mix and --mix-rows go together"
                      : labels && n_pos ? "--labels takes no text files (--mix adds retain text)"
                      : !resume && !model_path ? "--model is required (or --resume)"
                      : lc.rank < 0 || lc.alpha < 0
                          ? "--lora-rank and --lora-alpha must be positive"
                      : lc.rank && lora_parse_targets(lora_targets, &lc.targets)
                          ? "--lora-targets: a comma-separated subset of q,k,v,o,gate,up,down"
                      : lc.rank && !model_path ? "--lora-rank needs --model (the frozen base)"
                      : merge && !lc.rank      ? "--merge goes with --lora-rank"
                                               : NULL;
    if (bad) return free(pos), cli_fail(cmd.name, bad);
    tc.sched = (Schedule)s;
    if (tc.log_every <= 0) tc.log_every = 1;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, labels ? "%s.ckpt.gguf" : "%s", out);
    tc.out_path = ckpt;
    tc.best_path = labels ? out : NULL;
    if (resume && !lc.rank) model_path = ckpt;
    if (lc.rank && lc.alpha == 0) lc.alpha = 2.0f * (float)lc.rank;
    if (resume && access(ckpt, R_OK) != 0) {
        free(pos);
        fprintf(stderr, "obliviate train: %s: no checkpoint to resume from\n", ckpt);
        return 1;
    }
    Llama m;
    Tokenizer tok;
    Sources src = {0};
    TrainResult res;
    ObErr err;
    /* LoRA: the base stays frozen and mapped; the adapter starts fresh or,
     * resuming, from the checkpoint (which is an adapter). */
    rc = lc.rank ? llama_load_frozen(&m, &tok, model_path, &err)
                 : llama_load(&m, &tok, model_path, &err);
    if (rc) return free(pos), cli_fail(cmd.name, err.msg);
    if (lc.rank) {
        rc = resume ? llama_load_lora(&m, ckpt, &err) : llama_add_lora(&m, &lc, tc.seed, &err);
        if (!rc && resume && (m.lora->cfg.rank != lc.rank || m.lora->cfg.targets != lc.targets))
            rc = ob_errf(&err, "%s: the checkpoint's adapter has another rank or targets", ckpt);
        if (rc) {
            llama_free(&m), tok_free(&tok), free(pos);
            return cli_fail(cmd.name, err.msg);
        }
    }
    rc = labels ? label_sources(&src, &tok, &tc, labels, alpha, targets, val_share, &mix_paths,
                                mix_rows, &err)
                : text_sources(&src, &tok, &tc, pos, n_pos, &mix_paths, mix_rows, val_path, &err);
    if (!rc && labels && !src.td.eval) /* nothing held out: keep the last model */
        tc.out_path = out, tc.best_path = NULL;
    if (!rc && labels && tc.eval_every <= 0) tc.eval_every = tc.steps / 10 > 0 ? tc.steps / 10 : 1;
    if (!rc) rc = train_run(&m, &tok, &tc, &src.td, resume, &res, &err);
    /* the kept adapter may be an earlier (best) one than the last step's */
    if (!rc && merge && strcmp(tc.out_path, out)) rc = llama_load_lora(&m, out, &err);
    if (!rc && merge) rc = llama_save_merged(&m, &tok, tc.name, merge, &err);
    if (!rc) print_result(&tc, &res, out, m.lora, merge);
    sources_free(&src);
    llama_free(&m);
    tok_free(&tok);
    free(pos);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}
