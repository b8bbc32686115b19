/* if/else: the assignment's open/read/close example with an else branch. */
#include <stdio.h>

int main(int argc, char **argv) {
    char buf[64];
    FILE *f = fopen(argv[0], "r");
    if (f != NULL) {
        fread(buf, 1, sizeof buf, f);
        fclose(f);
    } else {
        perror("fopen");
    }
    return argc > 1;
}
