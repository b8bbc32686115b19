/* Attack-suite victim for buffered events (issue 19; specs/kernel-abi.md, "Buffered
 * events", "What an attacker who can write the process's memory gains").
 *
 * "bufd" is stack.c's service (the same bug: `post N` reads N bytes into a 64-byte
 * stack buffer, CWE-121) written with the plain system-call wrappers read, write and
 * close, which are *bufferable*: built with `dyck-cc --dyck-buffer` their LIBC events,
 * and every call and return of a site, are appended to the thread's event buffer
 * __sbx_evbuf instead of being marker system calls. Only `log`'s open(O_WRONLY |
 * O_CREAT | O_APPEND) may open a file for writing, so only its LIBC event stays a
 * synchronous, pinned marker. The attacks forge words in the buffer (attacks.py,
 * "evbuf-*").
 *
 * Build: dyck-cc -O0|-O2 -fno-stack-protector --dyck-buffer (run.sh). PIE; the
 * attacker learns addresses from `debug`, as with stack.c, and the buffer's offset
 * from the thread pointer from the executable's .sbx_evbuf section.
 *
 * Legitimate libc use: read, write, open, close, strlen/strcmp/strncmp/strtoul. The
 * program never calls execve, clone, mprotect or openat for writing outside `log`.
 *
 * ROP GADGETS ARE COMPILED IN ON PURPOSE (victim.h, never called), as in stack.c, plus four to
 * reach thread-local memory: the thread pointer (%fs:0 holds it on x86-64 glibc, as
 * in every thread's TCB), an addition, a move into the write address, and a step of it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "victim.h"

VICTIM_ROP_GADGETS("gadget_tp_to_rax: mov %fs:0, %rax\n ret\n"
		   "gadget_add_rsi_to_rax: add %rsi, %rax\n ret\n"
		   "gadget_mov_rax_to_rdi: mov %rax, %rdi\n ret\n"
		   "gadget_add8_rdi: add $8, %rdi\n ret\n");

const char banner[] = "bufd 1.0";

/* Command lines are read into a global buffer (scratch memory for the ROP chains). */
char cmdline[512];

static void say(const char *s)
{
	write(1, s, strlen(s));
}

/* before, v in base, after: one write (the attacker finds handle_post()'s last
 * system call in a recording by it). Not inlined: its line buffer would then lie in
 * handle_post()'s frame above the overflowed buffer, where the chain is. */
__attribute__((noinline)) static void say_number(const char *before, unsigned long v, int base, const char *after)
{
	char line[128], digits[32];
	size_t n = 0;
	int i = sizeof digits;
	do {
		digits[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	for (; *before && n < 40; before++)
		line[n++] = *before;
	for (; i < (int)sizeof digits; i++)
		line[n++] = digits[i];
	for (; *after && n < sizeof line; after++)
		line[n++] = *after;
	write(1, line, n);
}

/* One line from fd 0, a byte at a time (nothing read past the LF: `post`'s body
 * follows its line). Returns 0 at the end of the input. */
static int readline(char *out, size_t cap)
{
	size_t n = 0;
	char c;
	while (read(0, &c, 1) == 1) {
		if (c == '\n') {
			out[n] = 0;
			return 1;
		}
		if (n + 1 < cap)
			out[n++] = c;
	}
	out[n] = 0;
	return n > 0;
}

/* THE BUG: reads n bytes, as the client announced, into a 64-byte buffer. */
__attribute__((noinline)) static unsigned handle_post(size_t n)
{
	unsigned char buf[64];
	ssize_t got = read(0, buf, n);
	if (got < 0)
		got = 0;
	say_number("post: ", (unsigned long)got, 10, " bytes received\n");
	return checksum(buf, (size_t)got < sizeof buf ? (size_t)got : sizeof buf);
}

__attribute__((noinline)) static void append_log(const char *text)
{
	int fd = open("bufd.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		say("log: cannot open bufd.log\n");
		return;
	}
	write(fd, text, strlen(text));
	write(fd, "\n", 1);
	close(fd);
	say("logged\n");
}

int main(void)
{
	say(banner);
	say("\n");
	while (readline(cmdline, sizeof cmdline)) {
		if (strcmp(cmdline, "quit") == 0)
			break;
		if (strcmp(cmdline, "debug") == 0) {
			say_number("debug: banner at 0x", (unsigned long)banner, 16, "");
			say_number(", puts at 0x", (unsigned long)puts, 16, "\n");
		} else if (strncmp(cmdline, "post ", 5) == 0) {
			size_t n = strtoul(cmdline + 5, NULL, 10);
			unsigned h = handle_post(n);
			say_number("posted: checksum ", h, 16, "\n");
		} else if (strncmp(cmdline, "log ", 4) == 0) {
			append_log(cmdline + 4);
		} else {
			say("unknown command\n");
		}
	}
	say("bye\n");
	return 0;
}
