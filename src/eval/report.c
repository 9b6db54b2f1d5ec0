#include "eval/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "eval/jsonl.h"
#include "eval/svg.h"
#include "util/fileio.h"

/* ---- reading the eval JSON ---- */

static char *dup_str(const char *s, ObErr *err) {
    size_t n = strlen(s);
    char *d = ob_malloc(n + 1, "string", err);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* A member that must be an object when present: *out is NULL when it is
 * absent or null. */
static int get_obj(const cJSON *o, const char *key, const cJSON **out, const char *ctx,
                   ObErr *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsObject(v)) return ob_errf(err, "%s: \"%s\" is not an object", ctx, key);
    *out = v;
    return 0;
}

/* A number member of section sect (for the message): NAN when the section or
 * the member is absent or null (cJSON writes NaN as null). */
static int get_num(const cJSON *o, const char *sect, const char *key, double *out, const char *ctx,
                   ObErr *err) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    *out = NAN;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v))
        return ob_errf(err, "%s: \"%s%s%s\" is not a number", ctx, sect, *sect ? "." : "", key);
    *out = v->valuedouble;
    return 0;
}

/* Index of the entry t of section sect by its name in list, adding the
 * name when there is room; -1 with err set when t is no object, the list
 * (of `what`) is full or memory runs out. */
static int intern(char **list, int *n, int cap, const cJSON *t, const char *sect, const char *what,
                  const char *ctx, ObErr *err) {
    if (!cJSON_IsObject(t))
        return ob_errf(err, "%s: \"%s.%s\" is not an object", ctx, sect, t->string);
    for (int i = 0; i < *n; i++)
        if (!strcmp(list[i], t->string)) return i;
    if (*n >= cap) return ob_errf(err, "%s: more than %d %s", ctx, cap, what);
    if (!(list[*n] = dup_str(t->string, err))) return -1;
    return (*n)++;
}

static int read_perplexity(Report *r, ReportModel *m, const cJSON *ppl, const char *ctx,
                           ObErr *err) {
    const cJSON *t;
    cJSON_ArrayForEach(t, ppl) {
        int k = intern(r->texts, &r->n_texts, REPORT_MAX_TEXTS, t, "perplexity", "perplexity texts",
                       ctx, err);
        if (k < 0) return -1;
        char sect[160];
        snprintf(sect, sizeof sect, "perplexity.%s", t->string);
        if (get_num(t, sect, "perplexity", &m->ppl[k], ctx, err)) return -1;
    }
    return 0;
}

static int read_choice(Report *r, ReportModel *m, const cJSON *choice, const char *ctx,
                       ObErr *err) {
    const cJSON *t;
    cJSON_ArrayForEach(t, choice) {
        int k =
            intern(r->tasks, &r->n_tasks, REPORT_MAX_TASKS, t, "choice", "choice tasks", ctx, err);
        if (k < 0) return -1;
        const cJSON *layout = cJSON_GetObjectItemCaseSensitive(t, "layout");
        if (layout && !cJSON_IsNull(layout) && !cJSON_IsString(layout))
            return ob_errf(err, "%s: \"choice.%s.layout\" is not a string", ctx, t->string);
        if (cJSON_IsString(layout) && !r->task_layout[k] &&
            !(r->task_layout[k] = dup_str(layout->valuestring, err)))
            return -1;
        char sect[160];
        snprintf(sect, sizeof sect, "choice.%s", t->string);
        if (get_num(t, sect, "n", &m->choice_n[k], ctx, err) ||
            get_num(t, sect, "acc", &m->choice_acc[k], ctx, err) ||
            get_num(t, sect, "acc_norm", &m->choice_acc_norm[k], ctx, err))
            return -1;
    }
    return 0;
}

/* Every figure absent until read. */
static void model_blank(ReportModel *m) {
    m->name = NULL;
    for (int k = 0; k < REPORT_MAX_TEXTS; k++) m->ppl[k] = NAN;
    for (int k = 0; k < REPORT_MAX_TASKS; k++)
        m->choice_n[k] = m->choice_acc[k] = m->choice_acc_norm[k] = NAN;
    m->fam_prob = m->fam_rank = m->leak_rate = m->leak_score = NAN;
    m->verbmem_n = m->verbmem_f1 = m->knowmem_n = m->knowmem_f1 = m->knowmem_recall = NAN;
    m->kr_n = m->kr_f1 = NAN;
    m->privleak_auc = m->privleak = m->ns_n = m->ns_acc = m->ns_acc_norm = NAN;
    m->relearn_steps = m->relearn_lr = m->relearn_prob = NAN;
}

/* One figure against its range (absent, NAN, passes); lo_open: lo excluded. */
static int in_range(double v, double lo, double hi, int lo_open, const char *field, const char *ctx,
                    ObErr *err) {
    if (isnan(v) || (isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi)) return 0;
    return ob_errf(err, "%s: \"%s\" is %g, outside %c%g, %g]", ctx, field, v, lo_open ? '(' : '[',
                   lo, hi);
}

/* What eval writes is in range: a hand-edited file with a probability of -1
 * or a perplexity of 0 would print as if measured. */
