/* Functions libc calls back: a qsort comparator that calls libc itself, atexit
   handlers, a signal handler run by raise, a constructor and a destructor. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int compared;

static int by_name(const void *a, const void *b) {
    compared++;
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void bye(void) { puts("bye"); }
static void last_words(void) { fputs("last words\n", stderr); }

static volatile sig_atomic_t got;

static void on_signal(int sig) {
    got = sig;
    write(1, "signal\n", 7);
}

__attribute__((constructor)) static void init(void) { puts("init"); }
__attribute__((destructor)) static void fini(void) { puts("fini"); }

static void show(char **names, int n) {
    for (int i = 0; i < n; i++) printf("%s%c", names[i], i + 1 < n ? ' ' : '\n');
}

int main(int argc, char **argv) {
    (void)argv;
    char *names[] = {"pear", "apple", "fig", "kiwi", "banana"};
    qsort(names, 5, sizeof names[0], by_name);
    show(names, 5);
    printf("compared: %s\n", compared > 0 ? "yes" : "no");
    atexit(last_words);
    atexit(bye);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGUSR1, &action, NULL);
    raise(SIGUSR1);
    signal(SIGUSR2, on_signal);
    raise(SIGUSR2);
    printf("got %s\n", got == SIGUSR2 ? "SIGUSR2" : "?");
    return argc > 3 ? 4 : 0;
}
