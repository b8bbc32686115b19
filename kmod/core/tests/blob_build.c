// SPDX-License-Identifier: GPL-2.0
/*
 * blob_build.c - writes hand-built policy blobs in the layout of
 * specs/kernel-abi.md, independently of the Swift builder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_build.h"
#include "../sbx_blob.h"

void tb_put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

void tb_put64(uint8_t *p, uint64_t v)
{
	tb_put32(p, (uint32_t)v);
	tb_put32(p + 4, (uint32_t)(v >> 32));
}

void tb_set_add(struct tb_spec *s, uint32_t set, uint32_t nr)
{
	s->sets[set][nr / 8] |= 1U << (nr % 8);
}

uint32_t tb_get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The size of @s's names section: 0 without names. */
static size_t tb_names_size(const struct tb_spec *s, uint32_t nr_callees)
{
	size_t size = 12 + 4 * nr_callees, i, n = s->nr_symbols + s->nr_functions;

	if (!s->names[0])
		return 0;
	for (i = 0; i < n; i++)
		size += 4 + strlen(s->names[i]) + 1;
	return size;
}

static void tb_put_names(const struct tb_spec *s, uint8_t *out, uint32_t nr_callees)
{
	uint32_t i, n = s->nr_symbols + s->nr_functions, pos = 0;
	uint8_t *area = out + 12 + 4 * nr_callees + 4 * n;

	tb_put32(out, n);
	tb_put32(out + 4, s->root_function ? s->root_function - 1 : SBX_NAME_NONE);
	tb_put32(out + 8, nr_callees);
	for (i = 0; i < nr_callees; i++)
		tb_put32(out + 12 + 4 * i, s->callees[i] ? s->callees[i] - 1 : SBX_NAME_NONE);
	for (i = 0; i < n; i++) {
		size_t len = strlen(s->names[i]) + 1;

		tb_put32(out + 12 + 4 * nr_callees + 4 * i, pos);
		memcpy(area + pos, s->names[i], len);
		pos += len;
	}
}

static size_t tb_evbuf_size(const struct tb_spec *s)
{
	if (!(s->flags & SBX_BLOB_F_BUFFERED))
		return 0;
	return 16 + 4 * ((s->nr_symbols + 31) / 32);
}

size_t tb_evbuf_off(const struct tb_spec *s)
{
	uint32_t nr_trans = 0, i;
	size_t off = SBX_BLOB_HEADER_SIZE;

	for (i = 0; i < s->nr_mstates; i++)
		nr_trans += s->mstates[i].nr_trans;
	off += 12 * s->nr_mstates + 8 * nr_trans;
	off += 4 * (s->flags & SBX_BLOB_F_NFA ? 0 : s->nr_sites);
	off += 8 * s->nr_callbacks + 64 * s->nr_sets;
	off += 4 * (s->flags & SBX_BLOB_F_BOUND ? s->nr_symbols : 0);
	off += 16 * s->nr_pins + 4 * s->nr_mstates;
	return off;
}

