#include "unlearn/task_vector.h"

#include <math.h>
#include <string.h>

#include "model/checkpoint.h"
#include "util/dist.h"
#include "util/hash.h"
#include "util/log.h"

int task_vector_negate(const char *base, const char *reinforced, float a, const char *out,
                       ObErr *err) {
    Llama b, r;
    Tokenizer tok;
    if (llama_load(&b, &tok, base, err)) return -1;
    int rc = llama_load(&r, NULL, reinforced, err);
    if (rc) {
        llama_free(&b), tok_free(&tok);
        return -1;
    }
    if (memcmp(&b.cfg, &r.cfg, sizeof b.cfg) || b.n_params != r.n_params)
        rc = ob_errf(err, "%s: not the same model shape as %s", reinforced, base);
    for (size_t i = 0; !rc && i < b.n_params; i++) {
        double w = b.params[i];
        b.params[i] = (float)(w - (double)a * ((double)r.params[i] - w));
    }
    if (!rc) rc = llama_save(&b, &tok, "unlearned", GGML_TYPE_F32, out, err);
    llama_free(&r), llama_free(&b), tok_free(&tok);
    return rc ? -1 : 0;
}

int task_vector_negate_lora(const char *base, const char *adapter, float a, const char *out,
                            ObErr *err) {
    Llama m;
    if (llama_load_frozen(&m, NULL, base, err)) return -1;
    int rc = llama_load_lora(&m, adapter, err);
    if (!rc) {
        Lora *lo = m.lora;
        for (int l = 0; l < lo->n_layers; l++)
            for (int k = 0; k < MAT_N; k++) {
                float *B = lora_b(lo, l, k);
                if (!B) continue;
                for (size_t i = 0; i < (size_t)lo->dims[k][0] * lo->cfg.rank; i++) B[i] *= -a;
            }
        rc = lora_save(lo, "unlearned", out, err);
    }
    llama_free(&m);
    return rc ? -1 : 0;
}

static int negate_stage(const UnlearnConfig *c, uint64_t h, int resume, ObErr *err) {
    (void)resume; /* nothing to resume: one pass over the weights */
    char reinf[4096], out[4096];
    unlearn_work_path(reinf, sizeof reinf, c, "reinforced.gguf");
    unlearn_work_path(out, sizeof out, c, "unlearned.gguf");
    if (unlearn_stamp_write(c, "negate", h, 0, err)) return -1;
    if (dist_rank() == 0 &&
        (c->lora.rank ? task_vector_negate_lora(c->base, reinf, c->negate, out, err)
                      : task_vector_negate(c->base, reinf, c->negate, out, err)))
        return -1;
    return dist_barrier(err) || unlearn_stamp_write(c, "negate", h, 1, err);
}

static int task_vector_body(const UnlearnConfig *c, ObErr *err) {
    uint64_t h;
    double t[2];
    if (unlearn_reinforce(c, &h, &t[0], err)) return -1;
    h = ob_fnv1a(h, &c->negate, sizeof c->negate);
    if (unlearn_stage(c, "negate", "unlearned.gguf", NULL, h, negate_stage, &t[1], err) ||
        unlearn_publish(c, "unlearned.gguf", err))
        return -1;
    ob_logf("unlearn: stage seconds: reinforce %.1f, negate %.1f; model written to %s\n", t[0],
            t[1], c->out);
    return 0;
}

int task_vector_check(const UnlearnConfig *c, ObErr *err) {
    if (!(c->negate > 0 && c->negate <= 1e4))
        return ob_errf(err, "--negate %g: must be in (0, 10000]", c->negate);
    if (c->finetune.n_retain)
        return ob_errf(err, "this method has no retain term: --retain is not used");
    return train_config_check(&c->reinforce, "--reinforce-", err);
}

int task_vector_unlearn(const UnlearnConfig *c, ObErr *err) {
    if (task_vector_check(c, err)) return -1;
    return unlearn_locked(c, task_vector_body, err);
}
