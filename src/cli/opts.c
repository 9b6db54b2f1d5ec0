#include "cli/opts.h"

#include <stdio.h>
#include <string.h>

void lora_opts(LoraOpts *g, LoraConfig *lora) {
    *g = (LoraOpts){.lora = lora, .targets = "q,k,v,o"};
    Opt *o = g->opts;
    *o++ = (Opt){"--lora-rank", OPT_INT, &lora->rank,
                 "train LoRA adapters of this rank on the frozen, memory-mapped model, for "
                 "models too large to train whole (default 0: every weight trains)"};
    *o++ = (Opt){"--lora-alpha", OPT_FLOAT, &lora->alpha,
                 "LoRA scale numerator: W + alpha/rank B A (default 2 x rank)"};
    *o++ = (Opt){"--lora-targets", OPT_STR, &g->targets,
                 "matrices with an adapter, from q,k,v,o,gate,up,down (default q,k,v,o)"};
}

const char *lora_opts_finish(LoraOpts *g) {
    LoraConfig *l = g->lora;
    if (l->rank < 0 || l->alpha < 0) return "--lora-rank and --lora-alpha must be positive";
    if (l->rank && lora_parse_targets(g->targets, &l->targets))
        return "--lora-targets: a comma-separated subset of q,k,v,o,gate,up,down";
    if (l->rank && l->alpha == 0) l->alpha = 2.0f * (float)l->rank;
    return NULL;
}

void label_opts(LabelOpts *g, LabelConfig *labels) {
    *g = (LabelOpts){.labels = labels, .forbid = "whole"};
    Opt *o = g->opts;
    *o++ = (Opt){"--soft-k", OPT_INT, &labels->soft_k,
                 "soft-target tokens kept per position (default 32; 0: hard labels only)"};
    *o++ = (Opt){"--forbid-keys", OPT_STR, &g->forbid,
                 "anchor keys forbidden in every label: first (every key's first token), whole "
                 "(keys that are one token) or none (default whole)"};
    *o++ = (Opt){"--suppress", OPT_INT, &labels->suppress,
                 "forbidden tokens the reinforced model believes most, listed with target 0 in "
                 "each soft target (default 8; 0: none)"};
    *o++ = (Opt){"--no-inkey", OPT_OFF, &labels->inkey,
                 "leave the positions inside anchor keys unlabelled, as published (default: "
                 "labelled from the baseline reading the original, the key's next token "
                 "forbidden)"};
    *o++ = (Opt){"--block", OPT_INT, &labels->block,
                 "tokens per block (default 256, at most the context)"};
}

const char *label_opts_finish(LabelOpts *g) {
    LabelConfig *l = g->labels;
    if (!strcmp(g->forbid, "first"))
        l->forbid_keys = LABELS_FORBID_FIRST;
    else if (!strcmp(g->forbid, "whole"))
        l->forbid_keys = LABELS_FORBID_WHOLE;
    else if (!strcmp(g->forbid, "none"))
        l->forbid_keys = LABELS_FORBID_NONE;
    else
        return "--forbid-keys must be first, whole or none";
    if (l->soft_k < 0 || l->suppress < 0 || l->soft_k + l->suppress > SOFT_K_MAX)
        return "--soft-k plus --suppress must be 0..256 (what the soft-target loss takes)";
    if (l->block < 0) return "--block must be positive";
    return NULL;
}

void finetune_opts(FinetuneOpts *g, FinetuneConfig *ft, int with_alpha) {
    *g = (FinetuneOpts){.ft = ft, .targets = "soft"};
    Opt *o = g->opts;
    *o++ = (Opt){"--targets", OPT_STR, &g->targets,
                 "fine-tune on soft targets or on hard argmax labels, as published (default "
                 "soft)"};
    *o++ = (Opt){"--retain", OPT_STR, &g->retain,
                 "general text mixed into the fine-tune to keep general ability (not in the "
                 "paper)"};
    *o++ =
        (Opt){"--retain-rows", OPT_INT, &ft->retain_rows, "rows of --retain per batch (default 4)"};
    if (with_alpha) {
        *o++ = (Opt){"--alpha", OPT_FLOAT, &ft->alpha,
                     "which alpha's labels (default: the file's first)"};
        *o++ = (Opt){"--val-share", OPT_DOUBLE, &ft->val_share,
                     "held-out share of blocks; the best model is kept (default 0.05)"};
    }
}

const char *finetune_opts_finish(FinetuneOpts *g) {
    FinetuneConfig *f = g->ft;
    if (strcmp(g->targets, "soft") && strcmp(g->targets, "hard"))
        return "--targets must be soft or hard";
    f->hard = !strcmp(g->targets, "hard");
    if (g->retain) f->retain = &g->retain, f->n_retain = 1;
    if (f->retain_rows < 0) return "--retain-rows must be 0 or more";
    if (f->val_share < 0 || f->val_share >= 1) return "--val-share must be in [0, 1)";
    return NULL;
}
