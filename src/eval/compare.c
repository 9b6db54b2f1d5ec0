#include "eval/compare.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/report.h"
#include "eval/table.h"
#include "train/trainer.h"
#include "unlearn/method.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/jsonfile.h"
#include "util/log.h"
#include "util/progress.h"

#define MAX_METHODS 32
#define PATH_CAP 4096

void compare_config_defaults(CompareConfig *c) {
    memset(c, 0, sizeof *c);
    unlearn_config_defaults(&c->unlearn);
    eval_config_defaults(&c->eval);
    c->work = "compare-work";
    c->snapshots = 4;
}

/* One method's run: its settings, paths and what came of it. */
typedef struct {
    const UnlearnMethod *m;
    UnlearnConfig u;
    char work[PATH_CAP], out[PATH_CAP];
    double seconds;
    long steps_kept[64]; /* the snapshots' steps */
    double know[64];     /* their KnowMem on the target */
    int n_kept;
    long selected; /* MUSE's rule: the step chosen, 0: the budget's model, -1: never reached */
    char selected_path[PATH_CAP];
} Run;

/* A path into buf (check() keeps --work short enough for every one). */
__attribute__((format(printf, 3, 4))) static void pathf(char *buf, size_t cap, const char *fmt,
                                                        ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* buf = dir/name; 1 when it does not fit (check() keeps every path short). */
static int join(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap;
}

static int parse_methods(const char *list, const UnlearnMethod **ms, int *n, ObErr *err) {
    *n = 0;
    if (!list) {
        for (const UnlearnMethod *m; (m = unlearn_method_at(*n)) && *n < MAX_METHODS;)
            ms[(*n)++] = m;
        return 0;
    }
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[64];
        if (len == 0 || len >= sizeof name) return ob_errf(err, "--methods: bad list \"%s\"", list);
        memcpy(name, p, len), name[len] = 0;
        const UnlearnMethod *m = unlearn_method_find(name);
        if (!m) return ob_errf(err, "--methods: no method \"%s\"", name);
        for (int i = 0; i < *n; i++)
            if (ms[i] == m) return ob_errf(err, "--methods: \"%s\" twice", name);
        if (*n == MAX_METHODS) return ob_errf(err, "--methods: at most %d", MAX_METHODS);
        ms[(*n)++] = m;
        p += len + (p[len] == ',');
    }
    return *n ? 0 : ob_errf(err, "--methods: empty");
}

/* Method r->m's settings: the shared ones, its preset, the budget. */
static int method_config(const CompareConfig *c, Run *r, ObErr *err) {
    const UnlearnMethod *m = r->m;
    UnlearnConfig *u = &r->u;
    *u = c->unlearn;
    u->base = c->base, u->targets = c->targets, u->n_targets = c->n_targets;
    u->anchors = m->needs_anchors ? c->anchors : NULL;
    pathf(r->work, sizeof r->work, "%s/%s", c->work, m->name);
    pathf(r->out, sizeof r->out, "%s/models/%s.gguf", c->work, m->name);
    u->work = r->work, u->out = r->out;
    if (m->preset) m->preset(u);
    for (int k = 0; k < c->n_set; k++)
        if (!strcmp(c->set[k].method, m->name) &&
            unlearn_config_set(u, c->set[k].key, c->set[k].value, err))
            return ob_err_prefix(err, "--set %s.%s", m->name, c->set[k].key);
    if (c->steps > 0) u->finetune.train.steps = c->steps;
    if (u->objective.retain != RETAIN_NONE && c->retain)
        u->finetune.retain = &c->retain, u->finetune.n_retain = 1;
    if (m->ckpt && c->steps > 0 && c->snapshots > 0)
        u->finetune.train.keep_every = c->steps / c->snapshots > 0 ? c->steps / c->snapshots : 1;
    return 0;
}

static int make_dir(const char *path, ObErr *err) {
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return ob_errf(err, "%s: cannot make the folder: %s", path, strerror(errno));
    return 0;
}

/* dst is src: a hard link where the file system allows, else a copy
 * (nothing to do when dst already is src). Under MPI rank 0 alone writes
 * the work folder; callers pass a barrier before the others read it. */
