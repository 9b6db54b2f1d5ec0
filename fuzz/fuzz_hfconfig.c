/* Hugging Face config.json: parsed into a Llama configuration or refused
 * with a one-line error naming the unsupported feature. */
#include "fuzz.h"
#include "io/hfconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    HFConfig c;
    ObErr err = {{0}};
    if (hfconfig_parse(&c, (const char *)data, size, "config.json", &err) == 0) {
        if (c.hidden_size <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.vocab_size <= 0) abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort(); /* every refusal is one non-empty line */
    }
    return 0;
}
