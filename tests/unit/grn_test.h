/*
 * grn_test.h: the unit tests' harness.
 *
 * A test file writes its tests with GRN_TEST(name), lists them once with GRN_TEST_MAIN(...),
 * and checks with grn_expect(cond). Every failing check is printed with its file:line; the last
 * line is "N passed, N failed" (counting checks) and the exit status is non-zero on failure.
 */

#ifndef GRN_TEST_H
#define GRN_TEST_H

#include <stdio.h>

typedef struct {
    const char  *name;
    void       (*run)(void);
} grn_test_t;

static unsigned  grn_test_passed;
static unsigned  grn_test_failed;
static const char  *grn_test_current;

#define GRN_TEST(name)  static void name(void)

#define grn_expect(cond)  grn_test_check((cond) != 0, #cond, __FILE__, __LINE__)

/* Returns ok, so that a test can stop early: if (!grn_expect(p != NULL)) return; */
static int
grn_test_check(int ok, const char *expr, const char *file, int line)
{
    if (ok) {
        grn_test_passed++;
        return 1;
    }

    grn_test_failed++;
    printf("FAIL %s:%d: %s: %s\n", file, line, grn_test_current, expr);

    return 0;
}

#define GRN_TEST_MAIN(...)                                                                 \
    int main(void)                                                                         \
    {                                                                                      \
        static const grn_test_t  tests[] = { __VA_ARGS__ };                                \
        size_t  i;                                                                         \
        setvbuf(stdout, NULL, _IOLBF, 0);                                                  \
        for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {                           \
            grn_test_current = tests[i].name;                                              \
            tests[i].run();                                                                \
        }                                                                                  \
        printf("%u passed, %u failed\n", grn_test_passed, grn_test_failed);                \
        return grn_test_failed ? 1 : 0;                                                    \
    }

#define GRN_TEST_ENTRY(fn)  { #fn, fn }

#endif /* GRN_TEST_H */
