/* `obliviate labels`: generic labels for the target text (WHP step 4). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "model/ops.h"
#include "unlearn/labels.h"

/* "2.5,5,10" -> c->alphas; 0 on success. */
static int parse_alphas(const char *s, LabelConfig *c) {
    c->n_alphas = 0;
    while (*s) {
        char *end;
        errno = 0;
        float a = strtof(s, &end);
        if (end == s || errno || !isfinite(a) || a < 0.0f || c->n_alphas == LABELS_MAX_ALPHAS)
            return -1;
        c->alphas[c->n_alphas++] = a;
        if (*end == ',' && end[1])
            s = end + 1;
        else if (*end)
            return -1;
        else
            s = end;
    }
    return c->n_alphas ? 0 : -1;
}

static void print_summary(const char *out, const LabelConfig *c, const LabelStats *st) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "labels", out);
    cJSON_AddNumberToObject(j, "blocks", (double)st->blocks);
    cJSON_AddNumberToObject(j, "block", c->block);
    cJSON_AddNumberToObject(j, "positions", (double)st->positions);
    cJSON_AddNumberToObject(j, "labelled", (double)st->labelled);
    cJSON *al = cJSON_AddArrayToObject(j, "alphas"), *ch = cJSON_AddArrayToObject(j, "changed");
    for (int a = 0; a < c->n_alphas; a++) {
        cJSON_AddItemToArray(al, cJSON_CreateNumber(c->alphas[a]));
        double share = st->labelled ? (double)st->changed[a] / (double)st->labelled : 0.0;
        cJSON_AddItemToArray(ch, cJSON_CreateNumber(share));
    }
    cJSON_AddNumberToObject(j, "soft_k", c->soft_k);
    cJSON_AddStringToObject(j, "forbid_keys",
                            c->forbid_keys == LABELS_FORBID_FIRST   ? "first"
                            : c->forbid_keys == LABELS_FORBID_WHOLE ? "whole"
                                                                    : "none");
    cJSON_AddNumberToObject(j, "suppress", c->soft_k ? c->suppress : 0);
    cJSON_AddBoolToObject(j, "inkey", c->inkey != 0);
    cJSON_AddNumberToObject(j, "seconds", st->seconds);
    cJSON_AddNumberToObject(j, "tokens_per_s", st->tokens_per_s);
    print_json(j);
    fprintf(stderr, "labels: %ld blocks of %d, %ld of %ld positions labelled; changed", st->blocks,
            c->block, st->labelled, st->positions);
    for (int a = 0; a < c->n_alphas; a++)
        fprintf(stderr, "%s %.1f%% at alpha %g", a ? "," : "",
                st->labelled ? 100.0 * (double)st->changed[a] / (double)st->labelled : 0.0,
                c->alphas[a]);
    fprintf(stderr, "; %.1f s, %.0f tok/s -> %s\n", st->seconds, st->tokens_per_s, out);
}

/* Whether path is a LoRA adapter GGUF (not a model); 0 when unreadable. */
static int is_adapter(const char *path) {
    GGUFFile f;
    ObErr e;
    if (gguf_open(&f, path, &e)) return 0;
    int a = gguf_is_adapter(&f);
    gguf_close(&f);
    return a;
}

