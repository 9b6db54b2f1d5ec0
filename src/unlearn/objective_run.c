#include "unlearn/objective_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "model/lora.h"
#include "model/open.h"
#include "text/dataset.h"
#include "train/textrun.h"
#include "unlearn/rmu.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/hash.h"
#include "util/log.h"

void objective_run_config_defaults(ObjectiveRunConfig *c, ForgetLoss forget, RetainLoss retain) {
    memset(c, 0, sizeof *c);
    objective_config_defaults(&c->obj, forget, retain);
    lora_config_defaults(&c->lora);
    c->lora.rank = 0, c->lora.alpha = 0;
    TrainConfig *t = &c->train;
    train_config_defaults(t);
    t->batch = 8, t->seq = 256, t->steps = 0, t->warmup = -1, t->lr = 1e-4f, t->min_lr = 0;
    t->sched = SCHED_LINEAR, t->adam = (AdamWConfig){0.9f, 0.98f, 1e-8f, 0.0f};
    t->log_every = 10, t->ckpt_every = 25, t->name = "unlearned";
}

int objective_run_config_check(const ObjectiveRunConfig *c, const char *flag, ObErr *err) {
    TrainConfig t = c->train;
    if (t.steps == 0) t.steps = 1;
    if (t.warmup < 0) t.warmup = 0;
    if (train_config_check(&t, flag, err)) return -1;
    const ForgetObjective *f = &c->obj.forget;
    if (!(f->beta > 0 && f->beta <= 1e4))
        return ob_errf(err, "%sbeta %g: must be in (0, 10000]", flag, f->beta);
    if (!(f->gamma > 0 && f->gamma <= 1e4))
        return ob_errf(err, "%sforget-weight %g: must be in (0, 10000]", flag, f->gamma);
    if (!isfinite(f->delta)) return ob_errf(err, "%sdelta %g: must be finite", flag, f->delta);
    if (!(f->level >= 0 && f->level <= 100))
        return ob_errf(err, "%slevel %g: must be in [0, 100] nats (0: the baseline's on --retain)",
                       flag, f->level);
    if (!(c->obj.alpha >= 0 && c->obj.alpha <= 1e4))
        return ob_errf(err, "%sretain-weight %g: must be in [0, 10000]", flag, c->obj.alpha);
    if (c->obj.kl_k < 1 || c->obj.kl_k > SOFT_K_MAX)
        return ob_errf(err, "%skl-k %d: must be 1..%d", flag, c->obj.kl_k, SOFT_K_MAX);
    if (c->obj.forget.kind == FORGET_RMU) {
        if (!(c->obj.steer > 0 && c->obj.steer <= 1e6))
            return ob_errf(err, "%ssteer %g: must be in (0, 1000000]", flag, c->obj.steer);
        if (c->obj.layer < -1 || c->obj.layer >= LLAMA_DIM_MAX)
            return ob_errf(err, "%slayer %d: must be a block number", flag, c->obj.layer);
        unsigned mlp = 1u << MAT_GATE | 1u << MAT_UP | 1u << MAT_DOWN;
        if (c->lora.rank && !(c->lora.targets & mlp))
            return ob_errf(err,
                           "rmu trains MLP weights only: give %slora-targets with gate, up or down",
                           flag);
    }
    if (c->obj.retain != RETAIN_NONE && c->n_retain == 0)
        return ob_errf(err, "this method keeps general ability on retain text: give %sretain FILE",
                       flag);
    if (c->obj.retain == RETAIN_NONE && c->n_retain > 0)
        return ob_errf(err, "this method has no retain term: %sretain is not used", flag);
    return 0;
}

/* What a step needs: the texts, the reference, scratch for one micro-batch. */
typedef struct {
    const ObjectiveConfig *obj;
    const TokenStream *forget, *retain;
    Llama *ref;          /* NULL for GA, SimNPO and GradDiff */
    int32_t *inp, *tgt;  /* (B, T): the whole micro-batch, as every rank draws it */
    float *w;            /* (rows, T): per-position weights */
    double *ref_nll;     /* (rows) */
    int32_t *ids;        /* (rows, T, k): soft targets */
    float *probs, *rest; /* (rows, T, k), (rows, T) */
    float *target, *dh;  /* RMU: c u (C); dL/dh (rows, T, C) */
    int layer, lowest;   /* RMU: the steered block, the lowest that trains */
} StepCtx;