static int place(const char *src, const char *dst, ObErr *err) {
    if (dist_rank() != 0) return 0;
    struct stat a, b;
    if (stat(src, &a) != 0) return ob_errf(err, "%s: %s", src, strerror(errno));
    if (stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) return 0;
    if (unlink(dst) != 0 && errno != ENOENT)
        return ob_errf(err, "%s: cannot replace: %s", dst, strerror(errno));
    return link(src, dst) == 0 ? 0 : ob_copy_file(src, dst, err);
}

/* buf (PATH_CAP) = the checkpoint run r kept at `step` (train_snapshot_path
 * of its method's checkpoint in its work folder). */
static void snapshot_path(char *buf, const Run *r, long step) {
    char ck[PATH_CAP];
    pathf(ck, sizeof ck, "%s/%s", r->work, r->m->ckpt);
    train_snapshot_path(buf, PATH_CAP, ck, step);
}

/* WHP's reinforce stage is the same for every method that runs it (same
 * inputs, same stamp): a later one starts from an earlier one's. */
static int share_reinforce(const Run *runs, int i, ObErr *err) {
    if (dist_rank() != 0) return 0;
    char have[PATH_CAP], want[PATH_CAP];
    pathf(want, sizeof want, "%s/reinforce.stamp", runs[i].work);
    if (!runs[i].m->reinforces || access(want, F_OK) == 0) return 0;
    for (int j = 0; j < i; j++) {
        if (!runs[j].m->reinforces) continue;
        pathf(have, sizeof have, "%s/reinforce.stamp", runs[j].work);
        if (access(have, F_OK) != 0) continue;
        char src[PATH_CAP], dst[PATH_CAP];
        pathf(src, sizeof src, "%s/reinforced.gguf", runs[j].work);
        pathf(dst, sizeof dst, "%s/reinforced.gguf", runs[i].work);
        if (make_dir(runs[i].work, err) || place(src, dst, err) || ob_copy_file(have, want, err))
            return -1;
        ob_logf("compare: %s: reinforce stage shared with %s\n", runs[i].m->name, runs[j].m->name);
        return 0;
    }
    return 0;
}

