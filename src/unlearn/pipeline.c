#include "unlearn/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/gguf.h"
#include "model/checkpoint.h"
#include "train/textrun.h"
#include "unlearn/anchors.h"
#include "unlearn/finetune.h"
#include "unlearn/labelrun.h"
#include "unlearn/labels.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/progress.h"

void unlearn_config_defaults(UnlearnConfig *c) {
    *c = (UnlearnConfig){.seed = 1, .work = "unlearn-work"};
    lora_config_defaults(&c->lora);
    c->lora.rank = 0, c->lora.alpha = 0; /* off unless asked for */
    TextRunConfig r;
    textrun_config_reinforce(&r);
    c->reinforce = r.train;
    label_config_defaults(&c->labels);
    finetune_config_defaults(&c->finetune);
    objective_config_defaults(&c->objective, FORGET_GA, RETAIN_NONE);
    c->negate = 5.0f;
    c->level_train = c->finetune.train;
    c->level_train.steps = 100, c->level_train.lr = 1e-4f;
}

void unlearn_config_published(UnlearnConfig *c) {
    c->finetune.hard = 1;
    c->labels.alphas[0] = 5.0f;
    c->labels.forbid_keys = LABELS_FORBID_NONE;
    c->labels.suppress = 0;
    c->labels.inkey = 0;
}

/* ---- stamps: a stage's inputs hashed, to skip or resume it ---- */

void unlearn_work_path(char *buf, size_t n, const UnlearnConfig *c, const char *name) {
    snprintf(buf, n, "%s/%s", c->work, name);
}

/* 1 when "<stage>.stamp" holds this hash and says done; 0 when it holds it
 * but the stage did not finish (resume); -1 otherwise (start afresh). */
static int stamp_state(const UnlearnConfig *c, const char *stage, uint64_t h) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.stamp", c->work, stage);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long got = 0;
    int done = 0;
    int n = fscanf(f, "%llx %d", &got, &done);
    fclose(f);
    if (n != 2 || got != h) return -1;
    return done ? 1 : 0;
}

int unlearn_stamp_write(const UnlearnConfig *c, const char *stage, uint64_t h, int done,
                        ObErr *err) {
    if (dist_rank() != 0) return 0; /* under MPI rank 0 alone writes the work folder */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.stamp", c->work, stage);
    ObAtomicFile af;
    if (ob_atomic_open(&af, path, err)) return -1;
    fprintf(af.fp, "%016llx %d\n", (unsigned long long)h, done);
    return ob_atomic_commit(&af, err);
}

/* ---- stages ---- */

static void stage_banner(const char *stage, const char *what) {
    ob_logf("unlearn: %s: %s\n", stage, what);
}

/* Step 1: the reinforced model, trained from BASE on the target. */
static int stage_reinforce(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    char out[4096], log[4096];
    unlearn_work_path(out, sizeof out, c, "reinforced.gguf");
    /* the log, for obliviate report's curves; a fresh start drops the old one */
    unlearn_work_path(log, sizeof log, c, "reinforce.log.jsonl");
    if (!resume && dist_rank() == 0) remove(log);
    TextRunConfig r;
    textrun_config_defaults(&r);
    r.model = c->base, r.out = out, r.resume = resume, r.lora = c->lora;
    r.texts = c->targets, r.n_texts = c->n_targets;
    r.train = c->reinforce;
    /* warmup and final lr follow the steps and lr set (16 and 5e-5 at the defaults) */
    r.train.warmup = r.train.steps / 10 + 1, r.train.min_lr = r.train.lr / 10;
    r.train.seq = c->labels.block, r.fit_seq = 1;
    r.train.seed = c->seed, r.train.log_path = log, r.prec = c->prec;
    TextRunResult res;
    if (unlearn_stamp_write(c, "reinforce", h, 0, err) || textrun_run(&r, &res, err)) return -1;
    return unlearn_stamp_write(c, "reinforce", h, 1, err);
}

/* Step 2: the dictionary, merged, pruned and stored in the work folder. */
static int stage_anchors(const UnlearnConfig *c, uint64_t h, ObErr *err) {
    char out[4096];
    unlearn_work_path(out, sizeof out, c, "anchors.json");
    AnchorDict d;
    if (anchors_load(&d, c->anchors, err)) return -1;
    ob_logf("unlearn: %d anchors from %s\n", d.n, c->anchors);
    int rc = dist_rank() == 0 ? anchors_save(&d, out, err) : 0;
    anchors_free(&d);
    return rc ? -1 : unlearn_stamp_write(c, "anchors", h, 1, err);
}

