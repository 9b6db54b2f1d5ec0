/* `obliviate anchors check`: what an anchor dictionary will do — each key's
 * tokens in both forms, its values and theirs, how often the translation
 * replaces the key in the target, conflicts, and what pruning dropped.
 * `obliviate anchors extract`: proposes a dictionary from the target itself
 * (unlearn/extract.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/checkpoint.h"
#include "text/tokenizer_gguf.h"
#include "unlearn/anchors.h"
#include "unlearn/extract.h"
#include "util/fileio.h"
#include "util/utf8.h"

/* ---- what `check` finds ----------------------------------------------- */

typedef struct {
    int a, b, forms; /* key a's tokens are a prefix of key b's, in forms (bit f) */
} Prefix;

typedef struct {
    int a, v, n_keys;
    int *keys; /* keys matched inside value v of key a */
} ValueKey;

typedef struct {
    int32_t tok;
    int form, a, v;
} FirstTok;

typedef struct {
    long (*count)[2]; /* (n keys) matches in the target, per form */
    long target_tokens;
    int have_target;
    Prefix *prefix;
    int n_prefix;
    ValueKey *vkey;
    int n_vkey;
    FirstTok *first; /* every (value, form), sorted by (form, token, key, value) */
    int n_first;
} Check;

static void check_free(Check *c) {
    free(c->count);
    free(c->prefix);
    for (int i = 0; i < c->n_vkey; i++) free(c->vkey[i].keys);
    free(c->vkey);
    free(c->first);
}

/* Counts key matches in one target file, scanning as the translation does. */
static int count_file(const AnchorDict *d, const Tokenizer *tok, const char *path, Check *c,
                      ObErr *err) {
    char *text;
    size_t len, n;
    if (ob_read_file(path, &text, &len, err)) return -1;
    size_t bad = utf8_invalid_at(text, len);
    if (bad < len) {
        free(text);
        return ob_errf(err, "%s: not UTF-8 (invalid byte at offset %zu)", path, bad);
    }
    int32_t *ids;
    int rc = tok_encode(tok, text, len, &ids, &n, err);
    free(text);
    if (rc) return ob_err_prefix(err, "%s", path);
    if (n > 0x7fffffff) {
        free(ids);
        return ob_errf(err, "%s: too long (%zu tokens)", path, n);
    }
    for (int i = 0; i < (int)n;) {
        int form, k, a = anchors_match(d, ids, (int)n, i, &form, &k);
        if (a >= 0) c->count[a][form]++;
        i += a >= 0 ? k : 1;
    }
    c->target_tokens += (long)n;
    free(ids);
    return 0;
}

/* Keys whose tokens are a prefix of another key's (same form, so same
 * first token: the index bucket holds them, longest first). */
static int find_prefixes(const AnchorDict *d, Check *c, ObErr *err) {
    int cap = 0;
    for (int a = 0; a < d->n; a++)
        for (int f = 0; f < 2; f++) {
            const TokSeq *s = &d->items[a].key_tok[f];
            int t = s->ids[0];
            for (int k = d->first_start[t]; k < d->first_start[t + 1]; k++) {
                int e = d->first_list[k], b = e >> 1;
                const TokSeq *o = &d->items[b].key_tok[e & 1];
                if (b == a || (e & 1) != f || o->n <= s->n ||
                    memcmp(o->ids, s->ids, (size_t)s->n * sizeof *s->ids))
                    continue;
                int j = 0;
                while (j < c->n_prefix && (c->prefix[j].a != a || c->prefix[j].b != b)) j++;
                if (j == c->n_prefix) {
                    if (c->n_prefix == cap) {
                        cap = cap ? 2 * cap : 16;
                        Prefix *p = realloc(c->prefix, (size_t)cap * sizeof *p);
                        if (!p) return ob_errf(err, "out of memory");
                        c->prefix = p;
                    }
                    c->prefix[c->n_prefix++] = (Prefix){a, b, 0};
                }
                c->prefix[j].forms |= 1 << f;
            }
        }
    return 0;
}

