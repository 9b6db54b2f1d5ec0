#include "train/textrun.h"

#include <stdlib.h>
#include <unistd.h>

#include "model/checkpoint.h"
#include "model/open.h"
#include "util/fileio.h"
#include "util/log.h"

void textrun_config_defaults(TextRunConfig *c) {
    *c = (TextRunConfig){.out = "model.gguf"};
    lora_config_defaults(&c->lora);
    c->lora.rank = 0, c->lora.alpha = 0; /* no adapter unless asked for */
    train_config_defaults(&c->train);
}

void textrun_config_reinforce(TextRunConfig *c) {
    textrun_config_defaults(c);
    TrainConfig *t = &c->train;
    t->steps = 150, t->lr = 5e-4f, t->min_lr = 5e-5f, t->warmup = 16, t->sched = SCHED_COSINE;
    t->batch = 8, t->seq = 256, t->ckpt_every = 50, t->log_every = 25, t->name = "reinforced";
}

int textrun_load_trainee(Llama *m, Tokenizer *tok, const char *base, const LoraConfig *lora,
                         int resume, const char *ckpt, uint64_t seed, ObPrecision prec,
                         ObErr *err) {
    int rc;
    if (lora->rank && !resume) { /* a fresh adapter on the frozen base */
        if (llama_load_frozen(m, tok, base, err)) return -1;
        if ((rc = llama_add_lora(m, lora, seed, err))) llama_free(m), tok_free(tok);
    } else { /* the whole model, or the base with the checkpoint's adapter */
        rc = llama_open(m, tok, lora->rank || !resume ? base : ckpt, lora->rank ? ckpt : NULL, err);
        if (!rc && lora->rank &&
            (m->lora->cfg.rank != lora->rank || m->lora->cfg.targets != lora->targets)) {
            rc = ob_errf(err, "%s: the checkpoint's adapter has another rank or targets", ckpt);
            llama_free(m), tok_free(tok);
        }
    }
    if (!rc) m->prec = prec;
    return rc ? -1 : 0;
}

/* The text a run reads and the batches drawn from it. */
typedef struct {
    TokenStream data, val, mix;
    Mixture mixture;
    StreamEval stream_eval;
    TrainData td;
} Texts;

static void texts_free(Texts *s) {
    dataset_free(&s->data);
    dataset_free(&s->val);
    dataset_free(&s->mix);
    free(s->stream_eval.inp);
}

/* tc->batch grows by the mixed rows: they ride along in every batch. */
static int texts_load(Texts *s, const Tokenizer *tok, const TextRunConfig *c, TrainConfig *tc,
                      ObErr *err) {
    if (c->n_texts == 0) return ob_errf(err, "no training text files given");
    if (dataset_load(&s->data, tok, c->texts, c->n_texts, err)) return -1;
    int rows = c->n_mix ? c->mix_rows : 0;
    if (rows && dataset_load(&s->mix, tok, c->mix, c->n_mix, err)) return -1;
    s->mixture = (Mixture){&s->data, &s->mix, rows};
    tc->batch += rows;
    s->td = (TrainData){rows ? batch_from_mixture : batch_from_stream,
                        rows ? (void *)&s->mixture : (void *)&s->data, NULL, NULL, NULL};
    if (c->val) {
        if (dataset_load(&s->val, tok, &c->val, 1, err)) return -1;
        size_t bt = (size_t)tc->batch * tc->seq;
        int32_t *buf = ob_malloc(sizeof(int32_t) * 2 * bt, "validation batch", err);
        if (!buf) return -1;
        s->stream_eval = (StreamEval){&s->val, tc->seq, 64, buf, buf + bt};
        s->td.eval = stream_eval, s->td.eval_ctx = &s->stream_eval;
    }
    ob_logf("train: %zu training tokens\n", s->data.n);
    return 0;
}

int textrun_run(const TextRunConfig *c, TextRunResult *res, ObErr *err) {
    if (!c->out) return ob_errf(err, "no output path");
    if (!c->resume && !c->model) return ob_errf(err, "no model to start from");
    if (c->lora.rank && !c->model) return ob_errf(err, "a LoRA adapter needs the frozen base");
    if (c->resume && access(c->out, R_OK) != 0)
        return ob_errf(err, "%s: no checkpoint to resume from", c->out);
    for (int i = 0; i < 2; i++) { /* the model and the merged model: neither is a text */
        const char *out = i ? c->merge : c->out;
        if (ob_check_output(out, c->texts, c->n_texts, err) ||
            ob_check_output(out, c->mix, c->n_mix, err) || ob_check_output(out, &c->val, 1, err) ||
            (out && ob_check_output_room(out, i ? "" : ".state.prev", err)))
            return -1;
    }
    LoraConfig lora = c->lora;
    if (lora.rank && lora.alpha == 0) lora.alpha = 2.0f * (float)lora.rank;
    TrainConfig tc = c->train;
    tc.out_path = c->out;
    if (tc.log_every <= 0) tc.log_every = 1;
    Llama m;
    Tokenizer tok;
    Texts s = {0};
    if (textrun_load_trainee(&m, &tok, c->model, &lora, c->resume, c->out, tc.seed, c->prec, err))
        return -1;
    if (c->fit_seq && tc.seq > m.cfg.ctx_len) tc.seq = m.cfg.ctx_len;
    int rc = texts_load(&s, &tok, c, &tc, err) ||
             train_run(&m, &tok, &tc, &s.td, c->resume, &res->train, err) ||
             (c->merge && llama_save_merged(&m, &tok, tc.name, c->merge, err));
    res->lora = m.lora ? m.lora->cfg : (LoraConfig){0};
    res->lora_params = m.lora ? (long)m.lora->n_params : 0;
    texts_free(&s);
    llama_free(&m);
    tok_free(&tok);
    return rc ? -1 : 0;
}