size_t tb_build(const struct tb_spec *s, uint8_t *out, size_t cap)
{
	uint32_t nr_trans = 0, i, j, first = 0;
	uint32_t nr_callees = s->flags & SBX_BLOB_F_NFA ? 0 : s->nr_sites;
	size_t off, mo, to, so, co, sto, yo, po, ro, eo, no, size;

	for (i = 0; i < s->nr_mstates; i++)
		nr_trans += s->mstates[i].nr_trans;
	mo = SBX_BLOB_HEADER_SIZE;
	to = mo + 12 * s->nr_mstates;
	so = to + 8 * nr_trans;
	/* An NFA blob has no site section (but keeps nr_sites). */
	co = so + 4 * (s->flags & SBX_BLOB_F_NFA ? 0 : s->nr_sites);
	sto = co + 8 * s->nr_callbacks;
	yo = sto + 64 * s->nr_sets;
	po = yo + 4 * (s->flags & SBX_BLOB_F_BOUND ? s->nr_symbols : 0);
	ro = po + 16 * s->nr_pins;
	eo = ro + 4 * s->nr_mstates;
	no = eo + tb_evbuf_size(s);
	size = no + tb_names_size(s, nr_callees);
	if (size > cap) {
		fprintf(stderr, "tb_build: blob too large\n");
		abort();
	}
	memset(out, 0, size);
	tb_put32(out + 0, SBX_BLOB_MAGIC);
	tb_put32(out + 4, SBX_BLOB_VERSION);
	tb_put32(out + 8, SBX_BLOB_HEADER_SIZE);
	tb_put32(out + 12, s->flags);
	tb_put32(out + 16, size);
	tb_put32(out + 20, s->stack_limit);
	tb_put32(out + 24, s->nr_symbols);
	tb_put32(out + 28, s->nr_functions);
	tb_put32(out + 32, s->nr_sites);
	tb_put32(out + 36, s->nr_callbacks);
	tb_put32(out + 40, s->nr_mstates);
	tb_put32(out + 44, nr_trans);
	tb_put32(out + 48, s->initial);
	tb_put32(out + 52, s->thread);
	tb_put32(out + 56, mo);
	tb_put32(out + 60, to);
	tb_put32(out + 64, so);
	tb_put32(out + 68, co);
	tb_put32(out + 72, s->nr_sets);
	tb_put32(out + 76, sto);
	tb_put32(out + 80, yo);
	tb_put32(out + 84, s->start_set);
	tb_put32(out + 88, s->ambient_set);
	tb_put32(out + 92, s->nr_pins);
	tb_put32(out + 96, po);
	tb_put32(out + 100, s->max_depth ? s->max_depth : SBX_MAX_DEPTH_DEFAULT);
	tb_put64(out + 104, s->pin_table_vaddr);
	tb_put64(out + 112, s->text_vaddr);
	tb_put32(out + 120, ro);
	tb_put32(out + 124, size - no);
	if (size > no)
		tb_put_names(s, out + no, nr_callees);
	for (i = 0; i < s->nr_mstates; i++)
		tb_put32(out + ro + 4 * i, s->resync[i] ? s->resync[i] - 1 : SBX_RESYNC_NONE);
	if (s->flags & SBX_BLOB_F_BUFFERED) {
		tb_put64(out + eo, (uint64_t)s->evbuf_tpoff);
		tb_put32(out + eo + 8, s->evbuf_cap ? s->evbuf_cap : SBX_EVBUF_CAP);
		tb_put32(out + eo + 12, (s->nr_symbols + 31) / 32);
		for (i = 0; i < (s->nr_symbols + 31) / 32; i++)
			tb_put32(out + eo + 16 + 4 * i, s->bufferable[i]);
	}
	for (i = 0; i < s->nr_sets; i++)
		memcpy(out + sto + 64 * i, s->sets[i], 64);
	for (i = 0; yo + 4 * i < po; i++)
		tb_put32(out + yo + 4 * i, s->symsets[i]);
	for (i = 0; i < s->nr_pins; i++) {
		tb_put64(out + po + 16 * i, s->pins[i].vaddr);
		tb_put32(out + po + 16 * i + 8, s->pins[i].kind);
		tb_put32(out + po + 16 * i + 12, s->pins[i].id);
	}
	off = to;
	for (i = 0; i < s->nr_mstates; i++) {
		const struct tb_mstate *m = &s->mstates[i];

		tb_put32(out + mo + 12 * i, first);
		tb_put32(out + mo + 12 * i + 4, m->nr_trans);
		tb_put32(out + mo + 12 * i + 8, m->flags);
		for (j = 0; j < m->nr_trans; j++) {
			tb_put32(out + off, m->trans[j].key);
			tb_put32(out + off + 4, m->trans[j].target);
			off += 8;
		}
		first += m->nr_trans;
	}
	for (i = 0; so + 4 * i < co; i++)
		tb_put32(out + so + 4 * i, s->sites[i]);
	for (i = 0; i < s->nr_callbacks; i++) {
		tb_put32(out + co + 8 * i, s->callbacks[i][0]);
		tb_put32(out + co + 8 * i + 4, s->callbacks[i][1]);
	}
	return size;
}

