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

/* The models and how they are loaded (eval: all; compare has its own). */
static Opt *model_opts(Opt *o, EvalOpts *g, EvalConfig *c, int all) {
    if (all)
        *o++ = (Opt){"--model|-m", OPT_LIST, &g->models, "model (GGUF); repeat to compare models"};
    if (all) {
        *o++ = (Opt){"--lora", OPT_LIST, &g->loras,
                     "LoRA adapter of each --model in turn ('-' for none): that model is a "
                     "frozen base with the adapter"};
        *o++ = (Opt){"--frozen", OPT_FLAG, &c->frozen,
                     "load every model as a frozen, memory-mapped base in its stored type (BF16, "
                     "F16; quantised ones as BF16) instead of fp32: a 7B model in ~14 GB; "
                     "relearning then trains a LoRA adapter"};
        *o++ = (Opt){"--relearn-lora-rank", OPT_INT, &c->relearn_cfg.lora_rank,
                     "rank of a frozen model's relearning adapter when it has none (default 16)"};
    }
    *o++ = (Opt){"--quantize", OPT_STR, &c->quantize,
                 "also measure each model after quantisation: q4_k_m,q8_0 ... (any of q8_0, "
                 "q4_0, q5_0, q5_1, q4_k_m, q5_k_m, q6_k), a column MODEL@SCHEME each"};
    *o++ = (Opt){"--quantize-dir", OPT_STR, &c->quantize_dir,
                 "keep the quantised models in this folder (default: a temporary one, removed)"};
    return o;
}

/* MUSE's memorisation and membership measures. */
static Opt *memory_opts(Opt *o, EvalOpts *g, EvalConfig *c) {
    *o++ = (Opt){"--verbmem", OPT_INT, &c->verb.n,
                 "VerbMem on N excerpts: ROUGE-L of greedy continuations (default 0: off)"};
    *o++ = (Opt){"--verbmem-target", OPT_LIST, &g->verb_targets,
                 "text the excerpts are cut from; repeatable (default: --completion-target, else "
                 "--mia-forget)"};
    *o++ = (Opt){"--verbmem-prompt-tokens", OPT_INT, &c->verb.prompt_tokens,
                 "prompt tokens per excerpt (default 32)"};
    *o++ = (Opt){"--verbmem-tokens", OPT_INT, &c->verb.gen_tokens,
                 "tokens generated and compared (default 128)"};
    *o++ = (Opt){"--knowmem", OPT_STR, &c->knowmem,
                 "KnowMem questions, JSON Lines {\"question\", \"answer\"}, asked few-shot"};
    *o++ =
        (Opt){"--knowmem-retain", OPT_STR, &c->knowmem_retain,
              "KnowMem questions on general text: what unlearning must not take (MUSE's utility)"};
    *o++ = (Opt){"--knowmem-shots", OPT_INT, &c->know.shots,
                 "other questions shown as examples (default 3)"};
    *o++ = (Opt){"--knowmem-tokens", OPT_INT, &c->know.max_tokens,
                 "longest answer generated (default 32)"};
    *o++ = (Opt){"--mia-forget", OPT_LIST, &g->mia_forget,
                 "membership inference: text the models were trained on (members); repeatable"};
    *o++ = (Opt){"--mia-holdout", OPT_LIST, &g->mia_holdout,
                 "unseen text of the same source (non-members); repeatable"};
    *o++ =
        (Opt){"--mia-chunk", OPT_INT, &c->mia_chunk, "tokens per membership chunk (default 128)"};
    *o++ = (Opt){"--mia-max-chunks", OPT_INT, &c->mia_max,
                 "at most N chunks per set, a seeded choice (default 200; 0: all)"};
    return o;
}