/* Values in which a key matches (a value equal to a key included). */
static int find_value_keys(const AnchorDict *d, Check *c, ObErr *err) {
    int cap = 0;
    for (int a = 0; a < d->n; a++)
        for (int v = 0; v < d->items[a].n_values; v++) {
            int *keys = NULL, nk = 0;
            for (int f = 0; f < 2; f++) {
                const TokSeq *s = &d->items[a].val_tok[f][v];
                for (int i = 0; i < s->n;) {
                    int form, len, b = anchors_match(d, s->ids, s->n, i, &form, &len);
                    i += b >= 0 ? len : 1;
                    int j = 0;
                    while (b >= 0 && j < nk && keys[j] != b) j++;
                    if (b < 0 || j < nk) continue;
                    int *k2 = realloc(keys, (size_t)(nk + 1) * sizeof *k2);
                    if (!k2) return free(keys), ob_errf(err, "out of memory");
                    keys = k2;
                    keys[nk++] = b;
                }
            }
            if (!nk) continue;
            if (c->n_vkey == cap) {
                cap = cap ? 2 * cap : 16;
                ValueKey *p = realloc(c->vkey, (size_t)cap * sizeof *p);
                if (!p) return free(keys), ob_errf(err, "out of memory");
                c->vkey = p;
            }
            c->vkey[c->n_vkey++] = (ValueKey){a, v, nk, keys};
        }
    return 0;
}

static int cmp_first(const void *x, const void *y) {
    const FirstTok *p = x, *q = y;
    if (p->form != q->form) return p->form - q->form;
    if (p->tok != q->tok) return p->tok < q->tok ? -1 : 1;
    if (p->a != q->a) return p->a - q->a;
    return p->v - q->v;
}

static int collect_first_tokens(const AnchorDict *d, Check *c, ObErr *err) {
    int n = 0;
    for (int a = 0; a < d->n; a++) n += 2 * d->items[a].n_values;
    c->first = ob_malloc((size_t)n * sizeof *c->first, "first tokens", err);
    if (!c->first) return -1;
    for (int a = 0; a < d->n; a++)
        for (int v = 0; v < d->items[a].n_values; v++)
            for (int f = 0; f < 2; f++)
                c->first[c->n_first++] = (FirstTok){d->items[a].val_tok[f][v].ids[0], f, a, v};
    qsort(c->first, (size_t)c->n_first, sizeof *c->first, cmp_first);
    return 0;
}

/* End of the run of equal (form, token) starting at i; *shared: whether the
 * run holds values of more than one key (a collision). */
static int first_run(const Check *c, int i, int *shared) {
    int j = i + 1;
    *shared = 0;
    while (j < c->n_first && c->first[j].form == c->first[i].form &&
           c->first[j].tok == c->first[i].tok) {
        *shared |= c->first[j].a != c->first[i].a;
        j++;
    }
    return j;
}

static int run_check(const AnchorDict *d, const Tokenizer *tok, const char *const *targets,
                     int n_targets, Check *c, ObErr *err) {
    memset(c, 0, sizeof *c);
    c->count = ob_calloc((size_t)d->n, sizeof *c->count, "counts", err);
    if (!c->count) return -1;
    c->have_target = n_targets > 0;
    for (int i = 0; i < n_targets; i++)
        if (count_file(d, tok, targets[i], c, err)) return -1;
    return find_prefixes(d, c, err) || find_value_keys(d, c, err) || collect_first_tokens(d, c, err)
               ? -1
               : 0;
}

/* ---- JSON output ------------------------------------------------------ */

static cJSON *tokens_json(const Tokenizer *tok, const TokSeq *s) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < s->n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(tok->tokens[s->ids[i]]));
    return arr;
}

static cJSON *forms_json(const Tokenizer *tok, const TokSeq *f0, const TokSeq *f1) {
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, tokens_json(tok, f0));
    cJSON_AddItemToArray(arr, tokens_json(tok, f1));
    return arr;
}

static cJSON *key_value_json(const AnchorDict *d, int a, int v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", d->items[a].key);
    cJSON_AddStringToObject(o, "value", d->items[a].values[v]);
    return o;
}

