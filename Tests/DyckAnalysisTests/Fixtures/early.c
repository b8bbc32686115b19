/* Early returns. */
#include <stdio.h>

int process(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (fgetc(f) == EOF) {
        fclose(f);
        return -2;
    }
    fclose(f);
    puts("ok");
    return 0;
}

int main(int argc, char **argv) {
    return process(argv[0]) < 0;
}
