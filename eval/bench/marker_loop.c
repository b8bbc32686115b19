/* Marker benchmark: a tight loop of cheap libc calls (rand_r, which the compiler
 * cannot inline or replace). Built twice (plain and
 * instrumented); each iteration of the instrumented build issues one marker
 * system call before the libc call. `bare` mode times a raw getppid() system
 * call (inline asm, no libc) for scale. Prints nanoseconds per iteration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long bare_getppid(void)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "a"(110L) : "rcx", "r11", "memory");
	return ret;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	long sink = 0;
	double start, stop;

	if (argc < 2) {
		fprintf(stderr, "usage: %s libc|bare [N]\n", argv[0]);
		return 2;
	}
	start = now();
	if (strcmp(argv[1], "bare") == 0) {
		for (long i = 0; i < n; i++)
			sink += bare_getppid();
	} else {
		unsigned int seed = 1;

		for (long i = 0; i < n; i++)
			sink += rand_r(&seed);
	}
	stop = now();
	printf("%.2f\n", (stop - start) / n);
	return sink == 42;
}
