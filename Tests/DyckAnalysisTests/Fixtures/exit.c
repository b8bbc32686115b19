/* exit() ends a path: the state after it is a dead end, not a return. */
#include <stdio.h>
#include <stdlib.h>

void die(const char *msg) {
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc > 3)
        die("too many arguments");
    FILE *f = fopen(argv[0], "r");
    if (!f) {
        perror("fopen");
        exit(2);
    }
    fclose(f);
    return 0;
}
