#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/gguf.h"
#include "model/checkpoint.h"
#include "model/lora.h"
#include "text/tokenizer_gguf.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/hash.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/progress.h"

void train_config_defaults(TrainConfig *tc) {
    *tc = (TrainConfig){.batch = 8,
                        .seq = 256,
                        .accum = 1,
                        .steps = 1000,
                        .warmup = 100,
                        .lr = 1e-3f,
                        .min_lr = 1e-4f,
                        .sched = SCHED_COSINE,
                        .adam = {0.9f, 0.95f, 1e-8f, 0.1f},
                        .clip = 1.0f,
                        .seed = 1,
                        .ckpt_every = 0,
                        .log_every = 10,
                        .eval_every = 0,
                        .out_path = "model.gguf",
                        .log_path = NULL,
                        .name = "obliviate model"};
}

/* The bounds: Adam moves each weight by about lr a step, so past 1 a step
 * is larger than any trained weight; beta 1 never forgets and >= 1 or < 0
 * diverges; eps 0 divides 0 by 0 where a gradient is 0; lr x wd >= 1 flips
 * the sign of every decayed weight. */
int train_config_check(const TrainConfig *tc, const char *flag, ObErr *err) {
    const struct {
        const char *name;
        double v, lo, hi;
        int lo_open, hi_open;
    } f[] = {
        {"lr", tc->lr, 0, 1, 1, 0},
        {"min-lr", tc->min_lr, 0, 1, 0, 0},
        {"beta1", tc->adam.beta1, 0, 1, 0, 1},
        {"beta2", tc->adam.beta2, 0, 1, 0, 1},
        {"adam-eps", tc->adam.eps, 0, 1, 1, 0},
        {"wd", tc->adam.weight_decay, 0, tc->lr > 0 ? 1.0 / tc->lr : 1, 0, 1},
        {"clip", tc->clip, 0, 1e30, 0, 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        double v = f[i].v;
        if (isfinite(v) && (f[i].lo_open ? v > f[i].lo : v >= f[i].lo) &&
            (f[i].hi_open ? v < f[i].hi : v <= f[i].hi))
            continue;
        if (!strcmp(f[i].name, "wd"))
            return ob_errf(err, "%swd %g: must be 0 or more, with lr x wd below 1", flag, v);
        return ob_errf(err, "%s%s %g: must be in %c%g, %g%c", flag, f[i].name, v,
                       f[i].lo_open ? '(' : '[', f[i].lo, f[i].hi, f[i].hi_open ? ')' : ']');
    }
    const struct {
        const char *name;
        long v, min;
    } n[] = {
        {"steps", tc->steps, 1},
        {"batch", tc->batch, 1},
        {"seq", tc->seq, 1},
        {"accum", tc->accum, 1},
        {"warmup", tc->warmup, 0},
        {"ckpt-every", tc->ckpt_every, 0},
        {"log-every", tc->log_every, 1},
        {"eval-every", tc->eval_every, 0},
    };
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        if (n[i].v < n[i].min)
            return ob_errf(err, "%s%s %ld: must be %s", flag, n[i].name, n[i].v,
                           n[i].min ? "1 or more" : "0 or more");
    return 0;
}

/* What a step updates: the adapter when the model has one, else every weight. */
typedef struct {
    float *params, *grads;
    size_t n;
} Trainable;

static Trainable trainable(const Llama *m) {
    if (m->lora) return (Trainable){m->lora->params, m->lora->grads, m->lora->n_params};
    return (Trainable){m->params, m->grads, m->n_params};
}

int llama_param_segments(const Llama *m, ParamSegment *segs) {
    if (m->lora) { /* A and B all decay, as PEFT's trainers do */
        segs[0] = (ParamSegment){0, m->lora->n_params, 1};
        return 1;
    }
    const LlamaParams *p = &m->w;
    const float *starts[] = {p->tok_embd, p->attn_norm, p->wq,   p->wk,     p->wv,       p->wo,
                             p->ffn_norm, p->w_gate,    p->w_up, p->w_down, p->out_norm, p->output};
    const int decay[] = {1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1};
    int n = m->cfg.tied ? 11 : 12;
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)(starts[i] - m->params);
        size_t end = i + 1 < n ? (size_t)(starts[i + 1] - m->params) : m->n_params;
        segs[i] = (ParamSegment){off, end - off, decay[i]};
    }
    return n;
}

static int check_stream(const TokenStream *ds, int T, const char *what, ObErr *err) {
    if (ds->n < (size_t)T + 1)
        return ob_errf(err, "%s has %zu tokens, fewer than one sequence of %d + 1", what, ds->n, T);
    return 0;
}

