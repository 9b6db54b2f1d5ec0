/* The eval JSON that `obliviate report` reads, then the report rendered as
 * Markdown and HTML (to memory). */
#include "eval/report.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = fuzz_str(data, size);
    Report r;
    ObErr err = {{0}};
    if (!report_parse(&r, "fuzz.json", json, NULL, NULL, &err)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        if (out) {
            report_markdown(&r, out);
            report_html(&r, out);
            fclose(out);
        }
        free(buf);
    }
    report_free(&r);
    free(json);
    return 0;
}