static cJSON *check_json(const AnchorDict *d, const Tokenizer *tok, const Check *c,
                         const char *dict_path) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dict", dict_path);
    cJSON_AddNumberToObject(root, "keys", d->n);
    cJSON_AddNumberToObject(root, "dropped", d->n_dropped);
    if (c->have_target) cJSON_AddNumberToObject(root, "target_tokens", (double)c->target_tokens);
    cJSON *anchors = cJSON_AddArrayToObject(root, "anchors");
    for (int a = 0; a < d->n; a++) {
        const Anchor *an = &d->items[a];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", an->key);
        cJSON_AddItemToObject(o, "tokens", forms_json(tok, &an->key_tok[0], &an->key_tok[1]));
        if (c->have_target) {
            double cnt[2] = {(double)c->count[a][0], (double)c->count[a][1]};
            cJSON_AddItemToObject(o, "count", cJSON_CreateDoubleArray(cnt, 2));
        }
        cJSON *vals = cJSON_AddArrayToObject(o, "values");
        for (int v = 0; v < an->n_values; v++) {
            cJSON *vo = cJSON_CreateObject();
            cJSON_AddStringToObject(vo, "value", an->values[v]);
            cJSON_AddItemToObject(vo, "tokens",
                                  forms_json(tok, &an->val_tok[0][v], &an->val_tok[1][v]));
            cJSON_AddItemToArray(vals, vo);
        }
        cJSON_AddItemToArray(anchors, o);
    }
    cJSON *pruned = cJSON_AddArrayToObject(root, "pruned");
    for (const char *p = d->dropped_report; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, n);
        cJSON_AddItemToArray(pruned, cJSON_CreateString(line ? line : ""));
        free(line);
        p += n + (nl != NULL);
    }
    cJSON *conf = cJSON_AddObjectToObject(root, "conflicts");
    cJSON *pre = cJSON_AddArrayToObject(conf, "prefix");
    for (int i = 0; i < c->n_prefix; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", d->items[c->prefix[i].a].key);
        cJSON_AddStringToObject(o, "longer", d->items[c->prefix[i].b].key);
        cJSON *forms = cJSON_AddArrayToObject(o, "forms");
        for (int f = 0; f < 2; f++)
            if (c->prefix[i].forms >> f & 1) cJSON_AddItemToArray(forms, cJSON_CreateNumber(f));
        cJSON_AddItemToArray(pre, o);
    }
    if (c->have_target) {
        cJSON *unused = cJSON_AddArrayToObject(conf, "unused");
        for (int a = 0; a < d->n; a++)
            if (!c->count[a][0] && !c->count[a][1])
                cJSON_AddItemToArray(unused, cJSON_CreateString(d->items[a].key));
    }
    cJSON *vk = cJSON_AddArrayToObject(conf, "value_is_key");
    for (int i = 0; i < c->n_vkey; i++) {
        cJSON *o = key_value_json(d, c->vkey[i].a, c->vkey[i].v);
        cJSON *keys = cJSON_AddArrayToObject(o, "keys");
        for (int k = 0; k < c->vkey[i].n_keys; k++)
            cJSON_AddItemToArray(keys, cJSON_CreateString(d->items[c->vkey[i].keys[k]].key));
        cJSON_AddItemToArray(vk, o);
    }
    cJSON *ft = cJSON_AddArrayToObject(conf, "first_token");
    for (int i = 0, j, shared; i < c->n_first; i = j) {
        j = first_run(c, i, &shared);
        if (!shared) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "form", c->first[i].form);
        cJSON_AddStringToObject(o, "token", tok->tokens[c->first[i].tok]);
        cJSON *vals = cJSON_AddArrayToObject(o, "values");
        for (int k = i; k < j; k++)
            cJSON_AddItemToArray(vals, key_value_json(d, c->first[k].a, c->first[k].v));
        cJSON_AddItemToArray(ft, o);
    }
    return root;
}

/* ---- table output ----------------------------------------------------- */

static void print_tokens(const Tokenizer *tok, const TokSeq *s) {
    putchar('[');
    for (int i = 0; i < s->n; i++) printf("%s%s", i ? " " : "", tok->tokens[s->ids[i]]);
    putchar(']');
}

