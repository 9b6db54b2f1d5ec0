#include "cli/args.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/ops.h"
#include "util/blas.h"
#include "util/dist.h"

int g_threads = 0;
const char *g_precision = NULL;

void openblas_set_num_threads(int);

void apply_threads(void) {
#ifdef _OPENMP
    if (g_threads > 0) omp_set_num_threads(g_threads);
    openblas_set_num_threads(g_threads > 0 ? g_threads : omp_get_max_threads());
#endif
}

static ObPrecision g_prec = OB_PREC_FP32;

ObPrecision cli_precision(void) {
    return g_prec;
}

/* Reads --precision into cli_precision(); 2 after a usage error. */
static int apply_precision(const Command *cmd) {
    if (!g_precision) return 0;
    if (strcmp(g_precision, "fp32") && strcmp(g_precision, "bf16")) {
        fprintf(stderr, "obliviate %s: --precision: expected fp32 or bf16, got '%s'\n", cmd->name,
                g_precision);
        return 2;
    }
    ObPrecision want = strcmp(g_precision, "bf16") ? OB_PREC_FP32 : OB_PREC_BF16;
    g_prec = ops_precision_supported(want);
    if (g_prec != want)
        fprintf(stderr, "obliviate %s: this CPU lacks AVX512_BF16; running the matmuls in fp32\n",
                cmd->name);
    return 0;
}

int cli_fail(const char *cmd, const char *msg) {
    if (dist_size() > 1) /* which process failed, when several run (MPI) */
        fprintf(stderr, "obliviate %s: rank %d of %d: %s\n", cmd, dist_rank(), dist_size(), msg);
    else
        fprintf(stderr, "obliviate %s: %s\n", cmd, msg);
    return 1;
}

int cli_usage(const char *cmd, const char *msg) {
    return cli_fail(cmd, msg) * 2;
}

void print_json(cJSON *obj) {
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    if (s) puts(s);
    free(s);
    cJSON_Delete(obj);
}

static const Opt common_opts[] = {
    {"--threads", OPT_INT, &g_threads, "worker threads (default: all cores)"},
    {NULL, 0, NULL, NULL},
};

/* Does arg name this option ("--out" or its alias "-o")? */
static int opt_matches(const Opt *o, const char *arg) {
    const char *bar = strchr(o->name, '|');
    size_t n = bar ? (size_t)(bar - o->name) : strlen(o->name);
    if (strlen(arg) == n && !strncmp(arg, o->name, n)) return 1;
    return bar && !strcmp(arg, bar + 1);
}

static const Opt *find_opt(const Command *cmd, const Opt *const *groups, const char *arg) {
    for (const Opt *o = cmd->opts; o && o->name; o++)
        if (opt_matches(o, arg)) return o;
    for (int g = 0; groups && groups[g]; g++)
        for (const Opt *o = groups[g]; o->name; o++)
            if (opt_matches(o, arg)) return o;
    for (const Opt *o = common_opts; o->name; o++)
        if (opt_matches(o, arg)) return o;
    return NULL;
}

static int set_value(const Command *cmd, const Opt *o, const char *arg, const char *v) {
    char *end;
    errno = 0;
    switch (o->type) {
    case OPT_INT:
    case OPT_LONG: {
        long x = strtol(v, &end, 10);
        if (errno || *end || end == v ||
            (o->type == OPT_INT && (x > 2147483647L || x < -2147483647L)))
            goto bad;
        if (o->type == OPT_INT)
            *(int *)o->dst = (int)x;
        else
            *(long *)o->dst = x;
        return 0;
    }
    case OPT_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || *end || end == v || *v == '-') goto bad;
        *(uint64_t *)o->dst = x;
        return 0;
    }
    case OPT_FLOAT: {
        float x = strtof(v, &end);
        if (errno || *end || end == v || !isfinite(x)) goto bad;
        *(float *)o->dst = x;
        return 0;
    }
    case OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (errno || *end || end == v || !isfinite(x)) goto bad;
        *(double *)o->dst = x;
        return 0;
    }
    case OPT_STR: *(const char **)o->dst = v; return 0;
    case OPT_LIST: {
        StrList *l = o->dst;
        if (l->n >= (int)(sizeof l->items / sizeof l->items[0])) {
            fprintf(stderr, "obliviate %s: %s given too many times\n", cmd->name, arg);
            return -1;
        }
        l->items[l->n++] = v;
        return 0;
    }
    case OPT_FLAG:
    case OPT_OFF: return 0;
    }
