#include "eval/completion.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "model/sample.h"
#include "util/rng.h"

void comp_config_defaults(CompConfig *c) {
    c->n = 0;
    c->prompt_tokens = 48;
    c->completion_tokens = 24;
    c->max_lead = 8;
    c->seed = 1;
}

/* ---- words ------------------------------------------------------------ */

/* Length of the valid UTF-8 character at s (n bytes available) with its code
 * point in *cp, or 0 when the bytes are not one. */
static int utf8_char(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    int len;
    uint32_t v;
    if (c < 0x80) return *cp = c, 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, v = c & 0x07;
    else
        return 0;
    if ((size_t)len > n) return 0;
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[k] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return *cp = v, len;
}

/* A letter or digit (completion.h, "Words"). */
static int cp_is_word(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    if (c <= 0xBF || c == 0xD7 || c == 0xF7) return 0;
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
        (c >= 0xFE30 && c <= 0xFE4F) || c == 0xFEFF || (c >= 0xFF01 && c <= 0xFF0F) ||
        (c >= 0xFF1A && c <= 0xFF20) || (c >= 0x1F000 && c <= 0x1FAFF))
        return 0;
    return 1;
}

/* Is the character starting at offset o a letter/digit? (End of text: no; a
 * byte that starts no valid character: yes.) */
static int word_after(const char *text, size_t len, size_t o) {
    if (o >= len) return 0;
    uint32_t cp;
    int k = utf8_char((const unsigned char *)text + o, len - o, &cp);
    return k ? cp_is_word(cp) : 1;
}

