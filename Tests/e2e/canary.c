/*
 * canary.c - the programs minish runs in the exec-transition tests: it writes the
 * file canary-NAME in the current directory (NAME: the basename it was run as) and
 * says so. Built twice (registered, unregistered) and, with -DVERSION2, once more
 * as a rebuilt version with other content.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *name = argc > 0 ? argv[0] : "canary";
	const char *slash = strrchr(name, '/');
	char path[256];
	FILE *f;

	if (slash)
		name = slash + 1;
	snprintf(path, sizeof(path), "canary-%s", name);
	f = fopen(path, "w");
	if (f) {
		fputs("ran\n", f);
		fclose(f);
	}
#ifdef VERSION2
	printf("canary: %s ran (version 2)\n", name);
#else
	printf("canary: %s ran\n", name);
#endif
	return 0;
}
