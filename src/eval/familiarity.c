#include "eval/familiarity.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/sample.h"
#include "util/dist.h"

const JsonlField FAM_JSONL_FIELDS[] = {
    {"prompt", JSONL_STRING, 1},
    {"continuation", JSONL_TEXT, 1},
    {NULL, 0, 0},
};

int fam_items_from_jsonl(const JsonlFile *f, FamItem **items, ObErr *err) {
    *items = ob_calloc((size_t)f->n, sizeof(FamItem), "familiarity items", err);
    if (!*items) return -1;
    for (int i = 0; i < f->n; i++) {
        (*items)[i].prompt = jsonl_str(f->items[i], "prompt", "");
        (*items)[i].continuation = jsonl_str(f->items[i], "continuation", "");
        (*items)[i].line = f->lines[i];
    }
    return 0;
}

/* "FILE:LINE: " or "item N: " in front of err's message. */
static int item_err(const FamSet *s, int i, ObErr *err) {
    if (s->source && s->line[i] > 0) return ob_err_prefix(err, "%s:%d", s->source, s->line[i]);
    return ob_err_prefix(err, "item %d", i + 1);
}

/* ids = [eot] encode(prompt) encode(continuation); flags a joint encoding
 * that differs. */
static int encode_item(FamSet *s, int i, const Tokenizer *tok, const FamItem *it, ObErr *err) {
    int32_t *j = NULL;
    size_t nj;
    size_t lp = strlen(it->prompt), lc = strlen(it->continuation);
    char *joined = ob_malloc(lp + lc + 1, "prompt", err);
    int rc = !joined || tok_encode_pair(tok, it->prompt, lp, it->continuation, lc, &s->ids[i],
                                        &s->n_prompt[i], &s->n_ids[i], err);
    if (!rc) {
        memcpy(joined, it->prompt, lp);
        memcpy(joined + lp, it->continuation, lc + 1);
        rc = tok_encode(tok, joined, lp + lc, &j, &nj, err);
    }
    if (!rc) {
        s->joint_differs[i] =
            nj + 1 != (size_t)s->n_ids[i] || memcmp(j, s->ids[i] + 1, sizeof(int32_t) * nj);
        if (s->n_ids[i] > s->max_len) s->max_len = s->n_ids[i];
    }
    free(joined), free(j);
    return rc ? -1 : 0;
}

int fam_encode(FamSet *s, const Tokenizer *tok, const FamItem *items, int n, const char *source,
               ObErr *err) {
    memset(s, 0, sizeof *s);
    if (n <= 0) return ob_errf(err, "no familiarity items");
    s->vocab = tok->n_vocab;
    s->ids = ob_calloc((size_t)n, sizeof(int32_t *), "familiarity tokens", err);
    s->n_ids = ob_calloc((size_t)n, sizeof(int), "familiarity tokens", err);
    s->n_prompt = ob_calloc((size_t)n, sizeof(int), "familiarity tokens", err);
    s->joint_differs = ob_calloc((size_t)n, sizeof(int), "familiarity tokens", err);
    s->line = ob_calloc((size_t)n, sizeof(int), "familiarity tokens", err);
    if (source && (s->source = ob_malloc(strlen(source) + 1, "file name", err)))
        strcpy(s->source, source);
    s->n = n; /* fam_set_free frees what exists */
    if (!s->ids || !s->n_ids || !s->n_prompt || !s->joint_differs || !s->line ||
        (source && !s->source))
        return fam_set_free(s), -1;
    for (int i = 0; i < n; i++) s->line[i] = items[i].line;
    for (int i = 0; i < n; i++)
        if (encode_item(s, i, tok, &items[i], err)) {
            item_err(s, i, err);
            return fam_set_free(s), -1;
        }
    return 0;
}

void fam_set_free(FamSet *s) {
    for (int i = 0; s->ids && i < s->n; i++) free(s->ids[i]);
    free(s->ids), free(s->n_ids), free(s->n_prompt), free(s->joint_differs), free(s->line);
    free(s->source);
    memset(s, 0, sizeof *s);
}

