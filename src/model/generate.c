#include "model/generate.h"

#include <stdlib.h>
#include <string.h>

#include "model/llama.h"
#include "model/open.h"
#include "text/tokenizer.h"
#include "util/progress.h"

void generate_config_defaults(GenerateConfig *c) {
    *c = (GenerateConfig){.prompt = "", .n_new = 64, .sampler = {0.0f, 0, 1.0f}, .seed = 1};
}

void generate_result_free(GenerateResult *res) {
    free(res->prompt_ids);
    free(res->ids);
    free(res->text);
    memset(res, 0, sizeof *res);
}

/* Encodes the prompt, with <|endoftext|> first unless no_bos (training puts
 * one before every document, so a prompt starts the same way). */
static int prompt_tokens(const Tokenizer *tok, const char *prompt, int no_bos, int32_t **ids,
                         int *n, ObErr *err) {
    int32_t *enc;
    size_t ne;
    if (tok_encode(tok, prompt, strlen(prompt), &enc, &ne, err)) return -1;
    *ids = ob_malloc(sizeof(int32_t) * (ne + 1), "prompt", err);
    if (!*ids) return free(enc), -1;
    size_t k = 0;
    if (!no_bos) (*ids)[k++] = tok->eot_id;
    memcpy(*ids + k, enc, sizeof(int32_t) * ne);
    *n = (int)(k + ne);
    free(enc);
    return 0;
}

/* Generates up to n_new tokens after ids[0..n); stops at <|endoftext|>.
 * out gets the new tokens; returns how many, or -1. */
static int generate(const Llama *m, const Tokenizer *tok, const int32_t *ids, int n, int n_new,
                    Sampler *s, int32_t *out, ObErr *err) {
    LlamaKV kv;
    int ctx = n + n_new;
    float *logits = ob_malloc(sizeof(float) * m->cfg.vocab, "logits", err);
    if (!logits || llama_kv_create(&kv, &m->cfg, ctx, n > 64 ? n : 64, err)) {
        free(logits);
        return -1;
    }
    int produced = -1;
    if (llama_eval(m, &kv, ids, n, logits, 0, err) == 0) {
        for (produced = 0; produced < n_new; produced++) {
            int32_t next = sample_next(s, logits);
            if (next == tok->eot_id || next == tok->eos_id) break;
            out[produced] = next;
            if (produced + 1 < n_new && llama_eval(m, &kv, &next, 1, logits, 0, err)) {
                produced = -1;
                break;
            }
        }
    }
    llama_kv_free(&kv);
    free(logits);
    return produced;
}

/* The prompt encoded, the sampler and the output made, then the tokens. */
static int generate_with(const GenerateConfig *c, const Llama *m, const Tokenizer *tok,
                         GenerateResult *res, ObErr *err) {
    Sampler s = {0};
    int rc = prompt_tokens(tok, c->prompt, c->no_bos, &res->prompt_ids, &res->n_prompt, err) ||
             sampler_init(&s, &c->sampler, m->cfg.vocab, c->seed, err);
    if (!rc && res->n_prompt == 0)
        rc = ob_errf(err, "empty prompt with --no-bos: nothing to continue");
    /* Past the context the model has never seen a position, and the cache
     * (prompt + n positions) would grow without bound: refused, which also
     * keeps n_new + 1 below INT_MAX. */
    int ctx = m->cfg.ctx_len, room = ctx > res->n_prompt ? ctx - res->n_prompt : 0;
    if (!rc && c->n_new > room)
        rc = ob_errf(err,
                     "%s: a prompt of %d tokens + %d to generate exceed the model's context of %d "
                     "tokens (-n %d at most)",
                     c->model_path, res->n_prompt, c->n_new, ctx, room);
    if (!rc && !(res->ids = ob_malloc(sizeof(int32_t) * (c->n_new + 1), "output", err))) rc = -1;
    double t0 = ob_now();
    int produced =
        rc ? -1 : generate(m, tok, res->prompt_ids, res->n_prompt, c->n_new, &s, res->ids, err);
    res->seconds = ob_now() - t0;
    size_t len;
    rc = produced < 0 ? -1 : tok_decode(tok, res->ids, produced, &res->text, &len, err);
    /* A continuation that starts the text carries the space a SentencePiece
     * encoder puts in front of every text; the text itself does not. */
    if (!rc && tok->add_space_prefix && !(c->prompt && *c->prompt) && res->text[0] == ' ')
        memmove(res->text, res->text + 1, len);
    res->n_ids = produced < 0 ? 0 : produced;
    sampler_free(&s);
    return rc ? -1 : 0;
}

int generate_run(const GenerateConfig *c, GenerateResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    if (!c->model_path) return ob_errf(err, "generate needs a model");
    if (c->n_new < 0) return ob_errf(err, "cannot generate %d tokens", c->n_new);
    Llama m;
    Tokenizer tok;
    if (llama_open(&m, &tok, c->model_path, c->lora, err)) return -1;
    int rc = generate_with(c, &m, &tok, res, err);
    llama_free(&m);
    tok_free(&tok);
    return rc;
}
