/* Training settings and the optimizer state a resume reads (issue 20): the
 * first 40 bytes are settings (rates, betas, epsilon, decay, clip as raw
 * floats; steps, warmup, batch, schedule as small counts), the rest is the
 * "<checkpoint>.state" file of a tiny model's first checkpoint. Settings
 * train_config_check lets through train two steps afresh; then the state is
 * resumed. Either may fail with a message; neither may crash, and a run that
 * succeeds must leave every weight finite (no silent NaN). */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>

#include "../tests/tiny.h"
#include "fuzz.h"
#include "model/checkpoint.h"
#include "train/trainer.h"
#include "util/fileio.h"

static char g_dir[96], g_out[128];
static int32_t g_tokens[512];
static char *g_model; /* the step-1 checkpoint's bytes, put back before each resume */
static size_t g_model_len;
static int g_batches_left = -1; /* setup: stop after this many batches */

static void base_config(TrainConfig *tc) {
    train_config_defaults(tc);
    tc->batch = 2, tc->seq = 8, tc->steps = 3, tc->warmup = 0, tc->log_every = 1;
    tc->out_path = g_out;
}

static int next_batch(void *ctx, ObRng *rng, int B, int T, int32_t *inputs, int32_t *targets,
                      SoftBuf *soft, ObErr *err) {
    if (g_batches_left == 0) return ob_errf(err, "setup: stop here");
    if (g_batches_left > 0) g_batches_left--;
    return batch_from_stream(ctx, rng, B, T, inputs, targets, soft, err);
}

static int train(const TrainConfig *tc, int resume, ObErr *err) {
    Llama m;
    LlamaConfig c = tiny_shape(16, 1, 2, 1, 32, 32, 16, 1);
    if (llama_create(&m, &c, err)) abort();
    llama_init_random(&m, 7);
    TokenStream ds = {g_tokens, sizeof g_tokens / sizeof *g_tokens};
    TrainData td = {next_batch, &ds, NULL, NULL, NULL};
    TrainResult res;
    int rc = train_run(&m, NULL, tc, &td, resume, &res, err);
    if (!rc)
        for (size_t i = 0; i < m.n_params; i++)
            if (!isfinite(m.params[i])) abort(); /* a run that succeeded left a NaN */
    llama_free(&m);
    return rc;
}

/* A checkpoint to resume from: step 1 of a 3-step run (the run is stopped
 * after its first checkpoint). */
static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/obliviate-fuzz-state-%ld", (long)getpid());
    if (mkdir(g_dir, 0777) != 0 && errno != EEXIST) abort();
    snprintf(g_out, sizeof g_out, "%s/m.gguf", g_dir);
    for (size_t i = 0; i < sizeof g_tokens / sizeof *g_tokens; i++)
        g_tokens[i] = (int32_t)((i * 7 + i / 5) % 32);
    TrainConfig tc;
    base_config(&tc);
    tc.ckpt_every = 1;
    ObErr err;
    g_batches_left = 1;
    if (!train(&tc, 0, &err)) abort(); /* stopped at step 2 by design */
    g_batches_left = -1;
    if (ob_read_file(g_out, &g_model, &g_model_len, &err)) abort();
    /* the valid state, kept beside it: the seed corpus is 40 bytes of
     * settings followed by this file */
    char state[160], seed[160];
    snprintf(state, sizeof state, "%s.state", g_out);
    snprintf(seed, sizeof seed, "%s/seed.state", g_dir);
    if (rename(state, seed) != 0) abort();
}

static float f32_at(const uint8_t *p) {
    float x;
    memcpy(&x, p, sizeof x);
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) setup(), ready = 1;
    if (size < 40) return 0;
    TrainConfig tc;
    base_config(&tc);
    tc.lr = f32_at(data), tc.min_lr = f32_at(data + 4);
    tc.adam.beta1 = f32_at(data + 8), tc.adam.beta2 = f32_at(data + 12);
    tc.adam.eps = f32_at(data + 16), tc.adam.weight_decay = f32_at(data + 20);
    tc.clip = f32_at(data + 24);
    tc.steps = data[28] % 4, tc.warmup = data[29] % 4, tc.batch = 1 + data[30] % 3;
    tc.sched = (Schedule)(data[31] % 3);
    ObErr err;
    /* settings: checked, then (when accepted) two fresh steps elsewhere */
    if (!train_config_check(&tc, "--", &err)) {
        char other[160];
        snprintf(other, sizeof other, "%s/fresh.gguf", g_dir);
        TrainConfig t2 = tc;
        t2.out_path = other, t2.steps = 2;
        train(&t2, 0, &err);
    }
    /* the state file is the input, beside the step-1 model */
    char state[160];
    snprintf(state, sizeof state, "%s.state", g_out);
    FILE *fp = fopen(state, "wb"), *fm = fopen(g_out, "wb");
    if (!fp || !fm) abort();
    fwrite(data + 40, 1, size - 40, fp);
    fwrite(g_model, 1, g_model_len, fm);
    fclose(fp), fclose(fm);
    TrainConfig tr;
    base_config(&tr);
    train(&tr, 1, &err);
    return 0;
}
