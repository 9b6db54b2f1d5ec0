#include "unlearn/pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/checkpoint.h"
#include "train/trainer.h"
#include "unlearn/finetune.h"
#include "unlearn/labels.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/progress.h"

void unlearn_config_defaults(UnlearnConfig *c) {
    *c = (UnlearnConfig){.reinforce_steps = 150,
                         .reinforce_lr = 5e-4f,
                         .alpha = 0.0f,
                         .soft_k = 32,
                         .retain_rows = 4,
                         .forbid_keys = LABELS_FORBID_WHOLE,
                         .suppress = 8,
                         .inkey = 1,
                         .block = 256,
                         .targets_mode = "soft",
                         .steps = 0,
                         .lr = 5e-4f,
                         .batch = 8,
                         .seed = 1,
                         .work = "unlearn-work"};
}

void unlearn_config_published(UnlearnConfig *c) {
    c->targets_mode = "hard";
    c->alpha = 5.0f;
    c->forbid_keys = LABELS_FORBID_NONE;
    c->suppress = 0;
    c->inkey = 0;
}

/* ---- stamps: a stage's inputs hashed, to skip or resume it ---- */

static void work_path(char *buf, size_t n, const UnlearnConfig *c, const char *name) {
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

static int stamp_write(const UnlearnConfig *c, const char *stage, uint64_t h, int done,
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

/* The model a training stage starts from: BASE as it is, or (LoRA) BASE
 * frozen with a fresh adapter or, resuming, the adapter at `adapter`. */
static int load_trainee(Llama *m, Tokenizer *tok, const UnlearnConfig *c, int resume,
                        const char *ckpt, ObErr *err) {
    if (!c->lora.rank) return llama_load(m, tok, resume ? ckpt : c->base, err);
    if (llama_load_frozen(m, tok, c->base, err)) return -1;
    int rc = resume ? llama_load_lora(m, ckpt, err) : llama_add_lora(m, &c->lora, c->seed, err);
    if (rc) llama_free(m), tok_free(tok);
    return rc;
}

static int load_targets(TokenStream *ds, const Tokenizer *tok, const UnlearnConfig *c, ObErr *err) {
    return dataset_load(ds, tok, c->targets, c->n_targets, err);
}

/* Step 1: the reinforced model, trained from BASE on the target. */
static int stage_reinforce(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    char out[4096];
    work_path(out, sizeof out, c, "reinforced.gguf");
    Llama m;
    Tokenizer tok;
    TokenStream ds = {0};
    TrainResult res;
    int rc = load_trainee(&m, &tok, c, resume, out, err);
    if (rc) return -1;
    TrainConfig tc;
    train_config_defaults(&tc);
    tc.batch = 8, tc.seq = c->block < m.cfg.ctx_len ? c->block : m.cfg.ctx_len;
    tc.steps = c->reinforce_steps, tc.warmup = c->reinforce_steps / 10 + 1;
    tc.lr = c->reinforce_lr, tc.min_lr = c->reinforce_lr / 10, tc.sched = SCHED_COSINE;
    tc.seed = c->seed, tc.ckpt_every = 50, tc.log_every = 25, tc.out_path = out;
    tc.name = "reinforced";
    char log[4096]; /* for obliviate report's loss curves; a fresh start drops the old one */
    work_path(log, sizeof log, c, "reinforce.log.jsonl");
    if (!resume && dist_rank() == 0) remove(log);
    tc.log_path = log;
    rc = load_targets(&ds, &tok, c, err) || stamp_write(c, "reinforce", h, 0, err) ||
         train_run(&m, &tok, &tc, &(TrainData){batch_from_stream, &ds, NULL, NULL}, resume, &res,
                   err);
    dataset_free(&ds);
    llama_free(&m);
    tok_free(&tok);
    return rc ? -1 : stamp_write(c, "reinforce", h, 1, err);
}

/* Step 2: the dictionary, merged, pruned and stored in the work folder. */
static int stage_anchors(const UnlearnConfig *c, uint64_t h, ObErr *err) {
    char out[4096];
    work_path(out, sizeof out, c, "anchors.json");
    AnchorDict d;
    if (anchors_load(&d, c->anchors, err)) return -1;
    ob_logf("unlearn: %d anchors from %s\n", d.n, c->anchors);
    int rc = dist_rank() == 0 ? anchors_save(&d, out, err) : 0;
    anchors_free(&d);
    return rc ? -1 : stamp_write(c, "anchors", h, 1, err);
}

/* Steps 3-4: generic labels for alpha, alpha/2 and 2 alpha. */
static int stage_labels(const UnlearnConfig *c, uint64_t h, ObErr *err) {
    char out[4096], reinf_path[4096], dict_path[4096];
    work_path(out, sizeof out, c, "labels.bin");
    work_path(reinf_path, sizeof reinf_path, c, "reinforced.gguf");
    work_path(dict_path, sizeof dict_path, c, "anchors.json");
    Llama base = {0}, reinf = {0};
    Tokenizer tok = {0}, tok2 = {0};
    AnchorDict d = {0};
    TokenStream ds = {0};
    LabelStats st;
    LabelConfig lc = {.n_alphas = c->alpha > 0 ? 3 : 1,
                      .soft_k = c->soft_k,
                      .forbid_keys = c->forbid_keys,
                      .suppress = c->suppress,
                      .inkey = c->inkey,
                      .block = c->block,
                      .batch = 4,
                      .seed = c->seed};
    lc.alphas[0] = c->alpha, lc.alphas[1] = c->alpha / 2, lc.alphas[2] = c->alpha * 2;
    /* LoRA: the reinforced model is BASE + its adapter, on one mapped copy */
    int rc =
        c->lora.rank
            ? llama_load_frozen(&base, &tok, c->base, err) || llama_share(&reinf, &base, err) ||
                  llama_load_lora(&reinf, reinf_path, err)
            : llama_load(&base, &tok, c->base, err) || llama_load(&reinf, &tok2, reinf_path, err);
    rc = rc || anchors_load(&d, dict_path, err) || anchors_tokenize(&d, &tok, err) ||
         load_targets(&ds, &tok, c, err);
    if (!rc && lc.block > base.cfg.ctx_len) lc.block = base.cfg.ctx_len;
    if (!rc) rc = labels_generate(&base, &reinf, &tok, &d, &ds, &lc, out, &st, err);
    if (!rc)
        ob_logf("unlearn: labels for %ld positions (%.1f%% changed at alpha %g), %.0f tok/s\n",
                st.labelled, 100.0 * st.changed[0] / (st.labelled ? st.labelled : 1), c->alpha,
                st.tokens_per_s);
    dataset_free(&ds);
    anchors_free(&d);
    llama_free(&reinf), llama_free(&base); /* reinf may borrow base's weights */
    tok_free(&tok), tok_free(&tok2);
    return rc ? -1 : stamp_write(c, "labels", h, 1, err);
}

/* Copies src to dst atomically, streamed (under MPI on rank 0 only). */
static int copy_file(const char *src, const char *dst, ObErr *err) {
    return dist_rank() != 0 ? 0 : ob_copy_file(src, dst, err);
}

/* Step 5: BASE fine-tuned on the labels; the best held-out checkpoint wins
 * (without held-out blocks, the last step's). Training always checkpoints to
 * unlearned.ckpt.gguf, so a rerun finds it to resume from. */
static int stage_finetune(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    char out[4096], ckpt[4096], labels[4096];
    work_path(out, sizeof out, c, "unlearned.gguf");
    work_path(ckpt, sizeof ckpt, c, "unlearned.ckpt.gguf");
    work_path(labels, sizeof labels, c, "labels.bin");
    Llama m;
    Tokenizer tok;
    LabelsFile lf;
    LabelsData ld;
    TrainResult res;
    TokenStream retain = {0};
    if (load_trainee(&m, &tok, c, resume, ckpt, err)) return -1;
    int soft = strcmp(c->targets_mode, "hard") != 0;
    int rows = c->retain && c->retain_rows > 0 ? c->retain_rows : 0;
    int rc = rows ? dataset_load(&retain, &tok, &c->retain, 1, err) : 0;
    if (!rc) rc = labels_open(&lf, labels, &tok, err);
    if (!rc && (rc = labels_data_init(&ld, &lf, c->alpha, soft, 0.05, c->batch + rows, err)))
        labels_close(&lf);
    if (rc) {
        dataset_free(&retain);
        llama_free(&m), tok_free(&tok);
        return -1;
    }
    ld.retain = &retain, ld.retain_rows = rows;
    TrainConfig tc;
    train_config_defaults(&tc);
    /* The published fine-tune: AdamW betas (0.9, 0.98), no weight decay, linear
     * schedule, batch 8, 3 epochs over the blocks; lr measured for our models. */
    tc.batch = c->batch + rows, tc.seq = (int)lf.h.block, tc.soft_k = soft ? (int)lf.h.soft_k : 0;
    tc.steps = c->steps > 0 ? c->steps : (long)ceil(3.0 * ld.n_train / c->batch);
    tc.warmup = tc.steps / 20, tc.lr = c->lr, tc.min_lr = 0, tc.sched = SCHED_LINEAR;
    tc.adam = (AdamWConfig){0.9f, 0.98f, 1e-8f, 0.0f};
    tc.seed = c->seed, tc.log_every = 10, tc.ckpt_every = 25;
    tc.eval_every = tc.steps / 10 > 0 ? tc.steps / 10 : 1;
    tc.out_path = ckpt, tc.best_path = ld.n_val ? out : NULL, tc.name = "unlearned";
    char log[4096]; /* training and validation loss, for obliviate report */
    work_path(log, sizeof log, c, "finetune.log.jsonl");
    if (!resume && dist_rank() == 0) remove(log);
    tc.log_path = log;
    TrainData td = {batch_from_labels, &ld, ld.n_val ? labels_eval : NULL, &ld};
    rc = stamp_write(c, "finetune", h, 0, err) ||
         train_run(&m, &tok, &tc, &td, resume, &res, err) ||
         (!ld.n_val && copy_file(ckpt, out, err));
    labels_data_free(&ld);
    labels_close(&lf);
    dataset_free(&retain);
    llama_free(&m);
    tok_free(&tok);
    return rc ? -1 : stamp_write(c, "finetune", h, 1, err);
}

/* Copies the result to c->out atomically; with LoRA, writes BASE with the
 * unlearning adapter merged in. */
static int publish(const UnlearnConfig *c, ObErr *err) {
    char src[4096];
    work_path(src, sizeof src, c, "unlearned.gguf");
    if (!c->lora.rank) return copy_file(src, c->out, err);
    if (dist_rank() != 0) return 0;
    Llama m;
    Tokenizer tok;
    if (llama_load_frozen(&m, &tok, c->base, err)) return -1;
    int rc = llama_load_lora(&m, src, err) || llama_save_merged(&m, &tok, "unlearned", c->out, err);
    llama_free(&m), tok_free(&tok);
    return rc;
}

/* Runs stage `name` unless its stamp says it is done with these inputs. */
typedef int (*StageFn)(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err);

static int run_stage(const UnlearnConfig *c, const char *name, const char *output, uint64_t h,
                     StageFn fn, double *seconds, ObErr *err) {
    char out[4096];
    work_path(out, sizeof out, c, output);
    int st = stamp_state(c, name, h), exists = access(out, R_OK) == 0;
    *seconds = 0;
    /* Under MPI rank 0's view of the work folder decides for every rank. */
    int view[2] = {st, exists};
    if (dist_bcast(view, sizeof view, 0, err)) return -1;
    st = view[0], exists = view[1];
    if (st == 1 && exists) {
        stage_banner(name, "up to date, skipped");
        return 0;
    }
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/%s", c->work,
             !strcmp(name, "finetune") ? "unlearned.ckpt.gguf.state" : "reinforced.gguf.state");
    char prev[4200]; /* trainer.h: a kill between state and model leaves only .state.prev */
    snprintf(prev, sizeof prev, "%s.prev", ckpt);
    int resume = st == 0 && (access(ckpt, R_OK) == 0 || access(prev, R_OK) == 0);
    /* Under MPI rank 0's view decides, before it removes anything. */
    if (dist_bcast(&resume, sizeof resume, 0, err)) return -1;
    if (!resume && dist_rank() == 0) {
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

int unlearn_run(const UnlearnConfig *c, ObErr *err) {
    if (mkdir(c->work, 0777) != 0 && errno != EEXIST)
        return ob_errf(err, "%s: cannot create work folder: %s", c->work, strerror(errno));
    if (!c->anchors) return ob_errf(err, "an anchor dictionary is required (--anchors FILE)");
    /* Hashes chain: each stage's hash covers its inputs and the stages before;
     * files are hashed streamed (a 7B base in 1 MiB pieces). */
    uint64_t h_base = OB_FNV_OFFSET, h_tgt = h_base, h_anch = h_base;
    if (ob_hash_file(&h_base, c->base, err) || ob_hash_file(&h_anch, c->anchors, err)) return -1;
    for (int i = 0; i < c->n_targets; i++)
        if (ob_hash_file(&h_tgt, c->targets[i], err)) return -1;
    uint64_t h1 = ob_fnv1a(h_base ^ h_tgt, &c->reinforce_steps, sizeof c->reinforce_steps);
    h1 = ob_fnv1a(ob_fnv1a(h1, &c->reinforce_lr, sizeof c->reinforce_lr), &c->block,
                  sizeof c->block);
    h1 = ob_fnv1a(h1, &c->seed, sizeof c->seed);
    if (c->lora.rank)
        h1 = ob_fnv1a(h1, &c->lora, sizeof c->lora); /* no padding: int, float, unsigned */
    uint64_t h2 = h_anch;
    uint64_t h3 = ob_fnv1a(h1 ^ h2, &c->alpha, sizeof c->alpha);
    h3 = ob_fnv1a(ob_fnv1a(h3, &c->soft_k, sizeof c->soft_k), &c->forbid_keys,
                  sizeof c->forbid_keys);
    h3 = ob_fnv1a(ob_fnv1a(h3, &c->suppress, sizeof c->suppress), &c->inkey, sizeof c->inkey);
    uint64_t h4 = ob_fnv1a(h3, c->targets_mode, strlen(c->targets_mode));
    h4 = ob_fnv1a(ob_fnv1a(ob_fnv1a(h4, &c->steps, sizeof c->steps), &c->lr, sizeof c->lr),
                  &c->batch, sizeof c->batch);
    h4 = ob_fnv1a(h4, &c->retain_rows, sizeof c->retain_rows);
    if (c->retain && c->retain_rows > 0 && ob_hash_file(&h4, c->retain, err)) return -1;
    double t[4];
    if (run_stage(c, "reinforce", "reinforced.gguf", h1, stage_reinforce, &t[0], err) ||
        run_stage(c, "anchors", "anchors.json", h2, anchors_fn, &t[1], err) ||
        run_stage(c, "labels", "labels.bin", h3, labels_fn, &t[2], err) ||
        run_stage(c, "finetune", "unlearned.gguf", h4, stage_finetune, &t[3], err) ||
        publish(c, err))
        return -1;
    ob_logf("unlearn: stage seconds: reinforce %.1f, anchors %.1f, labels %.1f, "
            "finetune %.1f; model written to %s\n",
            t[0], t[1], t[2], t[3], c->out);
    return 0;
}