/* A number at a dotted path of a model's object ("knowmem.rougeL_f1"), or NAN. */
static double json_at(const cJSON *o, const char *path) {
    char key[128];
    while (o && *path) {
        size_t len = strcspn(path, ".");
        if (len >= sizeof key) return NAN;
        memcpy(key, path, len), key[len] = 0;
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path += len + (path[len] == '.');
    }
    return cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

/* MUSE's rule over every kept checkpoint: KnowMem on the target alone, in
 * evaluations of at most EVAL_MAX models with the oracle last. */
static int select_muse(const CompareConfig *c, const char *oracle, Run *runs, int n, ObErr *err) {
    const char *paths[EVAL_MAX];
    int owner[EVAL_MAX], slot[EVAL_MAX];
    double oracle_f1 = NAN;
    int ri = 0, ki = 0, rc = 0;
    char(*kept)[PATH_CAP] = malloc(sizeof *kept * EVAL_MAX);
    if (!kept) return ob_errf(err, "out of memory");
    while (!rc) {
        int m = 0;
        for (; ri < n && m < EVAL_MAX - 1; ki++) {
            if (ki >= runs[ri].n_kept) {
                ri++, ki = -1;
                continue;
            }
            snapshot_path(kept[m], &runs[ri], runs[ri].steps_kept[ki]);
            paths[m] = kept[m], owner[m] = ri, slot[m] = ki, m++;
        }
        if (m == 0) break;
        paths[m++] = oracle;
        EvalConfig e;
        eval_config_defaults(&e);
        e.models = (EvalList){paths, m}, e.knowmem = c->eval.knowmem, e.know = c->eval.know;
        e.seed = c->eval.seed, e.prec = c->eval.prec;
        ob_logf("compare: MUSE's rule: KnowMem of %d checkpoints\n", m - 1);
        cJSON *res;
        if (eval_run(&e, &res, NULL, err)) {
            rc = ob_err_prefix(err, "MUSE's rule");
            break;
        }
        const cJSON *models = cJSON_GetObjectItemCaseSensitive(res, "models");
        oracle_f1 = json_at(cJSON_GetArrayItem(models, m - 1), "knowmem.rougeL_f1");
        for (int j = 0; j < m - 1; j++)
            runs[owner[j]].know[slot[j]] =
                json_at(cJSON_GetArrayItem(models, j), "knowmem.rougeL_f1");
        cJSON_Delete(res);
    }
    free(kept);
    if (rc) return -1;
    for (int i = 0; i < n; i++) {
        Run *r = &runs[i];
        r->selected = r->n_kept ? -1 : 0;
        for (int k = 0; k < r->n_kept && r->selected < 0; k++)
            if (r->know[k] <= oracle_f1) r->selected = r->steps_kept[k];
        if (r->selected <= 0 || r->selected == c->steps) continue;
        char src[PATH_CAP];
        snapshot_path(src, r, r->selected);
        pathf(r->selected_path, sizeof r->selected_path, "%s/models/%s@step%ld.gguf", c->work,
              r->m->name, r->selected);
        if (place(src, r->selected_path, err)) return -1;
    }
    return 0;
}

/* The snapshots a finished run kept. */
static void find_kept(const CompareConfig *c, Run *r) {
    r->n_kept = 0;
    long every = r->u.finetune.train.keep_every;
    if (!r->m->ckpt || every <= 0) return;
    for (long s = every; s <= c->steps && r->n_kept < 64; s += every) {
        char p[PATH_CAP];
        snapshot_path(p, r, s);
        if (access(p, R_OK) == 0) r->know[r->n_kept] = NAN, r->steps_kept[r->n_kept++] = s;
    }
}

/* ---- the table: one row per model, MUSE's criteria first ---- */

static const struct {
    const char *head, *path, *fmt;
} COLUMNS[] = {
    {"VerbMem", "verbmem.rougeL_f1", "%.3f"},
    {"KnowMem forget", "knowmem.rougeL_f1", "%.3f"},
    {"PrivLeak %", "privleak.privleak", "%+.1f"},
    {"KnowMem retain", "knowmem_retain.rougeL_f1", "%.3f"},
    {"familiarity", "familiarity.mean_prob", "%.3g"},
    {"leak rate", "completions.leak_rate", "%.2f"},
    {"next-sentence", "next_sentence.acc", "%.3f"},
    {"relearned familiarity", "relearn.familiarity.mean_prob", "%.3g"},
};
enum { N_COLUMNS = sizeof COLUMNS / sizeof COLUMNS[0] };

static void cell(EvalBuf *b, double v, const char *fmt) {
    if (isnan(v)) {
        evbuf_printf(b, " - |");
        return;
    }
    evbuf_printf(b, " ");
    evbuf_printf(b, fmt, v);
    evbuf_printf(b, " |");
}

static char *make_table(const cJSON *res, const Run *runs, int n, const CompareConfig *c) {
    EvalBuf b = {0};
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(res, "models"), *m;
    const cJSON *ppl0 =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(models, 0), "perplexity");
    evbuf_printf(&b, "| model | steps | seconds |");
    for (int k = 0; k < N_COLUMNS; k++) evbuf_printf(&b, " %s |", COLUMNS[k].head);
    const cJSON *t;
    cJSON_ArrayForEach(t, ppl0) evbuf_printf(&b, " ppl %s |", t->string);
    evbuf_printf(&b, "\n|---|---:|---:|");
    for (int k = 0; k < N_COLUMNS; k++) evbuf_printf(&b, "---:|");
    cJSON_ArrayForEach(t, ppl0) evbuf_printf(&b, "---:|");
    evbuf_printf(&b, "\n");
    cJSON_ArrayForEach(m, models) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
        const char *nm = cJSON_IsString(name) ? name->valuestring : "?";
        double steps = NAN, secs = NAN;
        for (int i = 0; i < n; i++) {
            size_t len = strlen(runs[i].m->name);
            if (strncmp(nm, runs[i].m->name, len) != 0) continue;
            if (nm[len] == 0)
                steps = runs[i].m->ckpt ? (double)c->steps : NAN, secs = runs[i].seconds;
            else if (!strncmp(nm + len, "@step", 5))
                steps = (double)runs[i].selected;
        }
        evbuf_printf(&b, "| %s |", nm);
        cell(&b, steps > 0 ? steps : NAN, "%.0f");
        cell(&b, secs, "%.0f");
        for (int k = 0; k < N_COLUMNS; k++) cell(&b, json_at(m, COLUMNS[k].path), COLUMNS[k].fmt);
        cJSON_ArrayForEach(t, ppl0) {
            char path[256];
            snprintf(path, sizeof path, "perplexity.%s.perplexity", t->string);
            cell(&b, json_at(m, path), "%.2f");
        }
        evbuf_printf(&b, "\n");
    }
    evbuf_printf(&b, "\nNAME@stepK: the first checkpoint whose KnowMem on the target is at or "
                     "below the oracle's (MUSE's rule); NAME: the model after the step budget.\n");
    for (int i = 0; i < n; i++)
        if (runs[i].selected < 0)
            evbuf_printf(&b, "%s: no checkpoint reached the oracle's KnowMem.\n", runs[i].m->name);
    return b.failed ? (free(b.s), NULL) : b.s;
}

