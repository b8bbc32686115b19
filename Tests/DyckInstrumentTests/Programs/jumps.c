/* setjmp/longjmp out of recursive instrumented frames, twice from the same setjmp,
   and sigsetjmp/siglongjmp from a nested function. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf target;
static sigjmp_buf other;

static void descend(int n) {
    printf("descend %d\n", n);
    if (n == 0) longjmp(target, 42);
    descend(n - 1);
    puts("never");
}

static int attempt(int depth) {
    int r = setjmp(target);
    if (r == 0) {
        descend(depth);
        return -1;
    }
    return r + depth;
}

static void leave(void) {
    fputs("leaving\n", stdout);
    siglongjmp(other, 3);
}

int main(int argc, char **argv) {
    (void)argv;
    printf("first %d\n", attempt(3));
    printf("second %d\n", attempt(argc));
    if (sigsetjmp(other, 1) == 0) {
        leave();
    } else {
        puts("resumed");
    }
    return 0;
}
