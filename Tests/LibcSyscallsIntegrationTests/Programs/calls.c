/* Calls libc functions one at a time, each bracketed by marker system calls, for
 * LibcSyscallsTests/EmpiricalTests.swift: run under strace, every system call between
 * the brackets of function f (in f's thread, in the threads it creates and in the
 * processes it creates until they exec) must be in the derived set of f or in the
 * ambient set.
 *
 * A bracket is the raw system call 999 (no kernel defines it: -ENOSYS, which strace
 * shows) with rdi = the function's index in FUNCTIONS and rsi = 0 before the call, 1
 * after it. Every libc call of main is inside a bracket, so that what runs between
 * brackets is this program's own code. `calls --list` prints "INDEX NAME" per line.
 * `calls DIR` runs the calls; DIR is a scratch directory for the files it writes.
 *
 * Built with clang-19 -O0 -fno-builtin, so that every call in the source is a call of
 * the libc function of that name.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define FUNCTIONS(F)                                                                       \
    F(malloc) F(calloc) F(realloc) F(free) F(setlocale) F(strcoll) F(strlen) F(memcpy)      \
    F(strtol) F(getenv) F(qsort) F(snprintf) F(strerror) F(rand) F(getpid) F(getuid)        \
    F(time) F(gettimeofday) F(clock_gettime) F(nanosleep) F(open) F(read) F(write) F(close) \
    F(pipe) F(dup2) F(stat) F(fstat) F(getcwd) F(isatty) F(mmap) F(munmap) F(getrandom)     \
    F(sigaction) F(printf) F(puts) F(fflush) F(fprintf) F(fopen) F(fgets) F(fputs)          \
    F(fclose) F(opendir) F(readdir) F(closedir) F(socket) F(localtime) F(sysconf)           \
    F(getpwnam) F(pthread_mutex_lock) F(pthread_mutex_unlock) F(pthread_create)             \
    F(pthread_join) F(dlopen) F(dlsym) F(dlclose) F(system) F(popen) F(pclose)              \
    F(posix_spawn) F(waitpid) F(fork) F(getaddrinfo) F(freeaddrinfo) F(openlog) F(syslog)   \
    F(closelog) F(exit)

#define ENUM(name) FN_##name,
enum { FUNCTIONS(ENUM) FN_COUNT };
#define NAME(name) #name,
static const char *const names[] = {FUNCTIONS(NAME)};

/* The marker: no libc, no errno. */
static void mark(long function, long end) {
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "0"(999L), "D"(function), "S"(end) : "rcx", "r11", "memory");
}

static void raw_exit(long status) {
    __asm__ volatile("syscall" : : "a"(231L), "D"(status) : "rcx", "r11", "memory");
    for (;;) {
    }
}

