#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "text/tokenizer_gguf.h"
#include "util/progress.h"

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "train") != 0) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
            printf("usage: obliviate tokenizer train [options] FILE...\n");
            return 0;
        }
        fprintf(stderr, "obliviate tokenizer: expected 'tokenizer train' (see --help)\n");
        return 2;
    }
    int vocab = 4096;
    const char *out = NULL;
    Opt opts[] = {
        {"--vocab", OPT_INT, &vocab, "vocabulary size, special token included (default 4096)"},
        {"--out|-o", OPT_STR, &out, "output tokenizer file (GGUF), required"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"tokenizer train",
                   "[options] FILE...",
                   "Learns a byte-level BPE vocabulary (GPT-2 pre-tokenizer, 256 byte tokens, "
                   "merges, <|endoftext|>) from text files and writes it as a GGUF file that "
                   "`init --tokenizer` reads.",
                   "obliviate tokenizer train --vocab 4096 -o tok.gguf general.txt target.txt",
                   opts,
                   1,
                   -1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc - 1, argv + 1, &pos, &n_pos);
    if (rc) return free(pos), rc == 1 ? 0 : rc;
    if (!out) return free(pos), cli_fail(cmd.name, "--out is required");
    Tokenizer tok;
    ObErr err;
    double t0 = ob_now();
    rc = tok_train_files(&tok, (const char *const *)pos, n_pos, vocab, 1, &err);
    free(pos);
    if (rc) return cli_fail(cmd.name, err.msg);
    if (tokenizer_save(&tok, out, &err)) return tok_free(&tok), cli_fail(cmd.name, err.msg);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "tokenizer", out);
    cJSON_AddNumberToObject(j, "vocab", tok.n_vocab);
    cJSON_AddNumberToObject(j, "merges", tok.n_merges);
    cJSON_AddNumberToObject(j, "seconds", ob_now() - t0);
    print_json(j);
    fprintf(stderr, "tokenizer: %d tokens (%d merges) written to %s\n", tok.n_vocab, tok.n_merges,
            out);
    tok_free(&tok);
    return 0;
}
