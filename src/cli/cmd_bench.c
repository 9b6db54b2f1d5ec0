/* obliviate bench: training or forward throughput (train/bench.h). */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/bench.h"

static int print_machine(void) {
    cJSON *j = cJSON_CreateObject();
    bench_machine(j, 1);
    print_json(j);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    BenchConfig bc;
    bench_config_defaults(&bc);
    LlamaConfig *c = &bc.shape;
    int machine_only = 0;
    Opt opts[] = {
        {"--dim", OPT_INT, &c->dim, "embedding width (default 288)"},
        {"--layers", OPT_INT, &c->n_layers, "blocks (default 6)"},
        {"--heads", OPT_INT, &c->n_heads, "heads (default 6)"},
        {"--kv-heads", OPT_INT, &c->n_kv_heads, "kv heads (default = heads)"},
        {"--ffn", OPT_INT, &c->ffn_dim, "feed-forward width (default 768)"},
        {"--vocab", OPT_INT, &c->vocab, "vocabulary (default 32000)"},
        {"--batch", OPT_INT, &bc.batch, "batch (default 8)"},
        {"--seq", OPT_INT, &bc.seq, "sequence length (default 256)"},
        {"--steps", OPT_INT, &bc.steps, "timed steps after one warm-up step (default 6)"},
        {"--forward", OPT_FLAG, &bc.forward_only,
         "time the batched forward only (prompt processing)"},
        {"--model|-m", OPT_STR, &bc.model_path,
         "with --forward: time this GGUF model instead of a random one (shape flags ignored)"},
        {"--save", OPT_STR, &bc.save_path,
         "write the random model (context --seq) with a filler vocabulary to this GGUF and stop, "
         "for timing llama.cpp on the same file"},
        {"--machine", OPT_FLAG, &machine_only,
         "print the machine (CPU, extensions, BLAS core, bf16 backend, threads) and its measured "
         "fp32, bf16 and AMX peaks as one JSON line, and stop"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"bench",
                   "[options]",
                   "Times training steps (forward + backward + AdamW) or the batched forward of a "
                   "random tied model on random tokens; prints one JSON line with the median "
                   "step time, tokens/s, GFLOP/s (6 x params x tokens for training) and peak RSS, "
                   "and after training the GFLOP/s of the output head's matmuls alone in fp32 "
                   "(sgemm) and bf16, and the machine's register-only peaks: training GFLOP/s "
                   "as a share of the chip, not only of a library. Every line names the machine "
                   "(CPU, extensions, BLAS core, bf16 backend, threads, load).",
                   "obliviate bench --dim 128 --layers 4 --heads 4 --ffn 352 --vocab 4096 "
                   "--threads 2",
                   opts,
                   0,
                   0};
    int rc = args_options(&cmd, NULL, argc, argv);
    if (rc != ARGS_RUN) return rc;
    if (machine_only) return print_machine();
    bc.precision = cli_precision(); /* --precision, as args_parse read it */
    BenchResult res;
    ObErr err;
    if (bench_run(&bc, &res, &err)) return cli_fail(cmd.name, err.msg);
    if (res.json) print_json(res.json);
    return 0;
}
