/* A switch with fall-through, a case that returns and a default. */
#include <stdio.h>

int main(int argc, char **argv) {
    switch (argc) {
    case 1:
        puts("one");
        break;
    case 2:
        puts("two");
        /* fall through */
    case 3:
        putchar('3');
        break;
    case 4:
        return 4;
    default:
        fprintf(stderr, "many\n");
    }
    fflush(stdout);
    return 0;
}
