/* A call to a function that is neither defined here nor in libc. */
#include <stdio.h>

void external_hook(int);

int main(void) {
    puts("before");
    external_hook(1);
    puts("after");
    external_hook(2);
    return 0;
}
