#include <stdlib.h>
#include <errno.h>
#include "text.h"

static int compare(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

long num_parse(const char *s, int *ok) {
    char *end;
    errno = 0;
    long value = strtol(s, &end, 10);
    *ok = errno == 0 && end != s && *end == '\0';
    return value;
}

int num_sort(int *values, size_t n) {
    qsort(values, n, sizeof *values, compare);
    return (int)n;
}