/* Steps 3-4: generic labels for alpha, alpha/2 and 2 alpha. */
static int stage_labels(const UnlearnConfig *c, uint64_t h, ObErr *err) {
    char out[4096], reinf_path[4096], dict_path[4096];
    unlearn_work_path(out, sizeof out, c, "labels.bin");
    unlearn_work_path(reinf_path, sizeof reinf_path, c, "reinforced.gguf");
    unlearn_work_path(dict_path, sizeof dict_path, c, "anchors.json");
    LabelRunConfig r;
    labelrun_config_defaults(&r);
    r.base = c->base, r.reinforced = reinf_path, r.anchors = dict_path, r.out = out;
    r.targets = c->targets, r.n_targets = c->n_targets;
    r.labels = c->labels, r.labels.seed = c->seed, r.prec = c->prec;
    float alpha = c->labels.alphas[0];
    label_config_alphas(&r.labels, alpha);
    LabelStats st;
    if (labelrun_run(&r, &st, err)) return -1;
    ob_logf("unlearn: labels for %ld positions (%.1f%% changed at alpha %g), %.0f tok/s\n",
            st.labelled, 100.0 * st.changed[0] / (st.labelled ? st.labelled : 1), alpha,
            st.tokens_per_s);
    return unlearn_stamp_write(c, "labels", h, 1, err);
}

/* Copies src to dst atomically, streamed (under MPI on rank 0 only). */
static int copy_file(const char *src, const char *dst, ObErr *err) {
    return dist_rank() != 0 ? 0 : ob_copy_file(src, dst, err);
}

/* Step 5: BASE fine-tuned on the labels; the best held-out checkpoint wins
 * (without held-out blocks, the last step's). Training always checkpoints to
 * unlearned.ckpt.gguf, so a rerun finds it to resume from. */
static int stage_finetune(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    char out[4096], labels[4096], log[4096];
    unlearn_work_path(out, sizeof out, c, "unlearned.gguf");
    unlearn_work_path(labels, sizeof labels, c, "labels.bin");
    unlearn_work_path(log, sizeof log, c, "finetune.log.jsonl"); /* for obliviate report */
    if (!resume && dist_rank() == 0) remove(log);
    FinetuneConfig f = c->finetune;
    f.model = c->base, f.labels = labels, f.out = out, f.resume = resume, f.lora = c->lora;
    f.alpha = c->labels.alphas[0];
    f.train.seed = c->seed, f.train.log_path = log, f.prec = c->prec;
    FinetuneResult res;
    if (unlearn_stamp_write(c, "finetune", h, 0, err) || finetune_run(&f, &res, err)) return -1;
    return unlearn_stamp_write(c, "finetune", h, 1, err);
}

int unlearn_publish(const UnlearnConfig *c, const char *name, ObErr *err) {
    char src[4096];
    unlearn_work_path(src, sizeof src, c, name);
    if (!c->lora.rank) return copy_file(src, c->out, err);
    if (dist_rank() != 0) return 0;
    Llama m;
    Tokenizer tok;
    if (llama_load_frozen(&m, &tok, c->base, err)) return -1;
    int rc = llama_load_lora(&m, src, err) || llama_save_merged(&m, &tok, "unlearned", c->out, err);
    llama_free(&m), tok_free(&tok);
    return rc;
}

/* Whether a finished stage's file still reads as what the stage wrote (a
 * model, a labels file, a dictionary); the reason goes to err. */
static int output_valid(const char *path, ObErr *err) {
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".gguf")) {
        GGUFFile f;
        if (gguf_open(&f, path, err)) return 0;
        gguf_close(&f);
        return 1;
    }
    if (n >= 4 && !strcmp(path + n - 4, ".bin")) {
        LabelsFile lf;
        if (labels_open(&lf, path, NULL, err)) return 0;
        labels_close(&lf);
        return 1;
    }
    AnchorDict d;
    if (anchors_load(&d, path, err)) return 0;
    anchors_free(&d);
    return 1;
}

