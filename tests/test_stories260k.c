/* A model nobody here made: stories260K (tests/fixtures/stories260K), as
 * llama.cpp's converter wrote it, with its "none" token ids (4294967295).
 * Greedy generation from BOS reproduces its author's published sample token
 * for token, and its first 60 tokens equal llama.cpp's greedy continuation;
 * on a short text written here, the tokens and every next-token
 * log-probability equal llama.cpp's (node-llama-cpp; skipped with one line
 * where node or the package is absent) and `perplexity` is their mean; a
 * LoRA fine-tune lowers the perplexity of its text, and the whole method
 * runs on it with a LoRA adapter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "eval/perplexity.h"
#include "helpers.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "tmpdir.h"
#include "train/textrun.h"
#include "unlearn/pipeline.h"

static const char *MODEL = "tests/fixtures/stories260K/stories260K.gguf";
static const char *SAMPLE = "tests/fixtures/stories260K/stories260K-greedy.txt";

/* node-llama-cpp 3.21.1 (F32 KV cache, temperature 0) fed BOS alone. */
static const int LLAMACPP_GREEDY[60] = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421,
                                        395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292,
                                        411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394,
                                        261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267,
                                        337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415};

static const char *STORY = "Tom had a little dog named Max. Max liked to run in the park with Tom. "
                           "One day, they found a big red ball under a tree. Tom was happy.";

static int have_llamacpp;

static void test_reads_none_ids(void) {
    Llama m;
    Tokenizer tok;
    ObErr err;
    CHECK(!llama_load(&m, &tok, MODEL, &err), "%s", err.msg);
    CHECK(tok.n_vocab == 512 && tok.pad_id == -1 && tok.bos_id == 1 && tok.eos_id == 2,
          "vocab %d, pad %d, bos %d, eos %d", tok.n_vocab, tok.pad_id, tok.bos_id, tok.eos_id);
    CHECK(m.cfg.dim == 64 && m.cfg.n_layers == 5 && m.cfg.n_kv_heads == 4, "shape");
    llama_free(&m), tok_free(&tok);
}

static void test_greedy_sample(void) {
    GenerateConfig g;
    generate_config_defaults(&g);
    g.model_path = MODEL, g.n_new = 300; /* the sample is a prefix of this */
    GenerateResult r;
    ObErr err;
    CHECK(!generate_run(&g, &r, &err), "%s", err.msg);
    CHECK(r.n_prompt == 1 && r.prompt_ids[0] == 1, "prompt: BOS alone");
    int same = 0;
    while (same < 60 && same < r.n_ids && r.ids[same] == LLAMACPP_GREEDY[same]) same++;
    CHECK(same == 60, "llama.cpp's greedy tokens differ at %d", same);
    char *sample = NULL;
    size_t n = 0;
    CHECK(!ob_read_file(SAMPLE, &sample, &n, &err), "%s", err.msg);
    while (n && sample[n - 1] == '\n') n--;
    CHECK(sample && r.text && strlen(r.text) >= n && !strncmp(r.text, sample, n),
          "the author's sample is not reproduced:\n%.200s", r.text ? r.text : "");
    free(sample);
    generate_result_free(&r);
}

/* Our log-probabilities of every token after ids[0..n) against llama.cpp's;
 * nll: ours and llama.cpp's mean -log P(next token). */
static void compare_llamacpp(Llama *m, const int32_t *ids, int n, double nll[2]) {
    ObErr err;
    CHECK(!llama_alloc_batch(m, 1, n, &err), "%s", err.msg);
    llama_forward(m, ids, NULL, n, NULL);
    double worst =
        llamacpp_logprob_diff(tmpdir, MODEL, NULL, ids, m->acts.logits, n, m->cfg.vocab, nll);
    fprintf(stderr, "  llama.cpp log-probabilities: worst difference %.2g over %d positions\n",
            worst, n);
    CHECK(worst < 1e-4, "log-probabilities differ from llama.cpp's by %g", worst);
}

