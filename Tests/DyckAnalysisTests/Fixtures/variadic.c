/* printf, and user-defined variadic functions using va_list. */
#include <stdarg.h>
#include <stdio.h>

void log_line(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

int sum(int n, ...) {
    va_list ap;
    int s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s += va_arg(ap, int);
    va_end(ap);
    return s;
}

int main(void) {
    printf("%d %s\n", 1, "x");
    log_line("%d\n", sum(3, 1, 2, 3));
    return 0;
}