int unlearn_stage(const UnlearnConfig *c, const char *name, const char *output, const char *state,
                  uint64_t h, UnlearnStageFn fn, double *seconds, ObErr *err) {
    char out[4096];
    unlearn_work_path(out, sizeof out, c, output);
    int st = stamp_state(c, name, h), exists = access(out, R_OK) == 0;
    *seconds = 0;
    /* Under MPI rank 0's view of the work folder decides for every rank. */
    int view[2] = {st, exists};
    if (dist_bcast(view, sizeof view, 0, err)) return -1;
    st = view[0], exists = view[1];
    if (st == 1 && exists) {
        ObErr why;
        int valid = dist_rank() != 0 || output_valid(out, &why);
        if (dist_bcast(&valid, sizeof valid, 0, err)) return -1;
        if (valid) {
            stage_banner(name, "up to date, skipped");
            return 0;
        }
        if (dist_rank() == 0)
            ob_logf("unlearn: %s: output unreadable, made again (%s)\n", name, why.msg);
        st = -1;
    }
    char ckpt[4096] = "";
    if (state) snprintf(ckpt, sizeof ckpt, "%s/%s", c->work, state);
    char prev[4200]; /* trainer.h: a kill between state and model leaves only .state.prev */
    snprintf(prev, sizeof prev, "%s.prev", ckpt);
    int resume = state && st == 0 && (access(ckpt, R_OK) == 0 || access(prev, R_OK) == 0);
    /* Under MPI rank 0's view decides, before it removes anything. */
    if (dist_bcast(&resume, sizeof resume, 0, err)) return -1;
    if (!resume && state && dist_rank() == 0) {
        /* A checkpoint left by a run with other inputs must not be resumed
         * later, should this run be killed before its own first one. */
        remove(ckpt), remove(prev);
    }
    stage_banner(name, resume ? "resuming" : "running");
    double t0 = ob_now();
    int rc = fn(c, h, resume, err);
    *seconds = ob_now() - t0;
    if (!rc) rc = dist_barrier(err); /* what rank 0 wrote is there for the next stage */
    if (rc) return ob_err_prefix(err, "stage %s", name);
    ob_logf("unlearn: %s: done in %.1f s\n", name, *seconds);
    return 0;
}

static int anchors_fn(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    (void)resume;
    return stage_anchors(c, h, err);
}

static int labels_fn(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    (void)resume;
    return stage_labels(c, h, err);
}

int unlearn_config_check(const UnlearnConfig *c, ObErr *err) {
    if (train_config_check(&c->reinforce, "--reinforce-", err) ||
        finetune_config_check(&c->finetune, "--", err))
        return -1;
    if (c->labels.soft_k <= 0 && !c->finetune.hard)
        return ob_errf(err,
                       "--soft-k %d makes hard labels only, and the fine-tune trains on soft "
                       "targets (add --targets hard)",
                       c->labels.soft_k);
    return 0;
}

static int run_stages(const UnlearnConfig *c, ObErr *err);

int unlearn_run(const UnlearnConfig *c, ObErr *err) {
    if (unlearn_config_check(c, err)) return -1;
    const char *in[] = {c->anchors, c->finetune.n_retain ? c->finetune.retain[0] : NULL};
    if (ob_check_output(c->out, in, 2, err)) return -1;
    if (!c->anchors) return ob_errf(err, "an anchor dictionary is required (--anchors FILE)");
    return unlearn_locked(c, run_stages, err);
}

int unlearn_locked(const UnlearnConfig *c, int (*body)(const UnlearnConfig *c, ObErr *err),
                   ObErr *err) {
    if (ob_check_output(c->out, &c->base, 1, err) ||
        ob_check_output(c->out, c->targets, c->n_targets, err))
        return -1;
    /* the output's folder, and room for the work folder's longest path,
     * before any stage */
    const char *longest = "/unlearned.ckpt.gguf.state.prev.tmp.1234567";
    if (ob_check_output_room(c->out, "", err)) return -1;
    if (strlen(c->work) + strlen(longest) >= 4096)
        return ob_errf(err, "%.200s...: work folder path too long (%zu bytes, its files add %zu)",
                       c->work, strlen(c->work), strlen(longest));
    if (mkdir(c->work, 0777) != 0 && errno != EEXIST)
        return ob_errf(err, "%s: cannot create work folder: %s", c->work, strerror(errno));
    /* One run per work folder and per output, held to the end (rank 0 holds
     * them for every rank). */
    ObLock lk_work = {.fd = -1}, lk_out = {.fd = -1};
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s/lock", c->work);
    int rc = dist_rank() == 0 &&
             (ob_lock(&lk_work, lock_path, c->work, err) || ob_lock_output(&lk_out, c->out, err));
    int any = rc;
    if (dist_bcast(&any, sizeof any, 0, err)) rc = 1;
    if (any && !rc) rc = ob_errf(err, "rank 0 could not lock the work folder or the output");
    if (!rc) rc = body(c, err);
    ob_unlock(&lk_out);
    ob_unlock(&lk_work);
    return rc ? -1 : 0;
}

