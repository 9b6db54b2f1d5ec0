#include "eval/memorisation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sample.h"
#include "util/rng.h"
#include "util/utf8.h"

/* ---- shared ------------------------------------------------------------ */

static int is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Replaces every byte of *s that is not part of valid UTF-8 with U+FFFD: a
 * decoded token run may start or end inside a character, and results are
 * written as JSON. */
static int make_valid(char **s, ObErr *err) {
    size_t len = strlen(*s);
    if (utf8_invalid_at(*s, len) == len) return 0;
    char *out = ob_malloc(3 * len + 1, "text", err);
    if (!out) return -1;
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t ok = utf8_invalid_at(*s + i, len - i);
        memcpy(out + k, *s + i, ok);
        k += ok, i += ok;
        if (i < len) memcpy(out + k, "\xEF\xBF\xBD", 3), k += 3, i++;
    }
    out[k] = 0;
    free(*s);
    *s = out;
    return 0;
}

static int decode_valid(const Tokenizer *tok, const int32_t *ids, size_t n, char **out,
                        ObErr *err) {
    size_t len;
    *out = NULL;
    if (tok_decode(tok, ids, n, out, &len, err)) return -1;
    return make_valid(out, err);
}

/* Greedy continuation: feeds prompt, then appends up to max_new argmax tokens
 * to out (*n_out of them). Stops before <|endoftext|> and, when stop_nl,
 * after a token holding a newline that follows some non-space text (leading
 * blank lines do not end an answer that has not begun). kv must have room for
 * n_prompt + max_new. */
static int greedy(const Llama *m, LlamaKV *kv, const Tokenizer *tok, const int32_t *prompt,
                  int n_prompt, int max_new, int stop_nl, float *logits, int32_t *out, int *n_out,
                  ObErr *err) {
    int V = m->cfg.vocab, n = 0, begun = 0, stop = 0;
    llama_kv_reset(kv);
    int rc = llama_eval(m, kv, prompt, n_prompt, logits, 0, err);
    while (!rc && n < max_new) {
        int32_t next = sample_argmax(logits, V);
        if (next == tok->eot_id) break;
        out[n++] = next;
        size_t len;
        const char *b = tok_token_bytes(tok, next, &len);
        for (size_t k = 0; stop_nl && k < len && !stop; k++)
            stop = b[k] == '\n' ? begun : 0, begun |= !is_space(b[k]);
        if (stop || n == max_new) break;
        rc = llama_eval(m, kv, &next, 1, logits, 0, err);
    }
    *n_out = n;
    return rc;
}

/* ---- VerbMem ------------------------------------------------------------ */

void verb_config_defaults(VerbConfig *c) {
    c->n = 0;
    c->prompt_tokens = 32;
    c->gen_tokens = 128;
    c->seed = 1;
}

static int starts_space(const Tokenizer *tok, int32_t id) {
    size_t len;
    const char *b = tok_token_bytes(tok, id, &len);
    return len && is_space(b[0]);
}

static int ends_with(const Tokenizer *tok, int32_t id, int newline_only) {
    size_t len;
    const char *b = tok_token_bytes(tok, id, &len);
    return len && (newline_only ? b[len - 1] == '\n' : is_space(b[len - 1]));
}