int batch_from_stream(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                      SoftBuf *soft, ObErr *err) {
    const TokenStream *ds = ctx;
    (void)soft;
    if (check_stream(ds, T, "training text", err)) return -1;
    dataset_sample(ds, ob_rng_u64(rng), B, T, inputs, targets);
    return 0;
}

int batch_from_mixture(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                       SoftBuf *soft, ObErr *err) {
    const Mixture *mx = ctx;
    (void)soft;
    int main_rows = B - mx->extra_rows;
    if (main_rows < 0) return ob_errf(err, "batch %d is smaller than the mixed-in rows", B);
    if (check_stream(mx->main, T, "training text", err) ||
        check_stream(mx->extra, T, "mixed-in text", err))
        return -1;
    /* The main rows use the same key as batch_from_stream would, so a run
     * without the extra rows sees exactly the same main windows. */
    uint64_t key = ob_rng_u64(rng);
    size_t off = (size_t)main_rows * T;
    dataset_sample(mx->main, key, main_rows, T, inputs, targets);
    dataset_sample(mx->extra, ob_hash64(key ^ 0x6d69786d69786d69ULL), mx->extra_rows, T,
                   inputs + off, targets + off);
    return 0;
}

/* One batch's share of stream_loss, gathered across ranks. */
typedef struct {
    double sum;
    long count;
} LossPart;

double stream_loss(Llama *m, const TokenStream *ds, int T, long max_windows, int32_t *inp,
                   int32_t *tgt, long *n_tokens) {
    int B = m->acts.B;
    long windows = ds->n > (size_t)T ? (long)((ds->n - 1) / (size_t)T) : 0;
    if (max_windows > 0 && windows > max_windows) windows = max_windows;
    double sum = 0;
    long count = 0;
    /* Under MPI batch j is rank j % size's; the parts are gathered and added
     * in batch order, so any number of ranks gives one rank's bits. */
    long n_batches = (windows + B - 1) / B;
    LossPart *parts = NULL;
    if (dist_size() > 1 && !(parts = calloc((size_t)n_batches + 1, sizeof *parts))) return NAN;
    for (long w0 = 0; w0 < windows; w0 += B) {
        if (parts && !dist_owns((uint64_t)(w0 / B))) continue;
        for (int b = 0; b < B; b++) {
            long w = w0 + b;
            const int32_t *src = ds->tokens + (size_t)(w < windows ? w : 0) * T;
            memcpy(inp + (size_t)b * T, src, sizeof(int32_t) * T);
            for (int t = 0; t < T; t++) tgt[(size_t)b * T + t] = w < windows ? src[t + 1] : -1;
        }
        int nv;
        float loss = llama_forward(m, inp, tgt, T, &nv);
        if (parts) {
            parts[w0 / B] = (LossPart){(double)loss * nv, nv};
            continue;
        }
        sum += (double)loss * nv;
        count += nv;
    }
    if (parts) {
        int rc = dist_allgather_items(parts, sizeof *parts, (size_t)n_batches, NULL);
        for (long j = 0; j < n_batches; j++) sum += parts[j].sum, count += parts[j].count;
        free(parts);
        if (rc) return NAN;
    }
    if (n_tokens) *n_tokens = count;
    return count ? sum / count : NAN;
}

double stream_eval(void *ctx, Llama *m) {
    const StreamEval *se = ctx;
    return stream_loss(m, se->ds, se->T, se->max_windows, se->inp, se->tgt, NULL);
}

/* ---- optimizer state files ---- */

static char *state_path(const char *out_path, const char *suffix, ObErr *err) {
    size_t n = strlen(out_path) + strlen(suffix) + 1;
    char *p = ob_malloc(n, "file name", err);
    if (p) snprintf(p, n, "%s%s", out_path, suffix);
    return p;
}

/* The settings that decide a run's trajectory, as "flag=value" words in a
 * fixed order: recorded in the state, compared on --resume. The step count
 * is left out under a constant schedule, where the rate does not depend on
 * it: such a run may be resumed to train further (4 steps, then --steps 8). */
