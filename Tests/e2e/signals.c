/*
 * What a service wrapper must pass on. `signals wait`: prints "ready PID", then
 * reports each of SIGHUP, SIGUSR1, SIGUSR2 it receives and exits 42 on SIGTERM.
 * `signals child`: forks a child that makes a raw system call from program code (the
 * monitor kills it: no libc call was announced), reports how the child ended, and
 * exits 0 itself. `signals daemon`: forks a child that runs on for two seconds, and
 * exits 0 at once.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t last, term;

static void on_signal(int sig)
{
	if (sig == SIGTERM)
		term = 1;
	else
		last = sig;
}

static int wait_mode(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (!term) {
		pause();
		if (last) {
			printf("got signal %d\n", (int)last);
			fflush(stdout);
			last = 0;
		}
	}
	printf("got SIGTERM, exiting 42\n");
	return 42;
}

static int child_mode(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		long ret;

		/* getppid, straight from program code. */
		__asm__ volatile("syscall" : "=a"(ret) : "a"(110L) : "rcx", "r11", "memory");
		printf("child: raw getppid returned %ld\n", ret);
		return 0;
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 1;
	if (WIFSIGNALED(status))
		printf("child: signal %d\n", WTERMSIG(status));
	else
		printf("child: exit %d\n", WEXITSTATUS(status));
	return 0;
}

/* Like a daemon: a child that outlives the program by a second or two. */
static int daemon_mode(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		sleep(2);
		_exit(0);
	}
	printf("daemon: child %d runs on\n", (int)pid);
	return pid < 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child_mode();
	if (argc > 1 && strcmp(argv[1], "daemon") == 0)
		return daemon_mode();
	return wait_mode();
}
