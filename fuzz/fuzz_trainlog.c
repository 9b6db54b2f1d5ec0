/* Training logs (JSON Lines of {step, loss, val_loss}) that `obliviate
 * report --log` reads, then charted in the HTML report of the committed
 * eval fixture (read from the repository root, where make fuzz-run runs). */
#include "eval/report.h"
#include "fuzz.h"
#include "util/fileio.h"

static char *eval_json; /* the fixture's text, read once */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ObErr err = {{0}};
    size_t n;
    if (!eval_json && ob_read_file("tests/fixtures/report/eval.json", &eval_json, &n, &err)) {
        fprintf(stderr, "fuzz_trainlog: %s (run from the repository root)\n", err.msg);
        abort();
    }
    const char *path = fuzz_file(".log.jsonl", data, size);
    if (!path) return 0;
    Report r;
    if (report_parse(&r, "eval.json", eval_json, NULL, NULL, &err)) abort();
    if (!report_add_log(&r, NULL, path, &err)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        if (out) report_html(&r, out), fclose(out);
        free(buf);
    }
    report_free(&r);
    return 0;
}