/* log-sum-exp of one logits row, in double. */
static double row_lse(const float *l, int V) {
    float mx = l[sample_argmax(l, V)];
    double sum = 0;
    for (int v = 0; v < V; v++) sum += exp((double)l[v] - mx);
    return mx + log(sum);
}

/* 1 + tokens ranked above t (a larger logit, or an equal one with a smaller
 * id, as greedy decoding breaks ties): rank 1 iff t is the argmax. */
static int token_rank(const float *l, int V, int32_t t) {
    int rank = 1;
    for (int v = 0; v < V; v++) rank += l[v] > l[t] || (l[v] == l[t] && v < t);
    return rank;
}

/* logits: (n_ids, V) for item i's tokens. */
static void score_item(const FamSet *s, int i, const float *logits, int V, FamResult *r) {
    const int32_t *ids = s->ids[i];
    int np = s->n_prompt[i], n = s->n_ids[i];
    memset(r, 0, sizeof *r);
    for (int p = np; p < n; p++) {
        const float *row = logits + (size_t)(p - 1) * V; /* predicts ids[p] */
        double lp = (double)row[ids[p]] - row_lse(row, V);
        r->logp += lp;
        if (p == np) {
            r->first_prob = exp(lp);
            r->first_token = ids[p];
            r->argmax = sample_argmax(row, V);
            r->first_rank = token_rank(row, V, ids[p]);
            r->first_is_argmax = r->argmax == ids[p];
        }
    }
    r->n_tokens = n - np;
    r->prob = exp(r->logp);
}

int fam_score(const Llama *m, const FamSet *s, FamResult *res, ObErr *err) {
    int V = m->cfg.vocab;
    if (V != s->vocab)
        return ob_errf(err, "model vocabulary %d differs from the prompts' tokenizer (%d)", V,
                       s->vocab);
    for (int i = 0; i < s->n; i++)
        if (s->n_ids[i] > m->cfg.ctx_len) {
            ob_errf(err, "prompt and continuation are %d tokens, more than the model's context %d",
                    s->n_ids[i], m->cfg.ctx_len);
            return item_err(s, i, err);
        }
    LlamaKV kv;
    float *logits = ob_malloc(sizeof(float) * (size_t)s->max_len * V, "logits", err);
    if (!logits) return -1;
    if (llama_kv_create(&kv, &m->cfg, s->max_len, s->max_len, err)) return free(logits), -1;
    int rc = 0;
    /* Under MPI item i is rank i % size's; each item is its own sequence, so
     * the gathered results are one process's bits. */
    for (int i = 0; i < s->n && !rc; i++) {
        if (!dist_owns((uint64_t)i)) continue;
        llama_kv_reset(&kv); /* each item is a fresh sequence */
        rc = llama_eval(m, &kv, s->ids[i], s->n_ids[i], logits, 1, err);
        if (rc)
            item_err(s, i, err);
        else
            score_item(s, i, logits, V, &res[i]);
    }
    llama_kv_free(&kv);
    free(logits);
    if (rc) return -1;
    return dist_allgather_items(res, sizeof *res, (size_t)s->n, err);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void fam_summarise(const FamResult *res, int n, FamSummary *sum) {
    memset(sum, 0, sizeof *sum);
    sum->n = n;
    if (n <= 0) return;
    int *ranks = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        sum->mean_prob += res[i].prob / n;
        sum->mean_logp += res[i].logp / n;
        sum->top1_share += (double)res[i].first_is_argmax / n;
        if (ranks) ranks[i] = res[i].first_rank;
    }
    if (ranks) {
        qsort(ranks, (size_t)n, sizeof(int), cmp_int);
        sum->median_rank = n % 2 ? ranks[n / 2] : 0.5 * (ranks[n / 2 - 1] + ranks[n / 2]);
    } else {
        sum->median_rank = NAN;
    }
    free(ranks);
}