bad:
    fprintf(stderr, "obliviate %s: %s: invalid value '%s'\n", cmd->name, arg, v);
    return -1;
}

static void help_table(const Opt *opts) {
    for (const Opt *o = opts; o && o->name; o++) {
        const char *arg = o->type == OPT_FLAG || o->type == OPT_OFF   ? ""
                          : o->type == OPT_STR || o->type == OPT_LIST ? " S"
                                                                      : " N";
        char left[64];
        snprintf(left, sizeof left, "%s%s", o->name, arg);
        printf("  %-24s %s\n", left, o->help);
    }
}

static void args_help(const Command *cmd, const Opt *const *groups) {
    printf("usage: obliviate %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage, cmd->summary);
    help_table(cmd->opts);
    for (int g = 0; groups && groups[g]; g++) help_table(groups[g]);
    help_table(common_opts);
    printf("  %-24s %s\n\nexample:\n  %s\n", "--help", "show this help", cmd->example);
}

/* 0 to run, 1 after --help, 2 after a usage error. */
static int parse(const Command *cmd, const Opt *const *groups, int argc, char **argv, char ***pos,
                 int *n_pos) {
    *pos = calloc((size_t)argc + 1, sizeof(char *));
    *n_pos = 0;
    if (!*pos) return cli_fail(cmd->name, "out of memory") * 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            args_help(cmd, groups);
            return 1;
        }
        if (a[0] != '-' || !strcmp(a, "-") || !strcmp(a, "--")) {
            if (!strcmp(a, "--")) {
                while (++i < argc) (*pos)[(*n_pos)++] = argv[i];
                break;
            }
            (*pos)[(*n_pos)++] = argv[i];
            continue;
        }
        const Opt *o = find_opt(cmd, groups, a);
        if (!o) {
            fprintf(stderr, "obliviate %s: unknown option %s (see obliviate %s --help)\n",
                    cmd->name, a, cmd->name);
            return 2;
        }
        if (o->type == OPT_FLAG || o->type == OPT_OFF) {
            *(int *)o->dst = o->type == OPT_FLAG;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "obliviate %s: %s needs a value\n", cmd->name, a);
            return 2;
        }
        if (set_value(cmd, o, a, argv[++i])) return 2;
    }
    if (*n_pos < cmd->min_pos || (cmd->max_pos >= 0 && *n_pos > cmd->max_pos)) {
        fprintf(stderr, "obliviate %s: expected %s (see obliviate %s --help)\n", cmd->name,
                cmd->usage, cmd->name);
        return 2;
    }
    if (g_threads < 0) {
        fprintf(stderr, "obliviate %s: --threads %d: must be 0 (all cores) or more\n", cmd->name,
                g_threads);
        return 2;
    }
    apply_threads();
    return apply_precision(cmd);
}

int args_parse_groups(const Command *cmd, const Opt *const *groups, int argc, char **argv,
                      char ***pos, int *n_pos) {
    int rc = parse(cmd, groups, argc, argv, pos, n_pos);
    if (!rc) return ARGS_RUN;
    free(*pos), *pos = NULL;
    return rc == 1 ? 0 : rc;
}

int args_parse(const Command *cmd, int argc, char **argv, char ***pos, int *n_pos) {
    return args_parse_groups(cmd, NULL, argc, argv, pos, n_pos);
}

int args_options(const Command *cmd, const Opt *const *groups, int argc, char **argv) {
    char **pos;
    int n_pos, rc = args_parse_groups(cmd, groups, argc, argv, &pos, &n_pos);
    free(pos);
    return rc;
}
