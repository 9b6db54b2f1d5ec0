/* The analysis behind `obliviate anchors check` (anchors_check.h): key
 * counts in the target, prefix and value conflicts, shared first tokens; and
 * its JSON and table forms. */
#include "unlearn/anchors_check.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_gguf.h"
#include "util/fileio.h"
#include "util/utf8.h"

void anchors_check_config_default(AnchorsCheckConfig *c) {
    *c = (AnchorsCheckConfig){.dict = NULL, .tokenizer = NULL, .targets = NULL, .n_targets = 0};
}

void anchors_check_free(AnchorsCheck *c) {
    free(c->count);
    free(c->prefix);
    for (int i = 0; i < c->n_vkey; i++) free(c->vkey[i].keys);
    free(c->vkey);
    free(c->first);
    if (c->own_tok.impl) tok_free(&c->own_tok);
    anchors_free(&c->own_dict);
    memset(c, 0, sizeof *c);
}

/* Counts key matches in one target file, scanning as the translation does. */
static int count_file(const AnchorDict *d, const Tokenizer *tok, const char *path, AnchorsCheck *c,
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
static int find_prefixes(const AnchorDict *d, AnchorsCheck *c, ObErr *err) {
    size_t cap = 0;
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
                    if (ob_grow(&c->prefix, &cap, (size_t)c->n_prefix + 1, sizeof *c->prefix, 16,
                                "anchor prefixes", err))
                        return -1;
                    c->prefix[c->n_prefix++] = (AnchorsPrefix){a, b, 0};
                }
                c->prefix[j].forms |= 1 << f;
            }
        }
    return 0;
}

/* Values in which a key matches (a value equal to a key included). */
static int find_value_keys(const AnchorDict *d, AnchorsCheck *c, ObErr *err) {
    size_t cap = 0;
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
            if (ob_grow(&c->vkey, &cap, (size_t)c->n_vkey + 1, sizeof *c->vkey, 16, "anchor values",
                        err))
                return free(keys), -1;
            c->vkey[c->n_vkey++] = (AnchorsValueKey){a, v, nk, keys};
        }
    return 0;
}

static int cmp_first(const void *x, const void *y) {
    const AnchorsFirstTok *p = x, *q = y;
    if (p->form != q->form) return p->form - q->form;
    if (p->tok != q->tok) return p->tok < q->tok ? -1 : 1;
    if (p->a != q->a) return p->a - q->a;
    return p->v - q->v;
}

static int collect_first_tokens(const AnchorDict *d, AnchorsCheck *c, ObErr *err) {
    int n = 0;
    for (int a = 0; a < d->n; a++) n += 2 * d->items[a].n_values;
    c->first = ob_malloc((size_t)n * sizeof *c->first, "first tokens", err);
    if (!c->first) return -1;
    for (int a = 0; a < d->n; a++)
        for (int v = 0; v < d->items[a].n_values; v++)
            for (int f = 0; f < 2; f++)
                c->first[c->n_first++] =
                    (AnchorsFirstTok){d->items[a].val_tok[f][v].ids[0], f, a, v};
    qsort(c->first, (size_t)c->n_first, sizeof *c->first, cmp_first);
    return 0;
}

/* End of the run of equal (form, token) starting at i; *shared: whether the
 * run holds values of more than one key (a collision). */
static int first_run(const AnchorsCheck *c, int i, int *shared) {
    int j = i + 1;
    *shared = 0;
    while (j < c->n_first && c->first[j].form == c->first[i].form &&
           c->first[j].tok == c->first[i].tok) {
        *shared |= c->first[j].a != c->first[i].a;
        j++;
    }
    return j;
}

static int analyse(const AnchorDict *d, const Tokenizer *tok, const char *name,
                   const char *const *targets, int n_targets, AnchorsCheck *c, ObErr *err) {
    c->d = d;
    c->tok = tok;
    c->dict_name = name;
    c->count = ob_calloc((size_t)d->n, sizeof *c->count, "counts", err);
    if (!c->count) return -1;
    c->have_target = n_targets > 0;
    for (int i = 0; i < n_targets; i++)
        if (count_file(d, tok, targets[i], c, err)) return -1;
    return find_prefixes(d, c, err) || find_value_keys(d, c, err) || collect_first_tokens(d, c, err)
               ? -1
               : 0;
}

int anchors_check_analyse(const AnchorDict *d, const Tokenizer *tok, const char *name,
                          const char *const *targets, int n_targets, AnchorsCheck *c, ObErr *err) {
    memset(c, 0, sizeof *c);
    return analyse(d, tok, name, targets, n_targets, c, err);
}

int anchors_check_run(const AnchorsCheckConfig *cfg, AnchorsCheck *c, ObErr *err) {
    memset(c, 0, sizeof *c);
    if (anchors_load(&c->own_dict, cfg->dict, err) ||
        tokenizer_load(&c->own_tok, cfg->tokenizer, err) ||
        anchors_tokenize(&c->own_dict, &c->own_tok, err))
        return -1;
    return analyse(&c->own_dict, &c->own_tok, cfg->dict, cfg->targets, cfg->n_targets, c, err);
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

static void add_anchors(cJSON *arr, const AnchorsCheck *c) {
    const Tokenizer *tok = c->tok;
    for (int a = 0; a < c->d->n; a++) {
        const Anchor *an = &c->d->items[a];
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
        cJSON_AddItemToArray(arr, o);
    }
}

static void add_pruned(cJSON *arr, const AnchorDict *d) {
    for (const char *p = d->dropped_report; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, n);
        cJSON_AddItemToArray(arr, cJSON_CreateString(line ? line : ""));
        free(line);
        p += n + (nl != NULL);
    }
}

