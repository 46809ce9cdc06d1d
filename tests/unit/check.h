/* check.h: the tiny assertion helpers shared by the unit tests (tests/unit/test_*.c).
 *
 *   CHECK(cond)        fails the test (prints file:line and the expression, exits 1)
 *   CHECK_EQ(a, b)     integers: prints both values on failure
 *   CHECK_STR(a, b)    C strings: prints both on failure
 *   CHECK_MEM(a, b, n) n bytes equal
 *   REGRESSION(what, present)  a fixed bug: fails if `present` holds again
 *
 * Failures exit(1) at once: a unit test is one process and ctest reports its output. A
 * harness that must tear down first defines CHECK_FAIL() (noreturn) before including this. */
#ifndef CLUSTER_TEST_CHECK_H
#define CLUSTER_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CHECK_FAIL
#define CHECK_FAIL() exit(1)
#endif

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
            CHECK_FAIL();                                                                  \
        }                                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
        if (check_a_ != check_b_) {                                                        \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__,  \
                    __LINE__, #a, #b, check_a_, check_b_);                                 \
            CHECK_FAIL();                                                                  \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                                       \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                   \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s (\"%s\" != \"%s\")\n",       \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",            \
                    check_b_ ? check_b_ : "(null)");                                       \
            CHECK_FAIL();                                                                  \
        }                                                                                  \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                 \
    do {                                                                                   \
        if (memcmp((a), (b), (n)) != 0) {                                                  \
            fprintf(stderr, "%s:%d: CHECK_MEM failed: %s == %s (%zu bytes)\n", __FILE__,    \
                    __LINE__, #a, #b, (size_t)(n));                                        \
            CHECK_FAIL();                                                                  \
        }                                                                                  \
    } while (0)

/* A bug once found and fixed: fails if it is back. */
static inline void check_regression(const char *file, int line, const char *what, int present)
{
    if (present) {
        fprintf(stderr, "%s:%d: REGRESSION: %s\n", file, line, what);
        CHECK_FAIL();
    }
}
#define REGRESSION(what, present) check_regression(__FILE__, __LINE__, (what), (present))

#endif
