/* Learning a byte-level BPE vocabulary from text files and writing it as a
 * tokenizer-only GGUF (what `init --tokenizer` reads). */
#ifndef OB_TOKENIZER_TRAIN_H
#define OB_TOKENIZER_TRAIN_H

#include "util/err.h"

typedef struct {
    const char *const *files;
    int n_files;
    int vocab;            /* ids, <|endoftext|> included: 4096 */
    const char *out_path; /* required */
    int verbose;          /* merge progress to the log: 1 */
} TokTrainConfig;

void tok_train_config_defaults(TokTrainConfig *c);

typedef struct {
    int n_vocab, n_merges;
    double seconds;
} TokTrainResult;

int tok_train_run(const TokTrainConfig *c, TokTrainResult *res, ObErr *err);

#endif
