/* Issue 18, audit mode that keeps watching: five refused libc calls in two
 * loops in main. run.sh takes getppid out of the policy (its edges become
 * printf's, and the executable's digest is recorded again), so each getppid()
 * is refused in main's root frame; the printf() after it is allowed somewhere
 * in main, where the monitor resynchronises and so sees the next refusal.
 * Under sbx run --action log the run reports five deviations and prints what
 * it prints unsandboxed. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	int i, seen = 0;

	for (i = 0; i < 3; i++) {
		seen += getppid() > 0;
		printf("first loop %d\n", i);
	}
	for (i = 0; i < 2; i++) {
		seen += getppid() > 0;
		printf("second loop %d\n", i);
	}
	printf("done: %d parents\n", seen);
	return 0;
}