static void add_conflicts(cJSON *conf, const AnchorsCheck *c) {
    const AnchorDict *d = c->d;
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
        cJSON_AddStringToObject(o, "token", c->tok->tokens[c->first[i].tok]);
        cJSON *vals = cJSON_AddArrayToObject(o, "values");
        for (int k = i; k < j; k++)
            cJSON_AddItemToArray(vals, key_value_json(d, c->first[k].a, c->first[k].v));
        cJSON_AddItemToArray(ft, o);
    }
}

cJSON *anchors_check_json(const AnchorsCheck *c) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dict", c->dict_name);
    cJSON_AddNumberToObject(root, "keys", c->d->n);
    cJSON_AddNumberToObject(root, "dropped", c->d->n_dropped);
    if (c->have_target) cJSON_AddNumberToObject(root, "target_tokens", (double)c->target_tokens);
    add_anchors(cJSON_AddArrayToObject(root, "anchors"), c);
    add_pruned(cJSON_AddArrayToObject(root, "pruned"), c->d);
    add_conflicts(cJSON_AddObjectToObject(root, "conflicts"), c);
    return root;
}

/* ---- table output ----------------------------------------------------- */

static void put_tokens(FILE *f, const Tokenizer *tok, const TokSeq *s) {
    fputc('[', f);
    for (int i = 0; i < s->n; i++) fprintf(f, "%s%s", i ? " " : "", tok->tokens[s->ids[i]]);
    fputc(']', f);
}

/* One line per key, one per value, each with its tokens in both forms. */
static void put_anchors(FILE *f, const AnchorsCheck *c) {
    const AnchorDict *d = c->d;
    for (int a = 0; a < d->n; a++) {
        const Anchor *an = &d->items[a];
        fprintf(f, "\"%s\"  ", an->key);
        put_tokens(f, c->tok, &an->key_tok[0]);
        fputc(' ', f);
        put_tokens(f, c->tok, &an->key_tok[1]);
        if (c->have_target) fprintf(f, "  count %ld + %ld", c->count[a][0], c->count[a][1]);
        fputc('\n', f);
        for (int v = 0; v < an->n_values; v++) {
            fprintf(f, "    -> \"%s\"  ", an->values[v]);
            put_tokens(f, c->tok, &an->val_tok[0][v]);
            fputc(' ', f);
            put_tokens(f, c->tok, &an->val_tok[1][v]);
            fputc('\n', f);
        }
    }
}

static void put_dropped(FILE *f, const AnchorDict *d) {
    fprintf(f, "\ndropped by pruning:%s\n", d->n_dropped ? "" : " none");
    for (const char *p = d->dropped_report; p && *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "  %.*s\n", n, p);
        p += n + (nl != NULL);
    }
}

/* The shared-first-token lines; returns whether there was one. */
static int put_shared_first(FILE *f, const AnchorsCheck *c) {
    const AnchorDict *d = c->d;
    int any = 0;
    for (int i = 0, j, shared; i < c->n_first; i = j) {
        j = first_run(c, i, &shared);
        if (!shared) continue;
        any = 1;
        fprintf(f, "  shared first token %s (form %d), forbidden once one is used:",
                c->tok->tokens[c->first[i].tok], c->first[i].form);
        for (int k = i; k < j; k++)
            fprintf(f, "%s \"%s\" -> \"%s\"", k > i ? "," : "", d->items[c->first[k].a].key,
                    d->items[c->first[k].a].values[c->first[k].v]);
        fputc('\n', f);
    }
    return any;
}

static void put_conflicts(FILE *f, const AnchorsCheck *c) {
    const AnchorDict *d = c->d;
    fprintf(f, "\nconflicts:\n");
    int any = 0;
    for (int i = 0; i < c->n_prefix; i++, any = 1)
        fprintf(f,
                "  prefix: \"%s\" is a token prefix of \"%s\" (form%s %s); the longer key wins\n",
                d->items[c->prefix[i].a].key, d->items[c->prefix[i].b].key,
                c->prefix[i].forms == 3 ? "s" : "",
                c->prefix[i].forms == 3   ? "0, 1"
                : c->prefix[i].forms == 1 ? "0"
                                          : "1");
    for (int a = 0; c->have_target && a < d->n; a++)
        if (!c->count[a][0] && !c->count[a][1])
            fprintf(f, "  unused: \"%s\" never occurs in the target\n", d->items[a].key), any = 1;
    for (int i = 0; i < c->n_vkey; i++, any = 1) {
        const AnchorsValueKey *v = &c->vkey[i];
        fprintf(f, "  value is a key: \"%s\" -> \"%s\" contains the key%s", d->items[v->a].key,
                d->items[v->a].values[v->v], v->n_keys > 1 ? "s" : "");
        for (int k = 0; k < v->n_keys; k++)
            fprintf(f, "%s \"%s\"", k ? "," : "", d->items[v->keys[k]].key);
        fputc('\n', f);
    }
    any |= put_shared_first(f, c);
    if (!any) fprintf(f, "  none\n");
}

char *anchors_check_text(const AnchorsCheck *c) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fprintf(f, "%s: %d keys, %d dropped by pruning", c->dict_name, c->d->n, c->d->n_dropped);
    if (c->have_target) fprintf(f, "; target: %ld tokens", c->target_tokens);
    fprintf(f,
            "\ntokens: [form 0: start of text, after a newline or quote] "
            "[form 1: after a space]%s\n\n",
            c->have_target ? "; count: replacements in the target, form 0 + form 1" : "");
    put_anchors(f, c);
    put_dropped(f, c->d);
    put_conflicts(f, c);
    if (ferror(f)) {
        fclose(f);
        free(text);
        return NULL;
    }
    return fclose(f) ? (free(text), NULL) : text;
}
