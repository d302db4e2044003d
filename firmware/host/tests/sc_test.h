/* A minimal test harness: CHECK records failures, TEST_MAIN prints "N passed, N failed". */
#ifndef SC_TEST_H
#define SC_TEST_H

#include <stdio.h>
#include <string.h>

static int sc_test_passed;
static int sc_test_failed;
static const char *sc_test_current = "";

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            sc_test_passed++;                                                         \
        } else {                                                                      \
            sc_test_failed++;                                                         \
            fprintf(stderr, "FAIL %s:%d in %s: %s\n", __FILE__, __LINE__,             \
                    sc_test_current, #cond);                                          \
        }                                                                             \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define RUN(test_fn)                 \
    do {                             \
        sc_test_current = #test_fn;  \
        test_fn();                   \
    } while (0)

#define TEST_REPORT()                                                         \
    (printf("%d passed, %d failed\n", sc_test_passed, sc_test_failed),        \
     sc_test_failed == 0 ? 0 : 1)

#endif
