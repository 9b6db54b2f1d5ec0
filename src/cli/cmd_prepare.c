/* obliviate prepare: the demo's raw downloads (tools/fetch-demo-data.sh) ->
 * its training and evaluation texts (text/prepare.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "text/prepare.h"

int cmd_prepare(int argc, char **argv) {
    PrepareConfig pc;
    prepare_config_defaults(&pc);
    Opt opts[] = {
        {"--raw", OPT_STR, &pc.raw, "folder of the downloads (tools/fetch-demo-data.sh CACHE_DIR)"},
        {"--out|-o", OPT_STR, &pc.out, "folder to write the texts into (created if needed)"},
        {NULL, 0, NULL, NULL},
    };
    Command cmd = {
        "prepare",
        "--raw CACHE_DIR/raw --out CACHE_DIR/data",
        "Builds the demo's texts from the downloads that tools/fetch-demo-data.sh verified: "
        "The Adventures of Sherlock Holmes without its Project Gutenberg header and licence, "
        "split into stories/01.txt..12.txt; forget.txt (stories 1-10, the text to forget); "
        "target_heldout.txt (stories 11-12, never trained on); general_train.txt and "
        "general_heldout.txt (the Brown corpus untagged, the State of the Union addresses and "
        "Moby Dick; held out: every 20th Brown file and address and the last 1/20 of the "
        "chapters); names-female.txt and names-male.txt (first names, one a line, sorted, for "
        "`anchors extract`). "
        "Unpacks the archives with tar and dpkg-deb into a temporary folder ($TMPDIR or /tmp). "
        "The same downloads always give the same bytes, listed in data/demo-manifest.tsv.",
        "obliviate prepare --raw .cache/demo/raw --out .cache/demo/data",
        opts,
        0,
        0};
    int rc = args_options(&cmd, NULL, argc, argv);
    if (rc != ARGS_RUN) return rc;
    if (!pc.raw || !pc.out) return cli_fail(cmd.name, "--raw and --out are required (see --help)");
    PrepareResult res;
    ObErr err;
    if (prepare_demo(&pc, &res, &err)) return cli_fail(cmd.name, err.msg);
    print_json(res.summary);
    fprintf(
        stderr, "prepare: %d stories, forget set %zu bytes, general text %zu + %zu bytes in %s\n",
        res.n_parts, res.forget_bytes, res.general_train_bytes, res.general_heldout_bytes, pc.out);
    return 0;
}
