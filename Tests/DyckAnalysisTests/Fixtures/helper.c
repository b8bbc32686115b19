/* A call to a helper (the assignment's foo/bar example). */
#include <stdio.h>

void bar(FILE *fp) {
    char buf[8];
    if (fp != NULL) {
        fread(buf, 1, sizeof buf, fp);
    } else {
        printf("could not read file\n");
    }
}

int main(void) {
    FILE *fp = fopen("/home/alice/project.txt", "r");
    bar(fp);
    fclose(fp);
    return 0;
}
