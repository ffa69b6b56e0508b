/* check.h - the tests' programs count failed checks: CHECK(cond, fmt, ...)
 * prints "FAILED: " and the message when cond is false. */
#ifndef SP_EMU_TEST_CHECK_H
#define SP_EMU_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED: " __VA_ARGS__);                                                        \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#endif
