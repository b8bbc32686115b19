/*
 * Floods its sandbox with violations (run it with --action log): each raw getppid
 * below is a system call that no libc call announced, so it runs in the window of
 * the last one (access), which cannot make it: one SYSCALL_WINDOW record each.
 * Runs until the file named by its argument exists (at most 120 s); prints
 * "flooding" after its first 1000 violations and "done N" at the end.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static long raw_getppid(void)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(110L) : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long n = 0;
	time_t end = time(NULL) + 120;
	int i;

	if (argc != 2) {
		fprintf(stderr, "usage: flood STOP-FILE\n");
		return 2;
	}
	while (access(argv[1], F_OK) != 0 && time(NULL) < end) {
		for (i = 0; i < 100; i++)
			raw_getppid();
		n += 100;
		if (n == 1000) {
			printf("flooding\n");
			fflush(stdout);
		}
	}
	printf("done %lu\n", n);
	return 0;
}