static void settings_string(const TrainConfig *tc, char *buf, size_t n) {
    static const char *const sched[] = {"constant", "linear", "cosine"};
    char steps[32] = "";
    if (tc->sched != SCHED_CONSTANT) snprintf(steps, sizeof steps, "steps=%ld ", tc->steps);
    snprintf(buf, n,
             "schedule=%s batch=%d seq=%d accum=%d %swarmup=%ld lr=%.9g min-lr=%.9g "
             "beta1=%.9g beta2=%.9g adam-eps=%.9g wd=%.9g clip=%.9g seed=%llu soft-k=%d",
             sched[tc->sched], tc->batch, tc->seq, tc->accum, steps, tc->warmup, tc->lr, tc->min_lr,
             tc->adam.beta1, tc->adam.beta2, tc->adam.eps, tc->adam.weight_decay, tc->clip,
             (unsigned long long)tc->seed, tc->soft_k);
}

/* Fails naming the first setting in which this run differs from the run that
 * wrote the state: resuming would silently mix two runs. */
static int settings_match(const char *path, const char *saved, const TrainConfig *tc, ObErr *err) {
    char now[512];
    settings_string(tc, now, sizeof now);
    const char *a = saved, *b = now;
    while (*a || *b) {
        size_t la = strcspn(a, " "), lb = strcspn(b, " ");
        if (la != lb || memcmp(a, b, la)) {
            size_t ka = strcspn(a, "="), kb = strcspn(b, "=");
            ka = ka < la ? ka : la, kb = kb < lb ? kb : lb;
            return ob_errf(err,
                           "%s: the run being resumed used --%.*s %.*s, this one --%.*s %.*s "
                           "(resume with the same settings, or start afresh without --resume)",
                           path, (int)ka, a, (int)(la - ka - (ka < la)), a + ka + (ka < la),
                           (int)kb, b, (int)(lb - kb - (kb < lb)), b + kb + (kb < lb));
        }
        a += la + (a[la] == ' ');
        b += lb + (b[lb] == ' ');
    }
    return 0;
}

static int save_state(const char *path, const TrainConfig *tc, const AdamW *opt, long step,
                      const ObRng *rng, float best, ObErr *err) {
    char settings[512];
    settings_string(tc, settings, sizeof settings);
    GGUFWriter *w = gguf_writer_new(err);
    if (!w) return -1;
    uint64_t dims[1] = {opt->n};
    int rc = gguf_set_str(w, "general.architecture", "obliviate-train-state") ||
             gguf_set_u64(w, "train.step", (uint64_t)step) ||
             gguf_set_u64(w, "train.adam_t", (uint64_t)opt->t) ||
             gguf_set_f32(w, "train.best_val_loss", best) ||
             gguf_set_str(w, "train.settings", settings);
    for (int i = 0; i < 4 && !rc; i++) {
        char key[32];
        snprintf(key, sizeof key, "train.rng.%d", i);
        rc = gguf_set_u64(w, key, rng->s[i]);
    }
    if (rc) rc = ob_errf(err, "out of memory");
    if (!rc) rc = gguf_add_tensor_f32(w, "adam.m", GGML_TYPE_F32, 1, dims, opt->m, err);
    if (!rc) rc = gguf_add_tensor_f32(w, "adam.v", GGML_TYPE_F32, 1, dims, opt->v, err);
    if (!rc) rc = gguf_writer_save(w, path, err);
    gguf_writer_free(w);
    return rc;
}

/* States written before the settings were recorded have no "train.settings"
 * and resume as they always did. */
static int load_state(const char *path, const TrainConfig *tc, AdamW *opt, long *step, ObRng *rng,
                      float *best, ObErr *err) {
    GGUFFile f;
    if (gguf_open(&f, path, err)) return -1;
    uint64_t s, t;
    int rc = gguf_get_u64(&f, "train.step", &s, err) || gguf_get_u64(&f, "train.adam_t", &t, err) ||
             gguf_get_f32(&f, "train.best_val_loss", best, err);
    if (!rc && gguf_find_kv(&f, "train.settings")) {
        char *saved = gguf_get_str(&f, "train.settings", err);
        rc = !saved || settings_match(path, saved, tc, err);
        free(saved);
    }
    for (int i = 0; i < 4 && !rc; i++) {
        char key[32];
        snprintf(key, sizeof key, "train.rng.%d", i);
        rc = gguf_get_u64(&f, key, &rng->s[i], err);
    }
    const GGUFTensor *tm = rc ? NULL : gguf_find_tensor(&f, "adam.m");
    const GGUFTensor *tv = rc ? NULL : gguf_find_tensor(&f, "adam.v");
    if (!rc && (!tm || !tv || tm->n_elems != opt->n || tv->n_elems != opt->n))
        rc = ob_errf(err, "%s: optimizer state does not match the model (%zu parameters)", path,
                     opt->n);
    if (!rc)
        rc = gguf_tensor_to_f32(&f, tm, opt->m, err) || gguf_tensor_to_f32(&f, tv, opt->v, err);
    for (size_t i = 0; !rc && i < opt->n; i++)
        if (!isfinite(opt->m[i]) || !isfinite(opt->v[i]) || opt->v[i] < 0)
            rc =
                ob_errf(err, "%s: optimizer state holds a non-finite value (element %zu)", path, i);
    if (!rc) *step = (long)s, opt->t = (long)t;
    gguf_close(&f);
    return rc ? -1 : 0;
}

