#include "eval/mia.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double mia_min_k(double *logp, int n, double k) {
    int m = (int)floor(k * n + 1e-9);
    if (m < 1) m = 1;
    if (m > n) m = n;
    qsort(logp, (size_t)n, sizeof(double), cmp_double);
    double sum = 0;
    for (int i = 0; i < m; i++) sum += logp[i];
    return sum / m;
}

double mia_auc(const double *member, int n_member, const double *nonmember, int n_nonmember) {
    if (n_member <= 0 || n_nonmember <= 0) return NAN;
    /* every pair: a few hundred chunks per set make this instant, and it is
     * the definition itself */
    double wins = 0;
    for (int i = 0; i < n_member; i++)
        for (int j = 0; j < n_nonmember; j++)
            wins += member[i] > nonmember[j] ? 1.0 : member[i] == nonmember[j] ? 0.5 : 0.0;
    return wins / ((double)n_member * n_nonmember);
}

double mia_privleak(double auc, double auc_oracle) {
    if (!(auc_oracle != 0) || isnan(auc_oracle)) return NAN;
    return (auc - auc_oracle) / auc_oracle * 100.0;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int mia_chunks(const TokenStream *ds, int32_t eot_id, int len, int max, uint64_t seed,
               size_t **starts, int *n, int *n_available, ObErr *err) {
    *starts = NULL, *n = *n_available = 0;
    if (len < 2) return ob_errf(err, "membership chunks need at least 2 tokens, not %d", len);
    size_t count = 0, cap = 0, *s = NULL;
    for (size_t i = 0; i < ds->n;) {
        if (ds->tokens[i] == eot_id) {
            i++;
            continue;
        }
        size_t end = i; /* the document is [i, end) */
        while (end < ds->n && ds->tokens[end] != eot_id) end++;
        for (size_t p = i; p + (size_t)len <= end; p += (size_t)len) {
            if (ob_grow(&s, &cap, count + 1, sizeof *s, 256, "membership chunks", err))
                return free(s), -1;
            s[count++] = p;
        }
        i = end;
    }
    if (count == 0)
        return free(s), ob_errf(err, "no document holds %d tokens for a membership chunk", len);
    if (count > (size_t)1 << 30) return free(s), ob_errf(err, "too many membership chunks");
    size_t take = max > 0 && (size_t)max < count ? (size_t)max : count;
    if (take < count) {
        ObRng rng;
        ob_rng_seed(&rng, seed);
        for (size_t i = 0; i < take; i++) {
            size_t j = i + (size_t)ob_rng_below(&rng, count - i), t = s[i];
            s[i] = s[j], s[j] = t;
        }
        qsort(s, take, sizeof *s, cmp_size);
    }
    *starts = s, *n = (int)take, *n_available = (int)count;
    return 0;
}

int mia_score_chunks(const Llama *m, const int32_t *tokens, const size_t *starts, int n, int len,
                     double k, double *scores, ObErr *err) {
    int V = m->cfg.vocab;
    if (len > m->cfg.ctx_len)
        return ob_errf(err, "membership chunks of %d tokens exceed the model's context %d", len,
                       m->cfg.ctx_len);
    LlamaKV kv;
    float *logits = ob_malloc(sizeof(float) * (size_t)len * V, "logits", err);
    double *logp = ob_malloc(sizeof(double) * (size_t)len, "log-probabilities", err);
    if (!logits || !logp || llama_kv_create(&kv, &m->cfg, len, len, err))
        return free(logits), free(logp), -1;
    int rc = 0;
    for (int c = 0; c < n && !rc; c++) {
        const int32_t *t = tokens + starts[c];
        llama_kv_reset(&kv);
        if ((rc = llama_eval(m, &kv, t, len, logits, 1, err))) {
            ob_err_prefix(err, "membership chunk at token %zu", starts[c]);
            break;
        }
        for (int i = 1; i < len; i++) {
            const float *row = logits + (size_t)(i - 1) * V; /* predicts t[i] */
            double mx = row[0], sum = 0;
            for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < V; v++) sum += exp((double)row[v] - mx);
            logp[i - 1] = (double)row[t[i]] - mx - log(sum);
        }
        scores[c] = mia_min_k(logp, len - 1, k);
    }
    llama_kv_free(&kv);
    free(logits), free(logp);
    return rc ? -1 : 0;
}
