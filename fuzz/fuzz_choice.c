/* Multiple-choice sets in every layout (hellaswag, piqa, arc, boolq,
 * winogrande, or told from the first record), then encoded. */
#include "eval/choice.h"
#include "eval/jsonl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    /* The first byte picks the layout: auto most of the time. */
    ChoiceLayout layout =
        data[0] < '0' || data[0] > '4' ? CHOICE_AUTO : (ChoiceLayout)(data[0] - '0');
    JsonlFile f;
    ObErr err = {{0}};
    if (jsonl_parse(&f, "fuzz.jsonl", (const char *)data + 1, size - 1, NULL, &err)) return 0;
    ChoiceSet s;
    if (!choice_from_jsonl(&s, &f, layout, &err)) {
        ChoiceEnc e;
        if (!choice_encode(&e, &s, fuzz_tokenizer(), &err)) choice_enc_free(&e);
        choice_set_free(&s);
    }
    jsonl_free(&f);
    return 0;
}
