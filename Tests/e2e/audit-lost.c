/* Issue 18: a log-mode thread that cannot resynchronise. run.sh takes getppid
 * out of the policy as for audit5.c; after the refused getppid() main makes no
 * libc call of its own (only work() does, in frames the refusal is not in),
 * and the root frame never returns: the monitor never finds its place again.
 * The three work() calls after the refusal are 9 markers (CALL, printf's LIBC,
 * RET each), which the report must count as unchecked. */
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) static int work(int i)
{
	return printf("work %d\n", i);
}

int main(void)
{
	int i, n = 0;

	n += work(0);
	n += getppid() > 0;
	for (i = 1; i <= 3; i++)
		n += work(i);
	return n > 0 ? 0 : 1;
}
