#include "eval/choice.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sample.h"

static const char *const LAYOUT_NAMES[] = {"hellaswag", "piqa",       "arc",
                                           "boolq",     "winogrande", "next_sentence"};

const char *choice_layout_name(ChoiceLayout l) {
    return l >= 0 && l <= CHOICE_NEXT_SENTENCE ? LAYOUT_NAMES[l] : "auto";
}

int choice_layout_parse(const char *name, ChoiceLayout *out) {
    if (!strcmp(name, "auto")) return *out = CHOICE_AUTO, 0;
    for (int l = 0; l < CHOICE_NEXT_SENTENCE; l++) /* next_sentence is never read */
        if (!strcmp(name, LAYOUT_NAMES[l])) return *out = (ChoiceLayout)l, 0;
    return -1;
}

ChoiceLayout choice_detect(const cJSON *rec) {
    const char *keys[] = {"endings", "goal", "answerKey", "passage", "option1"};
    for (int l = 0; l < 5; l++)
        if (cJSON_GetObjectItemCaseSensitive(rec, keys[l])) return (ChoiceLayout)l;
    return CHOICE_AUTO;
}

/* ---- items ---- */

static char *dup_str(const char *s, ObErr *err) {
    size_t n = strlen(s);
    char *d = ob_malloc(n + 1, "choice text", err);
    if (d) memcpy(d, s, n + 1);
    return d;
}

int choice_add(ChoiceSet *s, const char *const *ctx, const char *const *cont, int k, int gold,
               int line, ObErr *err) {
    if (k < 2 || k > CHOICE_MAX) return ob_errf(err, "%d choices (2..%d allowed)", k, CHOICE_MAX);
    if (gold < 0 || gold >= k) return ob_errf(err, "right choice %d out of range", gold);
    for (int i = 0; i < k; i++)
        if (!cont[i][0] || (cont[i][0] == ' ' && !cont[i][1]))
            return ob_errf(err, "choice %d is empty", i + 1);
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        ChoiceItem *it = realloc(s->items, sizeof(ChoiceItem) * (size_t)cap);
        if (!it) return ob_errf(err, "out of memory at item %d", s->n + 1);
        s->items = it, s->cap = cap;
    }
    ChoiceItem *it = &s->items[s->n];
    memset(it, 0, sizeof *it);
    it->ctx = ob_calloc((size_t)k, sizeof(char *), "choices", err);
    it->cont = it->ctx ? ob_calloc((size_t)k, sizeof(char *), "choices", err) : NULL;
    s->n++; /* choice_set_free frees what exists */
    if (!it->cont) return -1;
    it->k = k, it->gold = gold, it->line = line;
    for (int i = 0; i < k; i++)
        if (!(it->ctx[i] = dup_str(ctx[i], err)) || !(it->cont[i] = dup_str(cont[i], err)))
            return -1;
    return 0;
}

void choice_set_free(ChoiceSet *s) {
    for (int i = 0; i < s->n; i++) {
        for (int c = 0; c < s->items[i].k; c++) {
            if (s->items[i].ctx) free(s->items[i].ctx[c]);
            if (s->items[i].cont) free(s->items[i].cont[c]);
        }
        free(s->items[i].ctx), free(s->items[i].cont);
    }
    free(s->items);
    free(s->source);
    memset(s, 0, sizeof *s);
}

