/* KnowMem questions: JSON Lines {question, answer}, few-shot prompts built. */
#include "eval/jsonl.h"
#include "eval/memorisation.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    JsonlFile f;
    ObErr err = {{0}};
    if (jsonl_parse(&f, "fuzz.jsonl", (const char *)data, size, KNOW_JSONL_FIELDS, &err)) return 0;
    KnowConfig c;
    know_config_defaults(&c);
    KnowSet s;
    if (!know_build(&s, &f, &c, &err)) {
        for (int i = 0; i < s.n && i < 8; i++) free(know_prompt(&s, i, s.n_shots[i], &err));
        know_set_free(&s);
    }
    jsonl_free(&f);
    return 0;
}
