#include "unlearn/whp_level.h"

#include <stdio.h>

#include "unlearn/objective_run.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/hash.h"
#include "util/log.h"

/* The level stage's config: WHP's model (work/unlearned.gguf) is both the
 * model trained and the reference; windows of the label block's length. */
static void level_config(ObjectiveRunConfig *r, const UnlearnConfig *c, const char *whp) {
    objective_run_config_defaults(r, FORGET_LEVEL, RETAIN_KL);
    r->obj = c->objective;
    r->model = whp, r->forget = c->targets, r->n_forget = c->n_targets;
    r->retain = c->finetune.retain, r->n_retain = c->finetune.n_retain;
    r->prec = c->prec;
    r->train = c->level_train;
    r->train.seq = c->labels.block, r->train.seed = c->seed, r->train.eval_every = 0;
}

int whp_level_check(const UnlearnConfig *c, ObErr *err) {
    if (c->lora.rank)
        return ob_errf(err, "whp-level trains full weights: --lora-rank is not supported yet "
                            "(run whp with --lora-rank, then level on the merged model)");
    if (c->objective.forget.kind != FORGET_LEVEL)
        return ob_errf(err, "whp-level's second stage is the level objective");
    ObjectiveRunConfig r;
    level_config(&r, c, NULL);
    if (objective_run_config_check(&r, "--level-", err)) return -1;
    if (unlearn_config_check(c, err)) return -1;
    return 0;
}

static int level_stage(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    char whp[4096], out[4096], log[4096];
    unlearn_work_path(whp, sizeof whp, c, "unlearned.gguf");
    unlearn_work_path(out, sizeof out, c, "level.gguf");
    unlearn_work_path(log, sizeof log, c, "level.log.jsonl");
    if (!resume && dist_rank() == 0) remove(log);
    ObjectiveRunConfig r;
    level_config(&r, c, whp);
    r.out = out, r.resume = resume, r.train.log_path = log;
    TrainResult res;
    if (unlearn_stamp_write(c, "level", h, 0, err) || objective_run(&r, &res, err)) return -1;
    return unlearn_stamp_write(c, "level", h, 1, err);
}

static int body(const UnlearnConfig *c, ObErr *err) {
    uint64_t h;
    double secs;
    if (unlearn_whp_stages(c, &h, err)) return -1;
    for (int i = 0; i < c->finetune.n_retain; i++)
        if (ob_hash_file(&h, c->finetune.retain[i], err)) return -1;
    /* every field 4 or 8 bytes wide: no padding is hashed */
    const TrainConfig *t = &c->level_train;
    h = ob_fnv1a(h, &c->objective, sizeof c->objective);
    h = ob_fnv1a(ob_fnv1a(h, &t->steps, sizeof t->steps), &t->lr, sizeof t->lr);
    h = ob_fnv1a(h, &t->batch, sizeof t->batch);
    if (unlearn_stage(c, "level", "level.gguf", "level.gguf.state", h, level_stage, &secs, err) ||
        unlearn_publish(c, "level.gguf", err))
        return -1;
    ob_logf("unlearn: level stage %.1f s; model written to %s\n", secs, c->out);
    return 0;
}

int whp_level_unlearn(const UnlearnConfig *c, ObErr *err) {
    if (whp_level_check(c, err)) return -1;
    const char *in[] = {c->anchors, c->finetune.n_retain ? c->finetune.retain[0] : NULL};
    if (ob_check_output(c->out, in, 2, err)) return -1;
    return unlearn_locked(c, body, err);
}