/* Soft targets for this rank's rows from the reference's logits of its last
 * forward: its own distribution (KL), or with the true next token lowered by
 * beta (UNDIAL). */
static SoftTargets ref_targets(StepCtx *s, const int32_t *tgt, int N, float lower_by) {
    int V = s->ref->cfg.vocab, k = s->obj->kl_k;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        softmax_topk(s->ref->acts.logits + (size_t)n * V, V, lower_by > 0 ? tgt[n] : -1, lower_by,
                     k, s->ids + (size_t)n * k, s->probs + (size_t)n * k, s->rest + n);
    return (SoftTargets){k, s->ids, s->probs, s->rest};
}

/* Mean cross-entropy over the whole batch's B x T positions (every window
 * position is scored), this rank's part, weighted and backward. */
static double ce_part(Llama *m, const int32_t *inp, const int32_t *tgt, const SoftTargets *st,
                      int T, int B, double weight) {
    int nv;
    float mean = llama_forward_soft(m, inp, tgt, st, T, &nv);
    double total = (double)B * T;
    if (nv) llama_backward(m, (float)(weight / total));
    return weight * mean * nv / total;
}

/* RMU (unlearn/rmu.h): forget rows' hidden states at block L to c u,
 * retain rows' to the reference's; only the MLPs of blocks L-2..L train. */
static void rmu_step(StepCtx *s, Llama *m, ObRng *rng, int B, int T, int row0, int rows,
                     double scale, double *loss) {
    const ObjectiveConfig *o = s->obj;
    int C = m->cfg.dim, up = s->layer + 1;
    size_t N = (size_t)rows * T;
    const int32_t *li = s->inp + (size_t)row0 * T;
    double per = scale / ((double)B * T * C); /* the means are over the whole batch */
    dataset_sample(s->forget, ob_rng_u64(rng), B, T, s->inp, s->tgt);
    const float *h = llama_forward_hidden(m, li, T, up);
    *loss = rmu_mse(h, s->target, 0, N, C, per * o->forget.gamma, s->dh);
    llama_backward_hidden(m, up, s->dh, s->lowest);
    dataset_sample(s->retain, ob_rng_u64(rng), B, T, s->inp, s->tgt);
    const float *hr = llama_forward_hidden(s->ref, li, T, up);
    h = llama_forward_hidden(m, li, T, up);
    *loss += rmu_mse(h, hr, (size_t)C, N, C, per * o->alpha, s->dh);
    llama_backward_hidden(m, up, s->dh, s->lowest);
    rmu_keep_mlp_grads(m, s->lowest, s->layer);
}

static int objective_step(void *ctx, Llama *m, ObRng *rng, int B, int T, int row0, int rows,
                          double scale, double *loss, ObErr *err) {
    (void)err; /* nothing here fails once step_init has run */
    StepCtx *s = ctx;
    const ObjectiveConfig *o = s->obj;
    size_t off = (size_t)row0 * T;
    const int32_t *li = s->inp + off, *lt = s->tgt + off;
    int N = rows * T;
    *loss = 0;
    if (o->forget.kind == FORGET_RMU) return rmu_step(s, m, rng, B, T, row0, rows, scale, loss), 0;
    /* the forget term */
    dataset_sample(s->forget, ob_rng_u64(rng), B, T, s->inp, s->tgt);
    if (o->forget.kind == FORGET_UNDIAL) {
        llama_forward(s->ref, li, NULL, T, NULL);
        SoftTargets st = ref_targets(s, lt, N, o->forget.beta);
        *loss += ce_part(m, li, lt, &st, T, B, scale * o->forget.gamma);
    } else {
        if (o->forget.kind == FORGET_NPO || o->forget.kind == FORGET_LEVEL) {
            llama_forward(s->ref, li, lt, T, NULL);
            forget_seq_nll(s->ref, lt, rows, T, s->ref_nll, NULL);
        }
        llama_forward(m, li, lt, T, NULL);
        double l = forget_batch(&o->forget, m, lt, rows, T, B, s->ref_nll, s->w);
        llama_backward_rows(m, (float)scale, s->w);
        *loss += scale * l;
    }
    /* the retain term, on windows drawn after the forget ones */
    if (o->retain == RETAIN_NONE) return 0;
    dataset_sample(s->retain, ob_rng_u64(rng), B, T, s->inp, s->tgt);
    SoftTargets st;
    if (o->retain == RETAIN_KL) {
        llama_forward(s->ref, li, NULL, T, NULL);
        st = ref_targets(s, lt, N, 0.0f);
    }
    *loss += ce_part(m, li, lt, o->retain == RETAIN_KL ? &st : NULL, T, B, scale * o->alpha);
    return 0;
}

