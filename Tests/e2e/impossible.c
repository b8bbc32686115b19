/* An impossible path, taken for real. log_line() is shared by read_config()
 * and grant_admin(); grant_admin() is reachable only for uid 4242. Given a
 * second argument, log_line() overwrites its own return address with that
 * number (standing in for a stack overflow), so a call from read_config()
 * returns into grant_admin() right after its log_line() call, and system()
 * runs. Every libc call of that run is one some real run makes, in an order
 * that a context-insensitive model (one copy of log_line for both callers)
 * accepts; only the calling context shows the return went to the wrong
 * caller. Built -O0 -no-pie (frame pointers, fixed addresses): the test reads
 * the return target from the binary with objdump. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *corrupt_return;

__attribute__((noinline)) static void log_line(const char *what)
{
	fprintf(stderr, "%s\n", what);
	if (corrupt_return != NULL)
		((void **)__builtin_frame_address(0))[1] = (void *)strtoul(corrupt_return, NULL, 16);
}

__attribute__((noinline)) static void grant_admin(void)
{
	log_line("granting admin");
	if (system("echo admin > admin-canary") != 0)
		exit(3);
	exit(0);
}

__attribute__((noinline)) static int read_config(const char *path)
{
	char line[128];
	FILE *f;

	log_line("reading config");
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stdout);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CONFIG [RETURN-ADDRESS]\n", argv[0]);
		return 2;
	}
	corrupt_return = argc > 2 ? argv[2] : NULL;
	if (read_config(argv[1]) != 0)
		return 1;
	if (getuid() == 4242)
		grant_admin();
	puts("done");
	return 0;
}
