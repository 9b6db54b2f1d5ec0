/* Next-sentence items: a text split into sentences, items drawn from it. */
#include "eval/nextsent.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char **sent = NULL;
    int n = 0;
    ObErr err = {{0}};
    if (sentences_split((const char *)data, size, &sent, &n, &err)) return 0;
    NextSentConfig c;
    nextsent_config_defaults(&c);
    c.n = 20;
    ChoiceSet s;
    int cand;
    if (!nextsent_build(&s, sent, n, &c, "fuzz.txt", &cand, &err)) choice_set_free(&s);
    sentences_free(sent, n);
    return 0;
}