void verb_set_free(VerbSet *s) {
    for (int i = 0; i < s->n; i++) {
        if (s->prompt) free(s->prompt[i]);
        if (s->truth) free(s->truth[i]);
        if (s->prompt_text) free(s->prompt_text[i]);
        if (s->truth_text) free(s->truth_text[i]);
    }
    free(s->at), free(s->prompt), free(s->truth), free(s->prompt_text), free(s->truth_text);
    memset(s, 0, sizeof *s);
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int verb_cut(VerbSet *s, const TokenStream *ds, const Tokenizer *tok, const VerbConfig *cfg,
             ObErr *err) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->vocab = tok->n_vocab;
    s->eot_id = tok->eot_id;
    if (cfg->n < 1 || cfg->prompt_tokens < 1 || cfg->gen_tokens < 1)
        return ob_errf(err, "verbmem: excerpts, prompt tokens and tokens must be >= 1");
    const int32_t *t = ds->tokens;
    size_t P = (size_t)cfg->prompt_tokens, G = (size_t)cfg->gen_tokens;
    size_t *cand = NULL, n_cand = 0, cap = 0;
    for (size_t a = 0; a < ds->n;) { /* each document [a, b) */
        if (t[a] == tok->eot_id) {
            a++;
            continue;
        }
        size_t b = a;
        while (b < ds->n && t[b] != tok->eot_id) b++;
        for (size_t p = a + P; p + G <= b; p++) {
            size_t q = p - P; /* the prompt's first token */
            if (!(q == a || starts_space(tok, t[q]) || ends_with(tok, t[q - 1], 1))) continue;
            if (!(starts_space(tok, t[p]) || ends_with(tok, t[p - 1], 0))) continue;
            if (ob_grow(&cand, &cap, n_cand + 1, sizeof *cand, 1024, "verbmem excerpts", err))
                return free(cand), -1;
            cand[n_cand++] = p;
        }
        a = b;
    }
    if (n_cand == 0)
        return ob_errf(err, "verbmem: no document holds %d prompt + %d true tokens",
                       cfg->prompt_tokens, cfg->gen_tokens);
    ObRng rng;
    ob_rng_seed(&rng, cfg->seed);
    size_t n = n_cand < (size_t)cfg->n ? n_cand : (size_t)cfg->n;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + (size_t)ob_rng_below(&rng, n_cand - i), tmp = cand[i];
        cand[i] = cand[j], cand[j] = tmp;
    }
    qsort(cand, n, sizeof *cand, cmp_size);
    s->n_candidates = (long)n_cand;
    s->at = cand; /* the first n are ours */
    s->prompt = ob_calloc(n, sizeof(int32_t *), "verbmem excerpts", err);
    s->truth = ob_calloc(n, sizeof(int32_t *), "verbmem excerpts", err);
    s->prompt_text = ob_calloc(n, sizeof(char *), "verbmem excerpts", err);
    s->truth_text = ob_calloc(n, sizeof(char *), "verbmem excerpts", err);
    s->n = (int)n; /* verb_set_free frees what exists */
    int rc = s->prompt && s->truth && s->prompt_text && s->truth_text ? 0 : -1;
    for (size_t i = 0; !rc && i < n; i++) {
        size_t p = cand[i];
        s->prompt[i] = ob_malloc(sizeof(int32_t) * (P + 1), "verbmem prompt", err);
        s->truth[i] = ob_malloc(sizeof(int32_t) * G, "verbmem truth", err);
        if (!s->prompt[i] || !s->truth[i]) {
            rc = -1;
            break;
        }
        s->prompt[i][0] = tok->eot_id;
        memcpy(s->prompt[i] + 1, t + p - P, sizeof(int32_t) * P);
        memcpy(s->truth[i], t + p, sizeof(int32_t) * G);
        rc = decode_valid(tok, t + p - P, P, &s->prompt_text[i], err) ||
             decode_valid(tok, t + p, G, &s->truth_text[i], err);
    }
    if (rc) verb_set_free(s);
    return rc ? -1 : 0;
}

void verb_results_free(VerbResult *res, int n) {
    for (int i = 0; res && i < n; i++) free(res[i].text), res[i].text = NULL;
}

int verb_generate(const Llama *m, const VerbSet *s, const Tokenizer *tok, VerbResult *res,
                  int *gen_tokens, ObErr *err) {
    memset(res, 0, sizeof(VerbResult) * (size_t)s->n);
    int P = s->cfg.prompt_tokens, G = s->cfg.gen_tokens, ctx = m->cfg.ctx_len;
    if (m->cfg.vocab != s->vocab || tok->n_vocab != s->vocab)
        return ob_errf(err, "model vocabulary %d differs from the verbmem excerpts' (%d)",
                       m->cfg.vocab, s->vocab);
    if (1 + P + G > ctx) G = ctx - 1 - P;
    if (G < 1)
        return ob_errf(err, "verbmem: 1 + %d prompt tokens leave no room in the model's context %d",
                       P, ctx);
    *gen_tokens = G;
    LlamaKV kv;
    float *logits = ob_malloc(sizeof(float) * (size_t)m->cfg.vocab, "logits", err);
    int32_t *buf = ob_malloc(sizeof(int32_t) * (size_t)G, "continuation", err);
    if (!logits || !buf || llama_kv_create(&kv, &m->cfg, 1 + P + G, 1 + P, err))
        return free(logits), free(buf), -1;
    int rc = 0;
    for (int i = 0; i < s->n && !rc; i++) {
        VerbResult *r = &res[i];
        char *truth = NULL;
        rc = greedy(m, &kv, tok, s->prompt[i], 1 + P, G, 0, logits, buf, &r->n_tokens, err) ||
             decode_valid(tok, buf, (size_t)r->n_tokens, &r->text, err);
        /* a shorter context scores against as much truth as was generated for */
        if (!rc && G < s->cfg.gen_tokens)
            rc = decode_valid(tok, s->truth[i], (size_t)G, &truth, err);
        if (!rc) rc = rouge_l(r->text, truth ? truth : s->truth_text[i], &r->score, err);
        free(truth);
        if (rc) ob_err_prefix(err, "verbmem excerpt %d", i + 1);
    }
    llama_kv_free(&kv);
    free(logits), free(buf);
    if (rc) verb_results_free(res, s->n);
    return rc ? -1 : 0;
}