static int check_ranges(const Report *r, const ReportModel *m, const char *ctx, ObErr *err) {
    const double big = 1e300;
    for (int k = 0; k < r->n_texts; k++) {
        char f[160];
        snprintf(f, sizeof f, "perplexity.%s.perplexity", r->texts[k]);
        if (in_range(m->ppl[k], 0, big, 1, f, ctx, err)) return -1;
    }
    for (int k = 0; k < r->n_tasks; k++) {
        char f[3][160];
        snprintf(f[0], sizeof f[0], "choice.%s.n", r->tasks[k]);
        snprintf(f[1], sizeof f[1], "choice.%s.acc", r->tasks[k]);
        snprintf(f[2], sizeof f[2], "choice.%s.acc_norm", r->tasks[k]);
        if (in_range(m->choice_n[k], 0, big, 0, f[0], ctx, err) ||
            in_range(m->choice_acc[k], 0, 1, 0, f[1], ctx, err) ||
            in_range(m->choice_acc_norm[k], 0, 1, 0, f[2], ctx, err))
            return -1;
    }
    const struct {
        const char *name;
        double v, lo, hi;
    } f[] = {
        {"familiarity.mean_prob", m->fam_prob, 0, 1},
        {"familiarity.median_first_rank", m->fam_rank, 0, big},
        {"completions.leak_rate", m->leak_rate, 0, 1},
        {"completions.weighted_score", m->leak_score, -big, big},
        {"verbmem.n", m->verbmem_n, 0, big},
        {"verbmem.rougeL_f1", m->verbmem_f1, 0, 1},
        {"knowmem.n", m->knowmem_n, 0, big},
        {"knowmem.rougeL_f1", m->knowmem_f1, 0, 1},
        {"knowmem.rougeL_recall", m->knowmem_recall, 0, 1},
        {"knowmem_retain.n", m->kr_n, 0, big},
        {"knowmem_retain.rougeL_f1", m->kr_f1, 0, 1},
        {"privleak.auc", m->privleak_auc, 0, 1},
        {"privleak.privleak", m->privleak, -big, big},
        {"next_sentence.n", m->ns_n, 0, big},
        {"next_sentence.acc", m->ns_acc, 0, 1},
        {"next_sentence.acc_norm", m->ns_acc_norm, 0, 1},
        {"relearn.steps", m->relearn_steps, 0, big},
        {"relearn.lr", m->relearn_lr, 0, big},
        {"relearn.familiarity.mean_prob", m->relearn_prob, 0, 1},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (in_range(f[i].v, f[i].lo, f[i].hi, 0, f[i].name, ctx, err)) return -1;
    return 0;
}

static int read_model(Report *r, ReportModel *m, const cJSON *o, int idx, ObErr *err) {
    char ctx[384];
    model_blank(m);
    if (!cJSON_IsObject(o)) return ob_errf(err, "%s: model %d is not an object", r->eval_path, idx);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(name))
        return ob_errf(err, "%s: model %d has no \"name\" string", r->eval_path, idx);
    if (!(m->name = dup_str(name->valuestring, err))) return -1;
    snprintf(ctx, sizeof ctx, "%s: model %d (%.100s)", r->eval_path, idx, m->name);
    const cJSON *ppl, *fam, *comp, *vm, *km, *kr, *pl, *ch, *ns, *rl, *rlf;
    if (get_obj(o, "perplexity", &ppl, ctx, err) || get_obj(o, "familiarity", &fam, ctx, err) ||
        get_obj(o, "completions", &comp, ctx, err) || get_obj(o, "verbmem", &vm, ctx, err) ||
        get_obj(o, "knowmem", &km, ctx, err) || get_obj(o, "knowmem_retain", &kr, ctx, err) ||
        get_obj(o, "privleak", &pl, ctx, err) || get_obj(o, "choice", &ch, ctx, err) ||
        get_obj(o, "next_sentence", &ns, ctx, err) || get_obj(o, "relearn", &rl, ctx, err))
        return -1;
    if (rl && get_obj(rl, "familiarity", &rlf, ctx, err)) return -1;
    if (!rl) rlf = NULL;
    if ((ppl && read_perplexity(r, m, ppl, ctx, err)) || (ch && read_choice(r, m, ch, ctx, err)))
        return -1;
    return get_num(fam, "familiarity", "mean_prob", &m->fam_prob, ctx, err) ||
                   get_num(fam, "familiarity", "median_first_rank", &m->fam_rank, ctx, err) ||
                   get_num(comp, "completions", "leak_rate", &m->leak_rate, ctx, err) ||
                   get_num(comp, "completions", "weighted_score", &m->leak_score, ctx, err) ||
                   get_num(vm, "verbmem", "n", &m->verbmem_n, ctx, err) ||
                   get_num(vm, "verbmem", "rougeL_f1", &m->verbmem_f1, ctx, err) ||
                   get_num(km, "knowmem", "n", &m->knowmem_n, ctx, err) ||
                   get_num(km, "knowmem", "rougeL_f1", &m->knowmem_f1, ctx, err) ||
                   get_num(km, "knowmem", "rougeL_recall", &m->knowmem_recall, ctx, err) ||
                   get_num(kr, "knowmem_retain", "n", &m->kr_n, ctx, err) ||
                   get_num(kr, "knowmem_retain", "rougeL_f1", &m->kr_f1, ctx, err) ||
                   get_num(pl, "privleak", "auc", &m->privleak_auc, ctx, err) ||
                   get_num(pl, "privleak", "privleak", &m->privleak, ctx, err) ||
                   get_num(ns, "next_sentence", "n", &m->ns_n, ctx, err) ||
                   get_num(ns, "next_sentence", "acc", &m->ns_acc, ctx, err) ||
                   get_num(ns, "next_sentence", "acc_norm", &m->ns_acc_norm, ctx, err) ||
                   get_num(rl, "relearn", "steps", &m->relearn_steps, ctx, err) ||
                   get_num(rl, "relearn", "lr", &m->relearn_lr, ctx, err) ||
                   get_num(rlf, "relearn.familiarity", "mean_prob", &m->relearn_prob, ctx, err)
               ? -1
               : check_ranges(r, m, ctx, err);
}