/* Fails naming the first tensor with a non-finite weight: such a model is
 * never written over a good checkpoint. */
static int check_weights(const Llama *m, long step, ObErr *err) {
    Trainable t = trainable(m);
    size_t i = 0;
    while (i < t.n && isfinite(t.params[i])) i++;
    if (i == t.n) return 0;
    if (m->lora)
        return ob_errf(err, "step %ld: LoRA adapter value %zu is not finite: training stopped",
                       step, i);
    static const char *const names[] = {"token_embd", "attn_norm",   "attn_q",      "attn_k",
                                        "attn_v",     "attn_output", "ffn_norm",    "ffn_gate",
                                        "ffn_up",     "ffn_down",    "output_norm", "output"};
    ParamSegment segs[12];
    int n = llama_param_segments(m, segs), s = 0;
    while (s + 1 < n && i >= segs[s + 1].offset) s++;
    int per_layer = s >= 1 && s <= 9;
    size_t layer = per_layer ? (i - segs[s].offset) / (segs[s].len / (size_t)m->cfg.n_layers) : 0;
    char name[64];
    if (per_layer)
        snprintf(name, sizeof name, "blk.%zu.%s.weight", layer, names[s]);
    else
        snprintf(name, sizeof name, "%s.weight", names[s]);
    return ob_errf(err, "step %ld: tensor %s holds a non-finite weight: training stopped", step,
                   name);
}

void train_snapshot_path(char *buf, size_t n, const char *out, long step) {
    size_t len = strlen(out);
    int stem = len >= 5 && !strcmp(out + len - 5, ".gguf") ? (int)(len - 5) : (int)len;
    snprintf(buf, n, "%.*s.step%ld.gguf", stem, out, step);
}

static int save_checkpoint(const Llama *m, const Tokenizer *tok, const TrainConfig *tc,
                           const AdamW *opt, long step, const ObRng *rng, float best, ObErr *err) {
    if (check_weights(m, step, err)) return -1;
    char *sp = state_path(tc->out_path, ".state", err);
    char *pp = sp ? state_path(tc->out_path, ".state.prev", err) : NULL;
    if (!pp) return free(sp), -1;
    /* State first, model second, and the state the model on disk matches is
     * kept as "<out>.state.prev" until the new model is in place: a kill
     * between the two writes leaves the previous model, and resume then takes
     * the previous state (without it the run could not be resumed at all). */
    int rc = 0;
    if (rename(sp, pp) != 0 && errno != ENOENT)
        rc = ob_errf(err, "%s: cannot keep the previous optimizer state: %s", pp, strerror(errno));
    if (!rc) rc = save_state(sp, tc, opt, step, rng, best, err);
    free(sp);
    GGUFWriter *w = rc ? NULL : gguf_writer_new(err);
    if (!w) return free(pp), -1;
    rc = gguf_set_str(w, "general.name", tc->name) ||
                 gguf_set_u64(w, "obliviate.train.step", (uint64_t)step)
             ? ob_errf(err, "out of memory")
         : m->lora ? lora_to_gguf(m->lora, w, err) /* LoRA: the checkpoint is the adapter */
                   : llama_to_gguf(m, GGML_TYPE_F32, w, err);
    if (!rc && tok && !m->lora) rc = tokenizer_to_gguf(tok, w) ? ob_errf(err, "out of memory") : 0;
    if (!rc) rc = gguf_writer_save(w, tc->out_path, err);
    if (!rc) remove(pp); /* the pair is whole again; the old state would only take disk */
    gguf_writer_free(w);
    free(pp);
    return rc;
}

/* The step the model checkpoint at path was saved at. */
static int model_step(const char *path, long *step, ObErr *err) {
    GGUFFile f;
    uint64_t s = 0;
    if (gguf_open(&f, path, err)) return -1;
    int rc = gguf_get_u64(&f, "obliviate.train.step", &s, err);
    gguf_close(&f);
    *step = (long)s;
    return rc;
}

/* Loads the optimizer state that matches the model at out_path: "<out>.state",
 * or "<out>.state.prev" when a kill fell between writing the two files. */