/*
 * The example: symbols open(0) read(1) write(2); functions main(0) a(1) b(2)
 * h(3) cb(4), cb a callback.
 *   main: 0 -call 0-> 1 -call 1-> 2, final 2
 *   a:    0 -call 2-> 1 -open-> 2, final 2          site 0: main -> a
 *   b:    0 -call 3-> 1 -write-> 2, 1 -tail 4-> 2     site 1: main -> b
 *         final 2                                     site 2: a -> h
 *   h:    0 -read-> 1, final 1                        site 3: b -> h
 *   cb:   0 -write-> 1, final 1                       site 4: b -> h (musttail)
 * Macro-states: 0 {} (new thread), 1 {main0}, 2 {main1}, 3 {main2}F, 4 {a0},
 * 5 {a1}, 6 {a2}F, 7 {b0}, 8 {b1}, 9 {b2}F, 10 {h0}, 11 {h1}F, 12 {cb0},
 * 13 {cb1}F.
 */
void tb_example(struct tb_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->stack_limit = 8;
	s->nr_symbols = 3;
	s->nr_functions = 5;
	s->initial = 1;
	s->thread = 0;
	s->nr_mstates = 14;
	s->mstates[1] = (struct tb_mstate){ 0, 1, { { SBX_KEY_SITE(0), 2 } } };
	s->mstates[2] = (struct tb_mstate){ 0, 1, { { SBX_KEY_SITE(1), 3 } } };
	s->mstates[3] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->mstates[4] = (struct tb_mstate){ 0, 1, { { SBX_KEY_SITE(2), 5 } } };
	s->mstates[5] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(0), 6 } } };
	s->mstates[6] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->mstates[7] = (struct tb_mstate){ 0, 1, { { SBX_KEY_SITE(3), 8 } } };
	s->mstates[8] =
		(struct tb_mstate){ 0, 2, { { SBX_KEY_LIBC(2), 9 }, { SBX_KEY_SITE(4), 9 } } };
	s->mstates[9] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->mstates[10] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(1), 11 } } };
	s->mstates[11] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->mstates[12] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(2), 13 } } };
	s->mstates[13] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->nr_sites = 5;
	s->sites[0] = 4;
	s->sites[1] = 7;
	s->sites[2] = 10;
	s->sites[3] = 10;
	s->sites[4] = 10;
	s->nr_callbacks = 1;
	s->callbacks[0][0] = 4;
	s->callbacks[0][1] = 12;
}

/*
 * The example in nfa mode: the single-copy flattening of the example, with its
 * marker ids (5 functions, 5 sites, callback 4). Roots main and cb; h is
 * shared, so after read the run may continue in a or in b (the impossible
 * path read, write).
 *   main: {main0 a0 h0} -read-> {h1 a1 b1 b2 main2 h0}F (h0: b's tail call)
 *         -read-> the same
 *         -open-> {a2 main1 b0 h0} -read-> the same as after the first read
 *         -write-> {b2 main2}F
 *   cb:   {cb0} -write-> {cb1}F
 * Macro-states: 0 {} (new thread), 1 main's start, 2 {cb0}, 3 after read (F),
 * 4 {cb1}F, 5 after open, 6 after write (F).
 */
void tb_example_nfa(struct tb_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->flags = SBX_BLOB_F_NFA;
	s->stack_limit = 8;
	s->nr_symbols = 3;
	s->nr_functions = 5;
	s->initial = 1;
	s->thread = 0;
	s->nr_mstates = 7;
	s->mstates[1] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(1), 3 } } };
	s->mstates[2] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(2), 4 } } };
	s->mstates[3] = (struct tb_mstate){
		SBX_MSTATE_F_FINAL,
		3,
		{ { SBX_KEY_LIBC(0), 5 }, { SBX_KEY_LIBC(1), 3 }, { SBX_KEY_LIBC(2), 6 } }
	};
	s->mstates[4] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->mstates[5] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(1), 3 } } };
	s->mstates[6] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->nr_sites = 5;
	s->nr_callbacks = 1;
	s->callbacks[0][0] = 4;
	s->callbacks[0][1] = 2;
}

