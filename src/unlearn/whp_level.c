#include "unlearn/whp_level.h"

#include "unlearn/objective_run.h"
#include "util/fileio.h"
#include "util/log.h"

int whp_level_check(const UnlearnConfig *c, ObErr *err) {
    if (c->lora.rank)
        return ob_errf(err, "whp-level trains full weights: --lora-rank is not supported yet "
                            "(run whp with --lora-rank, then level on the merged model)");
    if (c->objective.forget.kind != FORGET_LEVEL)
        return ob_errf(err, "whp-level's second stage is the level objective");
    ObjectiveRunConfig r;
    objective_run_config_from(&r, c, NULL, &c->level_train);
    if (objective_run_config_check(&r, "--level-", err)) return -1;
    if (unlearn_config_check(c, err)) return -1;
    return 0;
}

/* WHP's model (work/unlearned.gguf) is both the model trained and the
 * reference. */
static int level_stage(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    char whp[4096];
    unlearn_work_path(whp, sizeof whp, c, "unlearned.gguf");
    return objective_stage_run(c, "level", whp, &c->level_train, "level.gguf", "level.log.jsonl", h,
                               resume, err);
}

static int body(const UnlearnConfig *c, ObErr *err) {
    uint64_t h;
    double secs;
    if (unlearn_whp_stages(c, &h, err) || objective_stamp(&h, c, &c->level_train, err)) return -1;
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
