/* Throughput measurement: training steps (forward + backward + AdamW) or the
 * batched forward of a random tied model on random tokens, the output head's
 * matmuls alone, and the machine every figure is measured on. */
#ifndef OB_BENCH_H
#define OB_BENCH_H

#include "model/llama.h"
#include "model/ops.h"

typedef struct {
    LlamaConfig shape; /* dim, layers, heads, kv heads (0: = heads), ffn, vocab; the rest is set */
    int batch, seq;    /* B x T tokens a step: 8 x 256 */
    int steps;         /* timed steps after one warm-up: 6 (at least 1) */
    int forward_only;  /* time the batched forward alone (prompt processing) */
    const char *model_path; /* with forward_only: this GGUF instead of a random model */
    const char *save_path;  /* write the random model (context seq) with a filler vocabulary
                               here and stop, for timing llama.cpp on the same file */
    ObPrecision precision;  /* the matmuls' during the run (restored after): fp32 */
} BenchConfig;

void bench_config_defaults(BenchConfig *c);

struct cJSON;
typedef struct {
    /* one object: the shape, the median step time, tokens/s, GFLOP/s, memory;
     * after training the head's matmul GFLOP/s and fractions of them and of
     * the chip's peaks; the machine. NULL after save_path. Caller deletes. */
    struct cJSON *json;
} BenchResult;

/* Each step's time goes to the log (util/log.h). */
int bench_run(const BenchConfig *c, BenchResult *res, ObErr *err);

/* The machine: the CPU, its extensions, the BLAS and the core it runs, the
 * bf16 backend and why, the thread count and the load; with peaks, the
 * register-only peak of each unit for that thread count. Added to j. */
void bench_machine(struct cJSON *j, int peaks);

#endif