static int find_model(const Report *r, const char *name) {
    for (int i = 0; i < r->n_models; i++)
        if (!strcmp(r->models[i].name, name)) return i;
    return -1;
}

static int pick_models(Report *r, const char *baseline, const char *oracle, ObErr *err) {
    r->baseline = baseline ? find_model(r, baseline) : 0;
    if (r->baseline < 0)
        return ob_errf(err, "%s: no model named \"%s\" (--baseline)", r->eval_path, baseline);
    r->oracle = -1;
    if (oracle) {
        if ((r->oracle = find_model(r, oracle)) < 0)
            return ob_errf(err, "%s: no model named \"%s\" (--oracle)", r->eval_path, oracle);
    } else {
        for (int i = 0; i < r->n_models && r->oracle < 0; i++)
            if (!strcasecmp(r->models[i].name, "oracle")) r->oracle = i;
    }
    r->general = 0;
    for (int t = r->n_texts - 1; t >= 0; t--)
        if (!strncmp(r->texts[t], "general", 7)) r->general = t;
    return 0;
}

static int parse_root(Report *r, const cJSON *root, const char *baseline, const char *oracle,
                      ObErr *err) {
    const char *path = r->eval_path;
    if (!cJSON_IsObject(root)) return ob_errf(err, "%s: not a JSON object", path);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models"), *o;
    if (!models) return ob_errf(err, "%s: no \"models\" array (not an eval JSON?)", path);
    if (!cJSON_IsArray(models)) return ob_errf(err, "%s: \"models\" is not an array", path);
    int n = cJSON_GetArraySize(models);
    if (n == 0) return ob_errf(err, "%s: \"models\" is empty", path);
    if (!(r->models = ob_calloc((size_t)n, sizeof *r->models, "models", err))) return -1;
    cJSON_ArrayForEach(o, models) {
        if (read_model(r, &r->models[r->n_models], o, r->n_models + 1, err)) {
            free(r->models[r->n_models].name); /* the others are freed by report_free */
            return -1;
        }
        r->n_models++;
    }
    const cJSON *prompts, *comp;
    if (get_obj(root, "prompts", &prompts, path, err) ||
        get_obj(root, "completions", &comp, path, err) ||
        get_num(prompts, "prompts", "n", &r->n_prompts, path, err) ||
        get_num(comp, "completions", "n", &r->n_completions, path, err) ||
        get_num(root, "", "seq", &r->seq, path, err))
        return -1;
    return pick_models(r, baseline, oracle, err);
}

int report_parse(Report *r, const char *name, const char *json, const char *baseline,
                 const char *oracle, ObErr *err) {
    memset(r, 0, sizeof *r);
    r->oracle = -1;
    if (!(r->eval_path = dup_str(name, err))) return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        long line = 1;
        for (const char *p = json; end && p < end && *p; p++) line += *p == '\n';
        ob_errf(err, "%s: not valid JSON (line %ld)", name, line);
        report_free(r);
        return -1;
    }
    int rc = parse_root(r, root, baseline, oracle, err);
    cJSON_Delete(root);
    if (rc) report_free(r);
    return rc;
}

int report_load(Report *r, const char *eval_path, const char *baseline, const char *oracle,
                ObErr *err) {
    char *text;
    size_t len;
    memset(r, 0, sizeof *r);
    r->oracle = -1;
    if (ob_read_file(eval_path, &text, &len, err)) return -1;
    int rc = strlen(text) != len ? ob_errf(err, "%s: not valid JSON (holds a NUL byte)", eval_path)
                                 : report_parse(r, eval_path, text, baseline, oracle, err);
    free(text);
    return rc;
}

/* ---- training logs ---- */

static const JsonlField log_fields[] = {
    {"step", JSONL_NUMBER, 1},
    {"loss", JSONL_NUMBER, 0},
    {"val_loss", JSONL_NUMBER, 0},
    {NULL, 0, 0},
};

/* "runs/baseline.log.jsonl" -> "baseline" */
static void log_name(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 10 && !strcmp(base + n - 10, ".log.jsonl"))
        n -= 10;
    else if (n > 6 && !strcmp(base + n - 6, ".jsonl"))
        n -= 6;
    if (n >= cap) n = cap - 1;
    memcpy(out, base, n);
    out[n] = 0;
}

