// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_evbuf - a program with its own event buffer (specs/kernel-abi.md,
 * "Buffered events"), for the module's tests in a guest (kmod/tests/
 * guest-buffer.sh). It defines the TLS object __sbx_evbuf and the .sbx_evbuf
 * section as the instrumentation does, without depending on it, and writes
 * to the buffer as the instrumentation or an attacker would. Steps run in
 * order:
 *
 *   tpoff          print "tpoff T section S version V cap C": T the buffer's
 *                  offset from the thread pointer at run time, S, V and C the
 *                  .sbx_evbuf section's (T must equal S)
 *   b:KIND:ID      append the event as instrumented code does (cmpxchg into
 *                  the first free slot from count on; a full buffer issues
 *                  the marker instead)
 *   m:KIND:ID      issue the marker (system call 999) synchronously
 *   w:SLOT:KIND:ID write a word into a slot directly (an attacker)
 *   count:N        write the count directly (an attacker)
 *   brk            the system call brk(0) (ambient in the bound examples)
 *   mkdir          mkdir("/nonexistent/x") (in no window of the bound examples)
 *   exec           execve("/bin/true")
 *   state          print "count C used U": the buffer's count and how many
 *                  slots are non-zero (the kernel clears what it drains)
 *   say:TEXT       write TEXT and a newline to stdout
 *   bench:MODE:N:K N rounds of K events and one getppid(); MODE buf appends
 *                  the events (LIBC 1), sync issues them as markers, none
 *                  makes no event; prints "bench MODE K ns/round R" (under
 *                  sbx vm --icount a nanosecond is a guest instruction)
 *
 * The last line is "end"; a killed run stops where it was killed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../uapi/sbx_marker.h"

/* Local-exec TLS, zero-initialised, hidden: as dyck-cc --dyck-buffer defines it. */
__attribute__((tls_model("local-exec"), visibility("hidden"),
	       aligned(8))) __thread struct sbx_evbuf __sbx_evbuf;

/* The section the tools read: format version, capacity, the offset (link time). */
__asm__(".pushsection .sbx_evbuf, \"a\"\n"
	".balign 8\n"
	"sbx_evbuf_section:\n"
	".long 1\n"
	".long 32\n"
	".quad __sbx_evbuf@tpoff\n"
	".popsection\n");
extern const unsigned char sbx_evbuf_section[] __attribute__((visibility("hidden")));

static void say(const char *s)
{
	size_t n = strlen(s);

	if (write(1, s, n) != (ssize_t)n || write(1, "\n", 1) != 1)
		exit(3);
}

static long marker(unsigned long kind, unsigned long id)
{
	return syscall(SBX_MARKER_NR, kind, id, 0UL);
}

/* The design's append: never loses an event to a signal handler's append. */
static void append(uint32_t kind, uint32_t id)
{
	__u64 e = (__u64)kind << 32 | id, zero;
	uint32_t i = __sbx_evbuf.count;

	for (; i < SBX_EVBUF_CAP; i++) {
		zero = 0;
		if (__atomic_compare_exchange_n(&__sbx_evbuf.ev[i], &zero, e, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			__sbx_evbuf.count = i + 1;
			return;
		}
	}
	marker(kind, id);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* N rounds of K events (LIBC 1: buffered, as markers, or none) and a getppid(). */
static void bench(const char *mode, unsigned long n, unsigned long k)
{
	char line[160];
	unsigned long r, e;
	uint64_t t0, t1;

	t0 = now_ns();
	for (r = 0; r < n; r++) {
		if (mode[0] == 'b')
			for (e = 0; e < k; e++)
				append(SBX_MARK_LIBC, 1);
		else if (mode[0] == 's')
			for (e = 0; e < k; e++)
				marker(SBX_MARK_LIBC, 1);
		syscall(SYS_getppid);
	}
	t1 = now_ns();
	snprintf(line, sizeof(line), "bench %s %lu ns/round %.1f", mode, k,
		 (double)(t1 - t0) / (double)n);
	say(line);
}

static int parse2(const char *s, unsigned long *a, unsigned long *b)
{
	char *end;

	*a = strtoul(s, &end, 0);
	if (*end != ':')
		return -1;
	*b = strtoul(end + 1, &end, 0);
	return *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long a, b, c;
	char line[160], mode[16];
	int i, j, used;

	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "tpoff")) {
			uintptr_t tp;
			int64_t off;
			uint32_t v, cap;

			__asm__("mov %%fs:0, %0" : "=r"(tp));
			memcpy(&v, sbx_evbuf_section, 4);
			memcpy(&cap, sbx_evbuf_section + 4, 4);
			memcpy(&off, sbx_evbuf_section + 8, 8);
			snprintf(line, sizeof(line), "tpoff %lld section %lld version %u cap %u",
				 (long long)((intptr_t)&__sbx_evbuf - (intptr_t)tp), (long long)off,
				 v, cap);
			say(line);
		} else if (!strncmp(s, "b:", 2) && !parse2(s + 2, &a, &b)) {
			append(a, b);
		} else if (!strncmp(s, "m:", 2) && !parse2(s + 2, &a, &b)) {
			marker(a, b);
		} else if (!strncmp(s, "w:", 2) && sscanf(s + 2, "%lu:%lu:%lu", &c, &a, &b) == 3 &&
			   c < SBX_EVBUF_CAP) {
			__atomic_store_n(&__sbx_evbuf.ev[c], (uint64_t)a << 32 | (uint32_t)b,
					 __ATOMIC_RELAXED);
		} else if (!strncmp(s, "count:", 6)) {
			__sbx_evbuf.count = (uint32_t)strtoul(s + 6, NULL, 0);
		} else if (!strcmp(s, "brk")) {
			syscall(SYS_brk, 0UL);
		} else if (!strcmp(s, "mkdir")) {
			syscall(SYS_mkdir, "/nonexistent/x", 0700);
		} else if (!strcmp(s, "exec")) {
			char *args[] = { "/bin/true", NULL };

			execve(args[0], args, environ);
			say("exec failed");
		} else if (!strcmp(s, "state")) {
			for (used = 0, j = 0; j < SBX_EVBUF_CAP; j++)
				used += __sbx_evbuf.ev[j] != 0;
			snprintf(line, sizeof(line), "count %u used %d", __sbx_evbuf.count, used);
			say(line);
		} else if (!strncmp(s, "bench:", 6) &&
			   sscanf(s + 6, "%15[a-z]:%lu:%lu", mode, &a, &b) == 3 && a) {
			bench(mode, a, b);
		} else if (!strncmp(s, "say:", 4)) {
			say(s + 4);
		} else {
			fprintf(stderr, "sbx_evbuf: bad step %s\n", s);
			return 64;
		}
	}
	say("end");
	return 0;
}
