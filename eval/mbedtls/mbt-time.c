/*
 * mbt-time - run a command and record its cost (eval/mbedtls, built by bench.sh).
 *
 *   mbt-time FILE -- CMD [ARGS...]
 *
 * Spawns CMD (posix_spawnp: PATH search, and a vfork-like clone, so that no copy
 * of this process's address space is torn down at the exec and charged to CMD, as
 * sbx run does), waits with wait4 and writes one line to FILE:
 *   wall_s user_s sys_s status
 * wall time from spawn to exit (CLOCK_MONOTONIC), the CPU time of CMD and of the
 * descendants it waited for (rusage), and the status as a shell reports it
 * (128+N for signal N). SIGTERM, SIGINT and SIGHUP are passed on to CMD, so that a
 * server started behind this wrapper can be stopped through it. Exits with CMD's
 * status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	struct sigaction sa;
	posix_spawnattr_t attr;
	sigset_t defaults;
	int status, code, err;
	pid_t pid;
	FILE *f;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: mbt-time FILE -- CMD [ARGS...]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	posix_spawnattr_init(&attr);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	err = posix_spawnp(&pid, argv[3], NULL, &attr, argv + 3, environ);
	posix_spawnattr_destroy(&attr);
	if (err) {
		/* As a shell reports a command it cannot run. */
		fprintf(stderr, "mbt-time: %s: %s\n", argv[3], strerror(err));
		memset(&ru, 0, sizeof(ru));
		code = 127;
	} else {
		child = pid;
		while (wait4(child, &status, 0, &ru) < 0) {
			if (errno != EINTR) {
				perror("mbt-time: wait4");
				return 2;
			}
		}
		code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	fprintf(f, "%.6f %.6f %.6f %d\n",
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, code);
	fclose(f);
	return code;
}
