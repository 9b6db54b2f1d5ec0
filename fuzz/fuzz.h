/* Shared helpers for the libFuzzer targets (fuzz/README.md).
 *
 * Readers that only take a path get the input through a per-process temp
 * file; readers that need a tokenizer get one trained once, at start-up, on a
 * fixed text (deterministic, so a crash reproduces from its input alone). */
#ifndef OB_FUZZ_H
#define OB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/tokenizer.h"

/* Writes data to a temp file whose path is the same for the whole process
 * and returns the path, or NULL (then the target skips the input). */
static inline const char *fuzz_file(const char *suffix, const uint8_t *data, size_t size) {
    static char path[128];
    snprintf(path, sizeof path, "/tmp/obliviate-fuzz-%ld%s", (long)getpid(), suffix);
    FILE *fp = fopen(path, "wb");
    if (!fp) return NULL;
    int bad = size && fwrite(data, 1, size, fp) != size;
    bad |= fclose(fp) != 0;
    return bad ? NULL : path;
}

/* A NUL-terminated copy of the input (the caller frees). */
static inline char *fuzz_str(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* A small byte-level BPE tokenizer, the same in every run. */
static inline const Tokenizer *fuzz_tokenizer(void) {
    static Tokenizer tok;
    static int ready;
    if (ready) return &tok;
    static const char text[] =
        "Harry Potter went to Hogwarts with Ron and Hermione. The quick brown fox "
        "jumps over the lazy dog. \"Mr. Dursley\" said: it's 4 o'clock, Hagrid's "
        "hut is near the lake.\nÜber naïve café — 東京 and Привет.\n";
    const char *texts[1] = {text};
    size_t lens[1] = {sizeof text - 1};
    ObErr err = {{0}};
    if (tok_train_texts(&tok, texts, lens, 1, 320, 0, &err)) {
        fprintf(stderr, "fuzz: tokenizer: %s\n", err.msg);
        abort();
    }
    ready = 1;
    return &tok;
}

#endif
