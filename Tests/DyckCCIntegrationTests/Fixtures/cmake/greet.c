#include <stdio.h>
void shout(char *s);

int greet(const char *name) {
    char buffer[128];
    snprintf(buffer, sizeof buffer, "hello, %s", name);
    shout(buffer);
    return puts(buffer) < 0;
}
