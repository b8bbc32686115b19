/* Attack-suite victim: a stack buffer overflow over a return address.
 *
 * "stackd" is a tiny line-oriented service on stdin/stdout. `post N` is followed by
 * N raw bytes of body, which handle_post() reads into a 64-byte stack buffer with
 * the client's length: a classic unchecked length (CWE-121). Whatever follows the
 * buffer in handle_post()'s frame, the saved registers and the return address
 * included, is the client's.
 *
 * Build: dyck-cc -O0|-O2 -fno-stack-protector (the suite builds it this way: with a
 * stack protector the overflow would be caught before the return). PIE (the default);
 * the attacker learns the addresses it needs from the `debug` command, a leftover
 * diagnostic that prints the address of a global and of libc's puts().
 *
 * Legitimate libc use: fgets, fread, printf, puts, fflush, fopen/fputs/fclose (the
 * `log` command), strncmp/strtoul/strcmp. The program never calls system, execve,
 * clone, vfork, mprotect or openat directly.
 *
 * ROP GADGETS ARE COMPILED IN ON PURPOSE (victim.h, never called): the
 * attacks chain them instead of searching libc for equivalents, which exist there
 * too. This is allowed by the suite's rules (issue 14, "Tests / Attack suite").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "victim.h"

VICTIM_ROP_GADGETS("");

const char banner[] = "stackd 1.0";

/* Command lines are read into a global buffer (attackers know its address once
 * they know the load address; the ROP chains use it as scratch memory). */
char cmdline[512];

/* THE BUG: reads n bytes, as the client announced, into a 64-byte buffer. */
__attribute__((noinline)) static unsigned handle_post(size_t n)
{
	unsigned char buf[64];
	size_t got = fread(buf, 1, n, stdin);
	printf("post: %zu bytes received\n", got);
	fflush(stdout);
	return checksum(buf, got < sizeof buf ? got : sizeof buf);
}

__attribute__((noinline)) static void append_log(const char *text)
{
	FILE *f = fopen("stackd.log", "a");
	if (f == NULL) {
		puts("log: cannot open stackd.log");
		return;
	}
	fputs(text, f);
	fputs("\n", f);
	fclose(f);
	puts("logged");
}

int main(void)
{
	puts(banner);
	fflush(stdout);
	while (fgets(cmdline, sizeof cmdline, stdin) != NULL) {
		cmdline[strcspn(cmdline, "\n")] = 0;
		if (strcmp(cmdline, "quit") == 0)
			break;
		if (strcmp(cmdline, "debug") == 0) {
			printf("debug: banner at %p, puts at %p\n", (void *)banner, (void *)puts);
		} else if (strncmp(cmdline, "post ", 5) == 0) {
			size_t n = strtoul(cmdline + 5, NULL, 10);
			unsigned h = handle_post(n);
			printf("posted: checksum %08x\n", h);
		} else if (strncmp(cmdline, "log ", 4) == 0) {
			append_log(cmdline + 4);
		} else {
			puts("unknown command");
		}
		fflush(stdout);
	}
	puts("bye");
	return 0;
}
