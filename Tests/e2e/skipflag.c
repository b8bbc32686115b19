/*
 * The markers' skip flag (issue 19, "The nfa mode does not pay for CALL/RET";
 * specs/marker-abi.md, "Answers"). Each of 300 rounds calls work(), which
 * formats a line and passes it to say(): per round two libc markers and four
 * site markers (CALL/RET of work and of say), plus a recursion 6 deep at the
 * end. Under nfa mode the first site marker is answered and the rest are
 * skipped; under dyck mode all are made.
 *
 *   skipflag          the program as it is
 *   skipflag set      sets the flag itself from round 150 (a corrupted flag)
 *   skipflag clear    clears it before every round (a corrupted flag)
 *
 * The flag is the variable dyck-cc defines under this name; declaring it here
 * makes this program's variable that definition.
 */
#include <stdio.h>
#include <string.h>

extern volatile char __sbx_skip_sites;

__attribute__((noinline)) static void say(const char *line)
{
	fputs(line, stdout);
}

__attribute__((noinline)) static void work(int i)
{
	char line[64];

	snprintf(line, sizeof line, "round %d: %d\n", i, i * i % 97);
	say(line);
}

__attribute__((noinline)) static int nest(int n)
{
	if (n == 0)
		return printf("leaf\n");
	return nest(n - 1) + 1;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	int i;

	for (i = 0; i < 300; i++) {
		if (i == 150 && !strcmp(how, "set"))
			__sbx_skip_sites = 1;
		if (!strcmp(how, "clear"))
			__sbx_skip_sites = 0;
		work(i);
	}
	printf("nest %d\n", nest(5));
	return 0;
}
