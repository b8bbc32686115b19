#include <stdio.h>
#include "text.h"

int report(const char *label, long value) {
    return printf("%s = %ld\n", label, value);
}

int fail(const char *why) {
    fprintf(stderr, "error: %s\n", why);
    fflush(stderr);
    return 1;
}

long fib(int n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
