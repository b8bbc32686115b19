/* Libc functions whose effects stay in the process and that cannot call back (strlen,
   strncpy, memcmp, atoi, memset, malloc, free, time, ...) are ε by default
   (specs/analysis.md, "Silent libc functions"): no event, and a function that reaches
   only them gets no call site. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *clear_and_log(void *p, int c, size_t n) {
    printf("clear %zu\n", n);
    return p;
}

/* mbed TLS's mbedtls_platform_zeroize: memset through a volatile pointer, which may
   also hold a function of the program that does reach libc. */
static void *(*volatile zero_func)(void *, int, size_t) = memset;

static size_t measure(const char *s) {
    char *copy = malloc(strlen(s) + 1);
    size_t n = copy ? strlen(strcpy(copy, s)) : 0;
    free(copy);
    return n + (size_t)(time(NULL) < 0);
}

int main(int argc, char **argv) {
    char buf[64];
    strncpy(buf, argc > 1 ? argv[1] : "default", sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    size_t n = measure(buf);
    if (argc > 2)
        zero_func = clear_and_log;
    zero_func(buf, 'x', n);
    if (memcmp(buf, "xxx", 3) == 0)
        puts("match");
    return atoi(argc > 3 ? argv[3] : "0") + (int)(n % 2);
}