/* level's default level: the reference's mean token loss over LEVEL_WINDOWS
 * windows spread evenly over the retain text. A model that never read the
 * target finds it at least as hard to predict as general text (the demo's
 * oracle: 1.3 times its general perplexity), so the target's sequences are
 * brought there and no further. Rank 0's figure is every rank's. */
enum { LEVEL_WINDOWS = 32 };
static int reference_level(StepCtx *s, const TokenStream *retain, int rows, int T, float *level,
                           ObErr *err) {
    double sum = 0;
    long cnt = 0;
    size_t span = retain->n - (size_t)T - 1;
    for (int i0 = 0; rows > 0 && i0 < LEVEL_WINDOWS; i0 += rows) { /* a rank without rows waits */
        int r = LEVEL_WINDOWS - i0 < rows ? LEVEL_WINDOWS - i0 : rows;
        for (int b = 0; b < rows; b++) { /* rows past r repeat the last window, unscored */
            const int32_t *w =
                retain->tokens + span * (size_t)(i0 + (b < r ? b : r - 1)) / (LEVEL_WINDOWS - 1);
            memcpy(s->inp + (size_t)b * T, w, sizeof(int32_t) * T);
            memcpy(s->tgt + (size_t)b * T, w + 1, sizeof(int32_t) * T);
        }
        llama_forward(s->ref, s->inp, s->tgt, T, NULL);
        for (size_t n = 0; n < (size_t)r * T; n++) sum += s->ref->acts.losses[n], cnt++;
    }
    *level = cnt ? (float)(sum / (double)cnt) : 0.0f;
    return dist_bcast(level, sizeof *level, 0, err);
}

static void step_free(StepCtx *s) {
    free(s->inp), free(s->w), free(s->ref_nll), free(s->ids), free(s->probs);
    free(s->target), free(s->dh);
    if (s->ref) llama_free(s->ref);
}

static int step_init(StepCtx *s, const ObjectiveRunConfig *c, const Llama *m, Llama *ref, int rows,
                     ObErr *err) {
    const ObjectiveConfig *o = &c->obj;
    int B = c->train.batch, T = c->train.seq, k = o->kl_k;
    size_t N = (size_t)rows * T;
    s->obj = o;
    s->inp = ob_malloc(sizeof(int32_t) * (size_t)B * T * 2, "batch", err);
    s->w = ob_malloc(sizeof(float) * N, "weights", err);
    s->ref_nll = ob_malloc(sizeof(double) * (size_t)rows, "weights", err);
    if (!s->inp || !s->w || !s->ref_nll) return -1;
    s->tgt = s->inp + (size_t)B * T;
    if (o->forget.kind == FORGET_RMU) {
        int C = m->cfg.dim;
        if (o->layer >= m->cfg.n_layers)
            return ob_errf(err, "--layer %d: the model has blocks 0..%d", o->layer,
                           m->cfg.n_layers - 1);
        s->layer = rmu_layer(m->cfg.n_layers, o->layer), s->lowest = rmu_lowest(s->layer);
        s->target = ob_malloc(sizeof(float) * C, "rmu target", err);
        s->dh = ob_malloc(sizeof(float) * N * C, "rmu gradient", err);
        if (!s->target || !s->dh) return -1;
        rmu_direction(s->target, C, c->train.seed);
        for (int i = 0; i < C; i++) s->target[i] *= o->steer;
        ob_logf("rmu: steering block %d to %g u; training the MLPs of blocks %d..%d\n", s->layer,
                o->steer, s->lowest, s->layer);
    }
    int needs_ref = o->forget.kind == FORGET_NPO || o->forget.kind == FORGET_UNDIAL ||
                    o->forget.kind == FORGET_RMU || o->forget.kind == FORGET_LEVEL ||
                    o->retain == RETAIN_KL;
    if (!needs_ref) return 0;
    if (o->forget.kind == FORGET_UNDIAL || o->retain == RETAIN_KL) {
        s->ids = ob_malloc(sizeof(int32_t) * N * k, "soft targets", err);
        s->probs = ob_malloc(sizeof(float) * N * (k + 1), "soft targets", err);
        if (!s->ids || !s->probs) return -1;
        s->rest = s->probs + N * k;
    }
    /* the reference: BASE, frozen and mapped (no copy of its weights) */
    if (llama_load_frozen(ref, NULL, c->model, err)) return -1;
    s->ref = ref;
    ref->prec = c->prec;
    return llama_alloc_batch(ref, rows, T, err);
}

