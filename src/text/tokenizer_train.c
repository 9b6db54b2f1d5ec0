#include "text/tokenizer_train.h"

#include <string.h>

#include "text/tokenizer.h"
#include "text/tokenizer_gguf.h"
#include "util/fileio.h"
#include "util/progress.h"

void tok_train_config_defaults(TokTrainConfig *c) {
    memset(c, 0, sizeof *c);
    c->vocab = 4096;
    c->verbose = 1;
}

int tok_train_run(const TokTrainConfig *c, TokTrainResult *res, ObErr *err) {
    memset(res, 0, sizeof *res);
    if (!c->out_path) return ob_errf(err, "tokenizer training needs an output file");
    if (ob_check_output(c->out_path, c->files, c->n_files, err)) return -1;
    Tokenizer tok;
    double t0 = ob_now();
    if (tok_train_files(&tok, c->files, c->n_files, c->vocab, c->verbose, err)) return -1;
    int rc = tokenizer_save(&tok, c->out_path, err);
    res->n_vocab = tok.n_vocab;
    res->n_merges = tok.n_merges;
    res->seconds = ob_now() - t0;
    tok_free(&tok);
    return rc;
}