void tb_example_names(struct tb_spec *s)
{
	static const char *const names[] = { "open", "read", "write", "main", "a", "b", "h", "cb" };
	/* Sites 0 main -> a, 1 main -> b, 2 a -> h, 3 b -> h, 4 b -> h. */
	static const uint32_t callees[] = { 1, 2, 3, 3, 3 };
	uint32_t i;

	for (i = 0; i < 8; i++)
		s->names[i] = names[i];
	s->root_function = 0 + 1;
	for (i = 0; i < 5; i++)
		s->callees[i] = callees[i] + 1;
}

/*
 * Direct recursion and setjmp (tests of folding and of the record stack).
 * Functions main (0), r (1), cb (2); symbols puts (0), exit (1).
 *   main: 0 -call 0-> 1 -exit-> 2, final 2      site 0: main -> r
 *   r:    0 -puts-> 1, final 1; 1 -call 1-> 1    site 1: r -> r
 *   cb:   0 -puts-> 1, final 1                   (a callback)
 * Macro-states: 0 {} (new thread), 1 {main0}, 2 {main1}, 3 {main2}F, 4 {r0},
 * 5 {r1}F, 6 {cb0}, 7 {cb1}F.
 */
void tb_recursive(struct tb_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->stack_limit = 8;
	s->nr_symbols = 2;
	s->nr_functions = 3;
	s->initial = 1;
	s->thread = 0;
	s->nr_mstates = 8;
	s->mstates[1] = (struct tb_mstate){ 0, 1, { { SBX_KEY_SITE(0), 2 } } };
	s->mstates[2] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(1), 3 } } };
	s->mstates[3] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->mstates[4] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(0), 5 } } };
	s->mstates[5] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 1, { { SBX_KEY_SITE(1), 5 } } };
	s->mstates[6] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(0), 7 } } };
	s->mstates[7] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->nr_sites = 2;
	s->sites[0] = 4;
	s->sites[1] = 4;
	s->nr_callbacks = 1;
	s->callbacks[0][0] = 2;
	s->callbacks[0][1] = 6;
}

/*
 * Log mode's resynchronisation (sbx_resync()). Symbols open(0) read(1)
 * write(2) close(3); one function main: m0 -open-> m1 -read-> m2 -read-> m3
 * -write-> m4, final m4; close is allowed nowhere. Macro-states: 0 {} (new
 * thread), 1 {m0}, 2 {m1}, 3 {m2}, 4 {m3}, 5 {m4}F, and main's any
 * macro-state 6 {m0..m4} -open-> 2, -read-> 7, -write-> 5, where 7 {m2 m3}
 * -read-> 4, -write-> 5. Every macro-state but 0 resynchronises through 6.
 */
void tb_resync_example(struct tb_spec *s)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->stack_limit = 8;
	s->nr_symbols = 4;
	s->nr_functions = 1;
	s->initial = 1;
	s->thread = 0;
	s->nr_mstates = 8;
	s->mstates[1] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(0), 2 } } };
	s->mstates[2] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(1), 3 } } };
	s->mstates[3] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(1), 4 } } };
	s->mstates[4] = (struct tb_mstate){ 0, 1, { { SBX_KEY_LIBC(2), 5 } } };
	s->mstates[5] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	s->mstates[6] = (struct tb_mstate){
		SBX_MSTATE_F_FINAL,
		3,
		{ { SBX_KEY_LIBC(0), 2 }, { SBX_KEY_LIBC(1), 7 }, { SBX_KEY_LIBC(2), 5 } }
	};
	s->mstates[7] =
		(struct tb_mstate){ 0, 2, { { SBX_KEY_LIBC(1), 4 }, { SBX_KEY_LIBC(2), 5 } } };
	for (i = 1; i < 8; i++)
		s->resync[i] = 6 + 1;
}
