/* generate and perplexity: running a model (model/generate.h,
 * eval/perplexity.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "eval/perplexity.h"
#include "model/generate.h"

/* --lora: one wording for both commands that run a model. */
static const char LORA_HELP[] =
    "apply this LoRA adapter (train --lora-rank) to the frozen, memory-mapped model";

static void print_generated(const GenerateConfig *gc, const GenerateResult *r, int json) {
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "prompt_tokens", cJSON_CreateIntArray(r->prompt_ids, r->n_prompt));
        cJSON_AddItemToObject(j, "tokens", cJSON_CreateIntArray(r->ids, r->n_ids));
        cJSON_AddStringToObject(j, "text", r->text);
        print_json(j);
    } else {
        printf("%s%s\n", gc->prompt, r->text);
    }
    double dt = r->seconds;
    fprintf(stderr, "generate: %d tokens in %.2f s (%.1f tok/s)\n", r->n_ids, dt,
            r->n_ids / (dt > 0 ? dt : 1));
}

int cmd_generate(int argc, char **argv) {
    GenerateConfig gc;
    generate_config_defaults(&gc);
    int json = 0;
    Opt opts[] = {
        {"--model|-m", OPT_STR, &gc.model_path, "model (GGUF), required"},
        {"--prompt|-p", OPT_STR, &gc.prompt, "text to continue"},
        {"--n|-n", OPT_INT, &gc.n_new, "tokens to generate (default 64)"},
        {"--temperature", OPT_FLOAT, &gc.sampler.temperature, "0 = greedy (default 0)"},
        {"--top-k", OPT_INT, &gc.sampler.top_k, "sample from the k most likely tokens (0 = all)"},
        {"--top-p", OPT_FLOAT, &gc.sampler.top_p, "nucleus sampling mass (default 1 = all)"},
        {"--seed", OPT_U64, &gc.seed, "sampling seed (default 1)"},
        {"--no-bos", OPT_FLAG, &gc.no_bos, "do not start the prompt with <|endoftext|>"},
        {"--json", OPT_FLAG, &json, "print JSON (prompt tokens, new tokens, text)"},
        {"--lora", OPT_STR, &gc.lora, LORA_HELP},
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
    int rc = args_options(&cmd, NULL, argc, argv);
    if (rc != ARGS_RUN) return rc;
    if (!gc.model_path) return cli_fail(cmd.name, "--model is required");
    if (gc.n_new < 0) return cli_fail(cmd.name, "--n must be >= 0");
    GenerateResult res;
    ObErr err;
    rc = generate_run(&gc, &res, &err);
    if (!rc) print_generated(&gc, &res, json);
    generate_result_free(&res);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}

int cmd_perplexity(int argc, char **argv) {
    PerplexityConfig pc;
    perplexity_config_defaults(&pc);
    Opt opts[] = {
        {"--model|-m", OPT_STR, &pc.model_path, "model (GGUF), required"},
        {"--lora", OPT_STR, &pc.lora, LORA_HELP},
        {"--seq", OPT_INT, &pc.seq, "tokens per window (default 256)"},
        {"--batch", OPT_INT, &pc.batch, "windows per forward pass (default 4)"},
        {"--max-windows", OPT_LONG, &pc.max_windows, "stop after N windows (default: all)"},
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
    if (rc != ARGS_RUN) return rc;
    if (!pc.model_path) return free(pos), cli_fail(cmd.name, "--model is required");
    pc.files = (const char *const *)pos;
    pc.n_files = n_pos;
    PerplexityResult res;
    ObErr err;
    rc = perplexity_run(&pc, &res, &err);
    free(pos);
    if (rc) return cli_fail(cmd.name, err.msg);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", pc.model_path);
    cJSON_AddNumberToObject(j, "tokens", (double)res.tokens);
    cJSON_AddNumberToObject(j, "loss", res.loss);
    cJSON_AddNumberToObject(j, "perplexity", res.perplexity);
    cJSON_AddNumberToObject(j, "tokens_per_s", res.tokens / res.seconds);
    print_json(j);
    return 0;
}
