/*
 * Issue 17, false positive 2 (a shell): a setjmp in every level of a call
 * chain, 40 levels, then a longjmp from the deepest to the buffer of main.
 * Each level's record must survive; none may be evicted.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf top;
static int deepest;

__attribute__((noinline)) static int level(int n)
{
	jmp_buf here;
	int r;

	if (setjmp(here) != 0)
		return -1;	/* never: nothing longjmps here */
	if (n == 0) {
		printf("at the bottom, %d levels down\n", deepest);
		longjmp(top, 7);
	}
	r = level(n - 1);
	printf("level %d returns\n", n);	/* never reached */
	return r;
}

int main(int argc, char **argv)
{
	int v;

	deepest = argc > 1 ? atoi(argv[1]) : 40;
	v = setjmp(top);
	if (v == 0) {
		level(deepest);
		puts("not reached");
		return 1;
	}
	printf("back in main with %d\n", v);
	return 0;
}
