/* obliviate tokenizer train: a BPE vocabulary from text (text/tokenizer_train.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "text/tokenizer_train.h"

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "train") != 0) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
            printf("usage: obliviate tokenizer train [options] FILE...\n");
            return 0;
        }
        fprintf(stderr, "obliviate tokenizer: expected 'tokenizer train' (see --help)\n");
        return 2;
    }
    TokTrainConfig tc;
    tok_train_config_defaults(&tc);
    Opt opts[] = {
        {"--vocab", OPT_INT, &tc.vocab, "vocabulary size, special token included (default 4096)"},
        {"--out|-o", OPT_STR, &tc.out_path, "output tokenizer file (GGUF), required"},
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
    if (rc != ARGS_RUN) return rc;
    if (!tc.out_path) return free(pos), cli_fail(cmd.name, "--out is required");
    tc.files = (const char *const *)pos;
    tc.n_files = n_pos;
    TokTrainResult res;
    ObErr err;
    rc = tok_train_run(&tc, &res, &err);
    free(pos);
    if (rc) return cli_fail(cmd.name, err.msg);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "tokenizer", tc.out_path);
    cJSON_AddNumberToObject(j, "vocab", res.n_vocab);
    cJSON_AddNumberToObject(j, "merges", res.n_merges);
    cJSON_AddNumberToObject(j, "seconds", res.seconds);
    print_json(j);
    fprintf(stderr, "tokenizer: %d tokens (%d merges) written to %s\n", res.n_vocab, res.n_merges,
            tc.out_path);
    return 0;
}