static void print_check(const AnchorDict *d, const Tokenizer *tok, const Check *c,
                        const char *dict_path) {
    printf("%s: %d keys, %d dropped by pruning", dict_path, d->n, d->n_dropped);
    if (c->have_target) printf("; target: %ld tokens", c->target_tokens);
    printf("\ntokens: [form 0: start of text, after a newline or quote] "
           "[form 1: after a space]%s\n\n",
           c->have_target ? "; count: replacements in the target, form 0 + form 1" : "");
    for (int a = 0; a < d->n; a++) {
        const Anchor *an = &d->items[a];
        printf("\"%s\"  ", an->key);
        print_tokens(tok, &an->key_tok[0]);
        putchar(' ');
        print_tokens(tok, &an->key_tok[1]);
        if (c->have_target) printf("  count %ld + %ld", c->count[a][0], c->count[a][1]);
        putchar('\n');
        for (int v = 0; v < an->n_values; v++) {
            printf("    -> \"%s\"  ", an->values[v]);
            print_tokens(tok, &an->val_tok[0][v]);
            putchar(' ');
            print_tokens(tok, &an->val_tok[1][v]);
            putchar('\n');
        }
    }
    printf("\ndropped by pruning:%s\n", d->n_dropped ? "" : " none");
    for (const char *p = d->dropped_report; p && *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("  %.*s\n", n, p);
        p += n + (nl != NULL);
    }
    printf("\nconflicts:\n");
    int any = 0;
    for (int i = 0; i < c->n_prefix; i++, any = 1)
        printf("  prefix: \"%s\" is a token prefix of \"%s\" (form%s %s); the longer key wins\n",
               d->items[c->prefix[i].a].key, d->items[c->prefix[i].b].key,
               c->prefix[i].forms == 3 ? "s" : "",
               c->prefix[i].forms == 3   ? "0, 1"
               : c->prefix[i].forms == 1 ? "0"
                                         : "1");
    for (int a = 0; c->have_target && a < d->n; a++)
        if (!c->count[a][0] && !c->count[a][1])
            printf("  unused: \"%s\" never occurs in the target\n", d->items[a].key), any = 1;
    for (int i = 0; i < c->n_vkey; i++, any = 1) {
        const ValueKey *v = &c->vkey[i];
        printf("  value is a key: \"%s\" -> \"%s\" contains the key%s", d->items[v->a].key,
               d->items[v->a].values[v->v], v->n_keys > 1 ? "s" : "");
        for (int k = 0; k < v->n_keys; k++)
            printf("%s \"%s\"", k ? "," : "", d->items[v->keys[k]].key);
        putchar('\n');
    }
    for (int i = 0, j, shared; i < c->n_first; i = j) {
        j = first_run(c, i, &shared);
        if (!shared) continue;
        any = 1;
        printf("  shared first token %s (form %d), forbidden once one is used:",
               tok->tokens[c->first[i].tok], c->first[i].form);
        for (int k = i; k < j; k++)
            printf("%s \"%s\" -> \"%s\"", k > i ? "," : "", d->items[c->first[k].a].key,
                   d->items[c->first[k].a].values[c->first[k].v]);
        putchar('\n');
    }
    if (!any) printf("  none\n");
}

/* ---- the commands ----------------------------------------------------- */

