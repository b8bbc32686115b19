/* A small wrapper around a recursive function: the wrapper is inlined, and the site of
   the recursive function's call that it makes stays, now also in main's automaton. */
#include <stdio.h>

static int walk(int n) {
    if (n <= 0) {
        puts("bottom");
        return 0;
    }
    return walk(n - 1) + 1;
}

static int start(int n) {
    printf("start\n");
    return walk(n);
}

int main(int argc, char **argv) {
    (void)argv;
    return start(argc);
}
