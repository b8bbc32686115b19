/* Comparators in a constant table that the program calls through, and the same
   functions handed to qsort: the program's calls are call sites, qsort's are
   callbacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*compare_t)(const void *, const void *);

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int by_length(const void *a, const void *b) {
    return (int)strlen(*(char *const *)a) - (int)strlen(*(char *const *)b);
}

static const compare_t orders[] = {by_name, by_length};

static void show(char **names, int n) {
    for (int i = 0; i < n; i++) printf("%s%c", names[i], i + 1 < n ? ' ' : '\n');
}

int main(int argc, char **argv) {
    (void)argv;
    char *pear = "pear", *fig = "fig";
    for (int i = 0; i < 2; i++) printf("order %d: %d\n", i, orders[(i + argc) % 2](&pear, &fig) > 0);
    char *names[] = {"pear", "apple", "fig", "kiwi", "banana"};
    qsort(names, 5, sizeof names[0], orders[argc % 2]);
    show(names, 5);
    qsort(names, 5, sizeof names[0], by_name);
    show(names, 5);
    return 0;
}