int objective_run(const ObjectiveRunConfig *c, TrainResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    if (!c->model || !c->n_forget || !c->out)
        return ob_errf(err, "the method needs a model, forget text and an output");
    if (objective_run_config_check(c, "--", err)) return -1;
    for (int i = 0; i < 2; i++) { /* the model and the merged model: never an input */
        const char *out = i ? c->merge : c->out;
        if (ob_check_output(out, c->forget, c->n_forget, err) ||
            ob_check_output(out, c->retain, c->n_retain, err) ||
            ob_check_output(out, &c->model, 1, err) ||
            (out && ob_check_output_room(out, i ? "" : ".state.prev", err)))
            return -1;
    }
    if (c->merge && !c->lora.rank) return ob_errf(err, "merging needs a LoRA adapter");
    LoraConfig lora = c->lora;
    if (lora.rank && lora.alpha == 0) lora.alpha = 2.0f * (float)lora.rank;
    Llama m, ref;
    Tokenizer tok;
    TokenStream forget = {0}, retain = {0};
    StepCtx s = {0};
    if (textrun_load_trainee(&m, &tok, c->model, &lora, c->resume, c->out, c->train.seed, c->prec,
                             err))
        return -1;
    TrainConfig tc = c->train;
    int P = dist_size(), r = dist_rank();
    int rows = (int)((long)(r + 1) * tc.batch / P) - (int)((long)r * tc.batch / P);
    int rc = dataset_load(&forget, &tok, c->forget, c->n_forget, err) ||
             (c->n_retain && dataset_load(&retain, &tok, c->retain, c->n_retain, err)) ||
             step_init(&s, c, &m, &ref, rows, err);
    if (!rc && forget.n < (size_t)tc.seq + 1)
        rc = ob_errf(err, "the forget text has %zu tokens, fewer than one window of %d + 1",
                     forget.n, tc.seq);
    if (!rc && c->n_retain && retain.n < (size_t)tc.seq + 1)
        rc = ob_errf(err, "the retain text has %zu tokens, fewer than one window of %d + 1",
                     retain.n, tc.seq);
    ObjectiveConfig obj = c->obj; /* level's level filled in here */
    if (!rc && obj.forget.kind == FORGET_LEVEL && obj.forget.level == 0) {
        rc = reference_level(&s, &retain, rows, tc.seq, &obj.forget.level, err);
        obj.forget.level += obj.forget.delta;
        if (!rc)
            ob_logf("level: the target brought to a mean token loss of %.4f (perplexity %.2f)\n",
                    obj.forget.level, exp(obj.forget.level));
    }
    s.obj = &obj;
    if (!rc) {
        long windows = (long)(forget.n / (size_t)tc.seq);
        if (tc.steps <= 0) tc.steps = (long)ceil(3.0 * (double)windows / tc.batch);
        if (tc.warmup < 0) tc.warmup = tc.steps / 20;
        tc.out_path = c->out;
        s.forget = &forget, s.retain = &retain;
        TrainData td = {NULL, NULL, NULL, NULL, objective_step};
        td.ctx = &s;
        ob_logf("train: forget %zu tokens, retain %zu tokens, %ld steps\n", forget.n, retain.n,
                tc.steps);
        rc = train_run(&m, &tok, &tc, &td, c->resume, res, err) ||
             (c->merge && (dist_barrier(err) || llama_load_lora(&m, c->out, err) ||
                           llama_save_merged(&m, &tok, tc.name, c->merge, err)));
    }
    step_free(&s);
    dataset_free(&forget), dataset_free(&retain);
    llama_free(&m), tok_free(&tok);
    return rc ? -1 : 0;
}

