#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/sample.h"
#include "train/trainer.h"
#include "util/progress.h"

/* Encodes the prompt, with <|endoftext|> first unless no_bos (training puts
 * one before every document, so a prompt starts the same way). */
static int prompt_tokens(const Tokenizer *tok, const char *prompt, int no_bos, int32_t **ids,
                         size_t *n, ObErr *err) {
    int32_t *enc;
    size_t ne;
    if (tok_encode(tok, prompt, strlen(prompt), &enc, &ne, err)) return -1;
    *ids = ob_malloc(sizeof(int32_t) * (ne + 1), "prompt", err);
    if (!*ids) return free(enc), -1;
    size_t k = 0;
    if (!no_bos) (*ids)[k++] = tok->eot_id;
    memcpy(*ids + k, enc, sizeof(int32_t) * ne);
    *n = k + ne;
    free(enc);
    return 0;
}

/* Generates up to n_new tokens after ids[0..n); stops at <|endoftext|>.
 * out gets the new tokens; returns how many, or -1. */
static int generate(const Llama *m, const Tokenizer *tok, const int32_t *ids, int n, int n_new,
                    Sampler *s, int32_t *out, ObErr *err) {
    LlamaKV kv;
    int ctx = n + n_new;
    float *logits = ob_malloc(sizeof(float) * m->cfg.vocab, "logits", err);
    if (!logits || llama_kv_create(&kv, &m->cfg, ctx, n > 64 ? n : 64, err)) {
        free(logits);
        return -1;
    }
    int produced = -1;
    if (llama_eval(m, &kv, ids, n, logits, 0, err) == 0) {
        for (produced = 0; produced < n_new; produced++) {
            int32_t next = sample_next(s, logits);
            if (next == tok->eot_id || next == tok->eos_id) break;
            out[produced] = next;
            if (produced + 1 < n_new && llama_eval(m, &kv, &next, 1, logits, 0, err)) {
                produced = -1;
                break;
            }
        }
    }
    llama_kv_free(&kv);
    free(logits);
    return produced;
}

/* The model; with an adapter, the model frozen (memory-mapped, as stored)
 * plus the adapter, so a large model runs without an fp32 copy. */
