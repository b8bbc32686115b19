/*
 * An mbed-TLS-like hash loop for the cost of call-site markers (issue 19, "The
 * nfa mode does not pay for CALL/RET"; eval/bench/site-skip-bench.sh). As in
 * mbed TLS, the layered API functions reach libc only through an error/debug
 * path that a normal run never takes, so every call of them is an instrumented
 * site: each update makes six site markers (CALL/RET of md_update, sha_update
 * and debug) and no libc marker; every 100 updates a digest is printed.
 *
 *   sites_loop [UPDATES]      (default 20000)
 *
 * Set SITES_DEBUG to take the debug path (fprintf to stderr on every update).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	uint32_t h[8];
	uint8_t buf[64];
	size_t used;
	uint64_t total;
};

static int debug_level;

__attribute__((noinline)) static void debug(const char *what, size_t n)
{
	if (debug_level)
		fprintf(stderr, "%s %zu\n", what, n);
}

static uint32_t rotl(uint32_t x, int k)
{
	return (x << k) | (x >> (32 - k));
}

/* Pure mixing of one 64-byte block: no libc, so its call is no site. */
__attribute__((noinline)) static void process(struct ctx *c, const uint8_t *p)
{
	uint32_t w[16];
	int i;

	memcpy(w, p, sizeof w);
	for (i = 0; i < 64; i++) {
		uint32_t t = c->h[i & 7] + w[i & 15] + rotl(c->h[(i + 3) & 7], 7) + 0x9e3779b9u * i;

		c->h[(i + 1) & 7] ^= rotl(t, 13);
		w[i & 15] = rotl(w[i & 15] ^ t, 3);
	}
}

__attribute__((noinline)) static int sha_update(struct ctx *c, const uint8_t *in, size_t n)
{
	debug("update", n);
	c->total += n;
	while (n) {
		size_t k = sizeof c->buf - c->used;

		if (k > n)
			k = n;
		memcpy(c->buf + c->used, in, k);
		c->used += k;
		in += k;
		n -= k;
		if (c->used == sizeof c->buf) {
			process(c, c->buf);
			c->used = 0;
		}
	}
	return 0;
}

__attribute__((noinline)) static int md_update(struct ctx *c, const uint8_t *in, size_t n)
{
	if (!c || !in)
		return -1;
	return sha_update(c, in, n);
}

int main(int argc, char **argv)
{
	static uint8_t data[4096];
	struct ctx c = { { 1, 2, 3, 4, 5, 6, 7, 8 }, { 0 }, 0, 0 };
	long updates = argc > 1 ? atol(argv[1]) : 20000;
	long i;

	debug_level = getenv("SITES_DEBUG") != NULL;
	for (i = 0; i < (long)sizeof data; i++)
		data[i] = (uint8_t)(i * 131 + 7);
	for (i = 0; i < updates; i++) {
		if (md_update(&c, data + (i * 48) % 4000, 48))
			return 1;
		if (i % 100 == 99)
			printf("%ld %08x%08x\n", i + 1, c.h[0], c.h[7]);
	}
	printf("total %llu\n", (unsigned long long)c.total);
	return 0;
}
