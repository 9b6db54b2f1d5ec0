/* model/generate.c and eval/perplexity.c through their APIs on a tiny
 * random model saved here: greedy generation equals argmax decoding by hand
 * over the key/value cache, sampling is repeatable by seed, the prompt starts
 * with <|endoftext|> unless no_bos, and perplexity is exp(mean loss). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "eval/perplexity.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "tiny.h"
#include "tmpdir.h"

static const char text[] = "The quick brown fox jumps over the lazy dog. Holmes sat by the fire "
                           "and the doctor read the paper while the rain fell on Baker Street. ";

static char model_path[256], text_path[256];
static Tokenizer tok;
static Llama model;

static int make_world(void) {
    ObErr err;
    size_t len = strlen(text);
    const char *t = text;
    snprintf(model_path, sizeof model_path, "%s", tmp("m.gguf"));
    snprintf(text_path, sizeof text_path, "%s", tmp("text.txt"));
    FILE *f = fopen(text_path, "w");
    for (int i = 0; f && i < 8; i++) fputs(text, f);
    if (!f || fclose(f)) return -1;
    if (tok_train_texts(&tok, &t, &len, 1, 300, 0, &err)) return -1;
    LlamaConfig c = tiny_config(tok.n_vocab);
    if (llama_create(&model, &c, &err)) return -1;
    llama_init_random(&model, 7);
    return llama_save(&model, &tok, "t", GGML_TYPE_F32, model_path, &err);
}

/* Greedy decoding by hand: the prompt, then one token at a time. */
static int greedy(const int32_t *ids, int n, int n_new, int32_t *out) {
    LlamaKV kv;
    ObErr err;
    float *logits = malloc(sizeof(float) * model.cfg.vocab);
    if (llama_kv_create(&kv, &model.cfg, n + n_new, 64, &err)) return free(logits), -1;
    int k = 0;
    if (llama_eval(&model, &kv, ids, n, logits, 0, &err) == 0)
        for (; k < n_new; k++) {
            int32_t next = sample_argmax(logits, model.cfg.vocab);
            if (next == tok.eot_id || next == tok.eos_id) break;
            out[k] = next;
            if (llama_eval(&model, &kv, &next, 1, logits, 0, &err)) break;
        }
    llama_kv_free(&kv);
    free(logits);
    return k;
}

static void test_generate_greedy(void) {
    GenerateConfig c;
    generate_config_defaults(&c);
    c.model_path = model_path;
    c.prompt = "Holmes sat";
    c.n_new = 10;
    GenerateResult r;
    ObErr err;
    CHECK(generate_run(&c, &r, &err) == 0, "%s", err.msg);
    int32_t *enc;
    size_t ne;
    CHECK(tok_encode(&tok, c.prompt, strlen(c.prompt), &enc, &ne, &err) == 0, "%s", err.msg);
    CHECK(r.n_prompt == (int)ne + 1 && r.prompt_ids[0] == tok.eot_id &&
              !memcmp(r.prompt_ids + 1, enc, sizeof(int32_t) * ne),
          "prompt of %d tokens", r.n_prompt);
    int32_t want[10];
    int n = greedy(r.prompt_ids, r.n_prompt, 10, want);
    CHECK(n == r.n_ids && !memcmp(want, r.ids, sizeof(int32_t) * n), "%d tokens, by hand %d",
          r.n_ids, n);
    char *dec;
    size_t len;
    CHECK(tok_decode(&tok, r.ids, r.n_ids, &dec, &len, &err) == 0 && r.text && !strcmp(dec, r.text),
          "text \"%s\"", r.text ? r.text : "(none)");
    free(dec);
    free(enc);
    generate_result_free(&r);
}

static void test_generate_sampling_and_bos(void) {
    GenerateConfig c;
    generate_config_defaults(&c);
    c.model_path = model_path;
    c.prompt = "The";
    c.sampler = (SamplerConfig){1.0f, 20, 0.95f};
    c.seed = 3;
    c.n_new = 40; /* prompt + n within the model's context of 64 */
    GenerateResult a, b;
    ObErr err;
    CHECK(generate_run(&c, &a, &err) == 0 && generate_run(&c, &b, &err) == 0, "%s", err.msg);
    CHECK(a.n_ids == b.n_ids && !memcmp(a.ids, b.ids, sizeof(int32_t) * a.n_ids),
          "same seed, other tokens");
    generate_result_free(&a);
    generate_result_free(&b);
    c.no_bos = 1;
    CHECK(generate_run(&c, &a, &err) == 0 && a.prompt_ids[0] != tok.eot_id, "no_bos: %s", err.msg);
    generate_result_free(&a);
    c.prompt = "";
    CHECK(generate_run(&c, &a, &err) != 0 && strstr(err.msg, "empty prompt"), "%s", err.msg);
    generate_result_free(&a);
    c.no_bos = 0;
    c.n_new = 0;
    CHECK(generate_run(&c, &a, &err) == 0 && a.n_ids == 0 && a.text && !*a.text, "%s", err.msg);
    generate_result_free(&a);
    c.model_path = tmp("none.gguf");
    CHECK(generate_run(&c, &a, &err) != 0 && strstr(err.msg, "none.gguf"), "%s", err.msg);
    generate_result_free(&a);
}

static void test_perplexity(void) {
    PerplexityConfig c;
    perplexity_config_defaults(&c);
    const char *files[] = {text_path};
    c.model_path = model_path;
    c.files = files;
    c.n_files = 1;
    c.seq = 32;
    c.batch = 2;
    PerplexityResult r;
    ObErr err;
    CHECK(perplexity_run(&c, &r, &err) == 0, "%s", err.msg);
    /* a random model: about uniform over the vocabulary */
    CHECK(r.tokens > 0 && fabs(r.loss - log(tok.n_vocab)) < 1.0 &&
              fabs(r.perplexity - exp(r.loss)) < 1e-6 * r.perplexity,
          "%ld tokens, loss %g, perplexity %g", r.tokens, r.loss, r.perplexity);
    c.max_windows = 1;
    CHECK(perplexity_run(&c, &r, &err) == 0 && r.tokens == 32, "%ld tokens", r.tokens);
    c.seq = 100000; /* cut to the model's context (64), still more than the text */
    files[0] = tmp("short.txt");
    FILE *f = fopen(files[0], "w");
    if (f) fputs("The quick", f), fclose(f);
    CHECK(perplexity_run(&c, &r, &err) != 0 && strstr(err.msg, "fewer than one window of 64"), "%s",
          err.msg);
}

int main(void) {
    omp_set_num_threads(1); /* a tiny model: threads would only wait on each other */
    if (tmpdir_make()) return 1;
    if (make_world()) {
        fprintf(stderr, "cannot make the tiny model\n");
        tmpdir_remove();
        return 1;
    }
    RUN(test_generate_greedy);
    RUN(test_generate_sampling_and_bos);
    RUN(test_perplexity);
    llama_free(&model);
    tok_free(&tok);
    tmpdir_remove();
    return check_main_end("generate");
}