double verb_mean_f1(const VerbResult *res, int n) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += res[i].score.f1;
    return n > 0 ? sum / n : 0.0;
}

/* ---- KnowMem ------------------------------------------------------------ */

void know_config_defaults(KnowConfig *c) {
    c->shots = 3;
    c->max_tokens = 32;
    c->seed = 1;
}

const JsonlField KNOW_JSONL_FIELDS[] = {
    {"question", JSONL_TEXT, 1},
    {"answer", JSONL_TEXT, 1},
    {NULL, 0, 0},
};

void know_set_free(KnowSet *s) {
    for (int i = 0; s->shots && i < s->n; i++) free(s->shots[i]);
    free(s->question), free(s->answer), free(s->shots), free(s->n_shots);
    memset(s, 0, sizeof *s);
}

int know_build(KnowSet *s, const JsonlFile *f, const KnowConfig *cfg, ObErr *err) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (cfg->shots < 0 || cfg->max_tokens < 1)
        return ob_errf(err, "knowmem: shots must be >= 0 and tokens >= 1");
    int n = f->n;
    s->question = ob_calloc((size_t)n, sizeof(char *), "questions", err);
    s->answer = ob_calloc((size_t)n, sizeof(char *), "questions", err);
    s->shots = ob_calloc((size_t)n, sizeof(int *), "questions", err);
    s->n_shots = ob_calloc((size_t)n, sizeof(int), "questions", err);
    int *cand = ob_malloc(sizeof(int) * (size_t)n, "questions", err);
    s->n = n, s->line = f->lines, s->source = f->path;
    if (!s->question || !s->answer || !s->shots || !s->n_shots || !cand)
        return free(cand), know_set_free(s), -1;
    for (int i = 0; i < n; i++) {
        s->question[i] = jsonl_str(f->items[i], "question", "");
        s->answer[i] = jsonl_str(f->items[i], "answer", "");
    }
    for (int i = 0; i < n; i++) {
        int nc = 0;
        for (int j = 0; j < n; j++)
            if (j != i && !strcasestr(s->question[j], s->answer[i]) &&
                !strcasestr(s->answer[j], s->answer[i]))
                cand[nc++] = j;
        int k = nc < cfg->shots ? nc : cfg->shots;
        if (!(s->shots[i] = ob_malloc(sizeof(int) * (size_t)(k ? k : 1), "examples", err)))
            return free(cand), know_set_free(s), -1;
        /* a generator per item: item i's examples do not depend on the others' */
        ObRng rng;
        ob_rng_seed(&rng, ob_hash64(cfg->seed) ^ ob_hash64((uint64_t)i + 1));
        for (int a = 0; a < k; a++) {
            int b = a + (int)ob_rng_below(&rng, (uint64_t)(nc - a)), t = cand[a];
            cand[a] = cand[b], cand[b] = t;
            s->shots[i][a] = cand[a];
        }
        s->n_shots[i] = k;
    }
    free(cand);
    return 0;
}

