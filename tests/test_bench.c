/* train/bench.c through its API on a tiny shape: the JSON's fields in
 * order, the precision set for the run and restored, and --save's model. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <string.h>

#include "check.h"
#include "model/checkpoint.h"
#include "tmpdir.h"
#include "train/bench.h"

static void tiny(BenchConfig *c) {
    bench_config_defaults(c);
    c->shape.dim = 32, c->shape.n_layers = 1, c->shape.n_heads = 2, c->shape.ffn_dim = 64;
    c->shape.vocab = 300;
    c->batch = 2, c->seq = 16, c->steps = 1;
}

static void test_bench_training(void) {
    BenchConfig c;
    tiny(&c);
    BenchResult r;
    ObErr err;
    CHECK(bench_run(&c, &r, &err) == 0 && r.json, "%s", err.msg);
    static const char *const keys[] = {
        "impl",  "mode", "precision", "dim",           "layers", "heads",  "ffn",        "vocab",
        "batch", "seq",  "params",    "step_s_median", "tok_s",  "gflops", "peak_rss_mb"};
    const cJSON *it = r.json ? r.json->child : NULL;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++, it = it ? it->next : NULL)
        CHECK(it && !strcmp(it->string, keys[k]), "key %zu: %s, want %s", k,
              it ? it->string : "(none)", keys[k]);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "mode")), "fp32") &&
              cJSON_GetObjectItem(r.json, "sgemm_gflops") &&
              cJSON_GetObjectItem(r.json, "peak_unit") && cJSON_GetObjectItem(r.json, "cpu"),
          "training fields");
    cJSON_Delete(r.json);
    c.forward_only = 1;
    c.precision = OB_PREC_BF16;
    CHECK(bench_run(&c, &r, &err) == 0 && r.json && !cJSON_GetObjectItem(r.json, "sgemm_gflops") &&
              !cJSON_GetObjectItem(r.json, "peak_fp32_gflops"),
          "forward: %s", err.msg);
    const char *prec = cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "precision"));
    int bf16 = ops_precision_supported(OB_PREC_BF16) == OB_PREC_BF16;
    CHECK(prec && !strcmp(prec, bf16 ? "bf16" : "fp32"), "forward precision %s",
          prec ? prec : "(none)");
    cJSON_Delete(r.json);
}

static void test_bench_save(void) {
    BenchConfig c;
    tiny(&c);
    c.save_path = tmp("bench.gguf");
    BenchResult r;
    ObErr err;
    CHECK(bench_run(&c, &r, &err) == 0 && !r.json, "%s", err.msg);
    Llama m;
    Tokenizer tok;
    CHECK(llama_load(&m, &tok, tmp("bench.gguf"), &err) == 0 && tok.n_vocab == 300 &&
              m.cfg.ctx_len == 16,
          "%s", err.msg);
    llama_free(&m);
    tok_free(&tok);
    c.shape.vocab = 100;
    CHECK(bench_run(&c, &r, &err) != 0 && strstr(err.msg, "at least 260"), "%s", err.msg);
}

int main(void) {
    omp_set_num_threads(1);
    if (tmpdir_make()) return 1;
    RUN(test_bench_training);
    RUN(test_bench_save);
    tmpdir_remove();
    return check_main_end("bench");
}
