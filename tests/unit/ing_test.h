/*
 * ing_test: the few macros our C unit tests share. A failed CHECK prints the case and the
 * location and counts a failure; ING_TEST_END prints "N passed, N failed" and sets the exit
 * status, so every test program can fail and CTest sees it.
 */
#ifndef ING_TEST_H
#define ING_TEST_H

#include <stdio.h>

typedef struct ing_test_counts {
    int passed;
    int failed;
} ing_test_counts_t;

#define CHECK(t, cond, ...)                                                                        \
    do {                                                                                           \
        if (cond) {                                                                                \
            (t)->passed++;                                                                         \
        } else {                                                                                   \
            (t)->failed++;                                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define ING_TEST_END(t)                                                                            \
    (printf("%s: %d passed, %d failed\n", __FILE__, (t)->passed, (t)->failed),                     \
     (t)->failed || (t)->passed == 0 ? 1 : 0)

#endif