static int anchors_check(int argc, char **argv) {
    const char *dict = NULL, *tok_path = NULL;
    StrList target = {{0}, 0};
    int json = 0;
    Opt opts[] = {
        {"--dict", OPT_STR, &dict, "anchor dictionary: JSON object or JSON Lines, required"},
        {"--tokenizer", OPT_STR, &tok_path, "tokenizer or model GGUF file, required"},
        {"--target", OPT_LIST, &target, "target text file (repeatable; also as FILE...)"},
        {"--json", OPT_FLAG, &json, "print JSON instead of a table"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {"anchors check",
                   "--dict FILE --tokenizer TOK.gguf [--target TEXT]... [TEXT...]",
                   "Shows what an anchor dictionary will do: each key's tokens in both forms "
                   "(form 0 at the start of a text or after a newline or quote, form 1 after a "
                   "space), its values and theirs, how often the translation replaces the key "
                   "in the target texts, what pruning dropped, and conflicts: keys that are "
                   "token prefixes of other keys, keys never in the target, values containing "
                   "keys, and values of different keys sharing a first token (the "
                   "forbidden-token rule makes them exclude each other).",
                   "obliviate anchors check --dict anchors.json --tokenizer tok.gguf "
                   "--target target.txt",
                   opts,
                   0,
                   -1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc) return free(pos), rc == 1 ? 0 : rc;
    if (!dict || !tok_path)
        return free(pos), cli_fail(cmd.name, "--dict and --tokenizer are required");
    const char **targets = calloc((size_t)(target.n + n_pos) + 1, sizeof *targets);
    if (!targets) return free(pos), cli_fail(cmd.name, "out of memory");
    for (int i = 0; i < target.n; i++) targets[i] = target.items[i];
    for (int i = 0; i < n_pos; i++) targets[target.n + i] = pos[i];
    AnchorDict d = {0};
    Tokenizer tok = {0};
    Check c = {0};
    ObErr err;
    rc = anchors_load(&d, dict, &err) || tokenizer_load(&tok, tok_path, &err) ||
         anchors_tokenize(&d, &tok, &err) ||
         run_check(&d, &tok, targets, target.n + n_pos, &c, &err);
    if (rc) {
        rc = cli_fail(cmd.name, err.msg);
    } else if (json) {
        print_json(check_json(&d, &tok, &c, dict));
    } else {
        print_check(&d, &tok, &c, dict);
    }
    check_free(&c);
    if (tok.impl) tok_free(&tok);
    anchors_free(&d);
    free(targets);
    free(pos);
    return rc;
}

/* ---- extract ---------------------------------------------------------- */

typedef struct {
    ExtractText *texts;
    char **data;
    int n;
} Texts;

static void texts_free(Texts *t) {
    for (int i = 0; i < t->n; i++) free(t->data[i]);
    free(t->data);
    free(t->texts);
    memset(t, 0, sizeof *t);
}

/* Reads the files of a list (UTF-8 each). */
static int read_texts(const StrList *l, Texts *t, ObErr *err) {
    memset(t, 0, sizeof *t);
    t->texts = calloc((size_t)l->n + 1, sizeof *t->texts);
    t->data = calloc((size_t)l->n + 1, sizeof *t->data);
    if (!t->texts || !t->data) return ob_errf(err, "out of memory");
    for (int i = 0; i < l->n; i++) {
        size_t len;
        if (ob_read_file(l->items[i], &t->data[i], &len, err)) return -1;
        t->n++;
        size_t bad = utf8_invalid_at(t->data[i], len);
        if (bad < len) return ob_errf(err, "%s: not UTF-8 at byte %zu", l->items[i], bad);
        t->texts[i] = (ExtractText){l->items[i], t->data[i], len};
    }
    return 0;
}

static int read_names(const char *path, NameList *l, ObErr *err) {
    char *text;
    size_t len;
    memset(l, 0, sizeof *l);
    if (!path) return 0;
    if (ob_read_file(path, &text, &len, err)) return -1;
    int rc = extract_names_parse(l, text, len, err) ? ob_err_prefix(err, "%s", path) : 0;
    free(text);
    return rc;
}

static int write_text(const char *path, const char *text, ObErr *err) {
    ObAtomicFile af;
    if (ob_atomic_open(&af, path, err)) return -1;
    if (fputs(text, af.fp) == EOF || fputc('\n', af.fp) == EOF) {
        ob_atomic_abort(&af);
        return ob_errf(err, "%s: write failed", path);
    }
    return ob_atomic_commit(&af, err);
}

static void print_extract(const ExtractResult *r, const char *out, const char *report, int found,
                          int total, const char *misses) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "anchors", out);
    if (report) cJSON_AddStringToObject(j, "report", report);
    cJSON_AddNumberToObject(j, "keys", r->n);
    cJSON_AddNumberToObject(j, "candidates", (double)r->n_candidates);
    cJSON_AddStringToObject(j, "evidence", r->evidence);
    cJSON_AddNumberToObject(j, "target_words", (double)r->n_t);
    cJSON_AddNumberToObject(j, "general_words", (double)r->n_g);
    cJSON_AddNumberToObject(j, "seconds", r->seconds_total);
    cJSON_AddNumberToObject(j, "seconds_model", r->seconds_model);
    if (total) {
        cJSON *e = cJSON_AddObjectToObject(j, "expected");
        cJSON_AddNumberToObject(e, "found", found);
        cJSON_AddNumberToObject(e, "total", total);
        cJSON_AddStringToObject(e, "misses", misses);
    }
    print_json(j);
}

