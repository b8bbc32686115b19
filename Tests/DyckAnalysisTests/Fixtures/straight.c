/* Straight-line code: one path through main. */
#include <stdio.h>

int main(void) {
    char buf[64];
    FILE *f = fopen("/etc/hostname", "r");
    fread(buf, 1, sizeof buf, f);
    fclose(f);
    return 0;
}