/* Is the character ending just before offset o a letter/digit? */
static int word_before(const char *text, size_t o) {
    if (o == 0) return 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t j = o - 1;
    while (j > 0 && o - j < 4 && (s[j] & 0xC0) == 0x80) j--;
    uint32_t cp;
    int k = utf8_char(s + j, o - j, &cp);
    return k && (size_t)k == o - j ? cp_is_word(cp) : 1;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* End offset of key matched at text[i] (whitespace runs match any run), or
 * -1. */
static long match_at(const char *text, size_t len, size_t i, const char *key) {
    size_t t = i;
    const char *k = key;
    while (*k) {
        if (is_ws(*k)) {
            while (is_ws(*k)) k++;
            if (t >= len || !is_ws(text[t])) return -1;
            while (t < len && is_ws(text[t])) t++;
        } else {
            if (t >= len || text[t] != *k) return -1;
            t++, k++;
        }
    }
    return (long)t;
}

long comp_find_word(const char *text, size_t len, const char *key, size_t from, size_t min_end) {
    size_t klen = strlen(key);
    if (!klen) return -1;
    int word_start = word_after(key, klen, 0), word_end = word_before(key, klen);
    for (size_t i = from; i < len; i++) {
        if (text[i] != key[0]) continue;
        long end = match_at(text, len, i, key);
        if (end < 0 || (size_t)end <= min_end) continue;
        if (word_start && word_before(text, i)) continue;
        if (word_end && word_after(text, len, (size_t)end)) continue;
        return (long)i;
    }
    return -1;
}

/* ---- judging ---------------------------------------------------------- */

void comp_judgement_free(CompJudgement *j) {
    free(j->leaked), free(j->shared);
    memset(j, 0, sizeof *j);
}

int comp_judge(const AnchorDict *d, const char *prompt, const char *completion, CompJudgement *j,
               ObErr *err) {
    memset(j, 0, sizeof *j);
    size_t lp = strlen(prompt), lc = strlen(completion);
    char *joined = ob_malloc(lp + lc + 1, "completion text", err);
    j->leaked = ob_malloc(sizeof(int) * (size_t)(d->n ? d->n : 1), "leaked keys", err);
    j->shared = ob_malloc(sizeof(int) * (size_t)(d->n ? d->n : 1), "shared keys", err);
    if (!joined || !j->leaked || !j->shared) return free(joined), comp_judgement_free(j), -1;
    memcpy(joined, prompt, lp);
    memcpy(joined + lp, completion, lc + 1);
    for (int a = 0; a < d->n; a++) {
        const char *key = d->items[a].key;
        if (comp_find_word(joined, lp + lc, key, 0, lp) < 0) continue; /* not in the completion */
        if (comp_find_word(prompt, lp, key, 0, 0) >= 0)
            j->shared[j->n_shared++] = a;
        else
            j->leaked[j->n_leaked++] = a;
    }
    free(joined);
    j->cls = j->n_leaked ? COMP_UNIQUE : j->n_shared ? COMP_TYPICAL : COMP_NONE;
    return 0;
}

double comp_weighted_score(int unique, int typical, int n) {
    return n > 0 ? (5.0 * unique + 1.0 * typical) / n : 0.0;
}

void comp_summarise(const CompResult *res, int n, CompSummary *sum) {
    memset(sum, 0, sizeof *sum);
    sum->n = n;
    for (int i = 0; i < n; i++) {
        sum->unique += res[i].j.cls == COMP_UNIQUE;
        sum->typical += res[i].j.cls == COMP_TYPICAL;
    }
    sum->leak_rate = n > 0 ? (double)sum->unique / n : 0.0;
    sum->score = comp_weighted_score(sum->unique, sum->typical, n);
}

/* ---- cutting prompts -------------------------------------------------- */

typedef struct {
    size_t at, start;
} Cut;

static int cmp_cut(const void *a, const void *b) {
    size_t x = ((const Cut *)a)->at, y = ((const Cut *)b)->at;
    return (x > y) - (x < y);
}

/* Token p-1 and token p do not join letters/digits: a cut at p ends no
 * prompt inside a word or a character. */
static int cut_at_boundary(const Tokenizer *tok, const int32_t *t, size_t p) {
    size_t la, lb;
    const char *a = tok_token_bytes(tok, t[p - 1], &la), *b = tok_token_bytes(tok, t[p], &lb);
    char buf[8];
    size_t na = la < 4 ? la : 4, nb = lb < 4 ? lb : 4;
    memcpy(buf, a + la - na, na);
    memcpy(buf + na, b, nb);
    return !(word_before(buf, na) && word_after(buf, na + nb, na));
}

/* Can a prompt start at token q? It follows a newline or <|endoftext|> and
 * does not start with whitespace, or it is " " + something else. */
static int word_start(const Tokenizer *tok, const int32_t *t, size_t q) {
    size_t lq, lp;
    const char *s = tok_token_bytes(tok, t[q], &lq);
    if (t[q] == tok->eot_id || lq == 0) return 0;
    if (q == 0 || t[q - 1] == tok->eot_id) return !is_ws(s[0]);
    const char *prev = tok_token_bytes(tok, t[q - 1], &lp);
    if (lp && prev[lp - 1] == '\n' && !is_ws(s[0])) return 1;
    return lq >= 2 && s[0] == ' ' && !is_ws(s[1]);
}

void comp_set_free(CompSet *s) {
    for (int i = 0; i < s->n; i++) {
        if (s->ids) free(s->ids[i]);
        if (s->prompt) free(s->prompt[i]);
        if (s->truth) free(s->truth[i]);
    }
    free(s->ids), free(s->n_ids), free(s->start), free(s->at), free(s->key), free(s->lead);
    free(s->prompt), free(s->truth);
    memset(s, 0, sizeof *s);
}

/* Fills prompt i of s from the cut c. */
static int fill_prompt(CompSet *s, int i, const Cut *c, const TokenStream *ds, const Tokenizer *tok,
                       const AnchorDict *d, size_t key_at, ObErr *err) {
    const int32_t *t = ds->tokens;
    int n = (int)(c->at - c->start), form, len;
    size_t end = c->at, tlen;
    while (end < ds->n && end - c->at < (size_t)s->cfg.completion_tokens && t[end] != tok->eot_id)
        end++;
    if (!(s->ids[i] = ob_malloc(sizeof(int32_t) * (size_t)(n + 1), "prompt tokens", err)))
        return -1;
    s->ids[i][0] = tok->eot_id;
    memcpy(s->ids[i] + 1, t + c->start, sizeof(int32_t) * (size_t)n);
    s->n_ids[i] = n + 1;
    if (s->n_ids[i] > s->max_len) s->max_len = s->n_ids[i];
    s->start[i] = c->start;
    s->at[i] = c->at;
    s->key[i] = anchors_match(d, t, (int)ds->n, (int)key_at, &form, &len);
    s->lead[i] = (int)(key_at - c->at) + 1;
    if (tok_decode(tok, t + c->start, (size_t)n, &s->prompt[i], &tlen, err) ||
        tok_decode(tok, t + c->at, end - c->at, &s->truth[i], &tlen, err))
        return -1;
    return 0;
}

int comp_cut(CompSet *s, const TokenStream *ds, const Tokenizer *tok, const AnchorDict *d,
             const CompConfig *cfg, ObErr *err) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->vocab = tok->n_vocab;
    s->eot_id = tok->eot_id;
    if (cfg->n < 1 || cfg->prompt_tokens < 1 || cfg->completion_tokens < 1 || cfg->max_lead < 1)
        return ob_errf(err,
                       "completions: n, prompt tokens, completion tokens and lead must be >= 1");
    if (!d->tokenized || d->n_vocab != tok->n_vocab)
        return ob_errf(err, "completions: the anchor dictionary is not tokenized with this "
                            "tokenizer");
    if (ds->n > INT_MAX)
        return ob_errf(err, "completions: target of %zu tokens is too long", ds->n);
    const int32_t *t = ds->tokens;
    size_t N = ds->n, P = (size_t)cfg->prompt_tokens, min_len = (P + 1) / 2;
    size_t *next_key = ob_malloc(sizeof(size_t) * (N ? N : 1), "key positions", err);
    if (!next_key) return -1;
    /* next_key[p]: the first key start >= p in p's document (SIZE_MAX: none) */
    size_t next = SIZE_MAX;
    for (size_t i = N; i-- > 0;) {
        int form, len;
        if (t[i] == tok->eot_id)
            next = SIZE_MAX;
        else if (anchors_match(d, t, (int)N, (int)i, &form, &len) >= 0)
            next = i;
        next_key[i] = next;
    }
    Cut *cand = NULL;
    size_t n_cand = 0, cap = 0;
    long last_eot = -1; /* last <|endoftext|> before p */
    for (size_t p = 1; p < N; p++) {
        if (t[p - 1] == tok->eot_id) last_eot = (long)(p - 1);
        if (p < P || last_eot >= (long)(p - P)) continue; /* window crosses a document start */
        if (next_key[p] == SIZE_MAX || next_key[p] - p >= (size_t)cfg->max_lead) continue;
        if (!cut_at_boundary(tok, t, p)) continue;
        size_t q = p - P;
        while (q < p && !word_start(tok, t, q)) q++;
        if (p - q < min_len) continue;
        if (ob_grow(&cand, &cap, n_cand + 1, sizeof *cand, 1024, "completion prompts", err))
            return free(cand), free(next_key), -1;
        cand[n_cand++] = (Cut){p, q};
    }
    if (n_cand == 0) {
        free(cand), free(next_key);
        return ob_errf(err,
                       "completions: no place in the target where a key of the anchor "
                       "dictionary follows a %d-token prompt",
                       cfg->prompt_tokens);
    }
    /* n of them without replacement (partial Fisher-Yates), in text order */
    ObRng rng;
    ob_rng_seed(&rng, cfg->seed);
    size_t n = n_cand < (size_t)cfg->n ? n_cand : (size_t)cfg->n;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + (size_t)ob_rng_below(&rng, n_cand - i);
        Cut tmp = cand[i];
        cand[i] = cand[j], cand[j] = tmp;
    }
    qsort(cand, n, sizeof(Cut), cmp_cut);
    s->n_candidates = (long)n_cand;
    s->ids = ob_calloc(n, sizeof(int32_t *), "completion prompts", err);
    s->n_ids = ob_calloc(n, sizeof(int), "completion prompts", err);
    s->start = ob_calloc(n, sizeof(size_t), "completion prompts", err);
    s->at = ob_calloc(n, sizeof(size_t), "completion prompts", err);
    s->key = ob_calloc(n, sizeof(int), "completion prompts", err);
    s->lead = ob_calloc(n, sizeof(int), "completion prompts", err);
    s->prompt = ob_calloc(n, sizeof(char *), "completion prompts", err);
    s->truth = ob_calloc(n, sizeof(char *), "completion prompts", err);
    s->n = (int)n; /* comp_set_free frees what exists */
    int rc = s->ids && s->n_ids && s->start && s->at && s->key && s->lead && s->prompt && s->truth
                 ? 0
                 : -1;
    for (size_t i = 0; !rc && i < n; i++)
        rc = fill_prompt(s, (int)i, &cand[i], ds, tok, d, next_key[cand[i].at], err);
    free(cand), free(next_key);
    if (rc) comp_set_free(s);
    return rc ? -1 : 0;
}

