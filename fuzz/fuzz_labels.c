/* Labels files: labels_open validates the header and every record; a file
 * it accepts must then serve the fine-tune's batches and held-out split. */
#include "fuzz.h"
#include "unlearn/finetune.h"
#include "unlearn/labels.h"
#include "util/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(".labels", data, size);
    if (!path) return 0;
    LabelsFile lf;
    ObErr err = {{0}};
    if (labels_open(&lf, path, NULL, &err)) return 0;
    for (int soft = 0; soft < 2; soft++) {
        LabelsData ld;
        if (labels_data_init(&ld, &lf, lf.h.alphas[0], soft, 0.05, 2, &err)) continue;
        size_t BT = 2 * (size_t)lf.h.block, k = soft ? lf.h.soft_k : 0;
        int32_t *buf = malloc(sizeof(int32_t) * BT * (2 + k) + sizeof(float) * BT * (k + 1));
        if (!buf) abort();
        SoftBuf sb = {(int)k, buf + 2 * BT, (float *)(buf + (2 + k) * BT),
                      (float *)(buf + (2 + k) * BT) + BT * k};
        ObRng rng;
        ob_rng_seed(&rng, 1);
        batch_from_labels(&ld, &rng, 2, (int)lf.h.block, buf, buf + BT, k ? &sb : NULL, &err);
        free(buf);
        labels_data_free(&ld);
    }
    labels_close(&lf);
    return 0;
}
