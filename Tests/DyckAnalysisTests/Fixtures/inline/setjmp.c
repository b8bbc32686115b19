/* setjmp records the frame that called it: a function that calls setjmp is never
   inlined; the small function that longjmps to it is. */
#include <setjmp.h>
#include <stdio.h>

static jmp_buf env;

static void fail(void) {
    puts("fail");
    longjmp(env, 1);
}

static int guarded(void) {
    if (setjmp(env)) {
        puts("caught");
        return 1;
    }
    fail();
    return 0;
}

int main(void) {
    return guarded();
}
