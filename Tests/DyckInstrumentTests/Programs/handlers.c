/* Signal handlers whose address reaches libc in ways a use-based rule cannot see: a
   local struct sigaction initialized in its declaration (at -O0 a memcpy from a
   constant global), a static struct sigaction, and a program wrapper around signal.
   Each handler calls libc, so each must run through its thunk. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t seen;

static void on_usr1(int sig) {
    seen += sig == SIGUSR1;
    write(1, "usr1\n", 5);
}

static void on_usr2(int sig) {
    seen += sig == SIGUSR2;
    printf("usr2 %d\n", (int)seen);
    fflush(stdout);
}

static void on_term(int sig) {
    seen += sig == SIGTERM;
    write(1, "term\n", 5);
}

static struct sigaction usr2_action = {.sa_handler = on_usr2};

/* The handler reaches signal through the program's own function. */
static void install(int sig, void (*handler)(int)) {
    if (signal(sig, handler) == SIG_ERR) perror("signal");
}

int main(int argc, char **argv) {
    (void)argv;
    struct sigaction usr1_action = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &usr1_action, NULL);
    sigaction(SIGUSR2, &usr2_action, NULL);
    install(SIGTERM, on_term);
    raise(SIGUSR1);
    raise(SIGUSR2);
    for (int i = 1; i < argc; i++) raise(SIGTERM);
    printf("seen %d\n", (int)seen);
    return 0;
}
