/* Familiarity prompts: JSON Lines {prompt, continuation}, then encoded. */
#include "eval/familiarity.h"
#include "eval/jsonl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    JsonlFile f;
    ObErr err = {{0}};
    if (jsonl_parse(&f, "fuzz.jsonl", (const char *)data, size, FAM_JSONL_FIELDS, &err)) return 0;
    FamItem *items = NULL;
    if (!fam_items_from_jsonl(&f, &items, &err)) {
        FamSet s;
        if (!fam_encode(&s, fuzz_tokenizer(), items, f.n, f.path, &err)) fam_set_free(&s);
        free(items);
    }
    jsonl_free(&f);
    return 0;
}