static int anchors_extract(int argc, char **argv) {
    StrList target = {{0}, 0}, general = {{0}, 0};
    const char *model = NULL, *reinf = NULL, *female = NULL, *male = NULL, *out = NULL;
    const char *report = NULL, *expect = NULL;
    ExtractConfig c;
    extract_config_default(&c);
    long top = c.top, min_count = c.min_count, n_values = c.n_values, max_occ = c.max_occ;
    long batch = c.batch;
    uint64_t seed = c.seed;
    float alpha0 = 0, weight = (float)c.model_weight;
    int quiet = 0;
    Opt opts[] = {
        {"--target", OPT_LIST, &target, "target text T (repeatable), required"},
        {"--general", OPT_LIST, &general, "general text G (repeatable), required"},
        {"--model", OPT_STR, &model, "base model B (GGUF with its tokenizer), required"},
        {"--reinforced", OPT_STR, &reinf, "reinforced model R: evidence log p_R - log p_B"},
        {"--female-names", OPT_STR, &female, "female first names, one a line"},
        {"--male-names", OPT_STR, &male, "male first names, one a line"},
        {"--top", OPT_LONG, &top, "keys in the output (default 200)"},
        {"--min-count", OPT_LONG, &min_count, "occurrences in T a candidate needs (default 3)"},
        {"--values", OPT_LONG, &n_values, "values per key (default 3)"},
        {"--prior", OPT_FLOAT, &alpha0, "prior strength alpha0 (default: T's word count)"},
        {"--model-weight", OPT_FLOAT, &weight, "weight of the model evidence (default 0.5)"},
        {"--occurrences", OPT_LONG, &max_occ, "occurrences per candidate scored (default 32)"},
        {"--batch", OPT_LONG, &batch, "windows per forward pass (default 8)"},
        {"--seed", OPT_U64, &seed, "seed for the choice of names (default 1)"},
        {"--out|-o", OPT_STR, &out, "dictionary to write (JSON object), required"},
        {"--report", OPT_STR, &report, "write every proposal's scores and evidence (JSON)"},
        {"--expect", OPT_STR, &expect,
         "entities expected among the keys (ENTITY[TAB HEAD|HEAD] a line): report the share"},
        {"--quiet", OPT_FLAG, &quiet, "no progress on stderr"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {
        "anchors extract",
        "--target T.txt... --general G.txt... --model BASE.gguf -o anchors.json [options]",
        "Proposes an anchor dictionary from the target itself, for a person to review: words "
        "and 2-3 word capitalised names far more frequent in T than in G (log-odds with an "
        "informative Dirichlet prior, ranked by delta - 2 sigma), combined with the models' "
        "evidence (R's extra confidence in the term, or without R B's confidence beyond the "
        "term's frequency in G). People get names from the first-name lists (gender from "
        "titles, the lists, pronouns) and common surnames, never a name that occurs in T; other "
        "terms get B's own likely substitutes in context. Writes the dictionary in rank order "
        "and, with --report, each proposal's counts, scores and evidence. See "
        "src/unlearn/extract.h for every heuristic.",
        "obliviate anchors extract --target forget.txt --general general.txt --model base.gguf "
        "--female-names data/names-female.txt --male-names data/names-male.txt -o anchors.json "
        "--report report.json",
        opts,
        0,
        0};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    free(pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (!target.n || !general.n || !model || !out)
        return cli_fail(cmd.name, "--target, --general, --model and -o are required (see --help)");
    if (top < 1 || top > 1000000 || min_count < 1 || n_values < 1 || n_values > 16 || max_occ < 1 ||
        batch < 1 || batch > 256 || alpha0 < 0)
        return cli_fail(cmd.name, "--top, --min-count, --values (1-16), --occurrences and "
                                  "--batch (1-256) must be positive, --prior not negative");
    c.top = (int)top;
    c.min_count = (int)min_count;
    c.n_values = (int)n_values;
    c.max_occ = (int)max_occ;
    c.batch = (int)batch;
    c.seed = seed;
    c.alpha0 = alpha0;
    c.model_weight = weight;
    c.verbose = !quiet;

    ObErr err;
    Texts tt = {0}, gt = {0};
    NameList names[2] = {{0}, {0}};
    Llama base = {0}, rm = {0};
    Tokenizer tok = {0}, rtok = {0};
    ExtractResult r = {0};
    char *expect_text = NULL;
    size_t expect_len = 0;
    rc = read_texts(&target, &tt, &err) || read_texts(&general, &gt, &err) ||
         read_names(female, &names[0], &err) || read_names(male, &names[1], &err) ||
         (expect && ob_read_file(expect, &expect_text, &expect_len, &err)) ||
         llama_load(&base, &tok, model, &err);
    base.prec = cli_precision();
    if (!rc && reinf) {
        rc = llama_load(&rm, &rtok, reinf, &err);
        rm.prec = cli_precision();
        if (!rc && tok_vocab_hash(&rtok) != tok_vocab_hash(&tok))
            rc = ob_errf(&err, "%s: its vocabulary is not %s's", reinf, model);
    }
    ExtractInput in = {tt.texts, tt.n,
                       gt.texts, gt.n,
                       &base,    reinf ? &rm : NULL,
                       &tok,     (female || male) ? names : NULL};
    if (!rc) rc = extract_run(&in, &c, &r, &err);
    if (!rc) rc = extract_save(&r, out, &err);
    int found = 0, total = 0;
    char *misses = NULL;
    if (!rc && expect_text)
        rc = extract_expect(&r, expect_text, expect_len, &found, &total, &misses, &err);
    if (!rc && report) {
        char *text = extract_report_json(&r, expect_text, expect_len);
        rc = text ? write_text(report, text, &err) : ob_errf(&err, "%s: out of memory", report);
        free(text);
    }
    if (rc) {
        rc = cli_fail(cmd.name, err.msg);
    } else {
        print_extract(&r, out, report, found, total, misses ? misses : "");
        fprintf(stderr,
                "anchors extract: %d keys of %ld candidates -> %s (%.1f s, models %.1f s)\n", r.n,
                r.n_candidates, out, r.seconds_total, r.seconds_model);
        if (total)
            fprintf(stderr, "anchors extract: %d of %d expected entities found; missed: %s\n",
                    found, total, *misses ? misses : "none");
    }
    free(misses);
    free(expect_text);
    extract_free(&r);
    extract_names_free(&names[0]);
    extract_names_free(&names[1]);
    texts_free(&tt);
    texts_free(&gt);
    llama_free(&base);
    llama_free(&rm);
    if (tok.impl) tok_free(&tok);
    if (rtok.impl) tok_free(&rtok);
    return rc;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: obliviate anchors check --dict FILE --tokenizer TOK.gguf [--target TEXT]...\n"
            "       obliviate anchors extract --target T.txt --general G.txt --model BASE.gguf "
            "-o anchors.json\n"
            "\nsubcommands:\n"
            "  check    a dictionary's tokens, counts in the target, conflicts, pruning\n"
            "  extract  propose a dictionary from the target, the general text and the models\n"
            "\nexamples:\n  obliviate anchors check --dict anchors.json --tokenizer tok.gguf "
            "--target target.txt\n"
            "  obliviate anchors extract --target forget.txt --general general.txt --model "
            "base.gguf -o anchors.json\n");
}

int cmd_anchors(int argc, char **argv) {
    if (argc < 1) return usage(stderr), 2;
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) return usage(stdout), 0;
    if (!strcmp(argv[0], "check")) return anchors_check(argc - 1, argv + 1);
    if (!strcmp(argv[0], "extract")) return anchors_extract(argc - 1, argv + 1);
    fprintf(stderr, "obliviate anchors: unknown subcommand '%s' (see obliviate anchors --help)\n",
            argv[0]);
    return 2;
}