int report_add_log(Report *r, const char *name, const char *path, ObErr *err) {
    if (r->n_logs >= REPORT_MAX_LOGS) return ob_errf(err, "more than %d logs", REPORT_MAX_LOGS);
    JsonlFile f;
    if (jsonl_load(&f, path, log_fields, err)) return -1;
    ReportLog *lg = &r->logs[r->n_logs];
    memset(lg, 0, sizeof *lg);
    char auto_name[128];
    log_name(path, auto_name, sizeof auto_name);
    lg->name = dup_str(name ? name : auto_name, err);
    lg->path = dup_str(path, err);
    lg->step = ob_calloc((size_t)f.n, sizeof(double), "log", err);
    lg->loss = ob_calloc((size_t)f.n, sizeof(double), "log", err);
    lg->vstep = ob_calloc((size_t)f.n, sizeof(double), "log", err);
    lg->vloss = ob_calloc((size_t)f.n, sizeof(double), "log", err);
    r->n_logs++; /* from here report_free owns it */
    int rc = lg->name && lg->path && lg->step && lg->loss && lg->vstep && lg->vloss ? 0 : -1;
    for (int i = 0; !rc && i < f.n; i++) {
        double step = jsonl_num(f.items[i], "step", 0);
        double loss = jsonl_num(f.items[i], "loss", NAN),
               vl = jsonl_num(f.items[i], "val_loss", NAN);
        if (!isnan(loss)) lg->step[lg->n] = step, lg->loss[lg->n++] = loss;
        if (!isnan(vl)) lg->vstep[lg->nv] = step, lg->vloss[lg->nv++] = vl;
    }
    if (!rc && lg->n == 0) rc = ob_errf(err, "%s: no \"loss\" records", path);
    jsonl_free(&f);
    return rc;
}

void report_free(Report *r) {
    for (int i = 0; r->models && i < r->n_models; i++) free(r->models[i].name);
    free(r->models);
    for (int t = 0; t < r->n_texts; t++) free(r->texts[t]);
    for (int t = 0; t < r->n_tasks; t++) free(r->tasks[t]), free(r->task_layout[t]);
    for (int i = 0; i < r->n_logs; i++) {
        ReportLog *lg = &r->logs[i];
        free(lg->name), free(lg->path), free(lg->step), free(lg->loss), free(lg->vstep),
            free(lg->vloss);
    }
    free(r->eval_path);
    memset(r, 0, sizeof *r);
    r->oracle = -1;
}

/* ---- the table, shared by Markdown and HTML ---- */

void report_ratio(char *buf, size_t cap, double value, double ref) {
    if (!(value > 0) || !(ref > 0) || !isfinite(value) || !isfinite(ref)) {
        snprintf(buf, cap, "n/a");
        return;
    }
    double x = ref / value, big = x >= 1 ? x : 1 / x;
    if (big < 1.05)
        snprintf(buf, cap, "same");
    else
        snprintf(buf, cap, big < 10 ? "%.1fx %s" : "%.0fx %s", big, x > 1 ? "lower" : "higher");
}

#define CELL 64

typedef struct {
    char label[160];
    char (*cell)[CELL]; /* [n_models]; "-" when absent */
} Row;

typedef struct {
    Row rows[3 * REPORT_MAX_TEXTS + 2 * REPORT_MAX_TASKS + 24];
    int n, n_models;
} Table;

static double field(const ReportModel *m, size_t off) {
    return *(const double *)((const char *)m + off);
}

/* A new row; NULL when out of memory (the table is then just shorter). */
static Row *add_row(Table *t, const char *label) {
    if (t->n >= (int)(sizeof t->rows / sizeof t->rows[0])) return NULL;
    Row *row = &t->rows[t->n];
    if (!(row->cell = calloc((size_t)t->n_models, CELL))) return NULL;
    snprintf(row->label, sizeof row->label, "%s", label);
    t->n++;
    return row;
}

static int any_present(const Report *r, size_t off) {
    for (int i = 0; i < r->n_models; i++)
        if (!isnan(field(&r->models[i], off))) return 1;
    return 0;
}

/* A row of one figure per model (the double at offset off of ReportModel),
 * left out when no model has it. */
static Row *num_row(Table *t, const Report *r, const char *label, size_t off, const char *fmt) {
    if (!any_present(r, off)) return NULL;
    Row *row = add_row(t, label);
    for (int i = 0; row && i < r->n_models; i++) {
        double v = field(&r->models[i], off);
        if (isnan(v))
            snprintf(row->cell[i], CELL, "-");
        else
            snprintf(row->cell[i], CELL, fmt, v);
    }
    return row;
}

/* Familiarity against a reference model's, with the reference's own cell
 * naming its role. */
static void ratio_row(Table *t, const Report *r, const char *label, int ref, const char *role) {
    if (ref < 0 || isnan(r->models[ref].fam_prob)) return;
    Row *row = add_row(t, label);
    for (int i = 0; row && i < r->n_models; i++) {
        if (i == ref)
            snprintf(row->cell[i], CELL, "%s", role);
        else if (isnan(r->models[i].fam_prob))
            snprintf(row->cell[i], CELL, "-");
        else
            report_ratio(row->cell[i], CELL, r->models[i].fam_prob, r->models[ref].fam_prob);
    }
}

/* The first value of a figure among the models (relearning's steps and lr
 * are the same for all). */
static double first_of(const Report *r, size_t off) {
    for (int i = 0; i < r->n_models; i++)
        if (!isnan(field(&r->models[i], off))) return field(&r->models[i], off);
    return NAN;
}

#define OFF(f) offsetof(ReportModel, f)

