/* A minimal test harness: each test is a function; CHECK records failures
 * with file:line; RUN counts a test as passed when none of its checks failed.
 * check_main_end prints "N passed, N failed" for this binary. */
#ifndef OB_CHECK_H
#define OB_CHECK_H

#include <stdio.h>

static int check_failures_in_test;
static int check_tests_passed, check_tests_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            check_failures_in_test++;                                                              \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        check_failures_in_test = 0;                                                                \
        fn();                                                                                      \
        if (check_failures_in_test) {                                                              \
            check_tests_failed++;                                                                  \
            fprintf(stderr, "FAIL %s\n", #fn);                                                     \
        } else {                                                                                   \
            check_tests_passed++;                                                                  \
            fprintf(stderr, "ok   %s\n", #fn);                                                     \
        }                                                                                          \
    } while (0)

static inline int check_main_end(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_tests_passed, check_tests_failed);
    return check_tests_failed ? 1 : 0;
}

#endif
