#include "unlearn/finetune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "train/textrun.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/log.h"

int labels_data_init(LabelsData *ld, const LabelsFile *lf, float alpha, int soft, double val_share,
                     int B, ObErr *err) {
    memset(ld, 0, sizeof *ld);
    ld->lf = lf;
    ld->alpha = labels_alpha_index(lf, alpha);
    ld->soft = soft;
    ld->B = B;
    if (ld->alpha < 0) return ob_errf(err, "%s: has no labels for alpha %g", lf->path, alpha);
    if (soft && lf->h.soft_k > SOFT_K_MAX)
        return ob_errf(err, "%s: %u soft targets per position, more than the %d training takes",
                       lf->path, lf->h.soft_k, SOFT_K_MAX);
    if (soft && lf->h.soft_k == 0)
        return ob_errf(err, "%s: has hard labels only; make it with --soft-k for soft targets",
                       lf->path);
    uint64_t n = lf->h.n_blocks, every = 0;
    if (val_share > 0 && n >= 2) every = (uint64_t)fmax(2.0, round(1.0 / val_share));
    size_t T = lf->h.block, k = soft ? lf->h.soft_k : 0;
    ld->train = ob_malloc(sizeof(uint64_t) * (n + 1), "block list", err);
    ld->val = ob_malloc(sizeof(uint64_t) * (n + 1), "block list", err);
    ld->inp = ob_malloc(sizeof(int32_t) * 2 * B * T, "batch", err);
    if (k) {
        ld->sb.k = (int)k;
        ld->sb.ids = ob_malloc(sizeof(int32_t) * B * T * k, "soft targets", err);
        ld->sb.probs = ob_malloc(sizeof(float) * B * T * (k + 1), "soft targets", err);
    }
    if (!ld->train || !ld->val || !ld->inp || (k && (!ld->sb.ids || !ld->sb.probs))) {
        labels_data_free(ld);
        return -1;
    }
    ld->tgt = ld->inp + (size_t)B * T;
    if (k) ld->sb.rest = ld->sb.probs + (size_t)B * T * k;
    /* Hold out the middle block of every `every`, so the first and last
     * blocks (BOS-led starts, the tail) stay in training. */
    for (uint64_t b = 0; b < n; b++) {
        if (every && b % every == every / 2)
            ld->val[ld->n_val++] = b;
        else
            ld->train[ld->n_train++] = b;
    }
    if (ld->n_train == 0) {
        labels_data_free(ld);
        return ob_errf(err, "%s: no blocks left for training", lf->path);
    }
    return 0;
}

void labels_data_free(LabelsData *ld) {
    free(ld->train);
    free(ld->val);
    free(ld->inp);
    free(ld->sb.ids);
    free(ld->sb.probs);
    memset(ld, 0, sizeof *ld);
}

/* Copies block b's tokens, targets and (soft) targets into row `row`. */
static void copy_block(const LabelsData *ld, uint64_t b, int row, int32_t *inputs, int32_t *targets,
                       SoftBuf *soft) {
    const LabelsFile *lf = ld->lf;
    size_t T = lf->h.block;
    memcpy(inputs + row * T, labels_tokens(lf, b), sizeof(int32_t) * T);
    memcpy(targets + row * T, labels_hard(lf, b, ld->alpha), sizeof(int32_t) * T);
    if (!soft) return;
    size_t k = (size_t)soft->k, rec = sizeof(int32_t) * k + sizeof(float) * (k + 1);
    const uint8_t *s = labels_soft(lf, b, ld->alpha);
    for (size_t t = 0; t < T; t++, s += rec) {
        size_t pos = row * T + t;
        memcpy(soft->ids + pos * k, s, sizeof(int32_t) * k);
        memcpy(soft->probs + pos * k, s + sizeof(int32_t) * k, sizeof(float) * k);
        memcpy(soft->rest + pos, s + (sizeof(int32_t) + sizeof(float)) * k, sizeof(float));
    }
}

