/* Function pointers held in global variables whose address is never taken
   (specs/analysis.md, "Confined globals"). All handlers have the same type, which is
   all that type-based candidates can tell apart. */
#include <stdio.h>
#include <stdlib.h>

typedef int (*handler)(const char *);

static int log_out(const char *s) { return puts(s); }
static int log_err(const char *s) { return fputs(s, stderr); }
static int count(const char *s) { int n = 0; while (s[n]) n++; return n; }
static int table_entry(const char *s) { return printf("%s\n", s); }
static int passed_on(const char *s) { return putchar(s[0]); }
static int via_address(const char *s) { return fflush(stdout) + (s[0] == 0); }
static int leaked(const char *s) { return remove(s); }

/* Closed: holds log_out or log_err, nothing else ever. */
static handler logger = log_out;
/* Closed, and only a function that reaches no libc. */
static handler counter = count;
/* Not closed: a parameter is stored into it, so any function of the type may be there,
   and log_err as well. */
static handler anything = log_err;
/* Its address is taken: not confined. */
static handler addressed = via_address;
/* Its loaded value is passed on: leaked escapes with it. */
static handler leaky = leaked;

/* A table in a struct: its functions escape (type-based candidates). */
static const struct { handler h; } table = { table_entry };

static int call(handler h, const char *s) { return h(s); }
static void set(handler h) { anything = h; }
static int through(handler *p, const char *s) { return (*p)(s); }

int main(int argc, char **argv) {
    if (argc > 2)
        logger = log_err;
    if (logger == log_err)
        argc++;
    logger("a");
    counter("b");
    if (argc > 3)
        set(passed_on);
    anything("c");
    through(&addressed, "d");
    call(leaky, "e");
    return table.h("f") + argc;
}