static int resume_state(const TrainConfig *tc, AdamW *opt, long *step, ObRng *rng, float *best,
                        ObErr *err) {
    const char *out_path = tc->out_path;
    long ms;
    if (model_step(out_path, &ms, err)) return -1;
    char *sp = state_path(out_path, ".state", err);
    char *pp = sp ? state_path(out_path, ".state.prev", err) : NULL;
    int rc = pp ? load_state(sp, tc, opt, step, rng, best, err) : -1;
    if (pp && (rc || *step != ms) && access(pp, R_OK) == 0) {
        ObErr e2;
        long s2;
        if (!load_state(pp, tc, opt, &s2, rng, best, &e2) && s2 == ms) rc = 0, *step = s2;
    }
    if (!rc && *step != ms)
        rc = ob_errf(err, "%s: model is at step %ld but its optimizer state is at step %ld",
                     out_path, ms, *step);
    free(sp), free(pp);
    return rc;
}

/* ---- the loop ---- */

typedef struct {
    int32_t *inputs, *targets; /* (accum, B, T) */
    SoftBuf soft;              /* (accum, B, T, k) when soft_k > 0 */
    ParamSegment segs[12];
    int n_segs;
    FILE *log;
    int row0, rows; /* this rank's rows [row0, row0 + rows) of every micro-batch */
    int lead;       /* rank 0: writes checkpoints, logs and progress */
} LoopState;

static int update(Llama *m, const TrainConfig *tc, LoopState *ls, AdamW *opt, long step, float lr,
                  double loss_sum, long valid, float *loss_out, ObErr *err);

/* A step whose loss the caller computes (TrainData.step): forward and
 * backward of each micro-batch on this rank's rows. Sets *loss_sum to the
 * rank's part of the step's loss (summed over ranks, the loss). */
static int hook_step(Llama *m, const TrainConfig *tc, const TrainData *data, ObRng *rng,
                     const LoopState *ls, double *loss_sum, ObErr *err) {
    llama_zero_grads(m);
    *loss_sum = 0;
    for (int a = 0; a < tc->accum; a++) {
        double l;
        if (data->step(data->ctx, m, rng, tc->batch, tc->seq, ls->row0, ls->rows, 1.0 / tc->accum,
                       &l, err))
            return -1;
        *loss_sum += l;
    }
    return 0;
}

static int one_step(Llama *m, const TrainConfig *tc, const TrainData *data, ObRng *rng,
                    LoopState *ls, AdamW *opt, long step, float lr, float *loss_out, ObErr *err) {
    if (data->step) {
        double loss_sum;
        if (hook_step(m, tc, data, rng, ls, &loss_sum, err)) return -1;
        return update(m, tc, ls, opt, step, lr, loss_sum, 1, loss_out, err);
    }
    size_t BT = (size_t)tc->batch * tc->seq, k = (size_t)tc->soft_k;
    size_t off = (size_t)ls->row0 * tc->seq; /* this rank's rows within a micro-batch */
    long valid = 0;
    for (int a = 0; a < tc->accum; a++) {
        SoftBuf sb = {0}; /* no soft buffers without soft targets (NULL + offset is UB) */
        if (k)
            sb = (SoftBuf){(int)k, ls->soft.ids + a * BT * k, ls->soft.probs + a * BT * k,
                           ls->soft.rest + a * BT};
        if (data->next(data->ctx, rng, tc->batch, tc->seq, ls->inputs + a * BT,
                       ls->targets + a * BT, k ? &sb : NULL, err))
            return -1;
        for (size_t i = 0; i < BT; i++) valid += ls->targets[a * BT + i] >= 0;
    }
    /* Every rank draws the whole global batch (the same rng, so the same
     * batches as one process) and so counts the valid targets of all of it:
     * gradients are normalised by the global count with no communication. */
    llama_zero_grads(m);
    double loss_sum = 0;
    for (int a = 0; a < tc->accum && valid > 0; a++) {
        size_t o = a * BT + off;
        SoftTargets st = {0};
        if (k)
            st = (SoftTargets){(int)k, ls->soft.ids + o * k, ls->soft.probs + o * k,
                               ls->soft.rest + o};
        int nv;
        float loss =
            llama_forward_soft(m, ls->inputs + o, ls->targets + o, k ? &st : NULL, tc->seq, &nv);
        loss_sum += (double)loss * nv;
        if (nv) llama_backward(m, 1.0f / (float)valid);
    }
    return update(m, tc, ls, opt, step, lr, loss_sum, valid, loss_out, err);
}