/* ---- generating ------------------------------------------------------- */

void comp_results_free(CompResult *res, int n) {
    for (int i = 0; res && i < n; i++) {
        free(res[i].ids), free(res[i].text);
        comp_judgement_free(&res[i].j);
    }
}

int comp_generate(const Llama *m, const CompSet *s, const Tokenizer *tok, const AnchorDict *d,
                  CompResult *res, ObErr *err) {
    int V = m->cfg.vocab, T = s->cfg.completion_tokens;
    memset(res, 0, sizeof(CompResult) * (size_t)s->n);
    if (V != s->vocab || tok->n_vocab != s->vocab)
        return ob_errf(err, "model vocabulary %d differs from the completion prompts' (%d)", V,
                       s->vocab);
    for (int i = 0; i < s->n; i++)
        if (s->n_ids[i] + T > m->cfg.ctx_len)
            return ob_errf(err,
                           "completion prompt %d: %d tokens + %d to generate exceed the model's "
                           "context %d",
                           i + 1, s->n_ids[i], T, m->cfg.ctx_len);
    LlamaKV kv;
    float *logits = ob_malloc(sizeof(float) * (size_t)V, "logits", err);
    int32_t *buf = ob_malloc(sizeof(int32_t) * (size_t)T, "completion", err);
    if (!logits || !buf) return free(logits), free(buf), -1;
    if (llama_kv_create(&kv, &m->cfg, s->max_len + T, s->max_len, err))
        return free(logits), free(buf), -1;
    int rc = 0;
    for (int i = 0; i < s->n && !rc; i++) {
        CompResult *r = &res[i];
        size_t len;
        int n = 0;
        llama_kv_reset(&kv);
        rc = llama_eval(m, &kv, s->ids[i], s->n_ids[i], logits, 0, err);
        while (!rc) {
            int32_t next = sample_argmax(logits, V);
            if (next == s->eot_id) break;
            buf[n++] = next;
            if (n == T) break;
            rc = llama_eval(m, &kv, &next, 1, logits, 0, err);
        }
        if (!rc && !(r->ids = ob_malloc(sizeof(int32_t) * (size_t)(n ? n : 1), "completion", err)))
            rc = -1;
        if (!rc) {
            memcpy(r->ids, buf, sizeof(int32_t) * (size_t)n);
            r->n_tokens = n;
            rc = tok_decode(tok, buf, (size_t)n, &r->text, &len, err) ||
                 comp_judge(d, s->prompt[i], r->text, &r->j, err);
        }
        if (rc) ob_err_prefix(err, "completion prompt %d", i + 1);
    }
    llama_kv_free(&kv);
    free(logits), free(buf);
    if (rc) comp_results_free(res, s->n);
    return rc ? -1 : 0;
}