#define CALL(name, ...)         \
    do {                        \
        mark(FN_##name, 0);     \
        __VA_ARGS__;            \
        mark(FN_##name, 1);     \
    } while (0)

static int compare(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static void *thread_main(void *argument) { return argument; }

/* A path under the scratch directory, without libc. */
static char scratch_path[4096];
static const char *in_scratch(const char *dir, const char *file) {
    size_t n = 0;
    for (const char *p = dir; *p && n < sizeof scratch_path - 64; p++) scratch_path[n++] = *p;
    scratch_path[n++] = '/';
    for (const char *p = file; *p; p++) scratch_path[n++] = *p;
    scratch_path[n] = 0;
    return scratch_path;
}

int main(int argc, char **argv) {
    if (argc == 2 && argv[1][0] == '-') {
        for (int i = 0; i < FN_COUNT; i++) printf("%d %s\n", i, names[i]);
        return 0;
    }
    if (argc != 2) return 2;
    const char *dir = argv[1];

    void *p, *q;
    CALL(malloc, p = malloc(100));
    CALL(calloc, q = calloc(10, 100));
    CALL(realloc, p = realloc(p, 100000));
    CALL(free, free(p));
    CALL(free, free(q));
    CALL(malloc, p = malloc(1 << 20)); /* mmap'd */
    CALL(free, free(p));

    CALL(setlocale, setlocale(LC_ALL, "C.UTF-8"));
    int r;
    CALL(strcoll, r = strcoll("abc", "abd"));
    size_t n;
    CALL(strlen, n = strlen("hello"));
    char buffer[4096];
    CALL(memcpy, memcpy(buffer, "hello", n + 1));
    long l;
    CALL(strtol, l = strtol("12345", NULL, 10));
    char *e;
    CALL(getenv, e = getenv("PATH"));
    int numbers[64];
    for (int i = 0; i < 64; i++) numbers[i] = (i * 37) % 64;
    CALL(qsort, qsort(numbers, 64, sizeof numbers[0], compare));
    CALL(snprintf, snprintf(buffer, sizeof buffer, "%d %ld %s %f", r, l, e ? "set" : "unset", 2.5));
    const char *message;
    CALL(strerror, message = strerror(EINVAL));
    CALL(rand, r = rand());
    (void)message;

    pid_t pid;
    CALL(getpid, pid = getpid());
    uid_t uid;
    CALL(getuid, uid = getuid());
    (void)uid;
    time_t now;
    CALL(time, now = time(NULL));
    struct timeval tv;
    CALL(gettimeofday, gettimeofday(&tv, NULL));
    struct timespec ts;
    CALL(clock_gettime, clock_gettime(CLOCK_MONOTONIC, &ts));
    struct timespec nap = {0, 1000};
    CALL(nanosleep, nanosleep(&nap, NULL));

    int fd, null_fd;
    CALL(open, fd = open("/dev/zero", O_RDONLY));
    CALL(read, read(fd, buffer, 64));
    CALL(close, close(fd));
    CALL(open, null_fd = open("/dev/null", O_WRONLY));
    CALL(write, write(null_fd, buffer, 64));
    int fds[2];
    CALL(pipe, pipe(fds));
    CALL(dup2, dup2(fds[0], 100));
    CALL(close, close(100));
    CALL(close, close(fds[0]));
    CALL(close, close(fds[1]));
    struct stat st;
    CALL(stat, stat("/", &st));
    CALL(fstat, fstat(null_fd, &st));
    CALL(getcwd, getcwd(buffer, sizeof buffer));
    CALL(isatty, isatty(null_fd));
    CALL(mmap, p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    CALL(munmap, munmap(p, 1 << 16));
    CALL(getrandom, getrandom(buffer, 16, 0));
    struct sigaction action = {0};
    action.sa_handler = SIG_IGN;
    CALL(sigaction, sigaction(SIGUSR1, &action, NULL));

    CALL(printf, printf("calls: %d %s\n", 42, "printf"));
    CALL(puts, puts("calls: puts"));
    CALL(fflush, fflush(stdout));
    CALL(fprintf, fprintf(stderr, "calls: %s\n", "fprintf to stderr"));
    FILE *file;
    CALL(fopen, file = fopen("/etc/passwd", "r"));
    CALL(fgets, fgets(buffer, sizeof buffer, file));
    CALL(fclose, fclose(file));
    const char *out = in_scratch(dir, "out.txt");
    CALL(fopen, file = fopen(out, "w"));
    CALL(fputs, fputs("calls: fputs\n", file));
    CALL(fclose, fclose(file));

    DIR *d;
    CALL(opendir, d = opendir("/"));
    struct dirent *entry;
    do {
        CALL(readdir, entry = readdir(d));
    } while (entry);
    CALL(closedir, closedir(d));
    CALL(socket, fd = socket(AF_INET, SOCK_STREAM, 0));
    CALL(close, close(fd));
    CALL(localtime, localtime(&now));
    long cpus;
    CALL(sysconf, cpus = sysconf(_SC_NPROCESSORS_ONLN));
    (void)cpus;
    struct passwd *pw;
    CALL(getpwnam, pw = getpwnam("root"));
    (void)pw;

    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    CALL(pthread_mutex_lock, pthread_mutex_lock(&mutex));
    CALL(pthread_mutex_unlock, pthread_mutex_unlock(&mutex));
    pthread_t thread;
    CALL(pthread_create, pthread_create(&thread, NULL, thread_main, NULL));
    CALL(pthread_join, pthread_join(thread, NULL));

    void *libm;
    CALL(dlopen, libm = dlopen("libm.so.6", RTLD_NOW));
    double (*cosine)(double) = NULL;
    if (libm) CALL(dlsym, cosine = (double (*)(double))dlsym(libm, "cos"));
    volatile double c = cosine ? cosine(0.5) : 0; /* libm's code, not libc's */
    (void)c;
    if (libm) CALL(dlclose, dlclose(libm));

    int status;
    CALL(system, system("true"));
    FILE *pipe_file;
    CALL(popen, pipe_file = popen("true", "r"));
    if (pipe_file) CALL(pclose, pclose(pipe_file));
    char *spawn_argv[] = {"true", NULL};
    CALL(posix_spawn, r = posix_spawn(&pid, "/bin/true", NULL, NULL, spawn_argv, environ));
    if (r == 0) CALL(waitpid, waitpid(pid, &status, 0));
    CALL(fork, pid = fork());
    if (pid == 0) raw_exit(0); /* the child: no libc after fork returns */
    if (pid > 0) CALL(waitpid, waitpid(pid, &status, 0));

    struct addrinfo hints = {0}, *result = NULL;
    hints.ai_socktype = SOCK_STREAM;
    CALL(getaddrinfo, r = getaddrinfo("localhost", "80", &hints, &result));
    if (r == 0) CALL(freeaddrinfo, freeaddrinfo(result));
    CALL(openlog, openlog("calls", LOG_PID | LOG_NDELAY, LOG_USER));
    CALL(syslog, syslog(LOG_INFO, "calls: syslog %d", 1));
    CALL(closelog, closelog());

    CALL(exit, exit(0));
}
