/* Uses its own functions (util.c) and both members of libtext.a, a callback through
 * qsort (numops.c), recursion (fib), stdout, stderr and a non-zero exit status. */
#include <stdio.h>
#include <string.h>
#include "text.h"

static int (*reporter)(const char *, long) = report;

int main(int argc, char **argv) {
    char word[64];
    const char *input = argc > 1 ? argv[1] : "dyck-sandbox";
    strncpy(word, input, sizeof word - 1);
    word[sizeof word - 1] = '\0';
    text_reverse(word);
    printf("reversed: %s\n", word);
    reporter("dashes", (long)text_count(input, '-'));

    int values[] = {42, 7, 19, 3, 25};
    int sorted = num_sort(values, sizeof values / sizeof values[0]);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) printf("%d ", values[i]);
    printf("(%d)\n", sorted);

    int ok = 0;
    long n = num_parse("12", &ok);
    if (!ok) return fail("parse");
    report("fib", fib((int)n));
    num_parse("x12", &ok);
    if (!ok) fail("not a number: x12");
    return 3;
}