static int load_model(Llama *m, Tokenizer *tok, const char *path, const char *lora, ObErr *err) {
    if (!lora) {
        if (llama_load(m, tok, path, err)) return -1;
        m->prec = cli_precision();
        return 0;
    }
    if (llama_load_frozen(m, tok, path, err)) return -1;
    m->prec = cli_precision();
    if (llama_load_lora(m, lora, err)) return llama_free(m), tok_free(tok), -1;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *prompt = "", *lora = NULL;
    int n_new = 64, no_bos = 0, json = 0;
    SamplerConfig sc = {0.0f, 0, 1.0f};
    uint64_t seed = 1;
    Opt opts[] = {
        {"--model|-m", OPT_STR, &model_path, "model (GGUF), required"},
        {"--prompt|-p", OPT_STR, &prompt, "text to continue"},
        {"--n|-n", OPT_INT, &n_new, "tokens to generate (default 64)"},
        {"--temperature", OPT_FLOAT, &sc.temperature, "0 = greedy (default 0)"},
        {"--top-k", OPT_INT, &sc.top_k, "sample from the k most likely tokens (0 = all)"},
        {"--top-p", OPT_FLOAT, &sc.top_p, "nucleus sampling mass (default 1 = all)"},
        {"--seed", OPT_U64, &seed, "sampling seed (default 1)"},
        {"--no-bos", OPT_FLAG, &no_bos, "do not start the prompt with <|endoftext|>"},
        {"--json", OPT_FLAG, &json, "print JSON (prompt tokens, new tokens, text)"},
        {"--lora", OPT_STR, &lora,
         "apply this LoRA adapter (train --lora-rank) to the frozen, memory-mapped model"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"generate",
                   "[options]",
                   "Continues a prompt using a key/value cache. Prints the prompt and its "
                   "continuation (or JSON with --json); speed goes to stderr.",
                   "obliviate generate -m base.gguf -p \"Sherlock Holmes\" -n 40",
                   opts,
                   0,
                   0};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    free(pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (!model_path) return cli_fail(cmd.name, "--model is required");
    if (n_new < 0) return cli_fail(cmd.name, "--n must be >= 0");
    Llama m;
    Tokenizer tok;
    Sampler s;
    ObErr err;
    int32_t *ids = NULL, *out = NULL;
    size_t n_ids;
    if (load_model(&m, &tok, model_path, lora, &err)) return cli_fail(cmd.name, err.msg);
    rc = prompt_tokens(&tok, prompt, no_bos, &ids, &n_ids, &err) ||
         sampler_init(&s, &sc, m.cfg.vocab, seed, &err);
    if (!rc && n_ids == 0) rc = ob_errf(&err, "empty prompt with --no-bos: nothing to continue");
    if (!rc && !(out = ob_malloc(sizeof(int32_t) * (n_new + 1), "output", &err))) rc = -1;
    double t0 = ob_now();
    int produced = rc ? -1 : generate(&m, &tok, ids, (int)n_ids, n_new, &s, out, &err);
    double dt = ob_now() - t0;
    char *text = NULL;
    size_t len;
    if (produced >= 0 && tok_decode(&tok, out, produced, &text, &len, &err) == 0) {
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddItemToObject(j, "prompt_tokens", cJSON_CreateIntArray(ids, (int)n_ids));
            cJSON_AddItemToObject(j, "tokens", cJSON_CreateIntArray(out, produced));
            cJSON_AddStringToObject(j, "text", text);
            print_json(j);
        } else {
            printf("%s%s\n", prompt, text);
        }
        fprintf(stderr, "generate: %d tokens in %.2f s (%.1f tok/s)\n", produced, dt,
                produced / (dt > 0 ? dt : 1));
        rc = 0;
    } else {
        rc = -1;
    }
    free(text);
    free(ids);
    free(out);
    sampler_free(&s);
    llama_free(&m);
    tok_free(&tok);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}

int cmd_perplexity(int argc, char **argv) {
    const char *model_path = NULL, *lora = NULL;
    int seq = 256, batch = 4;
    long max_windows = 0;
    Opt opts[] = {
        {"--model|-m", OPT_STR, &model_path, "model (GGUF), required"},
        {"--seq", OPT_INT, &seq, "tokens per window (default 256)"},
        {"--batch", OPT_INT, &batch, "windows per forward pass (default 4)"},
        {"--max-windows", OPT_LONG, &max_windows, "stop after N windows (default: all)"},
        {"--lora", OPT_STR, &lora,
         "apply this LoRA adapter (train --lora-rank) to the frozen, memory-mapped model"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"perplexity",
                   "[options] FILE...",
                   "Mean next-token loss and perplexity of a model over consecutive "
                   "non-overlapping windows of the files' tokens. Prints JSON.",
                   "obliviate perplexity -m base.gguf --seq 256 heldout.txt",
                   opts,
                   1,
                   -1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc) return free(pos), rc == 1 ? 0 : rc;
    if (!model_path) return free(pos), cli_fail(cmd.name, "--model is required");
    Llama m;
    Tokenizer tok;
    TokenStream ds = {0};
    ObErr err;
    if (load_model(&m, &tok, model_path, lora, &err)) return free(pos), cli_fail(cmd.name, err.msg);
    if (seq > m.cfg.ctx_len) seq = m.cfg.ctx_len;
    rc = dataset_load(&ds, &tok, (const char *const *)pos, n_pos, &err);
    if (!rc && ds.n < (size_t)seq + 1)
        rc = ob_errf(&err, "text has %zu tokens, fewer than one window of %d + 1", ds.n, seq);
    if (!rc) rc = llama_alloc_batch(&m, batch, seq, &err);
    int32_t *scratch = rc ? NULL : ob_malloc(sizeof(int32_t) * 2 * batch * seq, "batch", &err);
    if (!rc && !scratch) rc = -1;
    if (!rc) {
        long n_tok;
        double t0 = ob_now();
        double loss =
            stream_loss(&m, &ds, seq, max_windows, scratch, scratch + batch * seq, &n_tok);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", model_path);
        cJSON_AddNumberToObject(j, "tokens", (double)n_tok);
        cJSON_AddNumberToObject(j, "loss", loss);
        cJSON_AddNumberToObject(j, "perplexity", exp(loss));
        cJSON_AddNumberToObject(j, "tokens_per_s", n_tok / (ob_now() - t0));
        print_json(j);
    }
    free(scratch);
    dataset_free(&ds);
    llama_free(&m);
    tok_free(&tok);
    free(pos);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}
