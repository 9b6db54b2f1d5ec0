#include "model/init.h"

#include <string.h>

#include "model/checkpoint.h"
#include "text/tokenizer_gguf.h"

/* Size presets: the two benchmark shapes and a few around them. */
static const struct {
    const char *name;
    int dim, layers, heads, kv_heads, ffn;
} presets[] = {
    {"tiny", 64, 2, 4, 2, 176},   {"d128", 128, 4, 4, 4, 352},    {"d288", 288, 6, 6, 6, 768},
    {"d512", 512, 8, 8, 8, 1376}, {"d768", 768, 12, 12, 4, 2048},
};

void init_config_defaults(InitConfig *c) {
    memset(c, 0, sizeof *c);
    c->shape.ctx_len = 256;
    c->shape.rope_base = 10000.0f;
    c->shape.norm_eps = 1e-5f;
    c->type = GGML_TYPE_F32;
    c->seed = 1;
}

int llama_preset(const char *name, LlamaConfig *c) {
    size_t i = 0, n = sizeof presets / sizeof presets[0];
    while (i < n && strcmp(presets[i].name, name)) i++;
    if (i == n) return -1;
    c->dim = presets[i].dim, c->n_layers = presets[i].layers, c->n_heads = presets[i].heads;
    c->n_kv_heads = presets[i].kv_heads, c->ffn_dim = presets[i].ffn;
    return 0;
}

/* The preset, the shape's overrides, and what follows from them. */
static int init_shape(const InitConfig *ic, LlamaConfig *c, ObErr *err) {
    LlamaConfig p = {0};
    if (ic->preset && llama_preset(ic->preset, &p))
        return ob_errf(err, "unknown --preset (tiny, d128, d288, d512, d768)");
    const LlamaConfig *s = &ic->shape;
    *c = *s;
    c->dim = s->dim ? s->dim : p.dim;
    c->n_layers = s->n_layers ? s->n_layers : p.n_layers;
    c->n_heads = s->n_heads ? s->n_heads : p.n_heads;
    c->n_kv_heads = s->n_kv_heads ? s->n_kv_heads : p.n_kv_heads;
    c->ffn_dim = s->ffn_dim ? s->ffn_dim : p.ffn_dim;
    if (!c->n_kv_heads) c->n_kv_heads = c->n_heads;
    c->head_dim = s->head_dim ? s->head_dim : (c->n_heads ? c->dim / c->n_heads : 0);
    c->tied = !ic->untied;
    return 0;
}

static int write_model(const InitConfig *ic, const Tokenizer *tok, InitResult *res, ObErr *err) {
    if (ic->stream) {
        if (llama_save_random(&res->cfg, tok, ic->type, ic->seed, ic->out_path, err)) return -1;
        res->n_params = llama_param_count(&res->cfg);
        return 0;
    }
    Llama m;
    if (llama_create(&m, &res->cfg, err)) return -1;
    llama_init_random(&m, ic->seed);
    int rc = llama_save(&m, tok, "obliviate model", ic->type, ic->out_path, err);
    res->n_params = m.n_params;
    llama_free(&m);
    return rc;
}

int init_run(const InitConfig *ic, InitResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    if (!ic->tokenizer_path || !ic->out_path) return ob_errf(err, "init needs a tokenizer and out");
    if (init_shape(ic, &res->cfg, err)) return -1;
    Tokenizer tok;
    if (tokenizer_load(&tok, ic->tokenizer_path, err)) return -1;
    res->cfg.vocab = tok.n_vocab;
    int rc = write_model(ic, &tok, res, err);
    tok_free(&tok);
    return rc;
}