int unlearn_reinforce(const UnlearnConfig *c, uint64_t *h1, double *seconds, ObErr *err) {
    /* Hashes chain: each stage's hash covers its inputs and the stages before;
     * files are hashed streamed (a 7B base in 1 MiB pieces). */
    uint64_t h_base = OB_FNV_OFFSET, h_tgt = h_base;
    if (ob_hash_file(&h_base, c->base, err)) return -1;
    for (int i = 0; i < c->n_targets; i++)
        if (ob_hash_file(&h_tgt, c->targets[i], err)) return -1;
    /* The fields hashed are those the command line sets (and the order is
     * that of the stamps of earlier versions, so their work folders skip). */
    const TrainConfig *r = &c->reinforce;
    uint64_t h = ob_fnv1a(h_base ^ h_tgt, &r->steps, sizeof r->steps);
    h = ob_fnv1a(ob_fnv1a(h, &r->lr, sizeof r->lr), &c->labels.block, sizeof c->labels.block);
    h = ob_fnv1a(h, &c->seed, sizeof c->seed);
    if (c->lora.rank)
        h = ob_fnv1a(h, &c->lora, sizeof c->lora); /* no padding: int, float, unsigned */
    *h1 = h;
    return unlearn_stage(c, "reinforce", "reinforced.gguf", "reinforced.gguf.state", h,
                         stage_reinforce, seconds, err);
}

int unlearn_whp_stages(const UnlearnConfig *c, uint64_t *h, ObErr *err) {
    uint64_t h1, h_anch = OB_FNV_OFFSET;
    double t[4];
    if (ob_hash_file(&h_anch, c->anchors, err) || unlearn_reinforce(c, &h1, &t[0], err)) return -1;
    const TrainConfig *f = &c->finetune.train;
    const LabelConfig *l = &c->labels;
    uint64_t h2 = h_anch;
    uint64_t h3 = ob_fnv1a(h1 ^ h2, &l->alphas[0], sizeof l->alphas[0]);
    h3 = ob_fnv1a(ob_fnv1a(h3, &l->soft_k, sizeof l->soft_k), &l->forbid_keys,
                  sizeof l->forbid_keys);
    h3 = ob_fnv1a(ob_fnv1a(h3, &l->suppress, sizeof l->suppress), &l->inkey, sizeof l->inkey);
    const char *mode = c->finetune.hard ? "hard" : "soft";
    uint64_t h4 = ob_fnv1a(h3, mode, strlen(mode));
    h4 = ob_fnv1a(ob_fnv1a(ob_fnv1a(h4, &f->steps, sizeof f->steps), &f->lr, sizeof f->lr),
                  &f->batch, sizeof f->batch);
    const char *retain = c->finetune.n_retain > 0 ? c->finetune.retain[0] : NULL;
    int rows = c->finetune.retain_rows;
    h4 = ob_fnv1a(h4, &rows, sizeof rows);
    if (retain && rows > 0 && ob_hash_file(&h4, retain, err)) return -1;
    if (unlearn_stage(c, "anchors", "anchors.json", NULL, h2, anchors_fn, &t[1], err) ||
        unlearn_stage(c, "labels", "labels.bin", NULL, h3, labels_fn, &t[2], err) ||
        unlearn_stage(c, "finetune", "unlearned.gguf", "unlearned.ckpt.gguf.state", h4,
                      stage_finetune, &t[3], err))
        return -1;
    ob_logf("unlearn: stage seconds: reinforce %.1f, anchors %.1f, labels %.1f, finetune %.1f\n",
            t[0], t[1], t[2], t[3]);
    *h = h4;
    return 0;
}

/* The stages, under unlearn_run's locks. */
static int run_stages(const UnlearnConfig *c, ObErr *err) {
    uint64_t h;
    if (unlearn_whp_stages(c, &h, err) || unlearn_publish(c, "unlearned.gguf", err)) return -1;
    ob_logf("unlearn: model written to %s\n", c->out);
    return 0;
}