/* Rows [row0, B) from the retain text, with one-hot soft targets. */
static void retain_rows(const LabelsData *ld, uint64_t key, int row0, int B, int T, int32_t *inputs,
                        int32_t *targets, SoftBuf *soft) {
    size_t off = (size_t)row0 * T;
    dataset_sample(ld->retain, ob_hash64(key ^ 0x72657461696eULL), B - row0, T, inputs + off,
                   targets + off);
    if (!soft) return;
    size_t k = (size_t)soft->k;
    for (size_t p = off; p < (size_t)B * T; p++) {
        for (size_t j = 0; j < k; j++) soft->ids[p * k + j] = -1, soft->probs[p * k + j] = 0;
        soft->ids[p * k] = targets[p], soft->probs[p * k] = 1.0f, soft->rest[p] = 0.0f;
    }
}

int batch_from_labels(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                      SoftBuf *soft, ObErr *err) {
    const LabelsData *ld = ctx;
    if ((uint32_t)T != ld->lf->h.block)
        return ob_errf(err, "sequence length %d differs from the labels' block %u", T,
                       ld->lf->h.block);
    if (ld->retain_rows && ld->retain->n < (size_t)T + 1)
        return ob_errf(err, "retain text is shorter than one block");
    uint64_t key = ob_rng_u64(rng);
    int label_rows = B - ld->retain_rows;
    if (ld->retain_rows)
        retain_rows(ld, key, label_rows, B, T, inputs, targets, ld->soft ? soft : NULL);
    for (int b = 0; b < label_rows; b++) {
        uint64_t pick = ob_hash64(key + 0x9e3779b97f4a7c15ULL * (uint64_t)(b + 1)) % ld->n_train;
        copy_block(ld, ld->train[pick], b, inputs, targets, ld->soft ? soft : NULL);
    }
    return 0;
}

double labels_eval(void *ctx, Llama *m) {
    LabelsData *ld = ctx;
    /* B: the model's batch, which under MPI is this rank's share of ld->B */
    int B = m->acts.B, T = (int)ld->lf->h.block;
    if (B > ld->B || m->acts.T < T) return NAN; /* scratch made for a smaller batch */
    double sum = 0;
    long count = 0;
    for (uint64_t v0 = 0; v0 < ld->n_val; v0 += B) {
        if (!dist_owns(v0 / (uint64_t)B)) continue; /* another rank's chunk */
        int rows = (int)(ld->n_val - v0 < (uint64_t)B ? ld->n_val - v0 : (uint64_t)B);
        for (int r = 0; r < B; r++)
            copy_block(ld, ld->val[v0 + (r < rows ? r : 0)], r, ld->inp, ld->tgt,
                       ld->soft ? &ld->sb : NULL);
        for (int r = rows; r < B; r++) /* pad rows count for nothing */
            for (int t = 0; t < T; t++) ld->tgt[(size_t)r * T + t] = -1;
        SoftTargets st = {ld->sb.k, ld->sb.ids, ld->sb.probs, ld->sb.rest};
        int nv;
        float loss = llama_forward_soft(m, ld->inp, ld->tgt, ld->soft ? &st : NULL, T, &nv);
        sum += (double)loss * nv;
        count += nv;
    }
    double tot[2] = {sum, (double)count};
    if (dist_allreduce_sum_f64(tot, 2, NULL)) return NAN;
    return tot[1] > 0 ? tot[0] / tot[1] : NAN;
}

void finetune_config_defaults(FinetuneConfig *c) {
    *c = (FinetuneConfig){.alpha = NAN, .val_share = 0.05, .retain_rows = 4};
    lora_config_defaults(&c->lora);
    c->lora.rank = 0, c->lora.alpha = 0;
    TrainConfig *t = &c->train;
    train_config_defaults(t);
    t->batch = 8, t->steps = 0, t->warmup = -1, t->lr = 5e-4f, t->min_lr = 0;
    t->sched = SCHED_LINEAR, t->adam = (AdamWConfig){0.9f, 0.98f, 1e-8f, 0.0f};
    t->log_every = 10, t->ckpt_every = 25, t->eval_every = 0, t->name = "unlearned";
}

/* The settings that depend on the file: block length, soft slots, epochs. */
static void finetune_schedule(TrainConfig *tc, const FinetuneConfig *c, const LabelsData *ld,
                              int rows) {
    tc->batch = c->train.batch + rows; /* the retain rows ride along in every batch */
    tc->seq = (int)ld->lf->h.block, tc->soft_k = ld->soft ? (int)ld->lf->h.soft_k : 0;
    if (tc->steps <= 0) tc->steps = (long)ceil(3.0 * (double)ld->n_train / c->train.batch);
    if (tc->warmup < 0) tc->warmup = tc->steps / 20;
    if (tc->eval_every <= 0) tc->eval_every = tc->steps / 10 > 0 ? tc->steps / 10 : 1;
    if (tc->log_every <= 0) tc->log_every = 1;
}

