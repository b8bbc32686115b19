/* Waits for a line on stdin, so that a test can look at it while it is enforced. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char line[64];

	printf("waiting %d\n", (int)getpid());
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 1;
	printf("got %s", line);
	return 0;
}
