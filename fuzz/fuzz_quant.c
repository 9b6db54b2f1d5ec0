/* The block dequantisers and quantisers (io/quant.c) on arbitrary bytes: the
 * first byte picks the type, the rest are its blocks (a partial last block is
 * dropped). Any bytes decode without reading past the blocks, and whatever
 * they decode to (NaN and infinities included) quantises again without
 * writing past its blocks; the sanitizers catch a stray access, and UBSan a
 * shift or conversion out of range. */
#include "fuzz.h"
#include "io/gguf.h"
#include "io/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint32_t types[7] = {GGML_TYPE_Q4_0, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K,
                                      GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_Q5_0,
                                      GGML_TYPE_Q5_1};
    if (size < 1) return 0;
    uint32_t type = types[data[0] % 7];
    uint64_t bytes, per = quant_block(type, &bytes), n_blocks = (size - 1) / bytes;
    if (!n_blocks) return 0;
    /* an exact-size copy, so ASan sees a read past the last block */
    uint8_t *blocks = malloc(n_blocks * bytes);
    float *out = malloc(sizeof(float) * n_blocks * per);
    if (!blocks || !out) abort();
    memcpy(blocks, data + 1, n_blocks * bytes);
    if (quant_dequantize(type, blocks, out, n_blocks * per)) abort();
    if (quant_quantize(type, out, blocks, n_blocks * per)) abort();
    free(blocks), free(out);
    return 0;
}
