/* Model evidence: the target as one token stream, the model passes over
 * the windows that hold the scored occurrences, and the base model's
 * substitutes for terms that are not people. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "unlearn/extract_internal.h"
#include "util/log.h"
#include "util/progress.h"

typedef struct {
    int64_t q;      /* stream position whose logits predict the token */
    int32_t target; /* the token at q + 1 */
    int32_t cand;
    int topk;    /* collect the base model's substitutes here */
    float lp[2]; /* log p under base, reinforced */
} Need;

static int cmp_need(const void *a, const void *b) {
    const Need *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    return x->cand - y->cand;
}

typedef struct {
    int32_t *ids; /* the stream: per file eot, then its tokens */
    int64_t n;
    int64_t *file_start; /* stream index of each file's first token */
    int64_t **tok_byte;  /* per file: byte offset of each token, plus the end */
    int64_t *n_tok;
} Stream;

static void stream_free(Stream *s, int n_files) {
    free(s->ids);
    free(s->file_start);
    for (int f = 0; s->tok_byte && f < n_files; f++) free(s->tok_byte[f]);
    free(s->tok_byte);
    free(s->n_tok);
    memset(s, 0, sizeof *s);
}

static int build_stream(const Ctx *x, Stream *s, ObErr *err) {
    int nf = x->in->n_target;
    const Tokenizer *tok = x->in->tok;
    memset(s, 0, sizeof *s);
    s->file_start = ob_calloc((size_t)nf, sizeof *s->file_start, "tokens", err);
    s->tok_byte = ob_calloc((size_t)nf, sizeof *s->tok_byte, "tokens", err);
    s->n_tok = ob_calloc((size_t)nf, sizeof *s->n_tok, "tokens", err);
    if (!s->file_start || !s->tok_byte || !s->n_tok) return -1;
    for (int f = 0; f < nf; f++) {
        int32_t *ids;
        size_t n;
        if (tok_encode(tok, x->in->target[f].data, x->in->target[f].len, &ids, &n, err))
            return ob_err_prefix(err, "%s", x->in->target[f].name);
        int32_t *all = realloc(s->ids, (size_t)(s->n + (int64_t)n + 1) * sizeof *all);
        s->tok_byte[f] = malloc((n + 1) * sizeof **s->tok_byte);
        if (!all || !s->tok_byte[f]) {
            if (all) s->ids = all;
            free(ids);
            return ob_errf(err, "out of memory for the target's tokens");
        }
        s->ids = all;
        s->ids[s->n++] = tok->eot_id;
        s->file_start[f] = s->n;
        int64_t off = 0;
        for (size_t i = 0; i < n; i++) {
            size_t len;
            tok_token_bytes(tok, ids[i], &len);
            s->tok_byte[f][i] = off;
            off += (int64_t)len;
            s->ids[s->n++] = ids[i];
        }
        s->tok_byte[f][n] = off;
        s->n_tok[f] = (int64_t)n;
        free(ids);
    }
    return 0;
}

/* Stream index of the token holding byte `at` of file f. */
static int64_t token_at(const Stream *s, int f, int64_t at) {
    int64_t lo = 0, hi = s->n_tok[f] - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (s->tok_byte[f][mid] <= at)
            lo = mid;
        else
            hi = mid - 1;
    }
    return s->file_start[f] + lo;
}

/* Windows of T tokens starting every `stride`; window k answers for logits
 * positions [k stride + T - stride, (k + 1) stride + T - stride) (window 0
 * from 0), so each position it answers for has T - stride tokens before it
 * in the window. */
static int64_t window_of(int64_t q, int T, int stride) {
    int lead = T - stride;
    return q < T ? 0 : (q - lead) / stride;
}

typedef struct {
    int32_t id;
    float p;
} TopTok;

static void top_tokens(const float *logits, int V, float lse, TopTok *top, int k) {
    int n = 0;
    for (int v = 0; v < V; v++) {
        float l = logits[v];
        if (n == k && l <= top[k - 1].p) continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && top[j - 1].p < l) top[j] = top[j - 1], j--;
        top[j] = (TopTok){v, l};
    }
    for (int i = 0; i < n; i++) top[i].p = expf(top[i].p - lse);
}

/* Runs model m over the windows holding the needed positions: lp[which] of
 * each need, and (base) the top tokens of those that want substitutes. */
