/* A control-flow hijack, for real: a request's name is decoded from hex on the
 * command line into a 16-byte buffer with no bound check, so a long argument
 * overwrites the handler pointer stored after it. Pointed at maintenance(),
 * which calls system(), the hijacked run executes a command the program never
 * runs from that call. Built with -no-pie, so the attacker (the test) can read
 * maintenance's address from the binary with nm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request {
	unsigned char name[16];
	void (*handler)(const char *name);
};

static void greet(const char *name)
{
	printf("hello, %s\n", name);
}

/* Reached legitimately only when MAINTENANCE is set, from main. */
__attribute__((noinline)) void maintenance(const char *why)
{
	fprintf(stderr, "maintenance: %s\n", why);
	if (system("echo hijacked > hijack-canary") != 0)
		fprintf(stderr, "maintenance failed\n");
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The bug: writes as many bytes as the hex string holds. */
static void decode(unsigned char *out, const char *hex)
{
	while (nibble(hex[0]) >= 0 && nibble(hex[1]) >= 0) {
		*out++ = (unsigned char)(nibble(hex[0]) << 4 | nibble(hex[1]));
		hex += 2;
	}
	*out = 0;
}

int main(int argc, char **argv)
{
	struct request r;

	memset(&r, 0, sizeof(r));
	r.handler = greet;
	decode(r.name, argc > 1 ? argv[1] : "776f726c64"); /* "world" */
	if (getenv("MAINTENANCE") != NULL)
		maintenance("requested");
	r.handler((const char *)r.name);
	return 0;
}