void objective_run_config_from(ObjectiveRunConfig *r, const UnlearnConfig *c, const char *model,
                               const TrainConfig *train) {
    objective_run_config_defaults(r, c->objective.forget.kind, c->objective.retain);
    r->obj = c->objective;
    r->model = model, r->forget = c->targets, r->n_forget = c->n_targets;
    r->retain = c->finetune.retain, r->n_retain = c->finetune.n_retain;
    r->lora = c->lora, r->prec = c->prec;
    r->train = *train;
    r->train.seq = c->labels.block, r->train.seed = c->seed, r->train.eval_every = 0;
}

static void from_unlearn(ObjectiveRunConfig *r, const UnlearnConfig *c) {
    objective_run_config_from(r, c, c->base, &c->finetune.train);
}

int objective_stage_run(const UnlearnConfig *c, const char *stage, const char *model,
                        const TrainConfig *train, const char *out_name, const char *log_name,
                        uint64_t h, int resume, ObErr *err) {
    char out[4096], log[4096];
    unlearn_work_path(out, sizeof out, c, out_name);
    unlearn_work_path(log, sizeof log, c, log_name); /* for obliviate report */
    if (!resume && dist_rank() == 0) remove(log);
    ObjectiveRunConfig r;
    objective_run_config_from(&r, c, model, train);
    r.out = out, r.resume = resume, r.train.log_path = log;
    TrainResult res;
    if (unlearn_stamp_write(c, stage, h, 0, err) || objective_run(&r, &res, err)) return -1;
    return unlearn_stamp_write(c, stage, h, 1, err);
}

int objective_stamp(uint64_t *h, const UnlearnConfig *c, const TrainConfig *t, ObErr *err) {
    for (int i = 0; i < c->finetune.n_retain; i++)
        if (ob_hash_file(h, c->finetune.retain[i], err)) return -1;
    /* every field 4 or 8 bytes wide: no padding is hashed */
    *h = ob_fnv1a(*h, &c->objective, sizeof c->objective);
    *h = ob_fnv1a(ob_fnv1a(*h, &t->steps, sizeof t->steps), &t->lr, sizeof t->lr);
    *h = ob_fnv1a(*h, &t->batch, sizeof t->batch);
    return 0;
}

static int objective_stage(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    return objective_stage_run(c, "finetune", c->base, &c->finetune.train, "unlearned.gguf",
                               "finetune.log.jsonl", h, resume, err);
}

static int objective_body(const UnlearnConfig *c, ObErr *err) {
    uint64_t h = OB_FNV_OFFSET;
    if (ob_hash_file(&h, c->base, err)) return -1;
    for (int i = 0; i < c->n_targets; i++)
        if (ob_hash_file(&h, c->targets[i], err)) return -1;
    if (objective_stamp(&h, c, &c->finetune.train, err)) return -1;
    h = ob_fnv1a(ob_fnv1a(h, &c->labels.block, sizeof c->labels.block), &c->seed, sizeof c->seed);
    h = ob_fnv1a(h, &c->lora, sizeof c->lora);
    double secs;
    if (unlearn_stage(c, "finetune", "unlearned.gguf", "unlearned.gguf.state", h, objective_stage,
                      &secs, err) ||
        unlearn_publish(c, "unlearned.gguf", err))
        return -1;
    ob_logf("unlearn: trained in %.1f s; model written to %s\n", secs, c->out);
    return 0;
}

int objective_unlearn_check(const UnlearnConfig *c, ObErr *err) {
    ObjectiveRunConfig r;
    from_unlearn(&r, c);
    return objective_run_config_check(&r, "--", err);
}

int objective_unlearn(const UnlearnConfig *c, ObErr *err) {
    if (objective_unlearn_check(c, err)) return -1;
    return unlearn_locked(c, objective_body, err);
}
