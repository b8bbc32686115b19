/* mbed TLS's mbedtls_platform_zeroize calls memset through a volatile pointer. memset
   is a silent libc function (no event), but the pointer's type is also that of
   log_and_fill, which reaches libc: the call is a site with an ε beside it. When the
   pointer holds memset, the call must run without the site's markers, or the monitor
   would see a return from a callee that was never entered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *log_and_fill(void *p, int c, size_t n) {
    printf("fill %zu with %c\n", n, c);
    return memset(p, c, n);
}

static void *(*volatile fill_func)(void *, int, size_t) = memset;

static void zeroize(void *p, size_t n) { fill_func(p, 0, n); }

int main(int argc, char **argv) {
    char buf[32];
    strncpy(buf, argc > 1 ? argv[1] : "secret", sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    size_t n = strlen(buf);
    zeroize(buf, sizeof buf);
    printf("after zeroize: %zu %d\n", n, buf[0]);
    if (argc > 2)
        fill_func = log_and_fill;
    fill_func(buf, '*', 4);
    buf[4] = 0;
    printf("%s %d\n", buf, memcmp(buf, "****", 4) == 0);
    return atoi(argc > 3 ? argv[3] : "0");
}
