/* Indirect calls: one whose target may be a libc function, one through a local
   pointer, one through a table. The address-taken functions that reach libc are
   callbacks, so the pointers hold their thunks at run time; the calls bypass them
   (site markers, no callback markers). A switch; recursion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*handler_t)(const char *);

int my_puts(const char *s) { return printf("[%s]\n", s); }
static int shout(int c) { return putchar(c); }
static void to_stdout(const char *s) { fputs(s, stdout); }
static void to_stderr(const char *s) { fputs(s, stderr); }
static void silent(const char *s) { (void)s; }

handler_t table[] = {to_stdout, to_stderr, silent};

static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static const char *name(int n) {
    switch (n) {
    case 0: return "zero";
    case 1: return "one";
    case 2: return strdup("two");
    case 5: puts("five!"); return "five";
    default: return "many";
    }
}

int main(int argc, char **argv) {
    (void)argv;
    int (*w)(const char *) = argc > 5 ? puts : my_puts;
    w("hello");
    int (*p)(int) = shout;
    p('a');
    p('\n');
    for (int i = 0; i < 3; i++) table[(argc + i) % 3]("table\n");
    printf("fib %d, %s\n", fib(10 + argc % 3), name(argc));
    return argc;
}