char *know_prompt(const KnowSet *s, int i, int shots, ObErr *err) {
    const int *ex = s->shots[i] + (s->n_shots[i] - shots);
    size_t len = strlen(s->question[i]) + 32;
    for (int a = 0; a < shots; a++)
        len += strlen(s->question[ex[a]]) + strlen(s->answer[ex[a]]) + 32;
    char *p = ob_malloc(len, "knowmem prompt", err);
    if (!p) return NULL;
    size_t k = 0;
    for (int a = 0; a < shots; a++)
        k += (size_t)snprintf(p + k, len - k, "Question: %s\nAnswer: %s\n\n", s->question[ex[a]],
                              s->answer[ex[a]]);
    snprintf(p + k, len - k, "Question: %s\nAnswer:", s->question[i]);
    return p;
}

/* The answer: from the first non-space character up to the next newline,
 * without trailing whitespace. */
static void trim_answer(char *s) {
    size_t a = 0;
    while (is_space(s[a])) a++;
    memmove(s, s + a, strlen(s + a) + 1);
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
    size_t len = strlen(s);
    while (len && is_space(s[len - 1])) s[--len] = 0;
}

void know_results_free(KnowResult *res, int n) {
    for (int i = 0; res && i < n; i++) free(res[i].answer), res[i].answer = NULL;
}

/* Encodes item i's prompt with as many of its examples as leave room for the
 * answer in the model's context. */
static int know_encode(const KnowSet *s, int i, const Tokenizer *tok, int ctx, int32_t **ids,
                       int *n_ids, int *shots, ObErr *err) {
    for (int k = s->n_shots[i]; k >= 0; k--) {
        char *text = know_prompt(s, i, k, err);
        int32_t *enc = NULL;
        size_t n = 0;
        int rc = !text || tok_encode(tok, text, strlen(text), &enc, &n, err);
        free(text);
        if (rc) return -1;
        if (1 + (long)n + s->cfg.max_tokens <= ctx) {
            int32_t *all = ob_malloc(sizeof(int32_t) * (n + 1), "knowmem prompt", err);
            if (!all) return free(enc), -1;
            all[0] = tok->eot_id;
            memcpy(all + 1, enc, sizeof(int32_t) * n);
            free(enc);
            *ids = all, *n_ids = (int)n + 1, *shots = k;
            return 0;
        }
        free(enc);
        if (k == 0)
            return ob_errf(err,
                           "%s:%d: question of %zu tokens + %d to generate exceed the "
                           "model's context %d",
                           s->source, s->line[i], n + 1, s->cfg.max_tokens, ctx);
    }
    return -1; /* not reached */
}

int know_generate(const Llama *m, const KnowSet *s, const Tokenizer *tok, KnowResult *res,
                  ObErr *err) {
    memset(res, 0, sizeof(KnowResult) * (size_t)s->n);
    if (m->cfg.vocab != tok->n_vocab)
        return ob_errf(err, "model vocabulary %d differs from the tokenizer's (%d)", m->cfg.vocab,
                       tok->n_vocab);
    int ctx = m->cfg.ctx_len, N = s->cfg.max_tokens;
    LlamaKV kv;
    float *logits = ob_malloc(sizeof(float) * (size_t)m->cfg.vocab, "logits", err);
    int32_t *buf = ob_malloc(sizeof(int32_t) * (size_t)N, "answer", err);
    if (!logits || !buf || llama_kv_create(&kv, &m->cfg, ctx, ctx, err))
        return free(logits), free(buf), -1;
    int rc = 0;
    for (int i = 0; i < s->n && !rc; i++) {
        KnowResult *r = &res[i];
        int32_t *ids = NULL;
        int n_ids = 0;
        rc = know_encode(s, i, tok, ctx, &ids, &n_ids, &r->shots, err) ||
             greedy(m, &kv, tok, ids, n_ids, N, 1, logits, buf, &r->n_tokens, err) ||
             decode_valid(tok, buf, (size_t)r->n_tokens, &r->answer, err);
        free(ids);
        if (!rc) {
            trim_answer(r->answer);
            rc = rouge_l(r->answer, s->answer[i], &r->score, err);
        }
    }
    llama_kv_free(&kv);
    free(logits), free(buf);
    if (rc) know_results_free(res, s->n);
    return rc ? -1 : 0;
}

void know_means(const KnowResult *res, int n, double *f1, double *recall) {
    double a = 0, b = 0;
    for (int i = 0; i < n; i++) a += res[i].score.f1, b += res[i].score.recall;
    *f1 = n > 0 ? a / n : 0.0;
    *recall = n > 0 ? b / n : 0.0;
}