/* The rest of a step once this rank's gradients are in: sum over ranks,
 * the finite check, clipping and the AdamW update; *loss_out = the summed
 * loss over `valid` (0: no target anywhere, nothing to update). */
static int update(Llama *m, const TrainConfig *tc, LoopState *ls, AdamW *opt, long step, float lr,
                  double loss_sum, long valid, float *loss_out, ObErr *err) {
    /* Sum the ranks' gradients; after this every rank holds the same
     * gradients, so clipping and AdamW give the same weights everywhere. */
    Trainable t = trainable(m);
    if (valid > 0 &&
        (dist_allreduce_sum_f32(t.grads, t.n, err) || dist_allreduce_sum_f64(&loss_sum, 1, err)))
        return ob_err_prefix(err, "rank %d: gradient sum", dist_rank());
    /* A non-finite loss or gradient stops the run before the update: the
     * weights stay those of the last step, and the last checkpoint stays. */
    double norm = tc->clip > 0 ? grad_clip(t.grads, t.n, tc->clip) : grad_global_norm(t.grads, t.n);
    if (!isfinite(loss_sum) || !isfinite(norm))
        return ob_errf(err,
                       "step %ld: the %s is %s: training stopped (the last checkpoint, if any, "
                       "is kept; try a lower --lr)",
                       step + 1, isfinite(loss_sum) ? "gradient norm" : "loss",
                       isnan(isfinite(loss_sum) ? norm : loss_sum) ? "NaN" : "infinite");
    adamw_step(opt, &tc->adam, lr, t.params, t.grads, ls->segs, ls->n_segs);
    *loss_out = valid ? (float)(loss_sum / valid) : 0.0f;
    return 0;
}

/* On resume, the log keeps only whole records up to the resumed step: a kill
 * leaves the steps after the checkpoint, which the resumed run logs again,
 * and usually a half-written last line, which readers would reject. */
static int log_trim(const char *path, long step, ObErr *err) {
    char *data;
    size_t len;
    if (access(path, F_OK) != 0) return 0;
    if (ob_read_file(path, &data, &len, err)) return -1;
    ObAtomicFile af;
    if (ob_atomic_open(&af, path, err)) return free(data), -1;
    for (char *p = data, *nl; (nl = memchr(p, '\n', len - (size_t)(p - data))); p = nl + 1) {
        long s; /* records are in step order */
        if (sscanf(p, "{\"step\":%ld", &s) == 1 && s > step) break;
        fwrite(p, 1, (size_t)(nl + 1 - p), af.fp);
    }
    free(data);
    return ob_atomic_commit(&af, err);
}

static int loop_init(LoopState *ls, Llama *m, const TrainConfig *tc, long resumed, ObErr *err) {
    memset(ls, 0, sizeof *ls);
    size_t n = (size_t)tc->accum * tc->batch * tc->seq, k = (size_t)tc->soft_k;
    ls->inputs = ob_malloc(sizeof(int32_t) * n * 2, "batch tokens", err);
    if (!ls->inputs) return -1;
    ls->targets = ls->inputs + n;
    if (k) {
        ls->soft.k = (int)k;
        ls->soft.ids = ob_malloc(sizeof(int32_t) * n * k, "soft targets", err);
        ls->soft.probs =
            ls->soft.ids ? ob_malloc(sizeof(float) * n * (k + 1), "soft targets", err) : NULL;
        if (!ls->soft.probs) return -1;
        ls->soft.rest = ls->soft.probs + n * k;
    }
    ls->n_segs = llama_param_segments(m, ls->segs);
    int P = dist_size(), r = dist_rank();
    ls->row0 = (int)((long)r * tc->batch / P);
    ls->rows = (int)((long)(r + 1) * tc->batch / P) - ls->row0;
    ls->lead = r == 0;
    if (!ls->lead) return 0; /* rank 0 alone keeps the log */
    if (tc->log_path && resumed >= 0 && log_trim(tc->log_path, resumed, err)) return -1;
    /* a fresh run starts a fresh log: one log never holds two runs */
    if (tc->log_path && !(ls->log = fopen(tc->log_path, resumed >= 0 ? "a" : "w")))
        return ob_errf(err, "%s: cannot open log: %s", tc->log_path, strerror(errno));
    /* one write per line: a run killed at any moment leaves whole lines */
    if (ls->log) setvbuf(ls->log, NULL, _IOLBF, 0);
    return 0;
}

static void loop_free(LoopState *ls) {
    free(ls->inputs);
    free(ls->soft.ids);
    free(ls->soft.probs);
    if (ls->log) fclose(ls->log);
}

