/* Both branches start with the same call (the assignment's open/read vs open/write):
   after fopen the policy cannot yet know which branch runs. */
#include <stdio.h>

int main(int argc, char **argv) {
    FILE *f;
    char buf[16] = {0};
    if (argc > 1) {
        f = fopen("/tmp/a.txt", "r");
        fread(buf, 1, sizeof buf, f);
    } else {
        f = fopen("/tmp/b.txt", "w");
        fwrite(buf, 1, sizeof buf, f);
    }
    fclose(f);
    return 0;
}
