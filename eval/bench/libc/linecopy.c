/*
 * linecopy - a libc-heavy program for `make bench-vm` (issue 19): copies a text
 * file line by line with fgets/fputs, one libc call per line each way.
 *
 *   linecopy IN OUT
 *
 * Prints "linecopy lines N cpu_ns T": T is the CPU time of the copy loop alone
 * (CLOCK_PROCESS_CPUTIME_ID, user and kernel), so that the start-up of the
 * process and of whatever launched it (sbx run, the seccomp launcher) is not
 * counted. Under `sbx vm --icount` the guest's clocks advance 1 ns per
 * instruction, so T counts the instructions of the loop. Exits 1 on any error.
 */
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	char line[512];
	long lines = 0;
	FILE *in, *out;

	if (argc != 3) {
		fprintf(stderr, "usage: linecopy IN OUT\n");
		return 2;
	}
	in = fopen(argv[1], "r");
	out = fopen(argv[2], "w");
	if (!in || !out) {
		perror("linecopy: fopen");
		return 1;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	while (fgets(line, sizeof(line), in)) {
		if (fputs(line, out) == EOF) {
			perror("linecopy: fputs");
			return 1;
		}
		lines++;
	}
	if (fflush(out) != 0 || ferror(in)) {
		perror("linecopy");
		return 1;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	if (fclose(out) != 0 || fclose(in) != 0) {
		perror("linecopy: fclose");
		return 1;
	}
	printf("linecopy lines %ld cpu_ns %lld\n", lines,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}
