/*
 * Issue 17, false positive 3 (SQLite's JSON parser, Lua): a recursive-descent
 * parser whose recursive call reaches libc, on input nested 5000 levels deep
 * (the monitor used to kill at 1025 frames). Reads its input from a generated
 * string, so the run is the same everywhere.
 *   deep-recursion [N]           nesting N (default 5000), one recursive site
 *   deep-recursion N mutual      the same through two functions that call each
 *                                other: their frames alternate and do not fold,
 *                                so the monitor's store bound (stack_limit) is
 *                                reached at about 1000 levels, and must kill by
 *                                name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *in;
static long depth_max, values;
static int mutual;

static int parse(long depth);

/* The same grammar, through a second function when mutual. */
__attribute__((noinline)) static int parse_b(long depth)
{
	if (*in == '1') {
		values++;
		in++;
		return 0;
	}
	return parse(depth);
}

/* value := '[' value* ']' | digit */
__attribute__((noinline)) static int parse(long depth)
{
	if (depth > depth_max)
		depth_max = depth;
	if (*in == '[') {
		in++;
		while (*in && *in != ']')
			if (mutual ? parse_b(depth + 1) : parse(depth + 1))
				return 1;
		if (*in != ']') {
			fprintf(stderr, "unterminated array at depth %ld\n", depth);
			return 1;
		}
		in++;
		return 0;
	}
	if (*in >= '0' && *in <= '9') {
		values++;
		in++;
		if (values % 1000 == 0)
			printf("value %ld at depth %ld\n", values, depth);
		return 0;
	}
	fprintf(stderr, "unexpected '%c'\n", *in);
	return 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000, i;
	char *text = malloc(3 * n + 2);

	mutual = argc > 2 && !strcmp(argv[2], "mutual");
	if (!text)
		return 2;
	/* [1[1[1 ... 1]]] : n arrays, each with a digit before its inner array. */
	for (i = 0; i < n; i++) {
		text[2 * i] = '[';
		text[2 * i + 1] = '1';
	}
	memset(text + 2 * n, ']', n);
	text[3 * n] = 0;
	in = text;
	if (parse(1))
		return 1;
	printf("parsed %ld values, %ld levels deep\n", values, depth_max);
	free(text);
	return 0;
}
