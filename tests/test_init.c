/* model/init.c, text/tokenizer_train.c and io/gguf_summary.c through their
 * APIs: a tokenizer trained and written, a model made from a preset with
 * overrides (in memory and streamed), and its summary as JSON and table. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/gguf_summary.h"
#include "model/checkpoint.h"
#include "model/init.h"
#include "text/tokenizer_train.h"
#include "tmpdir.h"

static int n_vocab; /* what the text gave (it runs out of pairs) */
static char tok_path[256], text_path[256], model_path[256], stream_path[256];

static void test_tokenizer_train(void) {
    FILE *f = fopen(text_path, "w");
    for (int i = 0; f && i < 20; i++) fputs("the cat sat on the mat; the dog sat on the log. ", f);
    CHECK(f && fclose(f) == 0, "cannot write %s", text_path);
    const char *files[] = {text_path};
    TokTrainConfig c;
    tok_train_config_defaults(&c);
    CHECK(c.vocab == 4096 && c.verbose == 1, "defaults");
    c.files = files;
    c.n_files = 1;
    c.vocab = 280;
    c.verbose = 0;
    c.out_path = tok_path;
    TokTrainResult r;
    ObErr err;
    CHECK(tok_train_run(&c, &r, &err) == 0, "%s", err.msg);
    CHECK(r.n_vocab > 257 && r.n_vocab <= 280 && r.n_merges == r.n_vocab - 257,
          "%d tokens, %d merges", r.n_vocab, r.n_merges);
    n_vocab = r.n_vocab;
    c.out_path = NULL;
    CHECK(tok_train_run(&c, &r, &err) != 0, "trained without an output");
}

static void test_init_preset_and_overrides(void) {
    InitConfig c;
    init_config_defaults(&c);
    c.preset = "tiny";
    c.shape.n_layers = 1;
    c.shape.ctx_len = 32;
    c.untied = 1;
    c.tokenizer_path = tok_path;
    c.out_path = model_path;
    InitResult r;
    ObErr err;
    CHECK(init_run(&c, &r, &err) == 0, "%s", err.msg);
    CHECK(r.cfg.dim == 64 && r.cfg.n_layers == 1 && r.cfg.n_heads == 4 && r.cfg.n_kv_heads == 2 &&
              r.cfg.head_dim == 16 && r.cfg.ffn_dim == 176 && r.cfg.vocab == n_vocab &&
              !r.cfg.tied && r.cfg.ctx_len == 32,
          "shape %d %d %d %d %d", r.cfg.dim, r.cfg.n_layers, r.cfg.n_heads, r.cfg.n_kv_heads,
          r.cfg.ffn_dim);
    CHECK(r.n_params == llama_param_count(&r.cfg), "%zu params", r.n_params);
    Llama m;
    CHECK(llama_load(&m, NULL, model_path, &err) == 0 && m.cfg.n_layers == 1 && !m.cfg.tied, "%s",
          err.msg);
    llama_free(&m);
    c.stream = 1;
    c.out_path = stream_path;
    c.type = GGML_TYPE_F16;
    CHECK(init_run(&c, &r, &err) == 0 && r.n_params == llama_param_count(&r.cfg), "%s", err.msg);
    c.preset = "huge";
    CHECK(init_run(&c, &r, &err) != 0 && strstr(err.msg, "unknown --preset"), "%s", err.msg);
    LlamaConfig p = {0};
    CHECK(llama_preset("d288", &p) == 0 && p.dim == 288 && llama_preset("x", &p) != 0, "presets");
}

static void test_gguf_summary(void) {
    GGUFSummaryConfig c;
    gguf_summary_config_defaults(&c);
    c.path = stream_path;
    c.json = 1;
    char *text;
    ObErr err;
    CHECK(gguf_summary(&c, &text, &err) == 0, "%s", err.msg);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tensors"), 0);
    CHECK(j && text[strlen(text) - 1] == '\n' &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(j, "version")) == 3 &&
              cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "llama.block_count") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t0, "name")), "token_embd.weight"),
          "%s", text ? text : "(none)");
    cJSON_Delete(j);
    free(text);
    c.json = 0;
    char row[80];
    snprintf(row, sizeof row, "\n  token_embd.weight                F16   64 x %d ", n_vocab);
    CHECK(gguf_summary(&c, &text, &err) == 0 && strstr(text, "GGUF v3, ") && strstr(text, row),
          "%s", text ? text : "(none)");
    free(text);
    c.path = tmp("none.gguf");
    CHECK(gguf_summary(&c, &text, &err) != 0 && !text && strstr(err.msg, "none.gguf"), "%s",
          err.msg);
}

int main(void) {
    omp_set_num_threads(1);
    if (tmpdir_make()) return 1;
    snprintf(tok_path, sizeof tok_path, "%s", tmp("tok.gguf"));
    snprintf(text_path, sizeof text_path, "%s", tmp("text.txt"));
    snprintf(model_path, sizeof model_path, "%s", tmp("m.gguf"));
    snprintf(stream_path, sizeof stream_path, "%s", tmp("s.gguf"));
    RUN(test_tokenizer_train);
    RUN(test_init_preset_and_overrides);
    RUN(test_gguf_summary);
    tmpdir_remove();
    return check_main_end("init");
}
