/* Continuing a prompt with a key/value cache: greedy or sampled. */
#ifndef OB_GENERATE_H
#define OB_GENERATE_H

#include <stdint.h>

#include "model/sample.h"

typedef struct {
    const char *model_path; /* GGUF, required */
    const char *lora;       /* adapter applied to the frozen model; NULL: none */
    const char *prompt;     /* "" */
    int n_new;              /* tokens to generate at most: 64; prompt + n_new <= context */
    int no_bos;             /* 0: the prompt starts with <|endoftext|>, as training's documents */
    SamplerConfig sampler;  /* greedy */
    uint64_t seed;          /* 1 */
} GenerateConfig;

void generate_config_defaults(GenerateConfig *c);

typedef struct {
    int32_t *prompt_ids; /* the encoded prompt, <|endoftext|> first unless no_bos */
    int n_prompt;
    int32_t *ids; /* the new tokens, up to <|endoftext|> or the end of the sequence */
    int n_ids;
    char *text;     /* ids decoded */
    double seconds; /* generation alone (not loading) */
} GenerateResult;

/* Loads the model and generates; res is freed with generate_result_free
 * (also after a failure). */
int generate_run(const GenerateConfig *c, GenerateResult *res, ObErr *err);
void generate_result_free(GenerateResult *res);

#endif
