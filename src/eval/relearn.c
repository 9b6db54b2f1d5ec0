#include "eval/relearn.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/lora.h"
#include "train/trainer.h"
#include "util/fileio.h"

void relearn_config_defaults(RelearnConfig *c) {
    *c = (RelearnConfig){
        .steps = 20, .lr = 3e-4f, .batch = 4, .seq = 256, .seed = 1, .lora_rank = 16};
}

/* Removes the files in dir (only the trainer's, in a folder we made) and dir. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        char path[4096];
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

int relearn_run(Llama *m, const Tokenizer *tok, const TokenStream *ds, const RelearnConfig *c,
                RelearnResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    const char *trained = !m->frozen ? "weights" : m->lora ? "own adapter" : "fresh adapter";
    if (c->steps < 1 || c->batch < 1 || c->seq < 1 || !(c->lr > 0))
        return ob_errf(err, "relearning needs steps, batch and window length >= 1 and lr > 0");
    if (m->frozen && !m->lora) {
        LoraConfig lc;
        lora_config_defaults(&lc);
        lc.rank = c->lora_rank, lc.alpha = 2.0f * (float)c->lora_rank; /* the defaults' ratio */
        lc.targets = (1u << MAT_N) - 1; /* attention and MLP: all a full fine-tune reaches */
        if (llama_add_lora(m, &lc, c->seed, err)) return ob_err_prefix(err, "relearning");
    }
    TrainConfig tc;
    train_config_defaults(&tc);
    tc.batch = c->batch;
    tc.seq = c->seq < m->cfg.ctx_len ? c->seq : m->cfg.ctx_len;
    tc.steps = c->steps, tc.warmup = 0;
    tc.lr = tc.min_lr = c->lr;
    tc.sched = SCHED_CONSTANT;
    tc.seed = c->seed;
    tc.log_every = c->steps; /* one progress line */
    char dir[512], out[600];
    if (ob_make_temp_dir(dir, sizeof dir, NULL, "relearn", err)) return -1;
    snprintf(out, sizeof out, "%s/relearned.gguf", dir);
    tc.out_path = out;
    tc.name = "relearned";
    TrainData data = {.next = batch_from_stream, .ctx = (void *)ds};
    TrainResult tr;
    int rc = train_run(m, tok, &tc, &data, 0, &tr, err);
    remove_dir(dir);
    if (rc) return ob_err_prefix(err, "relearning");
    res->steps = tr.steps_done;
    res->trained = trained;
    res->seq = tc.seq;
    res->last_loss = tr.last_loss;
    res->seconds = tr.seconds;
    return 0;
}
