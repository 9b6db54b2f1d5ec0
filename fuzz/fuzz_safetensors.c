/* safetensors from memory: st_open_buffer validates the whole header; a file
 * it accepts must let every tensor's bytes be read where the header says. */
#include "fuzz.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    STFile f;
    ObErr err = {{0}};
    if (st_open_buffer(&f, data, size, "fuzz.safetensors", &err)) return 0;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < f.n_tensors; i++) {
        const STTensor *t = &f.tensors[i];
        const uint8_t *p = t->data;
        if (t->n_bytes) sink ^= p[0] ^ p[t->n_bytes - 1]; /* ASan checks both ends */
        if (st_find(&f, t->name) == NULL) abort();
    }
    st_meta(&f, "format");
    (void)sink;
    st_close(&f);
    return 0;
}
