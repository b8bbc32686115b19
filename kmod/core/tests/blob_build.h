/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blob_build.h - hand-built policy blobs for the userspace tests of the core.
 */
#ifndef _SBX_TEST_BLOB_BUILD_H
#define _SBX_TEST_BLOB_BUILD_H

#include <stddef.h>
#include <stdint.h>

#define TB_MAX 64

struct tb_trans {
	uint32_t key;
	uint32_t target;
};

struct tb_mstate {
	uint32_t flags;
	uint32_t nr_trans;
	struct tb_trans trans[8];
};

struct tb_spec {
	uint32_t flags;
	uint32_t stack_limit;
	/* 0: SBX_MAX_DEPTH_DEFAULT. */
	uint32_t max_depth;
	uint32_t nr_symbols;
	uint32_t nr_functions;
	uint32_t initial;
	uint32_t thread;
	uint32_t nr_mstates;
	struct tb_mstate mstates[TB_MAX];
	uint32_t nr_sites;
	uint32_t sites[TB_MAX];
	uint32_t nr_callbacks;
	uint32_t callbacks[TB_MAX][2];
	/* With SBX_BLOB_F_BOUND: sets of 64 bytes, a set per symbol. */
	uint32_t nr_sets;
	uint8_t sets[8][64];
	uint32_t symsets[TB_MAX];
	uint32_t start_set;
	uint32_t ambient_set;
	/* With SBX_BLOB_F_PINNED. */
	uint32_t nr_pins;
	struct {
		uint64_t vaddr;
		uint32_t kind;
		uint32_t id;
	} pins[TB_MAX];
	uint64_t pin_table_vaddr;
	uint64_t text_vaddr;
	/*
	 * The resynchronisation entry of each macro-state, plus one: 0 writes
	 * SBX_RESYNC_NONE, k + 1 macro-state k (so a zeroed spec has none).
	 */
	uint32_t resync[TB_MAX];
	/*
	 * The names section (specs/kernel-abi.md, "Names"), written when
	 * @names[0] is set: nr_symbols symbol names then nr_functions function
	 * names, written as given (tests make malformed ones); the root's
	 * function and each site's callee plus one (0 writes SBX_NAME_NONE).
	 */
	/*
	 * With SBX_BLOB_F_BUFFERED: the event-buffer section, its tpoff, its
	 * capacity (0 writes SBX_EVBUF_CAP) and the bufferable bit words.
	 */
	int64_t evbuf_tpoff;
	uint32_t evbuf_cap;
	uint32_t bufferable[TB_MAX / 32 + 1];
	const char *names[2 * TB_MAX];
	uint32_t root_function;
	uint32_t callees[TB_MAX];
};

/*
 * Writes the blob of @s into @out (at least @cap bytes); returns its size. With
 * SBX_BLOB_F_NFA in @s->flags the site section is left out (sites[] unused).
 */
size_t tb_build(const struct tb_spec *s, uint8_t *out, size_t cap);
void tb_put32(uint8_t *p, uint32_t v);
void tb_put64(uint8_t *p, uint64_t v);
/* Adds system call @nr (or SBX_SET_BIT_EXEC_MAP) to set @set of @s. */
void tb_set_add(struct tb_spec *s, uint32_t set, uint32_t nr);
uint32_t tb_get32(const uint8_t *p);
/* The offset of the event-buffer section of a blob built from @s. */
size_t tb_evbuf_off(const struct tb_spec *s);

/* The example policy of the tests (see blob_build.c), in dyck and nfa mode. */
void tb_example(struct tb_spec *s);
void tb_example_nfa(struct tb_spec *s);
void tb_recursive(struct tb_spec *s);
/* Log mode's resynchronisation example: main only, with its any macro-state. */
void tb_resync_example(struct tb_spec *s);
/* The names of the example (tb_example, tb_example_nfa): main the root. */
void tb_example_names(struct tb_spec *s);

#endif
