/* The training loop: batches -> forward/backward with gradient accumulation ->
 * clipping -> AdamW, with schedules, progress, checkpoints and resume.
 *
 * A checkpoint is two files written atomically: the model (a llama GGUF that
 * llama.cpp loads) at out_path and the optimizer state (Adam moments, step,
 * data-sampling RNG) at "<out_path>.state"; the state before it is kept as
 * "<out_path>.state.prev", so a kill between the two writes still leaves a
 * matching pair. Resuming from them continues the exact same sequence of
 * batches and updates, so a resumed run ends with the same bits as an
 * uninterrupted one (same seed, same thread count).
 *
 * A model with a LoRA adapter (m->lora; model/lora.h) trains the adapter
 * alone: gradients, clipping, AdamW and the optimizer state cover its
 * parameters, and every model file the loop writes (checkpoints, best
 * model) is the adapter, a llama.cpp LoRA GGUF; resume loads the base
 * again and the adapter from out_path. */
#ifndef OB_TRAINER_H
#define OB_TRAINER_H

#include <stdint.h>

#include "model/llama.h"
#include "text/dataset.h"
#include "text/tokenizer.h"
#include "train/adamw.h"
#include "util/rng.h"

typedef struct {
    int batch, seq, accum; /* micro-batch B x T, micro-batches per step */
    long steps, warmup;
    float lr, min_lr;
    Schedule sched;
    AdamWConfig adam;
    float clip; /* max global gradient norm; 0 = none */
    uint64_t seed;
    long ckpt_every; /* 0: only at the end */
    long keep_every; /* also keep the model of every N-th step, train_snapshot_path (0: none) */
    long log_every;
    long eval_every;       /* held-out loss every N steps (and at the end) */
    const char *best_path; /* keep the model with the best held-out loss here */
    int soft_k;            /* soft targets per position (0: hard targets) */
    const char *out_path;  /* model checkpoint */
    const char *log_path;  /* optional JSON Lines, one object per step */
    const char *name;      /* general.name of the written model */
} TrainConfig;

void train_config_defaults(TrainConfig *tc);

/* Where the model of step `step` is kept under keep_every: "<out>.stepN.gguf"
 * for out "<out>.gguf" ("unlearned.step50.gguf"). */
void train_snapshot_path(char *buf, size_t n, const char *out, long step);

/* Fails, naming the setting as its command-line flag (flag: the flags'
 * prefix, "--" or "--reinforce-"), when a setting is out of range: rates,
 * betas, decay and epsilon that would make the weights non-finite, counts
 * that are not positive. Model-free, so callers run it before any work;
 * train_run runs it again. */
int train_config_check(const TrainConfig *tc, const char *flag, ObErr *err);

/* Writable soft targets for one micro-batch (ops.h SoftTargets). */
typedef struct {
    int k;
    int32_t *ids; /* (B, T, k) */
    float *probs; /* (B, T, k) */
    float *rest;  /* (B, T) */
} SoftBuf;

/* Fills (B, T) inputs and targets (-1 = no target) for one micro-batch, and
 * soft targets when soft is non-NULL (TrainConfig.soft_k > 0). */
typedef int (*BatchFn)(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                       SoftBuf *soft, ObErr *err);
/* Held-out loss of m (NAN when there is nothing to measure). */
typedef double (*EvalFn)(void *ctx, Llama *m);

/* A whole step's loss computed by the caller, for objectives other than
 * cross-entropy to targets (unlearn/objective.h): for one micro-batch of B
 * rows (this rank's rows [row0, row0 + rows) under MPI, drawn with rng as
 * every rank draws the whole batch), runs forward and backward on m (its
 * activations hold `rows` rows), adding `scale` x the gradient of the loss
 * into m's gradients, and sets *loss to scale x this rank's part of it
 * (normalised by the whole batch, so the ranks' parts sum to the loss). */
typedef int (*StepFn)(void *ctx, Llama *m, ObRng *rng, int B, int T, int row0, int rows,
                      double scale, double *loss, ObErr *err);

typedef struct {
    BatchFn next; /* targets for the cross-entropy; unused with step */
    void *ctx;
    EvalFn eval; /* optional */
    void *eval_ctx;
    StepFn step; /* optional: the loss of a step instead of next's cross-entropy */
} TrainData;

typedef struct {
    long steps_done;
    float last_loss, val_loss, best_val_loss; /* < 0 when none */
    double tok_per_s, seconds;
} TrainResult;

/* Trains m in place. With resume, reads "<out_path>.state" (which must match
 * the model already loaded from out_path) and continues from its step. */
int train_run(Llama *m, const Tokenizer *tok, const TrainConfig *tc, const TrainData *data,
              int resume, TrainResult *res, ObErr *err);

/* Batches of random windows from a token stream (ctx = TokenStream *). */
int batch_from_stream(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                      SoftBuf *soft, ObErr *err);

/* B - extra_rows windows from main, as batch_from_stream draws them, plus
 * extra_rows windows from extra (ctx = Mixture *). Training a model with and
 * one without the extra rows, same seed, shows both the same main windows:
 * the only difference between them is the mixed-in text. */
typedef struct {
    const TokenStream *main, *extra;
    int extra_rows;
} Mixture;
int batch_from_mixture(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                       SoftBuf *soft, ObErr *err);

/* Held-out loss on a token stream, as an EvalFn (ctx = StreamEval *): at
 * most max_windows windows of T tokens; inp and tgt hold B*T ids each. */
typedef struct {
    const TokenStream *ds;
    int T;
    long max_windows;
    int32_t *inp, *tgt;
} StreamEval;
double stream_eval(void *ctx, Llama *m);

/* Mean next-token loss over consecutive non-overlapping T-token windows of
 * ds (at most max_windows; 0 = all), using m's allocated batch B; inp and tgt
 * are caller-owned scratch of B*T ids each. */
double stream_loss(Llama *m, const TokenStream *ds, int T, long max_windows, int32_t *inp,
                   int32_t *tgt, long *n_tokens);

/* One segment per parameter tensor; norms get no weight decay. Returns the
 * count (at most 12). */
int llama_param_segments(const Llama *m, ParamSegment *segs);

#endif
