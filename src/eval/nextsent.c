#include "eval/nextsent.h"

#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/rng.h"
#include "util/utf8.h"

void nextsent_config_defaults(NextSentConfig *c) {
    *c = (NextSentConfig){
        .n = 200, .choices = 4, .context = 2, .min_bytes = 20, .max_bytes = 300, .seed = 1};
}

/* ---- splitting ---- */

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Length of a closing quote or bracket at s (0 if none). */
static size_t closing_at(const char *s, const char *end) {
    if (s < end && (*s == '"' || *s == '\'' || *s == ')')) return 1;
    if (end - s >= 3 && (!memcmp(s, "\xE2\x80\x9D", 3) || !memcmp(s, "\xE2\x80\x99", 3))) return 3;
    return 0;
}

/* An uppercase letter or an opening quote at s. */
static int starts_sentence(const char *s, const char *end) {
    if (s >= end) return 0;
    if ((*s >= 'A' && *s <= 'Z') || *s == '"' || *s == '\'') return 1;
    return end - s >= 3 && (!memcmp(s, "\xE2\x80\x9C", 3) || !memcmp(s, "\xE2\x80\x98", 3));
}

/* The word ending right before the '.' at dot is an abbreviation or initial. */
static int abbreviation(const char *start, const char *dot) {
    const char *w = dot;
    while (w > start && ((w[-1] >= 'A' && w[-1] <= 'Z') || (w[-1] >= 'a' && w[-1] <= 'z'))) w--;
    size_t n = (size_t)(dot - w);
    if (n == 1 && *w >= 'A' && *w <= 'Z') return 1;
    const char *abbr[] = {"Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr"};
    for (size_t i = 0; i < sizeof abbr / sizeof abbr[0]; i++)
        if (strlen(abbr[i]) == n && !memcmp(w, abbr[i], n)) return 1;
    return 0;
}

/* A copy of s[0..n) with whitespace runs made one space, ends trimmed. */
static char *squeeze(const char *s, size_t n, ObErr *err) {
    char *d = ob_malloc(n + 1, "sentence", err);
    if (!d) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space(s[i])) {
            if (k > 0 && d[k - 1] != ' ') d[k++] = ' ';
        } else {
            d[k++] = s[i];
        }
    }
    while (k > 0 && d[k - 1] == ' ') k--;
    d[k] = 0;
    return d;
}

static int push(char ***out, int *n, int *cap, const char *s, size_t len, ObErr *err) {
    char *sent = squeeze(s, len, err);
    if (!sent) return -1;
    if (!sent[0]) return free(sent), 0;
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        char **p = realloc(*out, sizeof(char *) * (size_t)nc);
        if (!p) return free(sent), ob_errf(err, "out of memory at sentence %d", *n + 1);
        *out = p, *cap = nc;
    }
    (*out)[(*n)++] = sent;
    return 0;
}

int sentences_split(const char *text, size_t len, char ***out, int *n, ObErr *err) {
    *out = NULL, *n = 0;
    int cap = 0;
    const char *end = text + len, *start = text, *p = text;
    while (p < end) {
        const char *stop = NULL, *next = NULL;
        if (*p == '.' || *p == '!' || *p == '?') {
            const char *q = p;
            while (q < end && (*q == '.' || *q == '!' || *q == '?')) q++;
            for (size_t c; (c = closing_at(q, end));) q += c;
            const char *r = q;
            while (r < end && is_space(*r)) r++;
            if (r > q && starts_sentence(r, end) &&
                !(*p == '.' && q == p + 1 && abbreviation(start, p)))
                stop = q, next = r;
            else
                p = q - 1; /* a run of punctuation is looked at once */
        } else if (*p == '\n') {
            const char *r = p + 1;
            while (r < end && (*r == ' ' || *r == '\t' || *r == '\r')) r++;
            if (r < end && *r == '\n') stop = p, next = r + 1;
        }
        if (stop) {
            if (push(out, n, &cap, start, (size_t)(stop - start), err)) goto fail;
            start = p = next;
        } else {
            p++;
        }
    }
    if (push(out, n, &cap, start, (size_t)(end - start), err)) goto fail;
    return 0;
fail:
    sentences_free(*out, *n);
    *out = NULL, *n = 0;
    return -1;
}

