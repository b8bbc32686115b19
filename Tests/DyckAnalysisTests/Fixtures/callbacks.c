/* Functions libc calls back: a qsort comparator, an atexit handler, a signal handler,
   a constructor and a destructor. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

static void bye(void) { puts("bye"); }

static void on_signal(int sig) {
    (void)sig;
    write(1, "signal\n", 7);
}

__attribute__((constructor)) static void init(void) { puts("init"); }

__attribute__((destructor)) static void fini(void) { puts("fini"); }

static int helper(void) { return 1; }

int main(void) {
    int v[3] = {3, 1, 2};
    qsort(v, 3, sizeof v[0], cmp);
    atexit(bye);
    signal(SIGINT, on_signal);
    return helper() - 1;
}
