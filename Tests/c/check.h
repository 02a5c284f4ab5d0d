/*
 * check.h - the pass/fail counter the C tests share: check(ok, what) counts a result and prints a failure
 * with the library's last error message; finish() prints "N passed, M failed" and gives main's exit code.
 */
#ifndef SQ_TEST_CHECK_H
#define SQ_TEST_CHECK_H

#include <stdio.h>

#include "swiftquant.h"

static int n_passed, n_failed;

static void check(int ok, const char *what)
{
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL: %s (last error: %s)\n", what, sq_last_error_message());
    }
}

static int finish(void)
{
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}

#endif
