/* A counted loop and a loop whose condition is itself a libc call. */
#include <stdio.h>

int main(void) {
    char buf[64];
    FILE *f = fopen("/etc/hostname", "r");
    for (int i = 0; i < 3; i++)
        fread(buf, 1, sizeof buf, f);
    while (fgets(buf, sizeof buf, f))
        fputs(buf, stdout);
    fclose(f);
    return 0;
}
