#include <ctype.h>

void shout(char *s) {
    for (; *s; s++) *s = (char)toupper((unsigned char)*s);
}
