/* Helpers that make no libc call get no call site. */
#include <stdio.h>

int square(int x) { return x * x; }

int add(int a, int b) { return square(a) + b; }

int main(int argc, char **argv) {
    int v = add(argc, 2);
    printf("%d\n", v);
    return square(v) & 1;
}
