/* GGUF reader, then what obliviate reads from a valid file: every metadata
 * value through the typed getters, every small tensor converted to fp32, and
 * the Llama model (llama_from_gguf), and a LoRA adapter (lora_from_gguf). */
#include "../tests/tiny.h"
#include "fuzz.h"
#include "io/gguf.h"
#include "model/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GGUFFile f;
    ObErr err = {{0}};
    if (gguf_open_buffer(&f, data, size, "fuzz.gguf", &err)) return 0;
    for (uint64_t i = 0; i < f.n_kv; i++) {
        const char *k = f.kv[i].key;
        uint64_t u;
        uint32_t u32;
        float x;
        bool b;
        gguf_get_u64(&f, k, &u, &err);
        gguf_get_u32(&f, k, &u32, &err);
        gguf_get_f32(&f, k, &x, &err);
        gguf_get_bool(&f, k, &b, &err);
        free(gguf_get_str(&f, k, &err));
    }
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const GGUFTensor *t = &f.tensors[i];
        if (t->n_elems > (1u << 20)) continue;
        float *out = malloc(t->n_elems * sizeof(float) + 1);
        if (!out) abort();
        gguf_tensor_to_f32(&f, t, out, &err);
        free(out);
    }
    Llama m;
    if (!llama_from_gguf(&m, &f, &err)) llama_free(&m);
    /* as a LoRA adapter for the tiny preset's shape */
    LlamaConfig c = tiny_shape(64, 2, 4, 2, 176, 300, 64, 1);
    int dims[MAT_N][2];
    llama_mat_dims(&c, dims);
    Lora lo;
    if (!lora_from_gguf(&lo, &f, c.n_layers, dims, &err)) lora_free(&lo);
    gguf_close(&f);
    return 0;
}
