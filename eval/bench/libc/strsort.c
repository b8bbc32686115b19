/*
 * strsort - a libc-heavy program for `make bench-vm` (issue 19): qsort of N
 * strings (default 10,000) whose comparator calls strcoll, one libc call per
 * comparison.
 *
 *   strsort [N]
 *
 * The locale: STRSORT_LOCALE if set, else the first of en_US.UTF-8, C.UTF-8
 * that setlocale accepts, else "C". The strings are made by a fixed linear
 * congruential generator (no libc call), mixed case with digits and spaces, so
 * that every run sorts the same input.
 *
 * Prints "strsort strings N locale L cpu_ns T sum S": T is the CPU time of the
 * qsort alone (CLOCK_PROCESS_CPUTIME_ID: under `sbx vm --icount`, instructions),
 * S a checksum of the sorted order, the same in every mode of one locale.
 * Exits 1 if the result is not sorted by strcoll.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
	return strcoll(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -";
	static const char *const wanted[] = { "en_US.UTF-8", "C.UTF-8" };
	const char *env = getenv("STRSORT_LOCALE");
	const char *locale = NULL;
	unsigned long long state = 0x9e3779b97f4a7c15ULL, sum = 0;
	struct timespec t0, t1;
	long n = argc > 1 ? atol(argv[1]) : 10000;
	char **strings;
	long i;

	if (n <= 0) {
		fprintf(stderr, "usage: strsort [N]\n");
		return 2;
	}
	if (env && *env) {
		if (!setlocale(LC_ALL, env)) {
			fprintf(stderr, "strsort: locale %s is not available\n", env);
			return 1;
		}
		locale = env;
	}
	for (i = 0; !locale && i < (long)(sizeof(wanted) / sizeof(wanted[0])); i++)
		if (setlocale(LC_ALL, wanted[i]))
			locale = wanted[i];
	if (!locale)
		locale = setlocale(LC_ALL, "C") ? "C" : "?";
	strings = malloc(n * sizeof(*strings));
	if (!strings)
		return 1;
	for (i = 0; i < n; i++) {
		int len, k;

		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		len = 8 + (int)((state >> 33) % 17);
		strings[i] = malloc(len + 1);
		if (!strings[i])
			return 1;
		for (k = 0; k < len; k++) {
			state = state * 6364136223846793005ULL + 1442695040888963407ULL;
			strings[i][k] = alphabet[(state >> 33) % (sizeof(alphabet) - 1)];
		}
		strings[i][len] = '\0';
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	qsort(strings, n, sizeof(*strings), cmp);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	for (i = 0; i < n; i++) {
		const unsigned char *p;

		if (i > 0 && strcoll(strings[i - 1], strings[i]) > 0) {
			fprintf(stderr, "strsort: not sorted at %ld\n", i);
			return 1;
		}
		for (p = (const unsigned char *)strings[i]; *p; p++)
			sum = sum * 131 + *p;
	}
	printf("strsort strings %ld locale %s cpu_ns %lld sum %016llx\n", n, locale,
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec), sum);
	return 0;
}
