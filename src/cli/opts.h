/* Option groups that several commands share, so that a setting has one flag
 * name and one default wherever it is given: LoRA (train, reinforce,
 * unlearn), labels (labels, unlearn) and the unlearning fine-tune (train
 * --labels, unlearn). Each group fills an Opt table pointing into the
 * command's config; its finish function checks and converts what the table
 * holds as text and returns NULL or a one-line complaint. */
#ifndef OB_OPTS_H
#define OB_OPTS_H

#include "cli/args.h"
#include "eval/evaluate.h"
#include "unlearn/finetune.h"
#include "unlearn/labels.h"

typedef struct {
    Opt opts[8];
    LoraConfig *lora;
    const char *targets; /* "q,k,v,o" */
} LoraOpts;
void lora_opts(LoraOpts *g, LoraConfig *lora);
const char *lora_opts_finish(LoraOpts *g);

typedef struct {
    Opt opts[8];
    LabelConfig *labels;
    const char *forbid; /* first | whole | none */
} LabelOpts;
void label_opts(LabelOpts *g, LabelConfig *labels);
const char *label_opts_finish(LabelOpts *g);

typedef struct {
    Opt opts[8];
    FinetuneConfig *ft;
    const char *targets; /* soft | hard */
    const char *retain;
} FinetuneOpts;
/* with_alpha: --alpha picks the file's alpha and --val-share the held-out
 * blocks (train --labels); unlearn's --alpha is the label strength and lives
 * in its own table. */
void finetune_opts(FinetuneOpts *g, FinetuneConfig *ft, int with_alpha);
const char *finetune_opts_finish(FinetuneOpts *g);

/* eval's measures and their inputs (eval, compare). all: also --model,
 * --oracle, --seed, --batch and --anchors, which compare owns itself. */
typedef struct {
    Opt opts[48];
    EvalConfig *cfg;
    StrList models, loras, texts, targets, choices, verb_targets, mia_forget, mia_holdout;
} EvalOpts;
void eval_opts(EvalOpts *g, EvalConfig *c, int all);
/* The lists into the config. */
void eval_opts_finish(EvalOpts *g);

#endif
