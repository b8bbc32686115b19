/* Two callers share one helper: each call is its own site. */
#include <stdio.h>

void log_msg(const char *m) {
    fputs(m, stderr);
}

void load(void) {
    log_msg("load");
    FILE *f = fopen("/tmp/in", "r");
    if (f)
        fclose(f);
}

void save(void) {
    FILE *f = fopen("/tmp/out", "w");
    if (f) {
        fputc('x', f);
        fclose(f);
    }
    log_msg("save");
}

int main(void) {
    load();
    save();
    return 0;
}
