/* Calls through function pointers. The candidates of an indirect call are the
   address-taken functions of exactly its type: void(const char *) here, so shout
   (int(int)) and my_writer (int(const char *)) are not candidates of h(...). */
#include <stdio.h>

typedef void (*handler_t)(const char *);

void to_stdout(const char *s) { puts(s); }
void to_stderr(const char *s) { fputs(s, stderr); }
void silent(const char *s) { (void)s; }
int shout(int c) { return putchar(c); }
int my_writer(const char *s) { return fputs(s, stdout); }

/* Address taken in a global initializer. */
handler_t table[] = { to_stdout, to_stderr };

int main(int argc, char **argv) {
    handler_t h = argc > 1 ? to_stdout : silent;
    h("hello");
    table[argc & 1]("x");
    int (*p)(int) = shout;
    p('a');
    /* A libc function is a candidate too: its call is a libc event. */
    int (*w)(const char *) = argc > 2 ? puts : my_writer;
    w("y");
    return 0;
}