void sentences_free(char **s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

/* ---- items ---- */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Draws k - 1 distractors for target t into pick (sentence indexes). */
static int draw_distractors(char *const *sent, const int *usable, int n_usable, int t,
                            const NextSentConfig *c, ObRng *rng, int *pick) {
    int got = 0;
    for (long tries = 0; got < c->choices - 1 && tries < 1000L * c->choices; tries++) {
        int j = usable[ob_rng_below(rng, (uint64_t)n_usable)];
        int ok = abs(j - t) > c->context && strcmp(sent[j], sent[t]);
        for (int g = 0; ok && g < got; g++) ok = pick[g] != j && strcmp(sent[pick[g]], sent[j]);
        if (ok) pick[got++] = j;
    }
    return got == c->choices - 1 ? 0 : -1;
}

static char *join_context(char *const *sent, int from, int to, ObErr *err) {
    size_t n = 1;
    for (int j = from; j < to; j++) n += strlen(sent[j]) + 1;
    char *s = ob_malloc(n, "context", err);
    if (!s) return NULL;
    s[0] = 0;
    for (int j = from; j < to; j++) {
        if (j > from) strcat(s, " ");
        strcat(s, sent[j]);
    }
    return s;
}

static int build_item(ChoiceSet *s, char *const *sent, const int *usable, int n_usable, int t,
                      const NextSentConfig *c, ObRng *rng, ObErr *err) {
    int pick[CHOICE_MAX];
    if (draw_distractors(sent, usable, n_usable, t, c, rng, pick))
        return ob_errf(err, "too few different sentences to draw %d distractors for sentence %d",
                       c->choices - 1, t + 1);
    int gold = (int)ob_rng_below(rng, (uint64_t)c->choices);
    char *ctx = join_context(sent, t - c->context > 0 ? t - c->context : 0, t, err);
    char *conts[CHOICE_MAX] = {0};
    const char *ctxs[CHOICE_MAX];
    int rc = ctx ? 0 : -1;
    for (int i = 0, g = 0; !rc && i < c->choices; i++) {
        const char *text = sent[i == gold ? t : pick[g++]];
        conts[i] = ob_malloc(strlen(text) + 2, "choice", err);
        if (!conts[i])
            rc = -1;
        else
            conts[i][0] = ' ', strcpy(conts[i] + 1, text);
        ctxs[i] = ctx;
    }
    if (!rc) rc = choice_add(s, ctxs, (const char *const *)conts, c->choices, gold, 0, err);
    for (int i = 0; i < c->choices; i++) free(conts[i]);
    free(ctx);
    return rc;
}

int nextsent_build(ChoiceSet *s, char *const *sent, int n_sent, const NextSentConfig *c,
                   const char *source, int *n_candidates, ObErr *err) {
    memset(s, 0, sizeof *s);
    *n_candidates = 0;
    if (c->n < 1 || c->choices < 2 || c->choices > CHOICE_MAX || c->context < 1)
        return ob_errf(err, "next-sentence items: n >= 1, 2..%d choices, context >= 1", CHOICE_MAX);
    s->layout = CHOICE_NEXT_SENTENCE;
    int *usable = malloc(sizeof(int) * (size_t)(n_sent + 1));
    int *cand = malloc(sizeof(int) * (size_t)(n_sent + 1));
    if (!usable || !cand) return free(usable), free(cand), ob_errf(err, "out of memory");
    int n_usable = 0, n_cand = 0;
    for (int j = 0; j < n_sent; j++) {
        size_t l = strlen(sent[j]);
        if (l < (size_t)c->min_bytes || l > (size_t)c->max_bytes) continue;
        usable[n_usable++] = j;
        if (j >= 1) cand[n_cand++] = j;
    }
    *n_candidates = n_cand;
    int rc = 0;
    if (n_usable < c->choices + 2 * c->context + 1)
        rc =
            ob_errf(err, "only %d sentences of %d..%d bytes; %d choices need at least %d", n_usable,
                    c->min_bytes, c->max_bytes, c->choices, c->choices + 2 * c->context + 1);
    ObRng rng;
    ob_rng_seed(&rng, c->seed);
    int n = c->n < n_cand ? c->n : n_cand;
    for (int i = 0; !rc && i < n; i++) { /* partial Fisher-Yates: the first n are the draw */
        int j = i + (int)ob_rng_below(&rng, (uint64_t)(n_cand - i));
        int tmp = cand[i];
        cand[i] = cand[j], cand[j] = tmp;
    }
    if (!rc) qsort(cand, (size_t)n, sizeof(int), cmp_int);
    for (int i = 0; !rc && i < n; i++)
        rc = build_item(s, sent, usable, n_usable, cand[i], c, &rng, err);
    if (!rc && source) {
        s->source = malloc(strlen(source) + 1);
        if (s->source)
            strcpy(s->source, source);
        else
            rc = ob_errf(err, "out of memory");
    }
    free(usable), free(cand);
    if (rc) {
        if (source) ob_err_prefix(err, "%s", source);
        choice_set_free(s);
    }
    return rc;
}

int nextsent_load(ChoiceSet *s, const char *path, const NextSentConfig *c, int *n_sentences,
                  int *n_candidates, ObErr *err) {
    char *text;
    size_t len;
    memset(s, 0, sizeof *s);
    if (ob_read_file(path, &text, &len, err)) return -1;
    size_t bad = utf8_invalid_at(text, len);
    if (bad < len) {
        free(text);
        return ob_errf(err, "%s: not UTF-8 (invalid byte at offset %zu)", path, bad);
    }
    char **sent;
    int rc = sentences_split(text, len, &sent, n_sentences, err);
    free(text);
    if (rc) return ob_err_prefix(err, "%s", path);
    rc = nextsent_build(s, sent, *n_sentences, c, path, n_candidates, err);
    sentences_free(sent, *n_sentences);
    return rc;
}