void eval_opts(EvalOpts *g, EvalConfig *c, int all) {
    memset(g, 0, sizeof *g);
    g->cfg = c;
    Opt *o = g->opts;
    o = model_opts(o, g, c, all);
    *o++ = (Opt){"--text", OPT_LIST, &g->texts, "NAME=FILE: perplexity on a text file; repeatable"};
    *o++ = (Opt){"--prompts", OPT_STR, &c->prompts,
                 "familiarity prompts, JSON Lines {\"prompt\", \"continuation\"}"};
    *o++ = (Opt){"--seq", OPT_INT, &c->seq, "tokens per perplexity window (default 256)"};
    if (all) *o++ = (Opt){"--batch", OPT_INT, &c->batch, "windows per forward pass (default 4)"};
    *o++ = (Opt){"--max-windows", OPT_LONG, &c->max_windows,
                 "at most N windows per text (default: all)"};
    *o++ = (Opt){"--completions", OPT_INT, &c->comp.n,
                 "completion familiarity on N prompts cut from the target (default 0: off)"};
    *o++ = (Opt){"--completion-target", OPT_LIST, &g->targets,
                 "text the prompts are cut from (the forget set); repeatable"};
    if (all)
        *o++ = (Opt){"--anchors", OPT_STR, &c->anchors,
                     "anchor dictionary: its keys are the target's own terms"};
    *o++ = (Opt){"--completion-tokens", OPT_INT, &c->comp.completion_tokens,
                 "tokens generated per prompt (default 24)"};
    *o++ = (Opt){"--completion-prompt-tokens", OPT_INT, &c->comp.prompt_tokens,
                 "tokens of target text per prompt (default 48)"};
    if (all)
        *o++ = (Opt){"--seed", OPT_U64, &c->seed,
                     "seed for the prompts, excerpts, chunks, next-sentence items and relearning "
                     "(default 1)"};
    *o++ = (Opt){"--choice", OPT_LIST, &g->choices,
                 "NAME=FILE: multiple choice, JSON Lines in the hellaswag, piqa, arc, boolq or "
                 "winogrande layout; repeatable"};
    *o++ = (Opt){"--choice-layout", OPT_STR, &c->choice_layout,
                 "layout of every --choice file (default auto: from the first line's fields)"};
    *o++ = (Opt){"--next-sentence", OPT_STR, &c->next_sentence,
                 "held-out general text to cut next-sentence items from"};
    *o++ = (Opt){"--next-sentence-n", OPT_INT, &c->next.n, "next-sentence items (default 200)"};
    *o++ = (Opt){"--next-sentence-choices", OPT_INT, &c->next.choices,
                 "choices per next-sentence item (default 4)"};
    *o++ = (Opt){"--relearn", OPT_STR, &c->relearn,
                 "fine-tune each model on this text (never-seen stories), then measure again"};
    *o++ =
        (Opt){"--relearn-steps", OPT_LONG, &c->relearn_cfg.steps, "relearning steps (default 20)"};
    *o++ = (Opt){"--relearn-lr", OPT_FLOAT, &c->relearn_cfg.lr,
                 "relearning learning rate, constant (default 3e-4)"};
    *o++ = (Opt){"--relearn-batch", OPT_INT, &c->relearn_cfg.batch,
                 "relearning windows of --seq tokens per step (default 4)"};
    o = memory_opts(o, g, c);
    if (all)
        *o++ =
            (Opt){"--oracle", OPT_STR, &c->oracle,
                  "model (name or file) PrivLeak is relative to (default: the one named oracle)"};
}

void eval_opts_finish(EvalOpts *g) {
    EvalConfig *c = g->cfg;
    c->models = (EvalList){g->models.items, g->models.n};
    c->loras = (EvalList){g->loras.items, g->loras.n};
    c->texts = (EvalList){g->texts.items, g->texts.n};
    c->comp_targets = (EvalList){g->targets.items, g->targets.n};
    c->choices = (EvalList){g->choices.items, g->choices.n};
    c->verb_targets = (EvalList){g->verb_targets.items, g->verb_targets.n};
    c->mia_forget = (EvalList){g->mia_forget.items, g->mia_forget.n};
    c->mia_holdout = (EvalList){g->mia_holdout.items, g->mia_holdout.n};
}
