/* obliviate inspect: a GGUF file's metadata and tensors (io/gguf_summary.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/gguf_summary.h"

int cmd_inspect(int argc, char **argv) {
    GGUFSummaryConfig sc;
    gguf_summary_config_defaults(&sc);
    Opt opts[] = {{"--json", OPT_FLAG, &sc.json, "print JSON instead of a table"},
                  {NULL, 0, NULL, NULL}};
    Command cmd = {"inspect",
                   "[options] FILE.gguf",
                   "Shows a GGUF file's metadata (arrays summarised) and tensors (name, type, "
                   "shape in ggml order, offset).",
                   "obliviate inspect base.gguf",
                   opts,
                   1,
                   1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc != ARGS_RUN) return rc;
    sc.path = pos[0];
    char *text;
    ObErr err;
    rc = gguf_summary(&sc, &text, &err);
    free(pos);
    if (rc) return cli_fail(cmd.name, err.msg);
    fputs(text, stdout);
    free(text);
    return 0;
}
