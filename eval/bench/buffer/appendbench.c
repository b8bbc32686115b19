/*
 * appendbench - the user-side cost of an event: N calls of leaf(), each a call
 * site (CALL/RET) around one strlen (LIBC, with --dyck-libc-events=all): three
 * events per call. After every call the program empties its event buffer
 * (count = 0, three slots zeroed), standing in for the kernel's drain at the
 * next system call, so that a buffered build keeps appending instead of falling
 * back to markers; the same stores run in every build.
 *
 *   appendbench N   prints "appendbench calls N cpu_ns T"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sbx_evbuf {
	unsigned count, reserved;
	unsigned long ev[32];
};
__thread struct sbx_evbuf __sbx_evbuf;

static const char *volatile text = "buffered";
static volatile unsigned long sink;

__attribute__((noinline)) void leaf(long i)
{
	sink += strlen(text) + (unsigned long)i;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long i, n = argc > 1 ? atol(argv[1]) : 1000000;
	volatile struct sbx_evbuf *b = &__sbx_evbuf;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (i = 0; i < n; i++) {
		leaf(i);
		b->ev[0] = 0;
		b->ev[1] = 0;
		b->ev[2] = 0;
		b->count = 0;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	printf("appendbench calls %ld cpu_ns %lld\n", n,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}