static cJSON *compare_json(const CompareConfig *c, const Run *runs, int n) {
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "steps", (double)c->steps);
    cJSON_AddNumberToObject(o, "snapshots", c->snapshots);
    cJSON_AddStringToObject(o, "rule",
                            "MUSE: the first kept checkpoint whose knowmem.rougeL_f1 "
                            "is at or below the oracle's");
    for (int i = 0; i < n; i++) {
        const Run *r = &runs[i];
        cJSON *m = cJSON_CreateObject(), *kept = cJSON_CreateArray();
        cJSON_AddStringToObject(m, "method", r->m->name);
        cJSON_AddStringToObject(m, "model", r->out);
        cJSON_AddNumberToObject(m, "seconds_this_run", r->seconds);
        cJSON_AddNumberToObject(m, "lr", r->u.finetune.train.lr);
        for (int k = 0; k < r->n_kept; k++) {
            cJSON *it = cJSON_CreateObject();
            cJSON_AddNumberToObject(it, "step", (double)r->steps_kept[k]);
            if (isnan(r->know[k]))
                cJSON_AddNullToObject(it, "knowmem_f1");
            else
                cJSON_AddNumberToObject(it, "knowmem_f1", r->know[k]);
            cJSON_AddItemToArray(kept, it);
        }
        cJSON_AddItemToObject(m, "checkpoints", kept);
        if (r->selected > 0)
            cJSON_AddNumberToObject(m, "muse_step", (double)r->selected);
        else if (r->selected < 0)
            cJSON_AddFalseToObject(m, "muse_reached");
        if (r->selected_path[0]) cJSON_AddStringToObject(m, "muse_model", r->selected_path);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_AddItemToObject(o, "methods", arr);
    return o;
}

/* WORK/report: eval's report of the comparison, with each method's
 * unlearning loss curve. */
static int write_report(const CompareConfig *c, const char *json, const Run *runs, int n,
                        ObErr *err) {
    Report r;
    char dir[PATH_CAP], md[PATH_CAP], html[PATH_CAP];
    pathf(dir, sizeof dir, "%s/report", c->work);
    if (report_load(&r, json, "baseline", "oracle", err)) return -1;
    int rc = 0;
    for (int i = 0; !rc && i < n && i < REPORT_MAX_LOGS; i++) {
        char log[PATH_CAP];
        pathf(log, sizeof log, "%s/finetune.log.jsonl", runs[i].work);
        if (access(log, R_OK) == 0) rc = report_add_log(&r, runs[i].m->name, log, err);
    }
    if (!rc) rc = report_write(&r, dir, md, html, sizeof md, err);
    if (!rc) ob_logf("compare: report in %s\n", html);
    report_free(&r);
    return rc;
}

