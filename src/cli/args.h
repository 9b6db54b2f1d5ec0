/* Flag parsing for the command line: each command describes its options in a
 * table, which also produces its --help. */
#ifndef OB_ARGS_H
#define OB_ARGS_H

#include <stdint.h>

/* OPT_FLAG sets its int to 1, OPT_OFF to 0 ("--no-inkey"). */
typedef enum {
    OPT_INT,
    OPT_LONG,
    OPT_U64,
    OPT_FLOAT,
    OPT_DOUBLE,
    OPT_STR,
    OPT_FLAG,
    OPT_OFF,
    OPT_LIST
} OptType;

/* Values of an option that may repeat ("--model a.gguf --model b.gguf"); the
 * strings point into argv. */
typedef struct {
    const char *items[32];
    int n;
} StrList;

typedef struct {
    const char *name; /* "--steps"; a short alias may follow after '|': "--out|-o" */
    OptType type;
    void *dst; /* int*, long*, uint64_t*, float*, double*, const char**, int* */
    const char *help;
} Opt;

typedef struct {
    const char *name;     /* "train" */
    const char *usage;    /* "[options] FILE..." */
    const char *summary;  /* one paragraph */
    const char *example;  /* one command line */
    const Opt *opts;      /* terminated by {NULL} */
    int min_pos, max_pos; /* positional arguments allowed (max -1 = any) */
} Command;

/* What the parsers return when the command should run. */
#define ARGS_RUN (-1)

/* Parses argv (after the command name). Returns ARGS_RUN with the positional
 * arguments in *pos (pointers into argv; the caller frees the array), or else
 * the command's exit status with *pos freed and NULL: 0 after --help was
 * printed, 2 after a usage error was. */
int args_parse(const Command *cmd, int argc, char **argv, char ***pos, int *n_pos);
/* The same with option groups shared with other commands (cli/opts.h) after
 * the command's own table: groups is NULL-terminated (or NULL), at most 4. */
int args_parse_groups(const Command *cmd, const Opt *const *groups, int argc, char **argv,
                      char ***pos, int *n_pos);
/* args_parse_groups for a command that takes no positional arguments
 * (cmd->max_pos 0). */
int args_options(const Command *cmd, const Opt *const *groups, int argc, char **argv);

/* Options every command takes. */
extern int g_threads;
void apply_threads(void);

/* --precision fp32|bf16: the matmul precision (model/ops.h) of the commands
 * that run the model; args_parse reads it into cli_precision(), for the
 * command to put in its config, and says once on stderr when this CPU cannot
 * run bf16 and fp32 is used instead. */
extern const char *g_precision;
#include "model/ops.h"
ObPrecision cli_precision(void);
#define OPT_PRECISION                                                                              \
    {                                                                                              \
        "--precision", OPT_STR, &g_precision,                                                      \
            "matmul precision: fp32 (default) or bf16 (AVX512_BF16 CPUs; fp32 elsewhere)"          \
    }

/* "f32" | "f16" | "bf16" -> GGML_TYPE_*; -1 if unknown. */
int parse_dtype(const char *s, uint32_t *type);

/* Prints a cJSON object as one line on stdout and deletes it. */
struct cJSON;
void print_json(struct cJSON *obj);

/* Prints "obliviate CMD: MSG" on stderr and returns 1 (the exit status). */
int cli_fail(const char *cmd, const char *msg);
/* cli_fail for a bad command line (a setting out of range): returns 2. */
int cli_usage(const char *cmd, const char *msg);

#endif
