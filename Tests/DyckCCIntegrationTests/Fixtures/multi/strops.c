#include <string.h>
#include "text.h"

void text_reverse(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n / 2; i++) {
        char t = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = t;
    }
}

size_t text_count(const char *s, char c) {
    size_t count = 0;
    for (const char *p = strchr(s, c); p; p = strchr(p + 1, c)) count++;
    return count;
}
