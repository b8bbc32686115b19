/* Function pointers in global variables whose address is never taken (specs/analysis.md,
   "Confined globals"): a call through such a global has only the global's functions as
   candidates, and those functions are no callbacks. Each argument count makes the
   globals hold other functions; every run must stay in the policy. */
#include <stdio.h>
#include <string.h>

typedef int (*handler)(const char *);

static int log_out(const char *s) { return printf("out: %s\n", s); }
static int log_err(const char *s) { return fprintf(stderr, "err: %s\n", s); }
static int length(const char *s) { return (int)strlen(s); }
static int shout(const char *s) { return puts(s); }
static int whisper(const char *s) { return putchar(s[0]) == EOF; }

/* Closed: log_out or log_err. */
static handler logger = log_out;
/* Closed: length, which reaches no libc. */
static handler measure = length;
/* Not closed: a parameter is stored into it. */
static handler anything = log_out;
/* Leaks: its value is passed on. */
static handler leaky = whisper;

static void set(handler h) { anything = h; }
static int call(handler h, const char *s) { return h(s); }

int main(int argc, char **argv) {
    const char *word = argc > 1 ? argv[1] : "word";
    if (argc > 2)
        logger = log_err;
    if (logger == log_err)
        puts("switched");
    int n = logger(word) + measure(word);
    if (argc > 3)
        set(shout);
    else if (argc > 1)
        set(leaky);
    n += anything(word);
    n += call(leaky, word);
    printf("%d\n", n % 7);
    return 0;
}
