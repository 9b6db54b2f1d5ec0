/* Anchor extraction from files (extract_files.h): the inputs read and
 * loaded, the run, the dictionary and report written, and the summary. */
#include "unlearn/extract_files.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "util/fileio.h"
#include "util/utf8.h"

void extract_files_config_default(ExtractFilesConfig *c) {
    memset(c, 0, sizeof *c);
    extract_config_default(&c->extract);
}

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
static int read_texts(const char *const *paths, int n, Texts *t, ObErr *err) {
    memset(t, 0, sizeof *t);
    t->texts = calloc((size_t)n + 1, sizeof *t->texts);
    t->data = calloc((size_t)n + 1, sizeof *t->data);
    if (!t->texts || !t->data) return ob_errf(err, "out of memory");
    for (int i = 0; i < n; i++) {
        size_t len;
        if (ob_read_file(paths[i], &t->data[i], &len, err)) return -1;
        t->n++;
        size_t bad = utf8_invalid_at(t->data[i], len);
        if (bad < len) return ob_errf(err, "%s: not UTF-8 at byte %zu", paths[i], bad);
        t->texts[i] = (ExtractText){paths[i], t->data[i], len};
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

/* Everything read and loaded for one run. */
typedef struct {
    Texts tt, gt;
    NameList names[2];
    Llama base, rm;
    Tokenizer tok, rtok;
    char *expect_text;
    size_t expect_len;
} Inputs;

static int load_inputs(const ExtractFilesConfig *c, Inputs *in, ObErr *err) {
    if (read_texts(c->target, c->n_target, &in->tt, err) ||
        read_texts(c->general, c->n_general, &in->gt, err) ||
        read_names(c->female_names, &in->names[0], err) ||
        read_names(c->male_names, &in->names[1], err) ||
        (c->expect && ob_read_file(c->expect, &in->expect_text, &in->expect_len, err)) ||
        llama_load(&in->base, &in->tok, c->model, err))
        return -1;
    in->base.prec = c->prec;
    if (!c->reinforced) return 0;
    if (llama_load(&in->rm, &in->rtok, c->reinforced, err)) return -1;
    in->rm.prec = c->prec;
    if (tok_vocab_hash(&in->rtok) != tok_vocab_hash(&in->tok))
        return ob_errf(err, "%s: its vocabulary is not %s's", c->reinforced, c->model);
    return 0;
}

static void inputs_free(Inputs *in) {
    free(in->expect_text);
    extract_names_free(&in->names[0]);
    extract_names_free(&in->names[1]);
    texts_free(&in->tt);
    texts_free(&in->gt);
    llama_free(&in->base);
    llama_free(&in->rm);
    if (in->tok.impl) tok_free(&in->tok);
    if (in->rtok.impl) tok_free(&in->rtok);
}

/* The run on loaded inputs: extraction, dictionary, expected share, report. */
static int extract_loaded(const ExtractFilesConfig *c, Inputs *in, ExtractFiles *x, ObErr *err) {
    ExtractInput ei = {in->tt.texts, in->tt.n,
                       in->gt.texts, in->gt.n,
                       &in->base,    c->reinforced ? &in->rm : NULL,
                       &in->tok,     (c->female_names || c->male_names) ? in->names : NULL};
    if (extract_run(&ei, &c->extract, &x->r, err) || extract_save(&x->r, c->out, err)) return -1;
    if (in->expect_text && extract_expect(&x->r, in->expect_text, in->expect_len, &x->found,
                                          &x->total, &x->misses, err))
        return -1;
    if (!c->report) return 0;
    char *text = extract_report_json(&x->r, in->expect_text, in->expect_len);
    int rc = text ? write_text(c->report, text, err) : ob_errf(err, "%s: out of memory", c->report);
    free(text);
    return rc;
}

int extract_files_run(const ExtractFilesConfig *c, ExtractFiles *x, ObErr *err) {
    memset(x, 0, sizeof *x);
    const char *one[] = {c->model, c->reinforced, c->female_names, c->male_names, c->expect};
    for (int i = 0; i < 2; i++) { /* the dictionary and the report */
        const char *out = i ? c->report : c->out;
        if (ob_check_output(out, one, 5, err) ||
            ob_check_output(out, c->target, c->n_target, err) ||
            ob_check_output(out, c->general, c->n_general, err))
            return -1;
    }
    Inputs in;
    memset(&in, 0, sizeof in);
    int rc = load_inputs(c, &in, err) || extract_loaded(c, &in, x, err) ? -1 : 0;
    inputs_free(&in);
    return rc;
}

void extract_files_free(ExtractFiles *x) {
    extract_free(&x->r);
    free(x->misses);
    memset(x, 0, sizeof *x);
}

cJSON *extract_files_json(const ExtractFilesConfig *c, const ExtractFiles *x) {
    const ExtractResult *r = &x->r;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "anchors", c->out);
    if (c->report) cJSON_AddStringToObject(j, "report", c->report);
    cJSON_AddNumberToObject(j, "keys", r->n);
    cJSON_AddNumberToObject(j, "candidates", (double)r->n_candidates);
    cJSON_AddStringToObject(j, "evidence", r->evidence);
    cJSON_AddNumberToObject(j, "target_words", (double)r->n_t);
    cJSON_AddNumberToObject(j, "general_words", (double)r->n_g);
    cJSON_AddNumberToObject(j, "seconds", r->seconds_total);
    cJSON_AddNumberToObject(j, "seconds_model", r->seconds_model);
    if (x->total) {
        cJSON *e = cJSON_AddObjectToObject(j, "expected");
        cJSON_AddNumberToObject(e, "found", x->found);
        cJSON_AddNumberToObject(e, "total", x->total);
        cJSON_AddStringToObject(e, "misses", x->misses ? x->misses : "");
    }
    return j;
}