/* Held-out evaluation at `step`; with best_path, saves an improvement. */
static int evaluate(Llama *m, const Tokenizer *tok, const TrainConfig *tc, const TrainData *data,
                    long step, float *best, TrainResult *res, FILE *log, ObErr *err) {
    double loss = data->eval(data->eval_ctx, m);
    /* rank 0's figure decides, so every rank keeps the same best */
    if (dist_bcast(&loss, sizeof loss, 0, err)) return -1;
    res->val_loss = (float)loss;
    int better = loss < *best, lead = dist_rank() == 0;
    if (lead)
        ob_logf("train: step %ld held-out loss %.4f%s\n", step, loss,
                better && tc->best_path ? " (best so far, saved)" : "");
    /* JSON has no NaN: a loss with nothing to measure gets no record */
    if (log && isfinite(loss)) fprintf(log, "{\"step\":%ld,\"val_loss\":%.6f}\n", step, loss);
    if (!better) return 0;
    *best = (float)loss;
    res->best_val_loss = *best;
    if (!tc->best_path || !lead) return 0;
    return m->lora ? lora_save(m->lora, tc->name, tc->best_path, err)
                   : llama_save(m, tok, tc->name, GGML_TYPE_F32, tc->best_path, err);
}

static int check_config(const Llama *m, const TrainConfig *tc, ObErr *err) {
    if (train_config_check(tc, "--", err)) return -1;
    if (tc->seq > m->cfg.ctx_len)
        return ob_errf(err, "sequence length %d exceeds the model's context %d", tc->seq,
                       m->cfg.ctx_len);
    if (tc->soft_k < 0 || tc->soft_k > SOFT_K_MAX)
        return ob_errf(err, "soft targets per position must be 0..%d", SOFT_K_MAX);
    if (tc->batch < dist_size())
        return ob_errf(err, "batch %d is smaller than the %d processes: each needs a row",
                       tc->batch, dist_size());
    return 0;
}

/* FNV-1a of the weights' bytes: ranks compare it at checkpoints. */
static uint64_t params_hash(const Llama *m) {
    Trainable t = trainable(m);
    return ob_fnv1a(OB_FNV_OFFSET, t.params, t.n * sizeof(float));
}

/* Several ranks: rank 0's weights and (on resume) optimizer state go to
 * every rank, so all start from the same bits whatever files they read.
 * Then the ranks check they agree on the model's size. */
static int share_start(Llama *m, AdamW *opt, long *step, ObRng *rng, float *best, int load_rc,
                       ObErr *err) {
    if (dist_size() == 1) return load_rc;
    int64_t hdr[8] = {load_rc, *step, opt->t};
    memcpy(&hdr[3], rng->s, sizeof rng->s);
    memcpy(&hdr[7], best, sizeof *best);
    if (dist_bcast(hdr, sizeof hdr, 0, err)) return -1;
    if (hdr[0] && dist_rank() != 0)
        return ob_errf(err, "rank 0 could not start (lock or checkpoint; its message says why)");
    if (hdr[0]) return -1; /* rank 0's own message stands */
    *step = (long)hdr[1], opt->t = (long)hdr[2];
    memcpy(rng->s, &hdr[3], sizeof rng->s);
    memcpy(best, &hdr[7], sizeof *best);
    /* The sizes summed equal size x this rank's on every rank iff all agree. */
    Trainable t = trainable(m);
    double n = (double)t.n, sum = n;
    if (dist_allreduce_sum_f64(&sum, 1, err)) return -1;
    if (sum != n * dist_size())
        return ob_errf(err, "rank %d: the ranks loaded models of different sizes", dist_rank());
    size_t bytes = t.n * sizeof(float);
    return dist_bcast(t.params, bytes, 0, err) || dist_bcast(opt->m, bytes, 0, err) ||
                   dist_bcast(opt->v, bytes, 0, err)
               ? -1
               : 0;
}

/* Several ranks: fails when this rank's weights have drifted from rank 0's
 * (they cannot, unless an allreduce gave ranks different sums). */
static int check_same_weights(const Llama *m, long step, ObErr *err) {
    if (dist_size() == 1) return 0;
    uint64_t h = params_hash(m), h0 = h;
    if (dist_bcast(&h0, sizeof h0, 0, err)) return -1;
    return h == h0 ? 0
                   : ob_errf(err, "rank %d: weights differ from rank 0's at step %ld", dist_rank(),
                             step);
}