static void build_table(const Report *r, Table *t) {
    char label[160];
    t->n = 0, t->n_models = r->n_models;
    const ReportModel *base = &r->models[r->baseline];
    for (int k = 0; k < r->n_texts; k++) {
        snprintf(label, sizeof label, "perplexity %s", r->texts[k]);
        Row *row = num_row(t, r, label, OFF(ppl) + (size_t)k * sizeof(double), "%.2f");
        if (!row || k != r->general || !(base->ppl[k] > 0)) continue;
        for (int i = 0; i < r->n_models; i++) {
            double v = r->models[i].ppl[k];
            if (i == r->baseline || isnan(v)) continue;
            size_t n = strlen(row->cell[i]);
            snprintf(row->cell[i] + n, CELL - n, " (%+.1f%%)", 100 * (v / base->ppl[k] - 1));
        }
    }
    num_row(t, r, "familiarity (mean P)", OFF(fam_prob), "%.4g");
    ratio_row(t, r, "familiarity vs baseline", r->baseline, "baseline");
    ratio_row(t, r, "familiarity vs oracle", r->oracle, "oracle");
    num_row(t, r, "median first-token rank", OFF(fam_rank), "%g");
    num_row(t, r, "completion leak rate", OFF(leak_rate), "%.3f");
    num_row(t, r, "completion weighted score", OFF(leak_score), "%.3f");
    num_row(t, r, "VerbMem ROUGE-L F1", OFF(verbmem_f1), "%.3f");
    num_row(t, r, "KnowMem ROUGE-L F1", OFF(knowmem_f1), "%.3f");
    num_row(t, r, "KnowMem ROUGE-L recall", OFF(knowmem_recall), "%.3f");
    num_row(t, r, "KnowMem on retain ROUGE-L F1", OFF(kr_f1), "%.3f");
    num_row(t, r, "PrivLeak Min-K% AUC", OFF(privleak_auc), "%.3f");
    num_row(t, r, "PrivLeak vs oracle (%)", OFF(privleak), "%+.1f");
    for (int k = 0; k < r->n_tasks; k++) {
        snprintf(label, sizeof label, "%s acc", r->tasks[k]);
        num_row(t, r, label, OFF(choice_acc) + (size_t)k * sizeof(double), "%.3f");
        snprintf(label, sizeof label, "%s acc_norm", r->tasks[k]);
        num_row(t, r, label, OFF(choice_acc_norm) + (size_t)k * sizeof(double), "%.3f");
    }
    num_row(t, r, "next-sentence acc", OFF(ns_acc), "%.3f");
    num_row(t, r, "next-sentence acc_norm", OFF(ns_acc_norm), "%.3f");
    double steps = first_of(r, OFF(relearn_steps)), lr = first_of(r, OFF(relearn_lr));
    if (!isnan(steps) && !isnan(lr))
        snprintf(label, sizeof label,
                 "familiarity after relearning (%g steps, lr %g; ratio to before)", steps, lr);
    else
        snprintf(label, sizeof label, "familiarity after relearning (ratio to before)");
    Row *row = num_row(t, r, label, OFF(relearn_prob), "%.4g");
    for (int i = 0; row && i < r->n_models; i++) {
        const ReportModel *m = &r->models[i];
        if (isnan(m->relearn_prob) || isnan(m->fam_prob)) continue;
        char ratio[32];
        report_ratio(ratio, sizeof ratio, m->relearn_prob, m->fam_prob);
        size_t n = strlen(row->cell[i]);
        /* relearned vs before: "higher" is what came back */
        snprintf(row->cell[i] + n, CELL - n, " (%s)", ratio);
    }
}

static void table_free(Table *t) {
    for (int i = 0; i < t->n; i++) free(t->rows[i].cell);
}

/* ---- Markdown ---- */

/* A cell's text made safe for a Markdown table: '|' escaped, line breaks and
 * tabs as spaces, '<' and '>' as entities so no HTML passes through. */
