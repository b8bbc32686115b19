/*
 * Issue 17, false positive 1 (Lua's luaD_rawrunprotected): every protected call
 * goes through one setjmp site; a nested protected call returns normally, the
 * stack grows back to the same depth, and an error longjmps to the outer
 * buffer. The nested call's saved state is dead by then; the monitor must
 * resume the outer frame.
 */
#include <setjmp.h>
#include <stdio.h>

static jmp_buf *current;

static int protect(void (*f)(void))
{
	jmp_buf here, *saved = current;
	int status = 0;

	current = &here;
	if (setjmp(here) == 0)
		f();
	else
		status = 1;
	current = saved;
	return status;
}

__attribute__((noinline)) static void throw_error(void)
{
	fputs("throwing\n", stderr);
	longjmp(*current, 1);
}

static void quiet(void) { puts("inner protected call returns normally"); }

__attribute__((noinline)) static void helper(void) { throw_error(); }

static void body(void)
{
	protect(quiet);
	helper();
}

int main(int argc, char **argv)
{
	int st = protect(argc > 5 ? quiet : body);

	(void)argv;
	printf("caught: %d\n", st);
	return 0;
}