int train_run(Llama *m, const Tokenizer *tok, const TrainConfig *tc, const TrainData *data,
              int resume, TrainResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    res->val_loss = res->best_val_loss = -1;
    if (check_config(m, tc, err)) return -1;
    AdamW opt;
    LoopState ls = {0}; /* loop_free runs even when resuming fails first */
    ObRng rng;
    long step = 0;
    float best = INFINITY;
    ob_rng_seed(&rng, tc->seed);
    if (llama_alloc_grads(m, err) || adamw_init(&opt, trainable(m).n, err)) return -1;
    int lead = dist_rank() == 0;
    /* One writer per checkpoint, taken before it is read: a second run on the
     * same output is refused here, before its first step. The folder must
     * also take the longest name the run will write. */
    ObLock lk = {.fd = -1}, lk_best = {.fd = -1};
    int rc = 0;
    if (lead && (ob_check_output_room(tc->out_path, ".state.prev", err) ||
                 ob_lock_output(&lk, tc->out_path, err) ||
                 (tc->best_path && (ob_check_output_room(tc->best_path, "", err) ||
                                    ob_lock_output(&lk_best, tc->best_path, err)))))
        rc = -1;
    /* rank 0 reads the checkpoint; share_start sends it to every rank */
    if (!rc && resume && lead) rc = resume_state(tc, &opt, &step, &rng, &best, err);
    if (!rc && resume && lead)
        ob_logf("train: resuming %s at step %ld%s\n", tc->out_path, step,
                dist_size() > 1 ? " (state sent to every rank)" : "");
    if (dist_size() > 1 && lead)
        ob_logf("train: %d ranks, rows of each batch of %d split %d..%d per rank\n", dist_size(),
                tc->batch, tc->batch / dist_size(), (tc->batch + dist_size() - 1) / dist_size());
    rc = share_start(m, &opt, &step, &rng, &best, rc, err);
    if (!rc) rc = loop_init(&ls, m, tc, resume ? step : -1, err);
    /* Each rank holds activations for its own rows only. */
    if (!rc) rc = llama_alloc_batch(m, ls.rows, tc->seq, err);
    Progress pr;
    progress_start(&pr, "train", step, tc->steps);
    double t_start = ob_now(), tokens = 0;
    float loss = 0;
    while (!rc && step < tc->steps) {
        float lr = lr_at(tc->sched, tc->lr, tc->min_lr, tc->warmup, tc->steps, step);
        rc = one_step(m, tc, data, &rng, &ls, &opt, step, lr, &loss, err);
        if (rc) break;
        step++;
        double ntok = (double)tc->accum * tc->batch * tc->seq;
        tokens += ntok;
        int print = step % tc->log_every == 0 || step == tc->steps;
        double tok_s = progress_step(&pr, step, ntok, loss, lr, print && ls.lead);
        if (ls.log) {
            fprintf(ls.log, "{\"step\":%ld,\"loss\":%.6f,\"lr\":%.6g", step, loss, lr);
            fprintf(ls.log, print && isfinite(tok_s) ? ",\"tok_s\":%.1f}\n" : "}\n", tok_s);
        }
        int eval_now = tc->eval_every > 0 && (step % tc->eval_every == 0 || step == tc->steps);
        if (data->eval && (eval_now || (tc->best_path && step == tc->steps)))
            rc = evaluate(m, tok, tc, data, step, &best, res, ls.log, err);
        int keep = tc->keep_every > 0 && step % tc->keep_every == 0;
        if (!rc &&
            (keep || (tc->ckpt_every > 0 && step % tc->ckpt_every == 0) || step == tc->steps)) {
            if (ls.log) fflush(ls.log); /* the log always reaches the checkpoint a resume takes */
            rc = check_same_weights(m, step, err);
            if (!rc && ls.lead) rc = save_checkpoint(m, tok, tc, &opt, step, &rng, best, err);
            if (!rc && ls.lead && keep) {
                char snap[4096];
                train_snapshot_path(snap, sizeof snap, tc->out_path, step);
                rc = ob_copy_file(tc->out_path, snap, err);
            }
        }
    }
    /* Other ranks may read what rank 0 just wrote (the next pipeline stage). */
    if (!rc) rc = dist_barrier(err);
    res->steps_done = step;
    res->last_loss = loss;
    res->best_val_loss = isfinite(best) ? best : -1;
    res->seconds = ob_now() - t_start;
    res->tok_per_s = res->seconds > 0 ? tokens / res->seconds : 0;
    loop_free(&ls);
    adamw_free(&opt);
    ob_unlock(&lk_best);
    ob_unlock(&lk);
    return rc;
}
