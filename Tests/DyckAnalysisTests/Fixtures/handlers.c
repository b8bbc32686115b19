/* Handlers whose address reaches libc where no use shows it: a local struct sigaction
   initialized in its declaration (a memcpy from a constant global), a static struct
   sigaction, and a wrapper of the program around signal. */
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t seen;

static void on_usr1(int sig) { (void)sig; write(1, "usr1\n", 5); }
static void on_usr2(int sig) { (void)sig; write(1, "usr2\n", 5); }
static void on_term(int sig) { (void)sig; write(1, "term\n", 5); }
static void quiet(int sig) { seen = sig; }

static struct sigaction usr2_action = {.sa_handler = on_usr2};

static void install(int sig, void (*handler)(int)) { signal(sig, handler); }

int main(void) {
    struct sigaction usr1_action = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &usr1_action, 0);
    sigaction(SIGUSR2, &usr2_action, 0);
    install(SIGTERM, on_term);
    install(SIGINT, quiet);
    return raise(SIGUSR1);
}
