#include "unlearn/labelrun.h"

#include "model/checkpoint.h"
#include "util/fileio.h"
#include "util/log.h"

void label_config_defaults(LabelConfig *c) {
    *c = (LabelConfig){.n_alphas = 1,
                       .soft_k = 32,
                       .forbid_keys = LABELS_FORBID_WHOLE,
                       .suppress = 8,
                       .inkey = 1,
                       .block = 256,
                       .batch = 4,
                       .seed = 1};
}

void labelrun_config_defaults(LabelRunConfig *c) {
    *c = (LabelRunConfig){0};
    label_config_defaults(&c->labels);
    c->labels.block = 0;
}

void label_config_alphas(LabelConfig *c, float alpha) {
    c->n_alphas = alpha > 0 ? 3 : 1;
    c->alphas[0] = alpha, c->alphas[1] = alpha / 2, c->alphas[2] = alpha * 2;
}

/* Whether path is a LoRA adapter GGUF (not a model); 0 when unreadable. */
static int is_adapter(const char *path) {
    GGUFFile f;
    ObErr e;
    if (gguf_open(&f, path, &e)) return 0;
    int a = gguf_is_adapter(&f);
    gguf_close(&f);
    return a;
}

/* Both models; with an adapter, the reinforced one borrows base's weights. */
static int load_models(Llama *base, Llama *reinf, Tokenizer *tok, Tokenizer *tok2,
                       const LabelRunConfig *c, ObErr *err) {
    if (is_adapter(c->reinforced)) {
        if (llama_load_frozen(base, tok, c->base, err) || llama_share(reinf, base, err) ||
            llama_load_lora(reinf, c->reinforced, err))
            return -1;
        ob_logf("labels: reinforced = %s + adapter %s (rank %d)\n", c->base, c->reinforced,
                reinf->lora->cfg.rank);
        return 0;
    }
    if (llama_load(base, tok, c->base, err) || llama_load(reinf, tok2, c->reinforced, err))
        return -1;
    uint64_t hb = tok_vocab_hash(tok), hr = tok_vocab_hash(tok2);
    if (hb != hr)
        return ob_errf(err,
                       "%s and %s use different tokenizers (vocabulary hash 0x%016llx vs "
                       "0x%016llx)",
                       c->base, c->reinforced, (unsigned long long)hb, (unsigned long long)hr);
    return 0;
}

int labelrun_run(const LabelRunConfig *c, LabelStats *st, ObErr *err) {
    Llama base = {0}, reinf = {0};
    Tokenizer tok = {0}, tok2 = {0};
    AnchorDict dict = {0};
    TokenStream ds = {0};
    LabelConfig lc = c->labels;
    const char *in[] = {c->base, c->reinforced, c->anchors};
    if (ob_check_output(c->out, in, 3, err) ||
        ob_check_output(c->out, c->targets, c->n_targets, err))
        return -1;
    int rc = load_models(&base, &reinf, &tok, &tok2, c, err);
    base.prec = reinf.prec = c->prec;
    if (!rc && c->anchors)
        rc = anchors_load(&dict, c->anchors, err) || anchors_tokenize(&dict, &tok, err);
    if (!rc) rc = dataset_load(&ds, &tok, c->targets, c->n_targets, err);
    if (!rc) {
        int ctx = base.cfg.ctx_len < reinf.cfg.ctx_len ? base.cfg.ctx_len : reinf.cfg.ctx_len;
        int want = lc.block > 0 ? lc.block : 256;
        lc.block = want < ctx ? want : ctx;
        ob_logf("labels: %zu target tokens, %d alpha(s), %s\n", ds.n, lc.n_alphas,
                c->anchors ? "anchors loaded" : "no anchors");
        rc = labels_generate(&base, &reinf, &tok, c->anchors ? &dict : NULL, &ds, &lc, c->out, st,
                             err);
    }
    anchors_free(&dict);
    dataset_free(&ds);
    llama_free(&reinf); /* may borrow base's weights */
    llama_free(&base);
    tok_free(&tok), tok_free(&tok2);
    return rc ? -1 : 0;
}
