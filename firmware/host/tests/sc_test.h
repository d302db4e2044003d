/* A minimal test harness: CHECK records failures, TEST_MAIN prints "N passed, N failed". */
#ifndef SC_TEST_H
#define SC_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Deterministic bytes (splitmix64) for tests: an sc_rng callback whose ctx is a uint64_t state. */
static inline int sc_test_rng(void *ctx, unsigned char *buf, size_t len)
{
    uint64_t *state = ctx;
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        buf[i] = (unsigned char)(z ^ (z >> 31));
    }
    return 0;
}

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