static void test_llamacpp_logprobs(void) {
    if (!have_llamacpp) return;
    Llama m;
    Tokenizer tok;
    ObErr err;
    CHECK(!llama_load(&m, &tok, MODEL, &err), "%s", err.msg);
    int32_t *enc;
    size_t n;
    CHECK(!tok_encode(&tok, STORY, strlen(STORY), &enc, &n, &err), "%s", err.msg);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "node tools/llamacpp/logprobs.mjs %s --tokenize '%s' > %s 2>&1",
             MODEL, STORY, tmp("tk.json"));
    CHECK(system(cmd) == 0, "llama.cpp tokenize failed");
    cJSON *j = read_json(tmp("tk.json")), *want = cJSON_GetObjectItem(j, "tokens");
    int32_t theirs_ids[256];
    int n_theirs = cJSON_GetArraySize(want);
    for (int i = 0; i < n_theirs && i < 256; i++)
        theirs_ids[i] = (int32_t)cJSON_GetNumberValue(cJSON_GetArrayItem(want, i));
    CHECK(n_theirs > 0 && n_theirs <= 256 && encode_is(&tok, STORY, theirs_ids, (size_t)n_theirs),
          "tokens differ from llama.cpp's");
    cJSON_Delete(j);
    int32_t ids[256] = {1}; /* BOS, then the text: as a document starts */
    for (size_t i = 0; i < n && i < 255; i++) ids[i + 1] = enc[i];
    double nll[2] = {0, 0}; /* ours, llama.cpp's */
    compare_llamacpp(&m, ids, (int)n + 1, nll);
    /* `perplexity` over the same tokens: one window of all of them */
    FILE *f = fopen(tmp("story.txt"), "w");
    if (f) fputs(STORY, f), fclose(f);
    PerplexityConfig pc;
    perplexity_config_defaults(&pc);
    const char *files[1] = {tmp("story.txt")};
    pc.model_path = MODEL, pc.files = files, pc.n_files = 1, pc.seq = (int)n, pc.batch = 1;
    PerplexityResult pr;
    CHECK(!perplexity_run(&pc, &pr, &err), "%s", err.msg);
    CHECK(pr.tokens == (long)n && fabs(pr.loss - nll[1]) < 1e-5 && fabs(nll[0] - nll[1]) < 1e-5,
          "perplexity loss %g over %ld tokens, llama.cpp's mean %g", pr.loss, pr.tokens, nll[1]);
    free(enc);
    llama_free(&m), tok_free(&tok);
}

static double story_loss(const char *model, const char *lora) {
    return loss_on(model, lora, tmp("stories.txt"), 64);
}

static void test_lora_and_unlearn(void) {
    FILE *f = fopen(tmp("stories.txt"), "w");
    for (int i = 0; f && i < 12; i++) fputs(STORY, f), fputs(" ", f);
    if (f) fclose(f);
    TextRunConfig t;
    textrun_config_defaults(&t);
    char stories[256];
    snprintf(stories, sizeof stories, "%s", tmp("stories.txt"));
    const char *texts[1] = {stories};
    t.model = MODEL, t.out = tmp("adapter.gguf"), t.texts = texts, t.n_texts = 1;
    t.lora.rank = 4, t.train.steps = 30, t.train.batch = 4, t.train.seq = 64;
    t.train.warmup = 2, t.train.lr = 3e-3f;
    TextRunResult r;
    ObErr err;
    double before = story_loss(MODEL, NULL);
    CHECK(!textrun_run(&t, &r, &err), "%s", err.msg);
    double after = story_loss(MODEL, tmp("adapter.gguf"));
    fprintf(stderr, "  LoRA fine-tune: story loss %.3f -> %.3f\n", before, after);
    CHECK(after < before - 0.1, "fine-tune did not learn: %g -> %g", before, after);

    f = fopen(tmp("anchors.json"), "w");
    if (f) fputs("{\"Tom\": [\"Ben\", \"Sam\"], \"Max\": \"Spot\"}", f), fclose(f);
    UnlearnConfig c;
    unlearn_config_defaults(&c);
    char work[256], out[256], dict[256];
    snprintf(work, sizeof work, "%s", tmp("work"));
    snprintf(out, sizeof out, "%s", tmp("unlearned.gguf"));
    snprintf(dict, sizeof dict, "%s", tmp("anchors.json"));
    c.base = MODEL, c.targets = texts, c.n_targets = 1, c.anchors = dict, c.work = work;
    c.out = out, c.lora.rank = 4, c.lora.alpha = 8;
    c.reinforce.steps = 6, c.reinforce.batch = 2, c.labels.block = 64;
    c.finetune.train.steps = 6, c.finetune.train.batch = 2;
    CHECK(!unlearn_run(&c, &err), "%s", err.msg);
    Llama m;
    Tokenizer tok;
    CHECK(!llama_load(&m, &tok, out, &err), "%s", err.msg);
    CHECK(tok.n_vocab == 512 && m.cfg.n_layers == 5, "the unlearned model");
    llama_free(&m), tok_free(&tok);
}

int main(void) {
    if (fixture_present(MODEL, "comparison", &have_llamacpp) || tmpdir_make()) return 1;
    RUN(test_reads_none_ids);
    RUN(test_greedy_sample);
    RUN(test_llamacpp_logprobs);
    RUN(test_lora_and_unlearn);
    tmpdir_remove();
    return check_main_end("stories");
}