/* A growing string for building contexts. */
typedef struct {
    char *s;
    size_t n, cap;
    int failed;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

/* Appends the strings given (NULL ends the list). */
static void buf_cat(Buf *b, ...) {
    va_list ap;
    va_start(ap, b);
    for (const char *s; (s = va_arg(ap, const char *));) buf_add(b, s, strlen(s));
    va_end(ap);
}

/* Takes the string out of b (NULL, with err set, when out of memory). */
static char *buf_take(Buf *b, ObErr *err) {
    if (b->failed || !b->s) {
        free(b->s);
        memset(b, 0, sizeof *b);
        ob_errf(err, "out of memory building a choice");
        return NULL;
    }
    char *s = b->s;
    memset(b, 0, sizeof *b);
    return s;
}

static void strip(char *s) {
    size_t n = strlen(s), a = 0;
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    while (a < n && isspace((unsigned char)s[a])) a++;
    memmove(s, s + a, n - a);
    s[n - a] = 0;
}

void choice_hellaswag_clean(char *s) {
    strip(s);
    size_t r = 0, w = 0, n = strlen(s);
    for (; r < n;) { /* " [title]" -> ". " (never longer) */
        if (!strncmp(s + r, " [title]", 8)) {
            s[w++] = '.', s[w++] = ' ', r += 8;
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = 0;
    n = w, r = w = 0;
    for (; r < n;) { /* drop "[...]" up to the first "]" */
        const char *close = s[r] == '[' ? strchr(s + r, ']') : NULL;
        if (close)
            r = (size_t)(close - s) + 1;
        else
            s[w++] = s[r++];
    }
    s[w] = 0;
    n = w, r = w = 0;
    for (; r < n;) { /* "  " -> " ", non-overlapping, one pass */
        if (s[r] == ' ' && s[r + 1] == ' ') r++;
        s[w++] = s[r++];
    }
    s[w] = 0;
}

/* ---- the layouts ---- */

static const JsonlField HELLASWAG_FIELDS[] = {
    {"endings", JSONL_STRINGS, 1},
    {"label", JSONL_ANY, 1},
    {"ctx", JSONL_STRING, 0},
    {"ctx_a", JSONL_STRING, 0},
    {"ctx_b", JSONL_STRING, 0},
    {"activity_label", JSONL_STRING, 0},
    {NULL, 0, 0},
};
static const JsonlField PIQA_FIELDS[] = {
    {"goal", JSONL_TEXT, 1},
    {"sol1", JSONL_TEXT, 1},
    {"sol2", JSONL_TEXT, 1},
    {"label", JSONL_INT, 1},
    {NULL, 0, 0},
};
static const JsonlField ARC_FIELDS[] = {
    {"question", JSONL_TEXT, 1},
    {"choices", JSONL_OBJECT, 1},
    {"answerKey", JSONL_TEXT, 1},
    {NULL, 0, 0},
};
static const JsonlField BOOLQ_FIELDS[] = {
    {"passage", JSONL_TEXT, 1},
    {"question", JSONL_TEXT, 1},
    {"answer", JSONL_BOOL, 1},
    {NULL, 0, 0},
};
static const JsonlField WINOGRANDE_FIELDS[] = {
    {"sentence", JSONL_TEXT, 1},
    {"option1", JSONL_TEXT, 1},
    {"option2", JSONL_TEXT, 1},
    {"answer", JSONL_ANY, 1},
    {NULL, 0, 0},
};
static const JsonlField *const LAYOUT_FIELDS[] = {HELLASWAG_FIELDS, PIQA_FIELDS, ARC_FIELDS,
                                                  BOOLQ_FIELDS, WINOGRANDE_FIELDS};

/* An index given as an integer or a string of digits ("2"); -1 if neither. */
static int index_value(const cJSON *v) {
    if (cJSON_IsNumber(v))
        return v->valuedouble == floor(v->valuedouble) && v->valuedouble >= 0 &&
                       v->valuedouble < 1000
                   ? (int)v->valuedouble
                   : -1;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 3) return -1;
    for (const char *p = v->valuestring; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    return atoi(v->valuestring);
}

/* One record -> its k contexts (one text, or per choice), continuations and
 * the right index; strings are new (the caller frees them). */
typedef struct {
    int k, gold;
    char *ctx[CHOICE_MAX];
    char *cont[CHOICE_MAX];
} Parsed;

static void parsed_free(Parsed *p) {
    for (int i = 0; i < CHOICE_MAX; i++) free(p->ctx[i]), free(p->cont[i]);
    memset(p, 0, sizeof *p);
}

/* " " + text, optionally cleaned as HellaSwag's. */
static char *spaced(const char *text, int clean, ObErr *err) {
    Buf b = {0};
    buf_cat(&b, " ", text, NULL);
    char *s = buf_take(&b, err);
    if (s && clean) choice_hellaswag_clean(s + 1);
    return s;
}

/* Every choice gets the same context. */
static int same_ctx(Parsed *p, char *ctx, ObErr *err) {
    if (!ctx) return -1;
    p->ctx[0] = ctx;
    for (int i = 1; i < p->k; i++)
        if (!(p->ctx[i] = dup_str(ctx, err))) return -1;
    return 0;
}

static int parse_hellaswag(const cJSON *r, Parsed *p, ObErr *err) {
    const char *ctx = jsonl_str(r, "ctx", NULL), *a = jsonl_str(r, "ctx_a", NULL);
    const char *b = jsonl_str(r, "ctx_b", ""), *act = jsonl_str(r, "activity_label", "");
    if (!ctx && !a) return ob_errf(err, "needs field \"ctx\" or \"ctx_a\"");
    const cJSON *endings = cJSON_GetObjectItemCaseSensitive(r, "endings");
    p->k = cJSON_GetArraySize(endings);
    if (p->k < 2 || p->k > CHOICE_MAX)
        return ob_errf(err, "\"endings\" has %d entries (2..%d allowed)", p->k, CHOICE_MAX);
    p->gold = index_value(cJSON_GetObjectItemCaseSensitive(r, "label"));
    if (p->gold < 0 || p->gold >= p->k)
        return ob_errf(err, "\"label\" must be an index 0..%d (a number or a string)", p->k - 1);
    Buf q = {0};
    if (act[0]) buf_cat(&q, act, ": ", NULL);
    if (a) {
        buf_cat(&q, a, NULL);
        if (b[0]) {
            size_t at = q.n;
            buf_cat(&q, " ", b, NULL);
            for (size_t i = at + 1; !q.failed && i < q.n; i++) /* Python's capitalize() */
                q.s[i] = (char)(i == at + 1 ? toupper((unsigned char)q.s[i])
                                            : tolower((unsigned char)q.s[i]));
        }
    } else {
        buf_cat(&q, ctx, NULL);
    }
    char *query = buf_take(&q, err);
    if (query) choice_hellaswag_clean(query);
    if (same_ctx(p, query, err)) return -1;
    int i = 0;
    for (const cJSON *e = endings->child; e; e = e->next, i++) {
        if (!(p->cont[i] = spaced(e->valuestring, 1, err))) return -1;
        if (!p->cont[i][1]) return ob_errf(err, "ending %d is empty after clean-up", i + 1);
    }
    return 0;
}

static int parse_piqa(const cJSON *r, Parsed *p, ObErr *err) {
    p->k = 2;
    p->gold = jsonl_int(r, "label", -1);
    if (p->gold != 0 && p->gold != 1) return ob_errf(err, "\"label\" must be 0 or 1");
    Buf q = {0};
    buf_cat(&q, "Question: ", jsonl_str(r, "goal", ""), "\nAnswer:", NULL);
    if (same_ctx(p, buf_take(&q, err), err)) return -1;
    if (!(p->cont[0] = spaced(jsonl_str(r, "sol1", ""), 0, err)) ||
        !(p->cont[1] = spaced(jsonl_str(r, "sol2", ""), 0, err)))
        return -1;
    return 0;
}

static int parse_arc(const cJSON *r, Parsed *p, ObErr *err) {
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(r, "choices");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(ch, "text");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(ch, "label");
    const char *key = jsonl_str(r, "answerKey", "");
    if (!cJSON_IsArray(text) || !cJSON_IsArray(label))
        return ob_errf(err, "\"choices\" must hold arrays \"text\" and \"label\"");
    p->k = cJSON_GetArraySize(text);
    if (p->k != cJSON_GetArraySize(label))
        return ob_errf(err, "\"choices\" has %d texts but %d labels", p->k,
                       cJSON_GetArraySize(label));
    if (p->k < 2 || p->k > CHOICE_MAX)
        return ob_errf(err, "\"choices\" has %d entries (2..%d allowed)", p->k, CHOICE_MAX);
    p->gold = -1;
    int i = 0;
    for (const cJSON *t = text->child, *l = label->child; t; t = t->next, l = l->next, i++) {
        if (!cJSON_IsString(t) || !t->valuestring[0] || !cJSON_IsString(l))
            return ob_errf(err, "choice %d: \"text\" and \"label\" must be strings, text non-empty",
                           i + 1);
        if (!strcmp(l->valuestring, key) && p->gold < 0) p->gold = i;
    }
    if (p->gold < 0) return ob_errf(err, "\"answerKey\" \"%.40s\" is not among the labels", key);
    Buf q = {0};
    buf_cat(&q, "Question: ", jsonl_str(r, "question", ""), "\nAnswer:", NULL);
    if (same_ctx(p, buf_take(&q, err), err)) return -1;
    i = 0;
    for (const cJSON *t = text->child; t; t = t->next, i++)
        if (!(p->cont[i] = spaced(t->valuestring, 0, err))) return -1;
    return 0;
}

static int parse_boolq(const cJSON *r, Parsed *p, ObErr *err) {
    p->k = 2;
    p->gold = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "answer"));
    Buf q = {0};
    buf_cat(&q, jsonl_str(r, "passage", ""), "\nQuestion: ", jsonl_str(r, "question", ""),
            "?\nAnswer:", NULL);
    if (same_ctx(p, buf_take(&q, err), err)) return -1;
    if (!(p->cont[0] = dup_str(" no", err)) || !(p->cont[1] = dup_str(" yes", err))) return -1;
    return 0;
}

static int parse_winogrande(const cJSON *r, Parsed *p, ObErr *err) {
    const char *sent = jsonl_str(r, "sentence", "");
    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(r, "answer");
    int a = index_value(ans);
    if (a != 1 && a != 2) return ob_errf(err, "\"answer\" must be \"1\" or \"2\"");
    const char *blank = strchr(sent, '_');
    if (!blank) return ob_errf(err, "\"sentence\" has no \"_\" to fill");
    p->k = 2, p->gold = a - 1;
    const char *opt[2] = {jsonl_str(r, "option1", ""), jsonl_str(r, "option2", "")};
    for (int i = 0; i < 2; i++) {
        Buf c = {0};
        buf_add(&c, sent, (size_t)(blank - sent));
        buf_cat(&c, opt[i], NULL);
        if (!(p->ctx[i] = buf_take(&c, err))) return -1;
        char *rest = dup_str(blank + 1, err);
        if (!rest) return -1;
        strip(rest);
        p->cont[i] = rest[0] ? spaced(rest, 0, err) : NULL;
        int empty = !rest[0];
        free(rest);
        if (empty) return ob_errf(err, "nothing follows the \"_\" to score");
        if (!p->cont[i]) return -1;
    }
    return 0;
}

static int parse_record(ChoiceLayout l, const cJSON *r, Parsed *p, ObErr *err) {
    switch (l) {
    case CHOICE_HELLASWAG: return parse_hellaswag(r, p, err);
    case CHOICE_PIQA: return parse_piqa(r, p, err);
    case CHOICE_ARC: return parse_arc(r, p, err);
    case CHOICE_BOOLQ: return parse_boolq(r, p, err);
    case CHOICE_WINOGRANDE: return parse_winogrande(r, p, err);
    default: return ob_errf(err, "layout %s cannot be read from a file", choice_layout_name(l));
    }
}

int choice_from_jsonl(ChoiceSet *s, const JsonlFile *f, ChoiceLayout layout, ObErr *err) {
    memset(s, 0, sizeof *s);
    if (f->n == 0) return ob_errf(err, "%s: no records", f->path);
    if (layout == CHOICE_AUTO) layout = choice_detect(f->items[0]);
    if (layout == CHOICE_AUTO)
        return jsonl_errf(f, 0, err,
                          "cannot tell the layout from the fields (hellaswag: \"endings\", "
                          "piqa: \"goal\", arc: \"answerKey\", boolq: \"passage\", winogrande: "
                          "\"option1\"); name it with --choice-layout");
    if (layout < 0 || layout >= CHOICE_NEXT_SENTENCE)
        return ob_errf(err, "%s: layout %s cannot be read from a file", f->path,
                       choice_layout_name(layout));
    if (jsonl_check(f, LAYOUT_FIELDS[layout], err)) return -1;
    s->layout = layout;
    if (!(s->source = dup_str(f->path, err))) return -1;
    for (int i = 0; i < f->n; i++) {
        Parsed p = {0};
        int rc = parse_record(layout, f->items[i], &p, err);
        if (!rc)
            rc = choice_add(s, (const char *const *)p.ctx, (const char *const *)p.cont, p.k, p.gold,
                            f->lines[i], err);
        parsed_free(&p);
        if (rc) {
            ob_err_prefix(err, "%s:%d", f->path, f->lines[i]);
            return choice_set_free(s), -1;
        }
    }
    return 0;
}

int choice_load(ChoiceSet *s, const char *path, ChoiceLayout layout, ObErr *err) {
    JsonlFile f;
    memset(s, 0, sizeof *s);
    if (jsonl_load(&f, path, NULL, err)) return -1;
    int rc = choice_from_jsonl(s, &f, layout, err);
    jsonl_free(&f);
    return rc;
}

/* ---- encoding ---- */

/* Characters (UTF-8 code points) of s without one leading space. */
static int n_chars(const char *s) {
    int n = 0;
    for (const char *p = s + (s[0] == ' '); *p; p++) n += ((unsigned char)*p & 0xC0) != 0x80;
    return n > 0 ? n : 1;
}

/* ids = [eot] encode(ctx minus trailing whitespace) encode(that whitespace + cont). */
static int encode_pair(ChoiceEnc *e, int p, const Tokenizer *tok, const char *ctx, const char *cont,
                       ObErr *err) {
    size_t lc = strlen(ctx), cut = lc;
    while (cut > 0 && isspace((unsigned char)ctx[cut - 1])) cut--;
    Buf b = {0};
    buf_add(&b, ctx + cut, lc - cut);
    buf_cat(&b, cont, NULL);
    char *tail = buf_take(&b, err);
    int rc = !tail || tok_encode_pair(tok, ctx, cut, tail, strlen(tail), &e->ids[p], &e->n_ctx[p],
                                      &e->n_ids[p], err);
    if (!rc) {
        e->n_chars[p] = n_chars(cont);
        if (e->n_ids[p] > e->max_len) e->max_len = e->n_ids[p];
    }
    free(tail);
    return rc ? -1 : 0;
}

static int item_err(const ChoiceEnc *e, int i, ObErr *err) {
    if (e->source && e->line[i] > 0) return ob_err_prefix(err, "%s:%d", e->source, e->line[i]);
    if (e->source) return ob_err_prefix(err, "%s: item %d", e->source, i + 1);
    return ob_err_prefix(err, "item %d", i + 1);
}

int choice_encode(ChoiceEnc *e, const ChoiceSet *s, const Tokenizer *tok, ObErr *err) {
    memset(e, 0, sizeof *e);
    if (s->n <= 0) return ob_errf(err, "no multiple-choice items");
    int np = 0;
    for (int i = 0; i < s->n; i++) np += s->items[i].k;
    e->vocab = tok->n_vocab;
    e->first = ob_calloc((size_t)s->n + 1, sizeof(int), "choice items", err);
    e->gold = ob_calloc((size_t)s->n, sizeof(int), "choice items", err);
    e->line = ob_calloc((size_t)s->n, sizeof(int), "choice items", err);
    e->ids = ob_calloc((size_t)np, sizeof(int32_t *), "choice tokens", err);
    e->n_ids = ob_calloc((size_t)np, sizeof(int), "choice tokens", err);
    e->n_ctx = ob_calloc((size_t)np, sizeof(int), "choice tokens", err);
    e->n_chars = ob_calloc((size_t)np, sizeof(int), "choice tokens", err);
    e->n_items = s->n, e->n_pairs = np;
    if (s->source && !(e->source = dup_str(s->source, err))) return choice_enc_free(e), -1;
    if (!e->first || !e->gold || !e->line || !e->ids || !e->n_ids || !e->n_ctx || !e->n_chars)
        return choice_enc_free(e), -1;
    int p = 0;
    for (int i = 0; i < s->n; i++) {
        const ChoiceItem *it = &s->items[i];
        e->first[i] = p, e->gold[i] = it->gold, e->line[i] = it->line;
        for (int c = 0; c < it->k; c++, p++)
            if (encode_pair(e, p, tok, it->ctx[c], it->cont[c], err)) {
                item_err(e, i, err);
                return choice_enc_free(e), -1;
            }
    }
    e->first[s->n] = p;
    return 0;
}

void choice_enc_free(ChoiceEnc *e) {
    for (int p = 0; e->ids && p < e->n_pairs; p++) free(e->ids[p]);
    free(e->first), free(e->gold), free(e->line), free(e->ids), free(e->n_ids), free(e->n_ctx);
    free(e->n_chars), free(e->source);
    memset(e, 0, sizeof *e);
}

/* ---- scoring ---- */

static double row_logp(const float *row, int V, int32_t t) {
    float mx = row[sample_argmax(row, V)];
    double sum = 0;
    for (int v = 0; v < V; v++) sum += exp((double)row[v] - mx);
    return (double)row[t] - mx - log(sum);
}

int choice_score(const Llama *m, const ChoiceEnc *e, double *logp, int *n_truncated, ObErr *err) {
    int V = m->cfg.vocab, L = m->cfg.ctx_len;
    if (V != e->vocab)
        return ob_errf(err, "model vocabulary %d differs from the choices' tokenizer (%d)", V,
                       e->vocab);
    *n_truncated = 0;
    for (int i = 0; i < e->n_items; i++) {
        int cut = 0;
        for (int p = e->first[i]; p < e->first[i + 1]; p++) {
            if (e->n_ids[p] - e->n_ctx[p] > L - 1) {
                ob_errf(err, "choice %d has %d tokens, more than the model's context %d - 1",
                        p - e->first[i] + 1, e->n_ids[p] - e->n_ctx[p], L);
                return item_err(e, i, err);
            }
            cut |= e->n_ids[p] > L;
        }
        *n_truncated += cut;
    }
    int W = e->max_len < L ? e->max_len : L;
    LlamaKV kv;
    float *logits = ob_malloc(sizeof(float) * (size_t)W * V, "logits", err);
    if (!logits) return -1;
    if (llama_kv_create(&kv, &m->cfg, W, W, err)) return free(logits), -1;
    const int32_t *cached = NULL; /* the tokens now in the cache (kv.pos of them) */
    int rc = 0;
    for (int i = 0; i < e->n_items && !rc; i++)
        for (int p = e->first[i]; p < e->first[i + 1] && !rc; p++) {
            int off = e->n_ids[p] > L ? e->n_ids[p] - L : 0; /* cut from the left */
            const int32_t *w = e->ids[p] + off;
            int n = e->n_ids[p] - off, nc = e->n_ctx[p] - off;
            /* Reuse the cached prefix, but evaluate at least the context's last
             * token: its logits predict the continuation's first. Rows past
             * kv.pos are overwritten by the next llama_eval. */
            int common = 0;
            while (cached && common < kv.pos && common < n && cached[common] == w[common]) common++;
            kv.pos = common < nc - 1 ? common : nc - 1;
            int start = kv.pos;
            rc = llama_eval(m, &kv, w + start, n - start, logits, 1, err);
            if (rc) {
                item_err(e, i, err);
                break;
            }
            cached = w;
            double sum = 0;
            for (int t = nc; t < n; t++) /* row t-1-start predicts w[t] */
                sum += row_logp(logits + (size_t)(t - 1 - start) * V, V, w[t]);
            logp[p] = sum;
        }
    llama_kv_free(&kv);
    free(logits);
    return rc ? -1 : 0;
}

int choice_argmax(const double *x, int k) {
    int best = 0;
    for (int i = 1; i < k; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

void choice_predict(const double *logp, const int *n_chars, int k, int *pred, int *pred_norm) {
    double norm[CHOICE_MAX];
    for (int i = 0; i < k && i < CHOICE_MAX; i++) norm[i] = logp[i] / n_chars[i];
    *pred = choice_argmax(logp, k);
    *pred_norm = choice_argmax(norm, k < CHOICE_MAX ? k : CHOICE_MAX);
}

void choice_summarise(const ChoiceEnc *e, const double *logp, int truncated, ChoiceSummary *sum) {
    memset(sum, 0, sizeof *sum);
    sum->n = e->n_items;
    sum->truncated = truncated;
    if (e->n_items <= 0) return;
    int right = 0, right_norm = 0;
    for (int i = 0; i < e->n_items; i++) {
        int p0 = e->first[i], k = e->first[i + 1] - p0, pred, pred_norm;
        choice_predict(logp + p0, e->n_chars + p0, k, &pred, &pred_norm);
        right += pred == e->gold[i];
        right_norm += pred_norm == e->gold[i];
    }
    sum->acc = (double)right / e->n_items;
    sum->acc_norm = (double)right_norm / e->n_items;
}