static int check(const CompareConfig *c, Run *runs, int n, ObErr *err) {
    if (!c->base || !c->oracle || !c->n_targets || !c->work)
        return ob_errf(err, "--model, --oracle, --target and --work are required");
    if (strlen(c->work) > 1024) return ob_errf(err, "--work: path too long");
    if (c->steps < 0 || c->snapshots < 0 || c->snapshots > 64)
        return ob_errf(err, "--steps must be >= 0 and --snapshots 0..64");
    for (int i = 0; i < n; i++) {
        Run *r = &runs[i];
        if (method_config(c, r, err)) return -1;
        if (r->m->needs_anchors && !c->anchors)
            return ob_errf(err, "%s needs --anchors (or leave it out of --methods)", r->m->name);
        if (r->u.objective.retain != RETAIN_NONE && !c->retain)
            return ob_errf(err, "%s needs --retain (or leave it out of --methods)", r->m->name);
        if (r->m->check(&r->u, err)) return ob_err_prefix(err, "%s", r->m->name);
    }
    for (int k = 0; k < c->n_set; k++)
        if (!unlearn_method_find(c->set[k].method))
            return ob_errf(err, "--set %s.%s: no method \"%s\"", c->set[k].method, c->set[k].key,
                           c->set[k].method);
    return 0;
}

int compare_run(const CompareConfig *c, cJSON **result, char **table, ObErr *err) {
    *result = NULL;
    if (table) *table = NULL;
    const UnlearnMethod *ms[MAX_METHODS];
    int n;
    if (parse_methods(c->methods, ms, &n, err)) return -1;
    Run *runs = calloc((size_t)n, sizeof *runs);
    if (!runs) return ob_errf(err, "out of memory");
    for (int i = 0; i < n; i++) runs[i].m = ms[i];
    char dir[PATH_CAP], base[PATH_CAP], oracle[PATH_CAP], json[PATH_CAP];
    int rc = check(c, runs, n, err);
    if (!rc && (join(dir, sizeof dir, c->work, "models") ||
                join(base, sizeof base, dir, "baseline.gguf") ||
                join(oracle, sizeof oracle, dir, "oracle.gguf") ||
                join(json, sizeof json, c->work, "compare.json")))
        rc = ob_errf(err, "--work %s: path too long", c->work);
    rc = rc || make_dir(c->work, err) || make_dir(dir, err) || place(c->base, base, err) ||
         place(c->oracle, oracle, err) || dist_barrier(err);
    for (int i = 0; !rc && i < n; i++) {
        Run *r = &runs[i];
        ob_logf("compare: %s (%d of %d): %s\n", r->m->name, i + 1, n, r->m->summary);
        double t0 = ob_now();
        rc = share_reinforce(runs, i, err) || dist_barrier(err) || r->m->run(&r->u, err) ||
             dist_barrier(err);
        if (rc) ob_err_prefix(err, "%s", r->m->name);
        r->seconds = ob_now() - t0;
        find_kept(c, r);
    }
    if (!rc && c->eval.knowmem && c->snapshots > 0 && c->steps > 0)
        rc = select_muse(c, oracle, runs, n, err) || dist_barrier(err);
    /* the evaluation: baseline, every method's model, the selected
     * checkpoints, the oracle */
    const char *paths[EVAL_MAX];
    int m = 0;
    paths[m++] = base;
    for (int i = 0; i < n && m < EVAL_MAX - 1; i++) paths[m++] = runs[i].out;
    for (int i = 0; i < n && m < EVAL_MAX - 1; i++)
        if (runs[i].selected_path[0]) paths[m++] = runs[i].selected_path;
    paths[m++] = oracle;
    cJSON *res = NULL;
    if (!rc) {
        EvalConfig e = c->eval;
        e.models = (EvalList){paths, m};
        if (e.mia_forget.n) e.oracle = "oracle";
        if (!e.anchors && e.comp.n > 0) e.anchors = c->anchors;
        ob_logf("compare: evaluating %d models\n", m);
        rc = eval_run(&e, &res, NULL, err);
    }
    if (!rc) {
        cJSON_AddItemToObject(res, "compare", compare_json(c, runs, n));
        rc = dist_rank() == 0 ? ob_json_write(json, res, err) : 0;
    }
    if (!rc && table && !(*table = make_table(res, runs, n, c))) rc = ob_errf(err, "out of memory");
    if (!rc && dist_rank() == 0) rc = write_report(c, json, runs, n, err);
    free(runs);
    if (rc) {
        cJSON_Delete(res);
        return -1;
    }
    *result = res;
    return 0;
}