static int model_pass(Ctx *x, Llama *m, int which, const Stream *s, Need *need, int n_need,
                      TopTok *tops, int *top_index, ObErr *err) {
    int T = m->cfg.ctx_len < s->n ? m->cfg.ctx_len : (int)s->n;
    int stride = T - T / 8, B = x->c->batch > 0 ? x->c->batch : 8, V = m->cfg.vocab;
    if (T < 2) return 0;
    if (llama_alloc_batch(m, B, T, err)) return -1;
    int32_t *inp = ob_malloc((size_t)B * (size_t)T * sizeof *inp, "model input", err);
    int64_t *win = ob_malloc((size_t)B * sizeof *win, "windows", err);
    if (!inp || !win) return free(inp), free(win), -1;
    double t0 = ob_now(), t_print = t0;
    int done = 0;
    for (int i = 0; i < n_need;) {
        /* the next B distinct windows that hold needed positions */
        int nb = 0, j = i;
        while (j < n_need) {
            int64_t k = window_of(need[j].q, T, stride);
            if (nb && win[nb - 1] == k) {
                j++;
                continue;
            }
            if (nb == B) break;
            win[nb++] = k;
            j++;
        }
        for (int b = 0; b < B; b++) {
            int64_t st = (b < nb ? win[b] : win[0]) * stride;
            if (st + T > s->n) st = s->n - T;
            for (int t = 0; t < T; t++) inp[b * T + t] = s->ids[st + t];
        }
        llama_forward(m, inp, NULL, T, NULL);
        for (int r = i; r < j; r++) {
            int64_t k = window_of(need[r].q, T, stride), st = k * stride;
            if (st + T > s->n) st = s->n - T;
            int b = 0;
            while (win[b] != k) b++;
            const float *lg = m->acts.logits + ((size_t)b * T + (size_t)(need[r].q - st)) * V;
            float mx = lg[0];
            for (int v = 1; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
            double sum = 0;
            for (int v = 0; v < V; v++) sum += exp((double)(lg[v] - mx));
            float lse = mx + (float)log(sum);
            need[r].lp[which] = lg[need[r].target] - lse;
            if (which == 0 && need[r].topk)
                top_tokens(lg, V, lse, tops + (size_t)top_index[r] * SUBST_TOP, SUBST_TOP);
        }
        done += nb;
        i = j;
        if (x->c->verbose && (ob_now() - t_print > 2 || i == n_need)) {
            ob_logf("\rextract: %s model: %d windows, %.0f s", which ? "reinforced" : "base", done,
                    ob_now() - t0);
            t_print = ob_now();
        }
    }
    if (x->c->verbose) ob_logf("\n");
    free(inp);
    free(win);
    return 0;
}

/* The token's text when it is a space and a whole word of ASCII letters
 * (into buf), else NULL. */
static const char *token_word(const Tokenizer *tok, int32_t id, char *buf) {
    size_t len;
    const char *b = tok_token_bytes(tok, id, &len);
    if (!b || len < 3 || len > MAX_WORD || b[0] != ' ' || id == tok->eot_id) return NULL;
    for (size_t i = 1; i < len; i++)
        if (!is_upper((unsigned char)b[i]) && !is_lower((unsigned char)b[i])) return NULL;
    memcpy(buf, b + 1, len - 1);
    buf[len - 1] = 0;
    return buf;
}

/* Is w a prefix of some candidate key's first word? */
static int prefix_of_key(const Ctx *x, const char *w) {
    int lo = 0, hi = x->n_cand;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(x->key_firsts[mid], w) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < x->n_cand && !strncmp(x->key_firsts[lo], w, strlen(w));
}

static int accept_substitute(const Ctx *x, const Cand *k, const char *w) {
    int cap = is_upper((unsigned char)k->key[0]);
    char fold[MAX_WORD + 1], first[MAX_WORD + 1];
    if (cap && !ex_ascii_name(w)) return 0;
    for (const char *p = w; !cap && *p; p++)
        if (!is_lower((unsigned char)*p)) return 0;
    if (strlen(w) < 2) return 0;
    ex_norm_word(w, strlen(w), 1, fold);
    int32_t e = ex_word_find(&x->t, fold);
    if (e < 0) return 0;
    const WordEnt *we = &x->t.w[e];
    if ((we->flags & (F_STOP | F_ST)) || we->title) return 0;
    if (we->cnt[1][cap ? 0 : 1] < SUBST_MIN_G) return 0;
    if (cap && 2 * we->g_lead >= we->cnt[1][0]) return 0;                 /* "New" of "New York" */
    if (cap && we->is_name && (we->cnt[0][0] || we->cnt[0][1])) return 0; /* a name of T */
    size_t fl = strcspn(k->key, " ");
    if (fl > MAX_WORD) fl = MAX_WORD;
    memcpy(first, k->key, fl);
    first[fl] = 0;
    size_t wl = strlen(w);
    if (!strncmp(first, w, wl) || !strncmp(w, first, fl)) return 0;
    return !prefix_of_key(x, w);
}

static int add_subst(Cand *k, const char *w, double mass, ObErr *err) {
    for (int i = 0; i < k->n_sub; i++)
        if (!strcmp(k->sub[i].word, w)) return k->sub[i].mass += mass, 0;
    if (ob_grow(&k->sub, &k->cap_sub, (size_t)k->n_sub + 1, sizeof *k->sub, 8, "substitutes", err))
        return -1;
    k->sub[k->n_sub].word = strdup(w);
    if (!k->sub[k->n_sub].word) return ob_errf(err, "out of memory");
    k->sub[k->n_sub++].mass = mass;
    return 0;
}

static int cmp_subst(const void *a, const void *b) {
    const Subst *x = a, *y = b;
    if (x->mass != y->mass) return x->mass > y->mass ? -1 : 1;
    return strcmp(x->word, y->word);
}

/* Model evidence for the best candidates and substitutes for those that are
 * not people. */
int ex_model_evidence(Ctx *x, int n_scored, ExtractResult *r, ObErr *err) {
    const ExtractInput *in = x->in;
    Stream s;
    if (build_stream(x, &s, err)) return stream_free(&s, in->n_target), -1;
    int max_occ = x->c->max_occ > 0 ? x->c->max_occ : 32;
    size_t cap = (size_t)n_scored * (size_t)max_occ + 1;
    Need *need = ob_malloc(cap * sizeof *need, "model positions", err);
    if (!need) return stream_free(&s, in->n_target), -1;
    int n_need = 0, n_top = 0;
    for (int i = 0; i < n_scored; i++) {
        Cand *k = &x->cand[i];
        int m = k->n_occ < max_occ ? k->n_occ : max_occ, subs = 0;
        for (int j = 0; j < m; j++) {
            const Word *w = &x->tw[k->occ[(size_t)j * (size_t)k->n_occ / (size_t)m]];
            int64_t p = token_at(&s, w->file, w->start);
            if (p < 1) continue;
            int f = w->file;
            size_t len;
            const char *tb = tok_token_bytes(in->tok, s.ids[p], &len);
            int64_t tok_start = s.tok_byte[f][p - s.file_start[f]];
            int sp = tb && len > 1 && tb[0] == ' ' && tok_start + 1 == (int64_t)w->start;
            int want = !k->person && sp && subs < SUBST_OCC;
            subs += want;
            n_top += want;
            need[n_need++] = (Need){p - 1, s.ids[p], i, want, {0, 0}};
        }
        k->scored = 1;
    }
    qsort(need, (size_t)n_need, sizeof *need, cmp_need);
    TopTok *tops = ob_malloc((size_t)(n_top ? n_top : 1) * SUBST_TOP * sizeof *tops, "top", err);
    int *top_index = ob_malloc((size_t)(n_need ? n_need : 1) * sizeof *top_index, "top", err);
    int rc = tops && top_index ? 0 : -1;
    for (int i = 0, t = 0; !rc && i < n_need; i++) top_index[i] = need[i].topk ? t++ : -1;
    double t0 = ob_now();
    if (!rc) rc = model_pass(x, in->base, 0, &s, need, n_need, tops, top_index, err);
    if (!rc && in->reinforced)
        rc = model_pass(x, in->reinforced, 1, &s, need, n_need, tops, top_index, err);
    r->seconds_model = ob_now() - t0;
    for (int i = 0; !rc && i < n_need; i++) {
        Cand *k = &x->cand[need[i].cand];
        double e = in->reinforced ? (double)(need[i].lp[1] - need[i].lp[0]) : need[i].lp[0];
        k->e_sum += e;
        k->n_e++;
        if (!need[i].topk) continue;
        char buf[MAX_WORD + 1];
        const TopTok *tt = tops + (size_t)top_index[i] * SUBST_TOP;
        for (int j = 0; !rc && j < SUBST_TOP; j++) {
            const char *w = token_word(in->tok, tt[j].id, buf);
            if (w && accept_substitute(x, k, w)) rc = add_subst(k, w, tt[j].p, err);
        }
    }
    for (int i = 0; i < n_scored; i++) {
        Cand *k = &x->cand[i];
        if (k->n_sub) qsort(k->sub, (size_t)k->n_sub, sizeof *k->sub, cmp_subst);
        if (!in->reinforced && k->n_e)
            k->e_sum -= k->n_e * log(((double)k->yg + 0.5) / (double)(x->n_g > 0 ? x->n_g : 1));
    }
    free(tops);
    free(top_index);
    free(need);
    stream_free(&s, in->n_target);
    return rc;
}