int finetune_config_check(const FinetuneConfig *c, const char *flag, ObErr *err) {
    TrainConfig t = c->train;
    if (t.steps == 0) t.steps = 1;
    if (t.warmup < 0) t.warmup = 0;
    if (t.eval_every < 0) t.eval_every = 0;
    if (train_config_check(&t, flag, err)) return -1;
    if (!(c->val_share >= 0 && c->val_share < 1))
        return ob_errf(err, "%sval-share %g: must be in [0, 1)", flag, c->val_share);
    if (c->retain_rows < 0)
        return ob_errf(err, "%sretain-rows %d: must be 0 or more", flag, c->retain_rows);
    return 0;
}

int finetune_run(const FinetuneConfig *c, FinetuneResult *res, ObErr *err) {
    if (!c->model || !c->labels || !c->out)
        return ob_errf(err, "the fine-tune needs a model, a labels file and an output");
    if (finetune_config_check(c, "--", err)) return -1;
    for (int i = 0; i < 2; i++) { /* the model and the merged model: never an input */
        const char *out = i ? c->merge : c->out;
        if (ob_check_output(out, &c->labels, 1, err) ||
            ob_check_output(out, c->retain, c->n_retain, err) ||
            (out && ob_check_output_room(out, i ? "" : ".ckpt.gguf.state.prev", err)))
            return -1;
    }
    if (c->merge && !c->lora.rank) return ob_errf(err, "merging needs a LoRA adapter");
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt.gguf", c->out);
    LoraConfig lora = c->lora;
    if (lora.rank && lora.alpha == 0) lora.alpha = 2.0f * (float)lora.rank;
    Llama m;
    Tokenizer tok;
    LabelsFile lf;
    LabelsData ld;
    TokenStream retain = {0};
    if (textrun_load_trainee(&m, &tok, c->model, &lora, c->resume, ckpt, c->train.seed, c->prec,
                             err))
        return -1;
    int rows = c->n_retain > 0 ? c->retain_rows : 0;
    int rc = rows ? dataset_load(&retain, &tok, c->retain, c->n_retain, err) : 0;
    if (!rc) rc = labels_open(&lf, c->labels, &tok, err);
    float alpha = isnan(c->alpha) && !rc ? lf.h.alphas[0] : c->alpha;
    if (!rc && (rc = labels_data_init(&ld, &lf, alpha, !c->hard, c->val_share,
                                      c->train.batch + rows, err)))
        labels_close(&lf);
    if (rc) {
        dataset_free(&retain);
        llama_free(&m), tok_free(&tok);
        return -1;
    }
    ld.retain = &retain, ld.retain_rows = rows;
    ob_logf("train: %llu label blocks (%llu held out), %s targets, alpha %g\n",
            (unsigned long long)lf.h.n_blocks, (unsigned long long)ld.n_val,
            c->hard ? "hard" : "soft", alpha);
    TrainConfig tc = c->train;
    finetune_schedule(&tc, c, &ld, rows);
    tc.out_path = ckpt, tc.best_path = ld.n_val ? c->out : NULL;
    TrainData td = {batch_from_labels, &ld, ld.n_val ? labels_eval : NULL, &ld, NULL};
    rc = train_run(&m, &tok, &tc, &td, c->resume, &res->train, err) ||
         (!ld.n_val && dist_rank() == 0 && ob_copy_file(ckpt, c->out, err)) ||
         (c->merge && (dist_barrier(err) || llama_load_lora(&m, c->out, err) ||
                       llama_save_merged(&m, &tok, tc.name, c->merge, err)));
    res->lora = m.lora ? m.lora->cfg : (LoraConfig){0};
    res->lora_params = m.lora ? (long)m.lora->n_params : 0;
    labels_data_free(&ld);
    labels_close(&lf);
    dataset_free(&retain);
    llama_free(&m);
    tok_free(&tok);
    return rc ? -1 : 0;
}