int cmd_labels(int argc, char **argv) {
    const char *base_path = NULL, *reinf_path = NULL, *anchors_path = NULL, *out = NULL;
    const char *alpha_s = "5";
    StrList targets = {0};
    LabelConfig c = {.soft_k = 32, .block = 0, .batch = 4, .seed = 1};
    int forbid_whole = 0;
    Opt opts[] = {
        {"--base", OPT_STR, &base_path, "baseline model B (GGUF), required"},
        {"--reinforced", OPT_STR, &reinf_path,
         "reinforced model R (GGUF, same tokenizer), or a LoRA adapter of the baseline (train "
         "--lora-rank): then one frozen, mapped copy of the baseline serves both models"},
        {"--anchors", OPT_STR, &anchors_path, "anchor dictionary (JSON or JSON Lines)"},
        {"--target", OPT_LIST, &targets, "target text file (repeatable; also positional)"},
        {"--out|-o", OPT_STR, &out, "labels file to write, required"},
        {"--alpha", OPT_STR, &alpha_s, "one or more alphas, comma-separated (default 5)"},
        {"--soft-k", OPT_INT, &c.soft_k, "tokens kept per soft target; 0 = hard only (32)"},
        {"--forbid-keys", OPT_FLAG, &c.forbid_keys,
         "forbid the first token of every anchor key in every label"},
        {"--forbid-whole-keys", OPT_FLAG, &forbid_whole,
         "forbid only the keys that are one token (in a form) in every label"},
        {"--suppress", OPT_INT, &c.suppress,
         "soft targets also list the N forbidden tokens the reinforced model believes most, "
         "with target 0 (default 0)"},
        {"--inkey", OPT_FLAG, &c.inkey,
         "label the positions inside anchor keys from the baseline reading the original, the "
         "key's next token forbidden (the paper leaves them unlabelled)"},
        {"--block", OPT_INT, &c.block, "tokens per block (default min(256, context))"},
        {"--batch", OPT_INT, &c.batch, "blocks per forward pass (default 4)"},
        {"--seed", OPT_U64, &c.seed, "seed for choosing anchor values (default 1)"},
        OPT_PRECISION,
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"labels",
                   "--base B.gguf --reinforced R.gguf [--anchors A.json] -o OUT --target TEXT...",
                   "Makes the generic labels of the WHP method: the target text is cut into "
                   "blocks, each block is translated with the anchor dictionary, and at every "
                   "position the label comes from v = g - alpha * max(r - g, 0), g being the "
                   "baseline's logits on the translated block and r the reinforced model's on "
                   "the original. Keeps the hard label (argmax v) and a soft target (top-k of "
                   "softmax v plus the remaining mass) for each alpha. Without --anchors only the "
                   "alpha term acts. Prints a JSON summary on stdout.",
                   "obliviate labels --base base.gguf --reinforced reinf.gguf --anchors "
                   "anchors.json --alpha 2.5,5,10 --forbid-keys -o labels.bin --target book.txt",
                   opts,
                   0,
                   -1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc) return free(pos), rc == 1 ? 0 : rc;
    const char *files[64];
    int n_files = 0;
    for (int i = 0; i < targets.n; i++) files[n_files++] = targets.items[i];
    for (int i = 0; i < n_pos && n_files < 64; i++) files[n_files++] = pos[i];
    if (targets.n + n_pos > 64) return free(pos), cli_fail(cmd.name, "at most 64 target files");
    free(pos);
    if (!base_path || !reinf_path || !out)
        return cli_fail(cmd.name, "--base, --reinforced and -o are required");
    if (!n_files) return cli_fail(cmd.name, "no target text (--target FILE)");
    if (forbid_whole && c.forbid_keys)
        return cli_fail(cmd.name, "--forbid-keys and --forbid-whole-keys exclude each other");
    if (forbid_whole) c.forbid_keys = LABELS_FORBID_WHOLE;
    if (c.soft_k < 0 || c.suppress < 0 || c.soft_k + c.suppress > SOFT_K_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg,
                 "--soft-k plus --suppress must be 0..%d (what the soft-target loss takes)",
                 SOFT_K_MAX);
        return cli_fail(cmd.name, msg);
    }
    if (parse_alphas(alpha_s, &c))
        return cli_fail(cmd.name, "--alpha: expected 1 to 8 numbers >= 0, e.g. 2.5,5,10");

    Llama base = {0}, reinf = {0};
    Tokenizer tok = {0}, tok2 = {0};
    AnchorDict dict = {0};
    TokenStream ds = {0};
    LabelStats st;
    ObErr err;
    int have_dict = 0, have_tok2 = 0;
    int adapter = is_adapter(reinf_path);
    if (adapter) { /* R = B + adapter: one copy of B's weights, mapped */
        rc = llama_load_frozen(&base, &tok, base_path, &err);
        if (rc) return cli_fail(cmd.name, err.msg);
        rc = llama_share(&reinf, &base, &err) || llama_load_lora(&reinf, reinf_path, &err);
        if (!rc)
            fprintf(stderr, "labels: reinforced = %s + adapter %s (rank %d)\n", base_path,
                    reinf_path, reinf.lora->cfg.rank);
    } else {
        rc = llama_load(&base, &tok, base_path, &err);
        if (rc) return cli_fail(cmd.name, err.msg);
        rc = llama_load(&reinf, &tok2, reinf_path, &err);
    }
    if (!rc && !adapter) {
        have_tok2 = 1;
        uint64_t hb = tok_vocab_hash(&tok), hr = tok_vocab_hash(&tok2);
        if (hb != hr)
            rc = ob_errf(&err,
                         "%s and %s use different tokenizers (vocabulary hash 0x%016llx vs "
                         "0x%016llx)",
                         base_path, reinf_path, (unsigned long long)hb, (unsigned long long)hr);
    }
    if (!rc && anchors_path) {
        rc = anchors_load(&dict, anchors_path, &err);
        have_dict = !rc;
        if (!rc) rc = anchors_tokenize(&dict, &tok, &err);
    }
    if (!rc) rc = dataset_load(&ds, &tok, files, n_files, &err);
    if (!rc && !c.block) {
        int ctx = base.cfg.ctx_len < reinf.cfg.ctx_len ? base.cfg.ctx_len : reinf.cfg.ctx_len;
        c.block = ctx < 256 ? ctx : 256;
    }
    if (!rc) {
        fprintf(stderr, "labels: %zu target tokens, %d alpha(s), %s\n", ds.n, c.n_alphas,
                have_dict ? "anchors loaded" : "no anchors");
        rc =
            labels_generate(&base, &reinf, &tok, have_dict ? &dict : NULL, &ds, &c, out, &st, &err);
    }
    if (!rc) print_summary(out, &c, &st);
    if (have_dict) anchors_free(&dict);
    dataset_free(&ds);
    llama_free(&reinf); /* may borrow base's weights */
    llama_free(&base);
    tok_free(&tok);
    if (have_tok2) tok_free(&tok2);
    return rc ? cli_fail(cmd.name, err.msg) : 0;
}