static void md_escape(char *dst, size_t cap, const char *s) {
    size_t k = 0;
    for (; *s && k + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '|')
            dst[k++] = '\\', dst[k++] = '|';
        else if (c == '<')
            memcpy(dst + k, "&lt;", 4), k += 4;
        else if (c == '>')
            memcpy(dst + k, "&gt;", 4), k += 4;
        else
            dst[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    dst[k] = 0;
}

void report_table_md(const Report *r, FILE *out) {
    Table *t = calloc(1, sizeof *t);
    if (!t) return;
    build_table(r, t);
    int nc = r->n_models + 1;
    size_t *w = calloc((size_t)nc, sizeof *w);
    char buf[4 * 160];
    /* column widths, so the table also reads well as plain text */
    for (int c = 0; w && c < nc; c++) {
        md_escape(buf, sizeof buf, c ? r->models[c - 1].name : "metric");
        w[c] = strlen(buf) > 3 ? strlen(buf) : 3;
        for (int i = 0; i < t->n; i++) {
            md_escape(buf, sizeof buf, c ? t->rows[i].cell[c - 1] : t->rows[i].label);
            if (strlen(buf) > w[c]) w[c] = strlen(buf);
        }
    }
    for (int i = -2; w && i < t->n; i++) {
        for (int c = 0; c < nc; c++) {
            if (i == -1) { /* the rule; figures right-aligned */
                fputc('|', out);
                for (size_t k = 0; k < w[c] + (c ? 1 : 2); k++) fputc('-', out);
                fputs(c ? ":" : "", out);
                continue;
            }
            const char *s = i == -2 ? (c ? r->models[c - 1].name : "metric")
                                    : (c ? t->rows[i].cell[c - 1] : t->rows[i].label);
            md_escape(buf, sizeof buf, s);
            fprintf(out, c ? "| %*s " : "| %-*s ", (int)w[c], buf);
        }
        fputs("|\n", out);
    }
    free(w);
    table_free(t);
    free(t);
}

static void md_log_table(const Report *r, FILE *out) {
    char buf[4 * 160];
    fputs("\n## Training logs\n\n| log | steps | first loss | last loss | last val loss | best val "
          "loss |\n|---|--:|--:|--:|--:|--:|\n",
          out);
    for (int i = 0; i < r->n_logs; i++) {
        const ReportLog *lg = &r->logs[i];
        md_escape(buf, sizeof buf, lg->name);
        fprintf(out, "| %s | %g | %.4f | %.4f |", buf, lg->step[lg->n - 1], lg->loss[0],
                lg->loss[lg->n - 1]);
        if (lg->nv) {
            double best = lg->vloss[0];
            for (int k = 1; k < lg->nv; k++) best = fmin(best, lg->vloss[k]);
            fprintf(out, " %.4f | %.4f |\n", lg->vloss[lg->nv - 1], best);
        } else {
            fputs(" - | - |\n", out);
        }
    }
}

void report_markdown(const Report *r, FILE *out) {
    char buf[4 * 160];
    md_escape(buf, sizeof buf, r->eval_path);
    fprintf(out, "# obliviate report\n\nFrom `%s`. ", buf);
    md_escape(buf, sizeof buf, r->models[r->baseline].name);
    fprintf(out, "Baseline: %s", buf);
    if (r->oracle >= 0) {
        md_escape(buf, sizeof buf, r->models[r->oracle].name);
        fprintf(out, "; oracle (never saw the target): %s", buf);
    }
    fputs(".\n\n", out);
    report_table_md(r, out);
    fputc('\n', out);
    if (!isnan(r->seq)) fprintf(out, "Perplexity over %g-token windows. ", r->seq);
    if (!isnan(r->n_prompts))
        fprintf(out, "Familiarity: mean probability of the continuation over %g prompts. ",
                r->n_prompts);
    if (!isnan(r->n_completions))
        fprintf(out, "Leak rate: share of %g greedy completions naming a key their prompt lacks. ",
                r->n_completions);
    fputs("Ratios: how many times lower (forgotten) or higher the figure is than the reference "
          "model's.\n",
          out);
    if (r->n_logs) md_log_table(r, out);
}

/* ---- HTML ---- */

static const char css[] =
    "body{font-family:sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:4px 8px}td{text-align:right;white-space:nowrap}"
    "th{background:#f3f3f3}td.label{text-align:left;font-weight:bold}"
    "th.baseline,td.baseline{background:#eef4fb}th.oracle,td.oracle{background:#f1f8ee}"
    "figure{margin:16px 0}p.note{font-size:13px;color:#555;max-width:900px}";

/* Records uncaught errors and failed self-checks in <body data-errors="N">
 * and data-error-list, for tools/report-check.sh; it fetches nothing. */
static const char check_script[] =
    "(function(){var errs=[];"
    "function put(){var b=document.body;if(!b)return;"
    "b.setAttribute('data-errors',String(errs.length));"
    "b.setAttribute('data-error-list',errs.join(' | '));}"
    "function note(m){errs.push(m);put();}"
    "window.addEventListener('error',function(e){"
    "note('error: '+(e.message||(e.target&&e.target.tagName)||'unknown'));},true);"
    "document.addEventListener('DOMContentLoaded',function(){"
    "var b=document.body,want=+b.getAttribute('data-charts'),"
    "svgs=document.querySelectorAll('svg.chart');"
    "if(svgs.length!==want)note('expected '+want+' charts, found '+svgs.length);"
    "for(var i=0;i<svgs.length;i++){var r=svgs[i].getBoundingClientRect();"
    "if(!(r.width>0&&r.height>0))note('chart '+svgs[i].id+' not drawn');"
    "if(!svgs[i].querySelector('rect,polyline'))note('chart '+svgs[i].id+' is empty');}"
    "if(!document.querySelector('table.side-by-side tbody tr'))note('no table rows');"
    "if(document.querySelector('[src],[href],link,iframe,img'))note('external reference');"
    "put();b.setAttribute('data-checked','1');});})();";

/* One cell of model i's column: <tag class="baseline|oracle">text</tag>. */
static void html_cell(const Report *r, int i, const char *tag, const char *text, FILE *out) {
    const char *cls = i == r->baseline ? " class=\"baseline\""
                      : i == r->oracle ? " class=\"oracle\""
                                       : "";
    fprintf(out, "<%s%s>", tag, cls);
    xml_escape(out, text);
    fprintf(out, "</%s>", tag);
}

static void html_table(const Report *r, FILE *out) {
    Table *t = calloc(1, sizeof *t);
    if (!t) return;
    build_table(r, t);
    fputs("<table class=\"side-by-side\">\n<thead><tr><th>metric</th>", out);
    for (int i = 0; i < r->n_models; i++) html_cell(r, i, "th", r->models[i].name, out);
    fputs("</tr></thead>\n<tbody>\n", out);
    for (int k = 0; k < t->n; k++) {
        fputs("<tr><td class=\"label\">", out);
        xml_escape(out, t->rows[k].label);
        fputs("</td>", out);
        for (int i = 0; i < r->n_models; i++) html_cell(r, i, "td", t->rows[k].cell[i], out);
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
    table_free(t);
    free(t);
}

static int has_relearn(const Report *r) {
    return any_present(r, OFF(relearn_prob));
}

/* Some perplexity figure (a text whose figures are all null draws nothing). */
static int has_ppl(const Report *r) {
    for (int k = 0; k < r->n_texts; k++)
        if (any_present(r, OFF(ppl) + (size_t)k * sizeof(double))) return 1;
    return 0;
}

/* MUSE's criteria and next-sentence accuracy: one chart each, when measured. */
static const struct {
    size_t off;
    const char *id, *title, *note, *axis, *fmt;
} CRITERIA[] = {
    {OFF(verbmem_f1), "verbmem", "VerbMem",
     "ROUGE-L F1 of greedy continuations of target excerpts against the text: lower is less "
     "verbatim memory; the oracle's is where a model that never saw the target stands.",
     "ROUGE-L F1", "%.3f"},
    {OFF(knowmem_f1), "knowmem", "KnowMem on the target",
     "ROUGE-L F1 of answers to questions about the target.", "ROUGE-L F1", "%.3f"},
    {OFF(kr_f1), "knowmem-retain", "KnowMem on retain",
     "ROUGE-L F1 of answers to questions about the general text: what unlearning must keep.",
     "ROUGE-L F1", "%.3f"},
    {OFF(privleak), "privleak", "PrivLeak",
     "Min-K% membership AUC of target against never-seen text of the same source, relative to "
     "the oracle's: near 0 is right; positive, the target still scores as seen (under-forgetting); "
     "negative, it scores as less likely than unseen text (over-forgetting). MUSE reports the "
     "opposite sign.",
     "PrivLeak (%)", "%+.1f"},
    {OFF(ns_acc), "next-sentence", "Next-sentence accuracy",
     "Share of general-text items where the true next sentence scores highest.", "accuracy",
     "%.3f"},
};
enum { N_CRITERIA = sizeof CRITERIA / sizeof CRITERIA[0] };

static int n_charts(const Report *r) {
    int n = 0;
    for (int k = 0; k < N_CRITERIA; k++) n += any_present(r, CRITERIA[k].off);
    return n + any_present(r, OFF(fam_prob)) + any_present(r, OFF(leak_rate)) + has_ppl(r) +
           has_relearn(r) + r->n_logs;
}

/* One bar chart of a figure per model. */
static void model_bars(const Report *r, FILE *out, const char *id, const char *title,
                       const char *axis, size_t off, int log_scale, const char *fmt) {
    const char **cats = calloc((size_t)r->n_models, sizeof *cats);
    double *v = calloc((size_t)r->n_models, sizeof *v);
    if (cats && v) {
        for (int i = 0; i < r->n_models; i++)
            cats[i] = r->models[i].name, v[i] = field(&r->models[i], off);
        SvgBarChart c = {title, axis, cats, r->n_models, NULL, 1, v, log_scale, fmt, id};
        fputs("<figure>\n", out);
        svg_bar_chart(out, &c);
        fputs("</figure>\n", out);
    }
    free(cats);
    free(v);
}

/* Every (model, series) pair: perplexity per text, or familiarity before and
 * after relearning. */
static void grouped_bars(const Report *r, FILE *out, const SvgBarChart *proto, const size_t *offs,
                         int ns) {
    const char **cats = calloc((size_t)r->n_models, sizeof *cats);
    double *v = calloc((size_t)r->n_models * (size_t)ns, sizeof *v);
    if (cats && v) {
        for (int i = 0; i < r->n_models; i++) {
            cats[i] = r->models[i].name;
            for (int s = 0; s < ns; s++) v[i * ns + s] = field(&r->models[i], offs[s]);
        }
        SvgBarChart c = *proto;
        c.cats = cats, c.n_cats = r->n_models, c.n_series = ns, c.v = v;
        fputs("<figure>\n", out);
        svg_bar_chart(out, &c);
        fputs("</figure>\n", out);
    }
    free(cats);
    free(v);
}

/* Training loss (at most about 1000 points, every k-th step and the last) and
 * validation loss of one log. */
static void loss_chart(const ReportLog *lg, int idx, FILE *out) {
    int k = lg->n > 1000 ? (lg->n + 999) / 1000 : 1, n = 0;
    double *x = calloc((size_t)lg->n, sizeof *x), *y = calloc((size_t)lg->n, sizeof *y);
    if (!x || !y) goto done;
    for (int i = 0; i < lg->n; i += k) x[n] = lg->step[i], y[n++] = lg->loss[i];
    if ((lg->n - 1) % k) x[n] = lg->step[lg->n - 1], y[n++] = lg->loss[lg->n - 1];
    SvgSeries s[2] = {{"training loss", x, y, n, 0},
                      {"validation loss", lg->vstep, lg->vloss, lg->nv, 1}};
    char title[256], id[32];
    snprintf(title, sizeof title, "Loss: %s", lg->name);
    snprintf(id, sizeof id, "loss-%d", idx);
    SvgLineChart c = {title, "step", "loss", s, lg->nv ? 2 : 1, id};
    fputs("<figure>\n", out);
    svg_line_chart(out, &c);
    fputs("</figure>\n", out);
done:
    free(x);
    free(y);
}

static void html_charts(const Report *r, FILE *out) {
    if (any_present(r, OFF(fam_prob))) {
        fputs("<h2>Familiarity</h2>\n<p class=\"note\">Mean probability of the target's own "
              "continuation over the prompts (log scale): lower is more forgotten.</p>\n",
              out);
        model_bars(r, out, "familiarity", "Familiarity per model",
                   "mean P(continuation), log scale", OFF(fam_prob), 1, "%.3g");
    }
    if (any_present(r, OFF(leak_rate))) {
        fputs("<h2>Completion leak rate</h2>\n<p class=\"note\">Share of greedy completions of "
              "target passages that name a term their prompt lacks.</p>\n",
              out);
        model_bars(r, out, "leak-rate", "Leak rate per model", "leak rate", OFF(leak_rate), 0,
                   "%.3f");
    }
    for (int k = 0; k < N_CRITERIA; k++) {
        if (!any_present(r, CRITERIA[k].off)) continue;
        fprintf(out, "<h2>%s</h2>\n<p class=\"note\">", CRITERIA[k].title);
        xml_escape(out, CRITERIA[k].note);
        fputs("</p>\n", out);
        model_bars(r, out, CRITERIA[k].id, CRITERIA[k].title, CRITERIA[k].axis, CRITERIA[k].off, 0,
                   CRITERIA[k].fmt);
    }
    if (has_ppl(r)) {
        size_t offs[REPORT_MAX_TEXTS];
        for (int k = 0; k < r->n_texts; k++) offs[k] = OFF(ppl) + (size_t)k * sizeof(double);
        fputs("<h2>Perplexity</h2>\n", out);
        SvgBarChart c = {"Perplexity per model and text",
                         "perplexity",
                         NULL,
                         0,
                         (const char *const *)r->texts,
                         0,
                         NULL,
                         0,
                         "%.1f",
                         "perplexity"};
        grouped_bars(r, out, &c, offs, r->n_texts);
    }
    if (has_relearn(r)) {
        static const char *const series[] = {"before", "after relearning"};
        size_t offs[2] = {OFF(fam_prob), OFF(relearn_prob)};
        fputs("<h2>Relearning</h2>\n<p class=\"note\">Familiarity before and after a few steps of "
              "fine-tuning on related text: how much comes back.</p>\n",
              out);
        SvgBarChart c = {"Familiarity before and after relearning",
                         "mean P(continuation), log scale",
                         NULL,
                         0,
                         series,
                         0,
                         NULL,
                         1,
                         "%.3g",
                         "relearn"};
        grouped_bars(r, out, &c, offs, 2);
    }
    if (r->n_logs) fputs("<h2>Training</h2>\n", out);
    for (int i = 0; i < r->n_logs; i++) loss_chart(&r->logs[i], i, out);
}

void report_html(const Report *r, FILE *out) {
    fprintf(out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>obliviate report</title>\n<style>%s</style>\n<script>%s</script>\n</head>\n"
            "<body data-errors=\"not-checked\" data-charts=\"%d\">\n<h1>obliviate report</h1>\n"
            "<p class=\"note\">From <code>",
            css, check_script, n_charts(r));
    xml_escape(out, r->eval_path);
    fputs("</code>. Baseline: <b>", out);
    xml_escape(out, r->models[r->baseline].name);
    fputs("</b>", out);
    if (r->oracle >= 0) {
        fputs("; oracle (never saw the target): <b>", out);
        xml_escape(out, r->models[r->oracle].name);
        fputs("</b>", out);
    }
    fputs(". Ratios: how many times lower (forgotten) or higher a figure is than the reference "
          "model's.</p>\n<h2>Side by side</h2>\n",
          out);
    html_table(r, out);
    html_charts(r, out);
    fputs("</body>\n</html>\n", out);
}

/* ---- files ---- */

/* mkdir -p */
static int make_dirs(const char *dir, ObErr *err) {
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) return ob_errf(err, "%s: bad folder name", dir);
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        char c = path[i];
        path[i] = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return ob_errf(err, "%s: cannot create folder: %s", path, strerror(errno));
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return ob_errf(err, "%s: not a folder", dir);
    return 0;
}

static int write_one(const Report *r, const char *path, int html, ObErr *err) {
    ObAtomicFile af;
    if (ob_atomic_open(&af, path, err)) return -1;
    if (html)
        report_html(r, af.fp);
    else
        report_markdown(r, af.fp);
    return ob_atomic_commit(&af, err);
}

int report_write(const Report *r, const char *dir, char *md_path, char *html_path, size_t cap,
                 ObErr *err) {
    if (make_dirs(dir, err)) return -1;
    if ((size_t)snprintf(md_path, cap, "%s/report.md", dir) >= cap ||
        (size_t)snprintf(html_path, cap, "%s/report.html", dir) >= cap)
        return ob_errf(err, "%s: folder name too long", dir);
    return write_one(r, md_path, 0, err) || write_one(r, html_path, 1, err) ? -1 : 0;
}
