/* The demo program: two functions share a logging helper. A context-insensitive
 * model lets a run enter log_line() from load_config() and leave it into
 * save_report(), a path no real run can take; the Dyck model refuses it. */
#include <stdio.h>
#include <stdlib.h>

static void log_line(const char *what)
{
	fprintf(stderr, "%s\n", what);
}

static int load_config(const char *path)
{
	log_line("loading");
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char buf[128];
	while (fgets(buf, sizeof buf, f) != NULL)
		;
	fclose(f);
	return 0;
}

static void save_report(const char *path)
{
	log_line("saving");
	FILE *f = fopen(path, "w");
	if (f == NULL)
		exit(1);
	fputs("ok\n", f);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CONFIG REPORT\n", argv[0]);
		return 2;
	}
	if (load_config(argv[1]) != 0)
		return 1;
	save_report(argv[2]);
	return 0;
}
