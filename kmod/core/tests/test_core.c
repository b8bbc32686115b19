// SPDX-License-Identifier: GPL-2.0
/*
 * test_core.c - userspace unit tests of the monitor core: hand-built blobs,
 * every validation rule and every stepping rule.
 *
 * Usage: test_core              run the tests (exit 0 iff all pass)
 *        test_core --seeds DIR  also write fuzzer seed inputs into DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_build.h"
#include "test_evbuf.h"
#include "../sbx_blob.h"
#include "../sbx_monitor.h"
#include "../../uapi/sbx_marker.h"

static int failures, checks;

#define CHECK(cond, ...)                                                                \
	do {                                                                            \
		checks++;                                                               \
		if (!(cond)) {                                                          \
			failures++;                                                     \
			fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                   \
			fputc('\n', stderr);                                            \
		}                                                                       \
	} while (0)

static uint8_t blob[1 << 16];
static size_t blob_size;
static struct sbx_policy_view view;
static union sbx_slot slots[8192];
static struct sbx_thread thread;

static void load_spec(const struct tb_spec *s)
{
	int err;

	blob_size = tb_build(s, blob, sizeof(blob));
	err = sbx_blob_validate(blob, blob_size, &view);
	CHECK(err == 0, "blob refused: %d", err);
}

static void load_example(uint32_t stack_limit)
{
	struct tb_spec s;

	tb_example(&s);
	s.stack_limit = stack_limit;
	load_spec(&s);
}

static void load_example_nfa(uint32_t stack_limit)
{
	struct tb_spec s;

	tb_example_nfa(&s);
	s.stack_limit = stack_limit;
	load_spec(&s);
}

/* Steps the events; returns the index of the first violation or -1. */
static int run(const uint64_t (*ev)[2], int n, struct sbx_violation *v)
{
	int i;

	for (i = 0; i < n; i++)
		if (sbx_step(&view, &thread, ev[i][0], ev[i][1], v))
			return i;
	return -1;
}

#define RUN(v, ...)                                               \
	({                                                        \
		static const uint64_t ev_[][2] = { __VA_ARGS__ }; \
		sbx_thread_init(&view, &thread, slots, 64);       \
		run(ev_, sizeof(ev_) / sizeof(ev_[0]), v);        \
	})

#define L  SBX_MARK_LIBC
#define C  SBX_MARK_CALL
#define R  SBX_MARK_RET
#define CE SBX_MARK_CB_ENTER
#define CX SBX_MARK_CB_EXIT
#define T  SBX_MARK_TAIL
#define SS SBX_MARK_SJ_SAVE
#define SR SBX_MARK_SJ_RESUME

static void test_valid_run(void)
{
	struct sbx_violation v;

	load_example(8);
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 }, { C, 1 },
		  { C, 3 }, { L, 1 }, { R, 3 }, { L, 2 }, { R, 1 }) == -1,
	      "reason %u", v.reason);
	CHECK(thread.depth == 1 && thread.slots[0].frame.mstate == 3, "depth %u ms %u",
	      thread.depth, thread.slots[0].frame.mstate);
}

static void test_libc(void)
{
	struct sbx_violation v;

	load_example(8);
	CHECK(RUN(&v, { C, 0 }, { L, 0 }) == 1 && v.reason == SBX_V_NOT_ALLOWED,
	      "a must call h before open: %u", v.reason);
	CHECK(v.tag == (SBX_FRAME_SITE | 0) && v.mstate == 4 && v.depth == 2,
	      "violation context tag %x ms %u depth %u", v.tag, v.mstate, v.depth);
	CHECK(RUN(&v, { L, 3 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { L, 0xffffffffULL }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { L, 1ULL << 32 }) == 0 && v.reason == SBX_V_ID_RANGE,
	      "upper half of the id must be zero: %u", v.reason);
}

static void test_call_ret(void)
{
	struct sbx_violation v;

	load_example(8);
	CHECK(RUN(&v, { C, 1 }) == 0 && v.reason == SBX_V_NOT_ALLOWED, "%u", v.reason);
	CHECK(RUN(&v, { C, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { R, 0 }) == 0 && v.reason == SBX_V_WRONG_RETURN, "%u", v.reason);
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 3 }) == 3 &&
		      v.reason == SBX_V_WRONG_RETURN && v.tag == (SBX_FRAME_SITE | 2),
	      "return to the wrong site: %u %x", v.reason, v.tag);
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { R, 2 }) == 2 && v.reason == SBX_V_CANNOT_RETURN, "%u",
	      v.reason);
	CHECK(RUN(&v, { R, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
}

static void test_tail(void)
{
	struct sbx_violation v;

	load_example(8);
	/* b: 1 -tail 4-> 2 (final): the frame of site 1 now runs h. */
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 }, { C, 1 },
		  { C, 3 }, { L, 1 }, { R, 3 }, { T, 4 }, { L, 1 }, { R, 1 }, { R, 0 }) == 13 &&
		      v.reason == SBX_V_WRONG_RETURN,
	      "%u", v.reason);
	CHECK(thread.depth == 1 && thread.slots[0].frame.mstate == 3, "after tail: %u %u",
	      thread.depth, thread.slots[0].frame.mstate);
	/* main: 0 -call 0-> 1 is not final: a tail call there is refused. */
	CHECK(RUN(&v, { T, 0 }) == 0 && v.reason == SBX_V_NOT_ALLOWED, "%u", v.reason);
	CHECK(RUN(&v, { T, 4 }) == 0 && v.reason == SBX_V_NOT_ALLOWED, "%u", v.reason);
	CHECK(RUN(&v, { T, 9 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	/* Returning before the tail callee is done. */
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 }, { C, 1 },
		  { C, 3 }, { L, 1 }, { R, 3 }, { T, 4 }, { R, 1 }) == 11 &&
		      v.reason == SBX_V_CANNOT_RETURN,
	      "%u", v.reason);
}

static void test_callbacks(void)
{
	struct sbx_violation v;

	load_example(8);
	CHECK(RUN(&v, { C, 0 }, { CE, 4 }, { L, 2 }, { CX, 4 }, { C, 2 }) == -1, "%u", v.reason);
	CHECK(thread.depth == 3, "depth %u", thread.depth);
	CHECK(RUN(&v, { CE, 4 }, { L, 1 }) == 1 && v.reason == SBX_V_NOT_ALLOWED,
	      "inside the callback only its own calls: %u", v.reason);
	CHECK(RUN(&v, { CE, 4 }, { CX, 4 }) == 1 && v.reason == SBX_V_CANNOT_RETURN, "%u",
	      v.reason);
	CHECK(RUN(&v, { CE, 3 }) == 0 && v.reason == SBX_V_NOT_CALLBACK, "%u", v.reason);
	CHECK(RUN(&v, { CE, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { CX, 4 }) == 0 && v.reason == SBX_V_WRONG_RETURN, "%u", v.reason);
	CHECK(RUN(&v, { CX, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { C, 0 }, { CE, 4 }, { L, 2 }, { R, 0 }) == 3 &&
		      v.reason == SBX_V_WRONG_RETURN,
	      "%u", v.reason);
	CHECK(RUN(&v, { C, 0 }, { CE, 4 }, { L, 2 }, { CX, 3 }) == 3 &&
		      v.reason == SBX_V_WRONG_RETURN,
	      "%u", v.reason);
}

static void test_new_thread(void)
{
	struct sbx_violation v;

	load_example(8);
	CHECK(sbx_thread_init_new_thread(&view, &thread, slots, 64) == 0, "init");
	CHECK(sbx_step(&view, &thread, C, 0, &v) == 1 && v.reason == SBX_V_NOT_ALLOWED,
	      "a new thread starts in no function: %u", v.reason);
	CHECK(sbx_step(&view, &thread, L, 2, &v) == 1 && v.reason == SBX_V_NOT_ALLOWED, "%u",
	      v.reason);
	CHECK(sbx_step(&view, &thread, CE, 4, &v) == 0, "cb enter");
	CHECK(sbx_step(&view, &thread, L, 2, &v) == 0, "cb write");
	CHECK(sbx_step(&view, &thread, CX, 4, &v) == 0, "cb exit");
	CHECK(sbx_step(&view, &thread, L, 2, &v) == 1, "back to nothing");
	CHECK(sbx_thread_init(&view, &thread, slots, 7) == -SBX_EINVAL, "capacity < limit");
	CHECK(sbx_thread_init(&view, &thread, NULL, 64) == -SBX_EINVAL, "no frames");
}

static void load_recursive(uint32_t stack_limit, uint32_t max_depth)
{
	struct tb_spec s;

	tb_recursive(&s);
	s.stack_limit = stack_limit;
	s.max_depth = max_depth;
	load_spec(&s);
}

static int step1(uint64_t kind, uint64_t id, struct sbx_violation *v)
{
	return sbx_step(&view, &thread, kind, id, v);
}

static void test_overflow(void)
{
	struct sbx_violation v;
	struct sbx_thread before;
	union sbx_slot sb[8];
	int i;

	/* The root frame and 2 more distinct frames fill 3 slots. */
	load_example(3);
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { CE, 4 }) == 2 && v.reason == SBX_V_STORE_FULL, "%u",
	      v.reason);
	/* A callback interrupting itself in the same state folds: no new slot. */
	CHECK(RUN(&v, { CE, 4 }, { CE, 4 }, { CE, 4 }, { CE, 4 }) == 2 &&
		      v.reason == SBX_V_STORE_FULL,
	      "third distinct frame: %u", v.reason);
	load_example(4);
	CHECK(RUN(&v, { CE, 4 }, { CE, 4 }, { CE, 4 }, { CE, 4 }, { CE, 4 }, { CE, 4 }) == -1 &&
		      thread.depth == 7 && thread.nr_frames == 4,
	      "%u: depth %u entries %u", v.reason, thread.depth, thread.nr_frames);
	load_example(1);
	CHECK(RUN(&v, { C, 0 }) == 0 && v.reason == SBX_V_STORE_FULL, "%u", v.reason);

	/* The depth bound counts folded frames, and names itself. */
	load_recursive(8, 100);
	sbx_thread_init(&view, &thread, slots, 8);
	CHECK(step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0, "into r");
	for (i = 0; i < 98; i++)
		CHECK(step1(C, 1, &v) == 0 && step1(L, 0, &v) == 0, "recursion %d", i);
	CHECK(thread.depth == 100 && thread.nr_frames == 4, "depth %u entries %u", thread.depth,
	      thread.nr_frames);
	before = thread;
	memcpy(sb, slots, sizeof(sb));
	CHECK(step1(C, 1, &v) == 1 && v.reason == SBX_V_STACK_OVERFLOW && v.depth == 100 &&
		      v.tag == (SBX_FRAME_SITE | 1) && v.mstate == 5,
	      "%u at %u", v.reason, v.depth);
	CHECK(step1(CE, 2, &v) == 1 && v.reason == SBX_V_STACK_OVERFLOW, "%u", v.reason);
	CHECK(!memcmp(&before, &thread, sizeof(before)) && !memcmp(sb, slots, sizeof(sb)),
	      "refused push changed the thread");
	/* Unwinding all of it is as good as the way in. */
	for (i = 0; i < 98; i++)
		CHECK(step1(R, 1, &v) == 0, "return %d", i);
	CHECK(step1(R, 1, &v) == 1 && v.reason == SBX_V_WRONG_RETURN, "%u", v.reason);
	CHECK(step1(R, 0, &v) == 0 && step1(L, 1, &v) == 0 && thread.depth == 1 &&
		      thread.nr_frames == 1,
	      "%u", v.reason);
	/* max_depth 1: nothing can be pushed. */
	load_recursive(8, 1);
	CHECK(RUN(&v, { C, 0 }) == 0 && v.reason == SBX_V_STACK_OVERFLOW, "%u", v.reason);
}

/* Legitimate recursion of 5000 frames through one site costs 4 entries. */
static void test_deep_recursion(void)
{
	struct sbx_violation v;
	sbx_u32 tags[4];
	int i, ok = 1;

	load_recursive(8, SBX_MAX_DEPTH_DEFAULT);
	sbx_thread_init(&view, &thread, slots, 8);
	ok &= step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0;
	for (i = 0; i < 5000; i++)
		ok &= step1(C, 1, &v) == 0 && step1(L, 0, &v) == 0;
	CHECK(ok, "recursion refused: %u at %u", v.reason, v.depth);
	CHECK(thread.depth == 5002 && thread.nr_frames == 4 &&
		      thread.slots[2].frame.count == 4999 && thread.slots[3].frame.count == 1,
	      "depth %u entries %u", thread.depth, thread.nr_frames);
	CHECK(sbx_thread_tags(&thread, tags, 4) == 4 && tags[0] == (SBX_FRAME_SITE | 1) &&
		      tags[1] == (SBX_FRAME_SITE | 1) && tags[3] == (SBX_FRAME_SITE | 1),
	      "tags");
	/* An unrelated callback at the bottom of the recursion, and back. */
	CHECK(step1(CE, 2, &v) == 0 && step1(L, 0, &v) == 0 && step1(CX, 2, &v) == 0, "callback %u",
	      v.reason);
	for (i = 0; i < 5000; i++)
		ok &= step1(R, 1, &v) == 0;
	CHECK(ok && thread.depth == 2 && thread.nr_frames == 2, "unwind %u", v.reason);
	CHECK(step1(R, 0, &v) == 0 && step1(L, 1, &v) == 0, "exit %u", v.reason);
	/* The same recursion with the old bound of 1024 entries and no folding would
	 * have been killed at depth 1025; with 3 slots it is still the store that
	 * ends it, never silently. */
	load_recursive(3, SBX_MAX_DEPTH_DEFAULT);
	sbx_thread_init(&view, &thread, slots, 3);
	CHECK(step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0 && step1(C, 1, &v) == 0 &&
		      step1(L, 0, &v) == 0,
	      "two levels");
	CHECK(step1(C, 1, &v) == 1 && v.reason == SBX_V_STORE_FULL, "fourth entry: %u", v.reason);
	CHECK(sbx_thread_tags(&thread, tags, 4) == 3 && tags[2] == SBX_FRAME_ROOT, "tags");
}

static void test_kinds(void)
{
	struct sbx_violation v;
	static const uint64_t kinds[] = { 0, 9, 10, 255, 0x100000001ULL, ~0ULL };
	unsigned int i;

	load_example(8);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		sbx_thread_init(&view, &thread, slots, 64);
		CHECK(sbx_step(&view, &thread, kinds[i], 0, &v) == 1 &&
			      v.reason == SBX_V_UNKNOWN_KIND && v.kind == kinds[i],
		      "kind %llu", (unsigned long long)kinds[i]);
	}
}

static void test_setjmp(void)
{
	struct sbx_violation v;
	int i;

	load_example(8);
	/* Save in main, descend, resume: back to main's frame and frontier. */
	CHECK(RUN(&v, { SS, 7 }, { C, 0 }, { C, 2 }, { SR, 7 }, { C, 0 }) == -1, "%u", v.reason);
	CHECK(thread.depth == 2 && thread.slots[0].frame.mstate == 2, "%u %u", thread.depth,
	      thread.slots[0].frame.mstate);
	CHECK(RUN(&v, { SR, 0 }) == 0 && v.reason == SBX_V_NO_SETJMP, "%u", v.reason);
	/* A record deeper than the stack is not used. */
	CHECK(RUN(&v, { C, 0 }, { SS, 1 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 },
		  { SR, 1 }) == 7 &&
		      v.reason == SBX_V_NO_SETJMP,
	      "%u", v.reason);
	/* The most recent matching record wins; a re-save at the same depth replaces. */
	CHECK(RUN(&v, { SS, 1 }, { C, 0 }, { SS, 1 }, { C, 2 }, { SR, 1 }, { L, 0 }) == 5 &&
		      v.reason == SBX_V_NOT_ALLOWED,
	      "%u", v.reason);
	CHECK(thread.depth == 2 && thread.slots[1].frame.mstate == 4, "%u %u", thread.depth,
	      thread.slots[1].frame.mstate);
	CHECK(RUN(&v, { SS, 0xffffffffULL }, { SR, 0xffffffffULL }) == -1, "%u", v.reason);
	CHECK(RUN(&v, { SS, 1ULL << 32 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { SR, 1ULL << 32 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	/* Records are never evicted: a full store refuses the save, unchanged. */
	load_example(8);
	sbx_thread_init(&view, &thread, slots, 8);
	for (i = 0; i < 7; i++)
		CHECK(sbx_step(&view, &thread, SS, i, &v) == 0, "save %d", i);
	CHECK(thread.nr_sj == 7, "%u", thread.nr_sj);
	CHECK(sbx_step(&view, &thread, SS, 7, &v) == 1 && v.reason == SBX_V_STORE_FULL &&
		      thread.nr_sj == 7,
	      "eighth slot %u", v.reason);
	CHECK(sbx_step(&view, &thread, SS, 3, &v) == 0 && thread.nr_sj == 7,
	      "a re-save in the same frame needs no slot");
	CHECK(sbx_step(&view, &thread, C, 0, &v) == 1 && v.reason == SBX_V_STORE_FULL,
	      "no slot for a frame either: %u", v.reason);
	CHECK(sbx_step(&view, &thread, SR, 0, &v) == 0, "record 0 kept");
	CHECK(sbx_step(&view, &thread, SR, 6, &v) == 0, "record 6 kept");
}

/*
 * Issue 17, the Lua pattern: protect() saves at one setjmp site; a nested
 * protect() returns normally; the stack grows back to the same depth; an error
 * longjmps to the outer buffer. The nested record died with its frame.
 */
static void test_setjmp_stale(void)
{
	struct sbx_violation v;

	load_recursive(8, 0);
	CHECK(RUN(&v, { C, 0 }, { L, 0 }, { SS, 9 }, { C, 1 }, { SS, 9 }, { L, 0 }, { R, 1 },
		  { C, 1 }, { SR, 9 }) == -1,
	      "%u", v.reason);
	CHECK(thread.depth == 2 && thread.nr_frames == 2 && thread.nr_sj == 1 &&
		      thread.slots[1].frame.mstate == 5 &&
		      thread.slots[1].frame.tag == (SBX_FRAME_SITE | 0),
	      "resumed at depth %u entries %u records %u ms %u", thread.depth, thread.nr_frames,
	      thread.nr_sj, thread.slots[1].frame.mstate);
	/* The outer frame goes on as the program does: it returns to main. */
	CHECK(step1(R, 0, &v) == 0 && step1(L, 1, &v) == 0, "%u", v.reason);
	/* Without the outer save the stale one is not taken either. */
	CHECK(RUN(&v, { C, 0 }, { L, 0 }, { C, 1 }, { SS, 9 }, { L, 0 }, { R, 1 }, { C, 1 },
		  { SR, 9 }) == 7 &&
		      v.reason == SBX_V_NO_SETJMP,
	      "%u", v.reason);
	/* A callback's records die at CB_EXIT. */
	CHECK(RUN(&v, { C, 0 }, { L, 0 }, { CE, 2 }, { SS, 4 }, { L, 0 }, { CX, 2 }, { CE, 2 },
		  { SR, 4 }) == 7 &&
		      v.reason == SBX_V_NO_SETJMP,
	      "%u", v.reason);
	/* A tail call replaces the frame, and its records. */
	load_example(8);
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 }, { C, 1 },
		  { C, 3 }, { L, 1 }, { R, 3 }, { SS, 5 }, { T, 4 }, { SR, 5 }) == 12 &&
		      v.reason == SBX_V_NO_SETJMP,
	      "%u", v.reason);
	/* A resume keeps the records of the frame it returns to, drops those above. */
	load_recursive(8, 0);
	CHECK(RUN(&v, { C, 0 }, { L, 0 }, { SS, 1 }, { SS, 2 }, { C, 1 }, { SS, 3 }, { SR, 1 },
		  { SR, 2 }) == -1 &&
		      thread.nr_sj == 2 && thread.depth == 2,
	      "%u", v.reason);
	CHECK(step1(SR, 3, &v) == 1 && v.reason == SBX_V_NO_SETJMP, "%u", v.reason);
}

/* Issue 17, a shell: setjmp at 40 depths, then a longjmp to main's buffer. */
static void test_setjmp_many_depths(void)
{
	struct sbx_violation v;
	struct sbx_thread child;
	static union sbx_slot cs[128];
	int i, ok = 1;

	load_recursive(128, 0);
	sbx_thread_init(&view, &thread, slots, 128);
	ok &= step1(SS, 0, &v) == 0 && step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0;
	for (i = 0; i < 40; i++)
		ok &= step1(SS, 1, &v) == 0 && step1(C, 1, &v) == 0 && step1(L, 0, &v) == 0;
	CHECK(ok, "%u", v.reason);
	/* Frames holding records do not fold: 42 entries, 41 records. */
	CHECK(thread.depth == 42 && thread.nr_frames == 42 && thread.nr_sj == 41, "%u %u %u",
	      thread.depth, thread.nr_frames, thread.nr_sj);
	/* A fork copies frames, counts and records. */
	CHECK(sbx_thread_copy(&child, cs, 128, &thread) == 0, "copy");
	CHECK(step1(SR, 0, &v) == 0 && thread.depth == 1 && thread.nr_frames == 1 &&
		      thread.nr_sj == 1 && thread.slots[0].frame.mstate == 1,
	      "to main: %u", v.reason);
	CHECK(step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0 && step1(R, 0, &v) == 0 &&
		      step1(L, 1, &v) == 0,
	      "main goes on: %u", v.reason);
	/* The child longjmps with number 1: to the most recent live record of it, the
	 * deepest frame's (the monitor cannot tell the buffers of one site apart),
	 * then unwinds normally. */
	CHECK(sbx_step(&view, &child, SR, 1, &v) == 0 && child.depth == 41 && child.nr_sj == 41,
	      "child %u", child.depth);
	for (i = 0; i < 39; i++)
		ok &= sbx_step(&view, &child, R, 1, &v) == 0;
	CHECK(ok && child.depth == 2 && child.nr_sj == 2, "child unwound %u %u", child.depth,
	      child.nr_sj);
	CHECK(sbx_step(&view, &child, R, 0, &v) == 0 && child.nr_sj == 1 &&
		      sbx_step(&view, &child, SR, 0, &v) == 0 && child.slots[0].frame.mstate == 1,
	      "child to main %u", v.reason);
	/* With 64 slots, 32 levels with a record each fill the store: a named
	 * refusal, no eviction. */
	load_recursive(64, 0);
	sbx_thread_init(&view, &thread, slots, 64);
	ok = step1(SS, 0, &v) == 0 && step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0;
	for (i = 0; i < 30; i++)
		ok &= step1(SS, 1, &v) == 0 && step1(C, 1, &v) == 0 && step1(L, 0, &v) == 0;
	CHECK(ok && thread.nr_frames == 32 && thread.nr_sj == 31, "%u %u", thread.nr_frames,
	      thread.nr_sj);
	CHECK(step1(SS, 1, &v) == 0 && step1(C, 1, &v) == 1 && v.reason == SBX_V_STORE_FULL, "%u",
	      v.reason);
	CHECK(step1(SS, 2, &v) == 1 && v.reason == SBX_V_STORE_FULL, "%u", v.reason);
	CHECK(step1(SR, 0, &v) == 0 && thread.depth == 1, "main's record kept");
}

/* Records in a folded run: the record's frame is the lowest of its entry. */
static void test_setjmp_folded(void)
{
	struct sbx_violation v;
	int i, ok = 1;

	load_recursive(8, 0);
	sbx_thread_init(&view, &thread, slots, 8);
	ok &= step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0 && step1(C, 1, &v) == 0 &&
	      step1(L, 0, &v) == 0 && step1(SS, 5, &v) == 0;
	for (i = 0; i < 100; i++)
		ok &= step1(C, 1, &v) == 0 && step1(L, 0, &v) == 0;
	CHECK(ok && thread.depth == 103 && thread.nr_frames == 4 &&
		      thread.slots[2].frame.count == 100,
	      "%u: %u %u", v.reason, thread.depth, thread.nr_frames);
	CHECK(step1(SR, 5, &v) == 0 && thread.depth == 3 && thread.nr_frames == 3 &&
		      thread.slots[2].frame.count == 1 && thread.slots[2].frame.mstate == 5,
	      "%u %u", thread.depth, thread.nr_frames);
	CHECK(step1(R, 1, &v) == 0 && step1(R, 0, &v) == 0 && step1(L, 1, &v) == 0, "%u", v.reason);
	/* A pop splits the top frame off a folded entry; records below survive. */
	load_recursive(8, 0);
	sbx_thread_init(&view, &thread, slots, 8);
	ok = step1(C, 0, &v) == 0 && step1(L, 0, &v) == 0 && step1(SS, 5, &v) == 0;
	for (i = 0; i < 10; i++)
		ok &= step1(C, 1, &v) == 0 && step1(L, 0, &v) == 0;
	for (i = 0; i < 5; i++)
		ok &= step1(R, 1, &v) == 0;
	CHECK(ok && thread.depth == 7 && thread.nr_frames == 4 &&
		      thread.slots[2].frame.count == 4 && thread.slots[3].frame.count == 1 &&
		      thread.nr_sj == 1,
	      "%u %u %u", thread.depth, thread.nr_frames, thread.slots[2].frame.count);
	CHECK(step1(SR, 5, &v) == 0 && thread.depth == 2 && thread.nr_frames == 2, "%u", v.reason);
}

static void test_unchanged_on_violation(void)
{
	static const uint64_t ev[][2] = { { C, 0 }, { C, 2 }, { SS, 3 }, { L, 1 } };
	static const uint64_t bad[][2] = {
		{ L, 0 },  { L, 9 },  { C, 1 },	 { C, 0 }, { R, 0 }, { R, 3 },		{ T, 0 },
		{ CX, 4 }, { CE, 3 }, { SR, 4 }, { 0, 0 }, { 9, 1 }, { L, 1ULL << 40 },
	};
	struct sbx_thread before;
	union sbx_slot fb[64];
	struct sbx_violation v;
	unsigned int i;

	load_example(8);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sbx_thread_init(&view, &thread, slots, 64);
		CHECK(run(ev, 4, &v) == -1, "prefix");
		before = thread;
		memcpy(fb, slots, sizeof(fb));
		CHECK(sbx_step(&view, &thread, bad[i][0], bad[i][1], &v) == 1, "bad %u", i);
		CHECK(memcmp(&before, &thread, sizeof(before)) == 0 &&
			      memcmp(fb, slots, sizeof(fb)) == 0,
		      "state changed by bad event %u", i);
	}
}

static void test_copy(void)
{
	union sbx_slot child_slots[8];
	struct sbx_thread child;
	struct sbx_violation v;

	load_example(8);
	CHECK(RUN(&v, { C, 0 }, { SS, 2 }, { C, 2 }) == -1, "%u", v.reason);
	CHECK(sbx_thread_copy(&child, child_slots, 8, &thread) == 0, "copy");
	CHECK(sbx_thread_copy(&child, child_slots, 7, &thread) == -SBX_EINVAL, "small copy");
	/* The child continues the parent's automaton; the two are independent. */
	CHECK(sbx_step(&view, &child, L, 1, &v) == 0 && sbx_step(&view, &child, R, 2, &v) == 0,
	      "child");
	CHECK(sbx_step(&view, &child, SR, 2, &v) == 0 && child.depth == 2, "child sj");
	CHECK(thread.depth == 3 && thread.slots[2].frame.mstate == 10, "parent unchanged");
	CHECK(sbx_step(&view, &thread, R, 2, &v) == 1, "parent still in h");
}

static void test_bad_state(void)
{
	struct sbx_violation v;

	load_example(8);
	sbx_thread_init(&view, &thread, slots, 64);
	thread.slots[0].frame.mstate = 14;
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && v.reason == SBX_V_BAD_STATE, "%u",
	      v.reason);
	thread.slots[0].frame.mstate = 1;
	thread.nr_frames = 0;
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && v.reason == SBX_V_BAD_STATE, "%u",
	      v.reason);
	thread.nr_frames = 9;
	thread.depth = 9;
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && v.reason == SBX_V_BAD_STATE, "%u",
	      v.reason);
	thread.nr_frames = 1;
	thread.depth = 0;
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && v.reason == SBX_V_BAD_STATE, "%u",
	      v.reason);
	thread.depth = SBX_MAX_DEPTH_DEFAULT + 1;
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && v.reason == SBX_V_BAD_STATE, "%u",
	      v.reason);
	thread.depth = 1;
	thread.nr_sj = 8;
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && v.reason == SBX_V_BAD_STATE, "%u",
	      v.reason);
	thread.nr_sj = 0;
	thread.slots[0].frame.count = 2;
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && v.reason == SBX_V_BAD_STATE, "%u",
	      v.reason);
	thread.slots[0].frame.count = 1;
	CHECK(sbx_step(&view, &thread, C, 0, &v) == 0, "consistent again");
}

/* --- validation ---------------------------------------------------------- */

static int validate_mut(size_t off, uint32_t value)
{
	static uint8_t copy[1 << 16];
	struct sbx_policy_view w;

	memcpy(copy, blob, blob_size);
	tb_put32(copy + off, value);
	return sbx_blob_validate(copy, blob_size, &w);
}

static int validate_spec(const struct tb_spec *s)
{
	static uint8_t b[1 << 16];
	struct sbx_policy_view w;
	size_t n = tb_build(s, b, sizeof(b));

	return sbx_blob_validate(b, n, &w);
}

static void test_header_rejections(void)
{
	struct sbx_policy_view w;
	size_t n;
	uint32_t mo = SBX_BLOB_HEADER_SIZE, to = mo + 12 * 14, so = to + 8 * 9, co = so + 4 * 5;

	load_example(8);
	CHECK(blob_size == co + 8 + 4 * 14, "example size %zu", blob_size);
	CHECK(validate_mut(0, 0x42584254) == -SBX_EINVAL, "magic");
	CHECK(validate_mut(4, 1) == -SBX_EINVAL, "version 1 (nfa callbacks renumbered)");
	CHECK(validate_mut(4, 2) == -SBX_EINVAL, "version 2 (no binding or pins)");
	CHECK(validate_mut(4, 3) == -SBX_EINVAL, "version 3 (openat for writing without its bit)");
	CHECK(validate_mut(4, 4) == -SBX_EINVAL,
	      "version 4 (16 evicted setjmp records, no folding)");
	CHECK(validate_mut(4, 5) == -SBX_EINVAL, "version 5 (no resynchronisation section)");
	CHECK(validate_mut(4, 6) == -SBX_EINVAL, "version 6 (no names section)");
	CHECK(validate_mut(4, 7) == -SBX_EINVAL, "version 7 (no event-buffer section)");
	CHECK(validate_mut(4, 9) == -SBX_EINVAL, "version 9");
	CHECK(validate_mut(4, 0) == -SBX_EINVAL, "version 0");
	CHECK(validate_mut(8, 80) == -SBX_EINVAL, "header size");
	CHECK(validate_mut(12, 0x10) == -SBX_EINVAL, "unknown flag");
	CHECK(validate_mut(12, SBX_BLOB_F_BUFFERED) == -SBX_EINVAL, "buffered without its section");
	CHECK(validate_mut(12, SBX_BLOB_F_BOUND) == -SBX_EINVAL, "bound without sets");
	CHECK(validate_mut(12, SBX_BLOB_F_PINNED) == -SBX_EINVAL, "pinned without pins");
	CHECK(validate_mut(12, 0x80000000) == -SBX_EINVAL, "unknown high flag");
	CHECK(validate_mut(12, SBX_BLOB_F_NFA) == -SBX_EINVAL, "nfa flag on a dyck blob");
	CHECK(validate_mut(16, blob_size + 1) == -SBX_EINVAL, "total size");
	CHECK(validate_mut(20, 0) == -SBX_EINVAL, "stack limit 0");
	CHECK(validate_mut(20, SBX_STACK_LIMIT_MAX) == 0, "stack limit at the cap");
	CHECK(validate_mut(20, SBX_STACK_LIMIT_MAX + 1) == -SBX_E2BIG, "stack limit over the cap");
	CHECK(validate_mut(24, SBX_MAX_SYMBOLS + 1) == -SBX_E2BIG, "symbols cap");
	CHECK(validate_mut(28, SBX_MAX_FUNCTIONS + 1) == -SBX_E2BIG, "functions cap");
	CHECK(validate_mut(32, SBX_MAX_SITES + 1) == -SBX_E2BIG, "sites cap");
	CHECK(validate_mut(36, SBX_MAX_CALLBACKS + 1) == -SBX_E2BIG, "callbacks cap");
	CHECK(validate_mut(40, SBX_MAX_MSTATES + 1) == -SBX_E2BIG, "macro-states cap");
	CHECK(validate_mut(44, SBX_MAX_TRANS + 1) == -SBX_E2BIG, "transitions cap");
	CHECK(validate_mut(40, 0xffffffff) == -SBX_E2BIG, "huge count");
	CHECK(validate_mut(28, 0) == -SBX_EINVAL, "no functions");
	CHECK(validate_mut(28, 4) == -SBX_EINVAL, "callback out of range");
	CHECK(validate_mut(24, 2) == -SBX_EINVAL, "libc key out of range");
	CHECK(validate_mut(24, 0) == -SBX_EINVAL, "no symbols");
	CHECK(validate_mut(32, 4) == -SBX_EINVAL, "site count changed");
	CHECK(validate_mut(40, 13) == -SBX_EINVAL, "macro-state count changed");
	CHECK(validate_mut(44, 11) == -SBX_EINVAL, "transition count changed");
	CHECK(validate_mut(36, 2) == -SBX_EINVAL, "callback count changed");
	CHECK(validate_mut(36, 6) == -SBX_EINVAL, "more callbacks than functions");
	CHECK(validate_mut(48, 14) == -SBX_EINVAL, "initial out of range");
	CHECK(validate_mut(52, 14) == -SBX_EINVAL, "thread macro-state out of range");
	CHECK(validate_mut(52, 1) == -SBX_EINVAL, "thread macro-state has transitions");
	CHECK(validate_mut(52, 3) == -SBX_EINVAL, "thread macro-state is final");
	CHECK(validate_mut(56, mo + 4) == -SBX_EINVAL, "macro-state offset");
	CHECK(validate_mut(60, to - 4) == -SBX_EINVAL, "transition offset");
	CHECK(validate_mut(64, so + 8) == -SBX_EINVAL, "site offset");
	CHECK(validate_mut(68, co + 4) == -SBX_EINVAL, "callback offset");
	CHECK(validate_mut(72, 1) == -SBX_EINVAL, "sets without SBX_BLOB_F_BOUND");
	CHECK(validate_mut(76, co + 12) == -SBX_EINVAL, "set offset");
	CHECK(validate_mut(80, co + 8 + 4) == -SBX_EINVAL, "symbol-set offset");
	CHECK(validate_mut(84, 1) == -SBX_EINVAL, "start set without SBX_BLOB_F_BOUND");
	CHECK(validate_mut(88, 1) == -SBX_EINVAL, "ambient set without SBX_BLOB_F_BOUND");
	CHECK(validate_mut(92, 1) == -SBX_EINVAL, "pins without SBX_BLOB_F_PINNED");
	CHECK(validate_mut(96, co + 8 + 16) == -SBX_EINVAL, "pin offset");
	CHECK(validate_mut(100, 0) == -SBX_EINVAL, "max_depth 0");
	CHECK(validate_mut(100, SBX_MAX_DEPTH_MAX + 1) == -SBX_E2BIG, "max_depth over the cap");
	CHECK(validate_mut(100, SBX_MAX_DEPTH_MAX) == 0 && validate_mut(100, 1) == 0, "max_depth");
	CHECK(validate_mut(104, 0x1000) == -SBX_EINVAL, "pin table without SBX_BLOB_F_PINNED");
	CHECK(validate_mut(112, 0x1000) == -SBX_EINVAL, "text address without SBX_BLOB_F_PINNED");
	CHECK(validate_mut(120, co + 8 + 4) == -SBX_EINVAL, "resync offset");
	CHECK(validate_mut(120, 0) == -SBX_EINVAL, "resync offset 0");
	CHECK(validate_mut(124, 0x100) == -SBX_EINVAL, "names size past the end");
	CHECK(validate_mut(124, 12) == -SBX_EINVAL, "names size past the end (12)");

	/* Every truncation and every extension is refused. */
	for (n = 0; n < blob_size; n++)
		CHECK(sbx_blob_validate(blob, n, &w) == -SBX_EINVAL, "truncated to %zu", n);
	CHECK(sbx_blob_validate(blob, blob_size + 1, &w) == -SBX_EINVAL, "extended");
	/* Over the size cap: refused before anything is read. */
	CHECK(sbx_blob_validate(blob, SBX_BLOB_MAX_SIZE + 1ULL, &w) == -SBX_E2BIG, "size cap");
	CHECK(sbx_blob_validate(blob, ~0ULL, &w) == -SBX_E2BIG, "huge size");
	CHECK(sbx_blob_validate(NULL, blob_size, &w) == -SBX_EINVAL, "NULL data");
	CHECK(sbx_blob_validate(blob, blob_size, NULL) == -SBX_EINVAL, "NULL view");
}

/*
 * A valid blob as large as the caps allow: @nr_trans LIBC transitions over
 * SBX_MAX_SYMBOLS symbols (one full row per macro-state, the last one the
 * rest), all to macro-state 1, and @nr_pins pins; macro-state 0 is the empty
 * thread start. @nr_trans is at least 1. Returns the blob (malloc) and its size in @size.
 */
static uint8_t *cap_blob(uint32_t nr_trans, uint32_t nr_pins, size_t *size)
{
	const uint32_t per = SBX_MAX_SYMBOLS;
	uint32_t nr_mstates = 1 + (nr_trans + per - 1) / per, m, k, t = 0;
	uint64_t mo = SBX_BLOB_HEADER_SIZE, to = mo + 12ULL * nr_mstates;
	uint64_t so = to + 8ULL * nr_trans, po = so, ro = po + 16ULL * nr_pins;
	uint64_t n = ro + 4ULL * nr_mstates;
	uint8_t *b = calloc(1, n);

	if (!b)
		return NULL;
#define PUT(field, v) tb_put32(b + __builtin_offsetof(struct sbx_blob_header, field), (v))
	PUT(magic, SBX_BLOB_MAGIC);
	PUT(version, SBX_BLOB_VERSION);
	PUT(header_size, SBX_BLOB_HEADER_SIZE);
	PUT(flags, nr_pins ? SBX_BLOB_F_PINNED : 0);
	PUT(total_size, (uint32_t)n);
	PUT(stack_limit, 1);
	PUT(nr_symbols, SBX_MAX_SYMBOLS);
	PUT(nr_functions, 1);
	PUT(nr_mstates, nr_mstates);
	PUT(nr_trans, nr_trans);
	PUT(initial_mstate, 1);
	PUT(mstates_off, (uint32_t)mo);
	PUT(trans_off, (uint32_t)to);
	PUT(sites_off, (uint32_t)so);
	PUT(callbacks_off, (uint32_t)so);
	PUT(sets_off, (uint32_t)so);
	PUT(symsets_off, (uint32_t)so);
	PUT(nr_pins, nr_pins);
	PUT(pins_off, (uint32_t)po);
	PUT(max_depth, SBX_MAX_DEPTH_DEFAULT);
	PUT(resync_off, (uint32_t)ro);
#undef PUT
	if (nr_pins) {
		tb_put64(b + __builtin_offsetof(struct sbx_blob_header, pin_table_vaddr), 0x1000);
		tb_put64(b + __builtin_offsetof(struct sbx_blob_header, text_vaddr), 0x1000);
	}
	for (m = 1; m < nr_mstates; m++) {
		uint32_t row = nr_trans - t < per ? nr_trans - t : per;

		tb_put32(b + mo + 12ULL * m, t);
		tb_put32(b + mo + 12ULL * m + 4, row);
		for (k = 0; k < row; k++, t++) {
			tb_put32(b + to + 8ULL * t, SBX_KEY_LIBC(k));
			tb_put32(b + to + 8ULL * t + 4, 1);
		}
	}
	for (k = 0; k < nr_pins; k++) {
		tb_put64(b + po + 16ULL * k, 0x1000 + 16ULL * k);
		tb_put32(b + po + 16ULL * k + 8, SBX_MARK_LIBC);
	}
	for (m = 0; m < nr_mstates; m++)
		tb_put32(b + ro + 4ULL * m, SBX_RESYNC_NONE);
	*size = n;
	return b;
}

/* The transition and size caps, with real blobs: at the cap accepted, one over refused. */
static void test_caps(void)
{
	/* A blob of SBX_MAX_TRANS transitions, filled up to SBX_BLOB_MAX_SIZE with pins. */
	uint32_t nr_mstates = 1 + (SBX_MAX_TRANS + SBX_MAX_SYMBOLS - 1) / SBX_MAX_SYMBOLS;
	uint64_t rest = SBX_BLOB_MAX_SIZE - SBX_BLOB_HEADER_SIZE - 16ULL * nr_mstates -
			8ULL * SBX_MAX_TRANS;
	uint32_t pins = (uint32_t)(rest / 16);
	struct sbx_policy_view w;
	size_t n;
	uint8_t *b;

	b = cap_blob(SBX_MAX_TRANS, 0, &n);
	CHECK(b && sbx_blob_validate(b, n, &w) == 0 && w.nr_trans == SBX_MAX_TRANS,
	      "%u transitions (the cap), %zu bytes", SBX_MAX_TRANS, n);
	free(b);
	b = cap_blob(SBX_MAX_TRANS + 1, 0, &n);
	CHECK(b && sbx_blob_validate(b, n, &w) == -SBX_E2BIG, "%u transitions (one over)",
	      SBX_MAX_TRANS + 1);
	free(b);
	CHECK(rest % 16 == 0 && pins <= SBX_MAX_PINS, "the size cap is reachable: %llu",
	      (unsigned long long)rest);
	b = cap_blob(SBX_MAX_TRANS, pins, &n);
	CHECK(b && n == SBX_BLOB_MAX_SIZE && sbx_blob_validate(b, n, &w) == 0,
	      "%zu bytes (the size cap)", n);
	free(b);
	b = cap_blob(SBX_MAX_TRANS, pins + 1, &n);
	CHECK(b && n > SBX_BLOB_MAX_SIZE && sbx_blob_validate(b, n, &w) == -SBX_E2BIG,
	      "%zu bytes (over the size cap)", n);
	free(b);
}

static void test_section_rejections(void)
{
	uint32_t mo = SBX_BLOB_HEADER_SIZE, to = mo + 12 * 14, so = to + 8 * 9, co = so + 4 * 5;
	struct tb_spec s;

	load_example(8);
	/* Macro-states: first_trans must be the running sum; counts within range. */
	CHECK(validate_mut(mo + 12 * 1, 1) == -SBX_EINVAL, "first of ms 1");
	CHECK(validate_mut(mo + 12 * 2 + 4, 0) == -SBX_EINVAL, "count of ms 2 (gap)");
	CHECK(validate_mut(mo + 12 * 13 + 4, 1) == -SBX_EINVAL, "count past the end");
	CHECK(validate_mut(mo + 12 * 13 + 4, 0xffffffff) == -SBX_EINVAL, "count overflow");
	CHECK(validate_mut(mo + 12 * 13, 0xfffffff0) == -SBX_EINVAL, "first overflow");
	CHECK(validate_mut(mo + 12 * 3 + 8, 2) == -SBX_EINVAL, "unknown macro-state flag");
	CHECK(validate_mut(mo + 12 * 3 + 8, 0x80000001) == -SBX_EINVAL, "unknown high flag");
	/* Transitions: key ranges, order, targets. ms 8 has (libc 2, site 4). */
	CHECK(validate_mut(to + 8 * 0 + 4, 14) == -SBX_EINVAL, "target out of range");
	CHECK(validate_mut(to + 8 * 0, SBX_KEY_SITE(5)) == -SBX_EINVAL, "site key out of range");
	CHECK(validate_mut(to + 8 * 4, SBX_KEY_LIBC(3)) == -SBX_EINVAL, "libc key out of range");
	CHECK(validate_mut(to + 8 * 4, 0x40000000) == -SBX_EINVAL, "unknown key bits");
	CHECK(validate_mut(to + 8 * 6, SBX_KEY_LIBC(2)) == -SBX_EINVAL, "duplicate key");
	CHECK(validate_mut(to + 8 * 6, SBX_KEY_LIBC(1)) == -SBX_EINVAL, "descending keys");
	CHECK(validate_mut(to + 8 * 5, SBX_KEY_SITE(0)) == 0, "ascending call keys");
	CHECK(validate_mut(to + 8 * 6 + 4, 0) == 0, "a transition into the empty macro-state");
	/* Sites and callbacks. */
	CHECK(validate_mut(so + 4 * 4, 14) == -SBX_EINVAL, "site entry out of range");
	CHECK(validate_mut(co, 5) == -SBX_EINVAL, "callback function out of range");
	CHECK(validate_mut(co + 4, 14) == -SBX_EINVAL, "callback entry out of range");

	tb_example(&s);
	s.nr_callbacks = 2;
	s.callbacks[1][0] = 4;
	s.callbacks[1][1] = 12;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "duplicate callback");
	s.callbacks[0][0] = 3;
	CHECK(validate_spec(&s) == 0, "two callbacks");
	s.callbacks[0][0] = 4;
	s.callbacks[1][0] = 3;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "descending callbacks");

	/* An NFA blob: no sites, the same stepping. */
	memset(&s, 0, sizeof(s));
	s.flags = SBX_BLOB_F_NFA;
	s.stack_limit = 4;
	s.nr_symbols = 2;
	s.nr_functions = 1;
	s.nr_mstates = 3;
	s.initial = 1;
	s.thread = 0;
	s.mstates[1] = (struct tb_mstate){ 0, 2, { { 0, 2 }, { 1, 1 } } };
	s.mstates[2] = (struct tb_mstate){ SBX_MSTATE_F_FINAL, 0, { { 0, 0 } } };
	CHECK(validate_spec(&s) == 0, "nfa blob");
	s.mstates[2] = (struct tb_mstate){ 0, 1, { { SBX_KEY_SITE(0), 1 } } };
	CHECK(validate_spec(&s) == -SBX_EINVAL, "call key in an nfa blob");
	s.nr_sites = 1;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "call key of a valid site in an nfa blob");
}

static void test_nfa_rejections(void)
{
	uint32_t mo = SBX_BLOB_HEADER_SIZE, to = mo + 12 * 7, so = to + 8 * 6, co = so;
	struct tb_spec s;

	load_example_nfa(8);
	CHECK(blob_size == co + 8 + 4 * 7, "nfa example size %zu", blob_size);
	CHECK(tb_get32(blob + 32) == 5 && tb_get32(blob + 64) == so && tb_get32(blob + 68) == co,
	      "nfa: 5 sites, empty site section");
	CHECK(validate_mut(12, 0) == -SBX_EINVAL, "dyck flag on an nfa blob");
	CHECK(validate_mut(68, so + 4 * 5) == -SBX_EINVAL, "callback offset after site entries");
	CHECK(validate_mut(32, 0) == 0, "no sites");
	CHECK(validate_mut(32, SBX_MAX_SITES) == 0, "sites at the cap, no section");
	CHECK(validate_mut(32, SBX_MAX_SITES + 1) == -SBX_E2BIG, "sites over the cap");
	CHECK(validate_mut(28, 4) == -SBX_EINVAL, "callback 4 out of range");
	CHECK(validate_mut(co, 5) == -SBX_EINVAL, "callback function out of range");
	CHECK(validate_mut(co + 4, 7) == -SBX_EINVAL, "callback entry out of range");
	CHECK(validate_mut(to + 8 * 5, SBX_KEY_SITE(0)) == -SBX_EINVAL, "call key");
	CHECK(validate_mut(to + 8 * 5, SBX_KEY_SITE(4)) == -SBX_EINVAL, "call key, last site");

	/* Site entries in an nfa blob: the dyck layout with the nfa flag. */
	tb_example_nfa(&s);
	s.flags = 0;
	s.sites[0] = s.sites[1] = s.sites[2] = s.sites[3] = s.sites[4] = 1;
	CHECK(validate_spec(&s) == 0, "as a dyck blob");
	{
		static uint8_t b[1 << 16];
		struct sbx_policy_view w;
		size_t n = tb_build(&s, b, sizeof(b));

		tb_put32(b + 12, SBX_BLOB_F_NFA);
		CHECK(sbx_blob_validate(b, n, &w) == -SBX_EINVAL, "nfa blob with site entries");
	}
}

/* The nfa example steps the markers of the program instrumented for the dyck one. */
static void test_nfa_stepping(void)
{
	static const uint64_t sites[][2] = {
		{ C, 0 }, { C, 4 }, { R, 0 }, { R, 4 }, { T, 0 }, { T, 4 }, { R, 3 }, { C, 2 },
	};
	struct sbx_thread before;
	union sbx_slot fb[64];
	struct sbx_violation v;
	unsigned int i;

	load_example_nfa(8);
	/* The dyck example's valid run. */
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 }, { C, 1 },
		  { C, 3 }, { L, 1 }, { R, 3 }, { L, 2 }, { R, 1 }) == -1,
	      "reason %u", v.reason);
	CHECK(thread.depth == 1 && thread.slots[0].frame.mstate == 6, "depth %u ms %u",
	      thread.depth, thread.slots[0].frame.mstate);
	/* The impossible path (h returns into b although a called it) and markers in
	 * any order: only libc markers count. */
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 3 }, { L, 2 }) == -1, "%u", v.reason);
	CHECK(RUN(&v, { R, 4 }, { L, 1 }, { T, 4 }, { T, 0 }, { L, 1 }, { C, 3 }, { C, 3 },
		  { L, 0 }, { R, 1 }, { L, 1 }) == -1 &&
		      thread.depth == 1 && thread.slots[0].frame.mstate == 3,
	      "%u", v.reason);
	CHECK(RUN(&v, { L, 0 }) == 0 && v.reason == SBX_V_NOT_ALLOWED && v.tag == SBX_FRAME_ROOT &&
		      v.mstate == 1,
	      "%u", v.reason);
	CHECK(RUN(&v, { L, 1 }, { L, 2 }, { L, 1 }) == 2 && v.reason == SBX_V_NOT_ALLOWED, "%u",
	      v.reason);
	/* Site ids out of range are still refused. */
	CHECK(RUN(&v, { C, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { R, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { T, 0xffffffffULL }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { C, 1ULL << 32 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	/* Site markers change nothing: not the frames, not the setjmp records. */
	for (i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		sbx_thread_init(&view, &thread, slots, 64);
		CHECK(sbx_step(&view, &thread, CE, 4, &v) == 0 &&
			      sbx_step(&view, &thread, SS, 1, &v) == 0,
		      "prefix");
		before = thread;
		memcpy(fb, slots, sizeof(fb));
		CHECK(sbx_step(&view, &thread, sites[i][0], sites[i][1], &v) == 0, "site %u", i);
		CHECK(memcmp(&before, &thread, sizeof(before)) == 0 &&
			      memcmp(fb, slots, sizeof(fb)) == 0,
		      "state changed by site marker %u", i);
	}
	/* Callbacks keep their frames, under their original function index. */
	CHECK(RUN(&v, { L, 1 }, { CE, 4 }, { C, 3 }, { L, 2 }, { R, 3 }, { CX, 4 }, { L, 0 }) == -1,
	      "%u", v.reason);
	CHECK(thread.depth == 1 && thread.slots[0].frame.mstate == 5, "%u %u", thread.depth,
	      thread.slots[0].frame.mstate);
	CHECK(RUN(&v, { CE, 4 }) == -1 && thread.depth == 2 &&
		      thread.slots[1].frame.tag == (SBX_FRAME_CALLBACK | 4) &&
		      thread.slots[1].frame.mstate == 2,
	      "callback frame %x %u", thread.slots[1].frame.tag, thread.slots[1].frame.mstate);
	CHECK(RUN(&v, { CE, 4 }, { CX, 4 }) == 1 && v.reason == SBX_V_CANNOT_RETURN, "%u",
	      v.reason);
	CHECK(RUN(&v, { CE, 4 }, { L, 1 }) == 1 && v.reason == SBX_V_NOT_ALLOWED, "%u", v.reason);
	CHECK(RUN(&v, { CE, 0 }) == 0 && v.reason == SBX_V_NOT_CALLBACK,
	      "flattened root 0 is no callback: %u", v.reason);
	CHECK(RUN(&v, { CE, 1 }) == 0 && v.reason == SBX_V_NOT_CALLBACK, "%u", v.reason);
	CHECK(RUN(&v, { CE, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	CHECK(RUN(&v, { CX, 4 }) == 0 && v.reason == SBX_V_WRONG_RETURN && v.tag == SBX_FRAME_ROOT,
	      "%u", v.reason);
	CHECK(RUN(&v, { CE, 4 }, { L, 2 }, { CX, 1 }) == 2 && v.reason == SBX_V_WRONG_RETURN &&
		      v.tag == (SBX_FRAME_CALLBACK | 4),
	      "%u", v.reason);
	CHECK(RUN(&v, { CX, 5 }) == 0 && v.reason == SBX_V_ID_RANGE, "%u", v.reason);
	/* A new thread: nothing but a callback. */
	CHECK(sbx_thread_init_new_thread(&view, &thread, slots, 64) == 0, "init");
	CHECK(sbx_step(&view, &thread, L, 1, &v) == 1 && v.reason == SBX_V_NOT_ALLOWED, "%u",
	      v.reason);
	CHECK(sbx_step(&view, &thread, C, 0, &v) == 0 && thread.depth == 1, "site marker");
	CHECK(sbx_step(&view, &thread, CE, 4, &v) == 0 && sbx_step(&view, &thread, L, 2, &v) == 0 &&
		      sbx_step(&view, &thread, CX, 4, &v) == 0,
	      "callback");
	/* setjmp: the records work as in dyck mode, across callback frames. */
	CHECK(RUN(&v, { L, 1 }, { SS, 3 }, { L, 0 }, { CE, 4 }, { SR, 3 }, { L, 2 }) == -1 &&
		      thread.depth == 1 && thread.slots[0].frame.mstate == 6,
	      "%u", v.reason);
	CHECK(RUN(&v, { CE, 4 }, { SS, 3 }, { CX, 4 }) == 2 && v.reason == SBX_V_CANNOT_RETURN,
	      "%u", v.reason);
	CHECK(RUN(&v, { CE, 4 }, { SS, 3 }, { L, 2 }, { CX, 4 }, { SR, 3 }) == 4 &&
		      v.reason == SBX_V_NO_SETJMP,
	      "record deeper than the stack: %u", v.reason);
	/* Only callbacks push, so only they fill the store. */
	load_example_nfa(2);
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { C, 3 }, { CE, 4 }, { CE, 4 }) == 4 &&
		      v.reason == SBX_V_STORE_FULL && v.depth == 2,
	      "%u", v.reason);
	load_example_nfa(1);
	CHECK(RUN(&v, { C, 0 }, { CE, 4 }) == 1 && v.reason == SBX_V_STORE_FULL, "%u", v.reason);
}

/* --- fuzzer seeds ---------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, const uint8_t *b, size_t n, uint8_t mode,
		       const uint64_t (*ev)[2], int nev)
{
	char path[4096];
	uint8_t len[4];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(2);
	}
	tb_put32(len, n);
	fwrite(len, 1, 4, f);
	fwrite(b, 1, n, f);
	fputc(mode, f);
	for (i = 0; i < nev; i++) {
		uint8_t e[3] = { (uint8_t)ev[i][0], (uint8_t)ev[i][1], (uint8_t)(ev[i][1] >> 8) };

		fwrite(e, 1, 3, f);
	}
	fclose(f);
}

/*
 * The example with system-call binding: open(0) and read(1) -> set 2
 * {read, openat}, write(2) -> set 3 {write} with the exec-map bit; set 1 is
 * ambient {mmap, mprotect, brk}; the start window is set 3.
 */
static void bound_example(struct tb_spec *s)
{
	tb_example(s);
	s->flags |= SBX_BLOB_F_BOUND;
	s->nr_sets = 4;
	tb_set_add(s, 1, 9);
	tb_set_add(s, 1, 10);
	tb_set_add(s, 1, 12);
	tb_set_add(s, 2, 0);
	tb_set_add(s, 2, 257);
	tb_set_add(s, 3, 1);
	tb_set_add(s, 3, SBX_SET_BIT_EXEC_MAP);
	s->symsets[0] = 2;
	s->symsets[1] = 2;
	s->symsets[2] = 3;
	s->start_set = 3;
	s->ambient_set = 1;
}

#define SYS(nr, prot) sbx_syscall_check(&view, &thread, (nr), (prot))

static void test_binding(void)
{
	union sbx_slot slots2[64];
	struct sbx_thread other;
	struct sbx_violation v;
	struct tb_spec s;

	bound_example(&s);
	load_spec(&s);
	/* The start window: set 3 plus the ambient set. */
	CHECK(sbx_thread_init(&view, &thread, slots, 64) == 0, "init");
	CHECK(thread.window_sym == SBX_WINDOW_START && thread.window == 3, "start %x %u",
	      thread.window_sym, thread.window);
	CHECK(SYS(1, 0) == 0, "write at start");
	CHECK(SYS(12, 0) == 0, "brk is ambient");
	CHECK(SYS(0, 0) == SBX_V_SYSCALL_WINDOW, "read is not in the start window");
	CHECK(SYS(9, SBX_PROT_EXEC | 1) == 0, "the start window maps code");
	CHECK(SYS(9, 7) == SBX_V_EXEC_MAPPING && SYS(10, 6) == SBX_V_EXEC_MAPPING,
	      "never writable and executable (W^X)");
	CHECK(SYS(511, 0) == SBX_V_SYSCALL_WINDOW, "the exec-map bit is no call");
	CHECK(SYS(510, 0) == SBX_V_SYSCALL_WINDOW, "the open-write bit is no call");
	CHECK(SYS(1ULL << 32 | 1, 0) == SBX_V_SYSCALL_WINDOW, "upper bits of the number");
	/* Program code (after CALL): ambient only, and never code mappings. */
	CHECK(sbx_step(&view, &thread, C, 0, &v) == 0, "call a");
	CHECK(thread.window_sym == SBX_WINDOW_NONE && thread.window == 0, "none");
	CHECK(SYS(1, 0) == SBX_V_SYSCALL_WINDOW, "write in program code");
	CHECK(SYS(9, 3) == 0, "mmap rw is ambient");
	CHECK(SYS(9, SBX_PROT_EXEC) == SBX_V_EXEC_MAPPING, "mmap exec in program code");
	CHECK(SYS(10, 7) == SBX_V_EXEC_MAPPING, "mprotect rwx in program code");
	CHECK(SYS(329, SBX_PROT_EXEC) == SBX_V_SYSCALL_WINDOW, "pkey_mprotect is in no set");
	CHECK(SYS(2, SBX_PROT_EXEC) == SBX_V_SYSCALL_WINDOW, "open is in no set");
	/* openat through the ambient set: read-only only. */
	bound_example(&s);
	tb_set_add(&s, 1, 257);
	load_spec(&s);
	CHECK(sbx_thread_init(&view, &thread, slots, 64) == 0 &&
		      sbx_step(&view, &thread, C, 0, &v) == 0,
	      "call a");
	CHECK(SYS(257, 0) == 0 && SYS(257, 0x80000) == 0, "ambient openat O_RDONLY(|O_CLOEXEC)");
	CHECK(SYS(257, 0x10000) == 0 && SYS(257, 0x20000) == 0,
	      "O_DIRECTORY, O_NOFOLLOW only read");
	CHECK(SYS(257, 1) == SBX_V_SYSCALL_WINDOW && SYS(257, 2) == SBX_V_SYSCALL_WINDOW &&
		      SYS(257, 0x40) == SBX_V_SYSCALL_WINDOW &&
		      SYS(257, 0x200) == SBX_V_SYSCALL_WINDOW &&
		      SYS(257, 0x400) == SBX_V_SYSCALL_WINDOW &&
		      SYS(257, 0x410000) == SBX_V_SYSCALL_WINDOW,
	      "ambient openat never writes, creates, truncates or appends");
	CHECK(sbx_step(&view, &thread, C, 2, &v) == 0 && sbx_step(&view, &thread, L, 1, &v) == 0 &&
		      SYS(257, 0) == 0 && SYS(257, 0x241) == SBX_V_SYSCALL_WINDOW,
	      "read's set has openat, not the open-write bit: it only reads");
	tb_set_add(&s, 2, SBX_SET_BIT_OPEN_WRITE);
	load_spec(&s);
	CHECK(sbx_thread_init(&view, &thread, slots, 64) == 0 &&
		      sbx_step(&view, &thread, C, 0, &v) == 0 &&
		      sbx_step(&view, &thread, C, 2, &v) == 0 &&
		      sbx_step(&view, &thread, L, 1, &v) == 0 && SYS(257, 0x241) == 0,
	      "with the open-write bit its window opens for writing");
	CHECK(sbx_step(&view, &thread, R, 2, &v) == 0 && SYS(257, 0x241) == SBX_V_SYSCALL_WINDOW &&
		      SYS(257, 0) == 0,
	      "program code: read-only through the ambient set");
	bound_example(&s);
	load_spec(&s);
	CHECK(sbx_thread_init(&view, &thread, slots, 64) == 0 &&
		      sbx_step(&view, &thread, C, 0, &v) == 0,
	      "call a (again)");
	/* LIBC open: its set. */
	CHECK(sbx_step(&view, &thread, C, 2, &v) == 0 && sbx_step(&view, &thread, L, 1, &v) == 0 &&
		      sbx_step(&view, &thread, R, 2, &v) == 0,
	      "h reads");
	CHECK(SYS(0, 0) == SBX_V_SYSCALL_WINDOW, "RET ends read's window");
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 0, "open");
	CHECK(thread.window_sym == 0 && thread.window == 2, "window open %x %u", thread.window_sym,
	      thread.window);
	CHECK(SYS(257, 0) == 0 && SYS(0, 0) == 0 && SYS(1, 0) == SBX_V_SYSCALL_WINDOW,
	      "open's set");
	CHECK(SYS(10, SBX_PROT_EXEC) == SBX_V_EXEC_MAPPING, "open's set maps no code");
	/* A callback saves the window of the libc call that runs it. */
	CHECK(sbx_step(&view, &thread, CE, 4, &v) == 0, "cb enter");
	CHECK(thread.window == 0 && SYS(257, 0) == SBX_V_SYSCALL_WINDOW, "callback code");
	CHECK(sbx_step(&view, &thread, L, 2, &v) == 0 && SYS(1, 0) == 0, "cb writes");
	/* A refused marker changes nothing, the window included. */
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1 && thread.window_sym == 2, "refused");
	/* A new thread (or a fork) made now starts in this window. */
	CHECK(sbx_thread_init_new_thread(&view, &other, slots2, 64) == 0 &&
		      other.window_sym == SBX_WINDOW_NONE && other.window == 0,
	      "new thread");
	sbx_thread_inherit_window(&view, &other, &thread);
	CHECK(other.window_sym == 2 && other.window == 3, "inherited %x %u", other.window_sym,
	      other.window);
	CHECK(sbx_thread_copy(&other, slots2, 64, &thread) == 0 && other.window_sym == 2 &&
		      other.window == 3,
	      "copied");
	CHECK(sbx_step(&view, &thread, CX, 4, &v) == 0, "cb exit");
	CHECK(thread.window_sym == 0 && thread.window == 2, "open's window restored %x %u",
	      thread.window_sym, thread.window);
	/* setjmp markers are program code. */
	CHECK(sbx_step(&view, &thread, SS, 7, &v) == 0 && thread.window == 0, "sj save");
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 1, "a may not open twice");
	CHECK(sbx_step(&view, &thread, SR, 7, &v) == 0 && thread.window == 0, "sj resume");
	/* TAIL and the NFA's sites too. */
	CHECK(RUN(&v, { C, 0 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 }, { C, 1 },
		  { C, 3 }, { L, 1 }, { R, 3 }) == -1 &&
		      thread.window == 0,
	      "b");
	CHECK(sbx_step(&view, &thread, L, 2, &v) == 0 && thread.window == 3, "write");
	CHECK(sbx_step(&view, &thread, T, 4, &v) == 1, "tail after write: not allowed");

	/* Without SBX_BLOB_F_BOUND nothing is checked. */
	load_example(8);
	CHECK(sbx_thread_init(&view, &thread, slots, 64) == 0 && SYS(59, 0) == 0 && SYS(10, 7) == 0,
	      "unbound");

	/* Validation. */
	bound_example(&s);
	CHECK(validate_spec(&s) == 0, "the bound example");
	s.sets[0][3] = 1;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "set 0 not empty");
	bound_example(&s);
	tb_set_add(&s, 1, SBX_SET_BIT_EXEC_MAP);
	CHECK(validate_spec(&s) == -SBX_EINVAL, "ambient maps code");
	bound_example(&s);
	tb_set_add(&s, 1, SBX_SET_BIT_OPEN_WRITE);
	CHECK(validate_spec(&s) == -SBX_EINVAL, "ambient opens for writing");
	bound_example(&s);
	s.symsets[2] = 4;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "symbol set out of range");
	bound_example(&s);
	s.start_set = 4;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "start set out of range");
	bound_example(&s);
	s.ambient_set = 4;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "ambient set out of range");
	bound_example(&s);
	s.nr_sets = 0;
	s.start_set = s.ambient_set = 0;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "bound without sets");
	bound_example(&s);
	s.flags &= ~SBX_BLOB_F_BOUND;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "sets without the flag");
	bound_example(&s);
	load_spec(&s);
	CHECK(validate_mut(72, SBX_MAX_SETS + 1) == -SBX_E2BIG, "sets cap");
}

/* Pins: the table at 0x4000, text at 0x1000, loaded with bias 0x555500000000. */
static void pinned_example(struct tb_spec *s)
{
	bound_example(s);
	s->flags |= SBX_BLOB_F_PINNED;
	s->pin_table_vaddr = 0x4000;
	s->text_vaddr = 0x1000;
	s->nr_pins = 3;
	s->pins[0].vaddr = 0x1100;
	s->pins[0].kind = L;
	s->pins[0].id = 1;
	s->pins[1].vaddr = 0x1200;
	s->pins[1].kind = C;
	s->pins[1].id = 0;
	s->pins[2].vaddr = 0x1300;
	s->pins[2].kind = SS;
	s->pins[2].id = 0xffffffff;
}

static void test_pins(void)
{
	const uint64_t b = 0x555500000000ULL;
	struct tb_spec s;

	pinned_example(&s);
	load_spec(&s);
	CHECK(sbx_pin_check(&view, b, b + 0x1102, b + 0x4000, L, 1) == 0, "pin 0");
	CHECK(sbx_pin_check(&view, b, b + 0x1202, b + 0x4010, C, 0) == 0, "pin 1");
	CHECK(sbx_pin_check(&view, b, b + 0x1302, b + 0x4020, SS, 0xffffffff) == 0, "pin 2");
	CHECK(sbx_pin_check(&view, 0, 0x1102, 0x4000, L, 1) == 0, "no bias");
	CHECK(sbx_pin_check(&view, b, b + 0x1104, b + 0x4000, L, 1) == SBX_V_UNPINNED,
	      "from elsewhere");
	CHECK(sbx_pin_check(&view, b, b + 0x1202, b + 0x4000, L, 1) == SBX_V_UNPINNED,
	      "another site's entry");
	CHECK(sbx_pin_check(&view, b, b + 0x1102, b + 0x4000, L, 2) == SBX_V_UNPINNED,
	      "another id");
	CHECK(sbx_pin_check(&view, b, b + 0x1102, b + 0x4000, C, 1) == SBX_V_UNPINNED,
	      "another kind");
	CHECK(sbx_pin_check(&view, b, b + 0x1102, b + 0x4000, L, 1ULL << 32 | 1) == SBX_V_UNPINNED,
	      "upper bits of the id");
	CHECK(sbx_pin_check(&view, b, b + 0x1102, b + 0x4008, L, 1) == SBX_V_UNPINNED,
	      "inside an entry");
	CHECK(sbx_pin_check(&view, b, b + 0x1102, b + 0x4030, L, 1) == SBX_V_UNPINNED,
	      "past the table");
	CHECK(sbx_pin_check(&view, b, b + 0x1102, b + 0x3ff0, L, 1) == SBX_V_UNPINNED,
	      "before the table");
	CHECK(sbx_pin_check(&view, b, 1, 0, L, 1) == SBX_V_UNPINNED, "wrapped");
	load_example(8);
	CHECK(sbx_pin_check(&view, b, 5, 7, 9, 11) == 0, "unpinned blob");

	pinned_example(&s);
	CHECK(validate_spec(&s) == 0, "the pinned example");
	s.pins[1].kind = 9;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "kind 9");
	s.pins[1].kind = 0;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "kind 0");
	pinned_example(&s);
	s.pins[0].id = 3;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "libc id out of range");
	pinned_example(&s);
	s.pins[1].id = 5;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "site id out of range");
	pinned_example(&s);
	s.pins[1].kind = CX;
	CHECK(validate_spec(&s) == 0, "cb exit 0");
	s.pins[1].id = 5;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "function id out of range");
	pinned_example(&s);
	s.nr_pins = 0;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "pinned without pins");
	pinned_example(&s);
	s.pin_table_vaddr = ~0ULL - 40;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "table wraps");
	s.pin_table_vaddr = ~0ULL - 47;
	CHECK(validate_spec(&s) == 0, "table ends at the top");
	pinned_example(&s);
	load_spec(&s);
	CHECK(validate_mut(92, SBX_MAX_PINS + 1) == -SBX_E2BIG, "pins cap");
}

static void write_seeds(const char *dir)
{
	static const uint64_t run1[][2] = {
		{ C, 0 }, { C, 2 }, { L, 1 }, { R, 2 }, { L, 0 }, { R, 0 },  { C, 1 }, { C, 3 },
		{ L, 1 }, { R, 3 }, { T, 4 }, { L, 1 }, { R, 1 }, { CE, 4 }, { L, 2 }, { CX, 4 },
	};
	static const uint64_t run2[][2] = {
		{ SS, 1 }, { C, 0 }, { SS, 2 }, { CE, 4 }, { C, 2 }, { SR, 2 }, { SR, 1 }, { C, 0 },
	};
	static const uint64_t run3[][2] = {
		{ C, 0 }, { C, 2 }, { L, 1 },  { R, 3 },  { SS, 1 }, { L, 0 }, { CE, 4 },
		{ T, 4 }, { L, 2 }, { CX, 4 }, { SR, 1 }, { L, 2 },  { C, 5 },
	};

	load_example(8);
	write_seed(dir, "example-run", blob, blob_size, 0, run1, 16);
	write_seed(dir, "example-setjmp", blob, blob_size, 0, run2, 8);
	write_seed(dir, "example-thread", blob, blob_size, 1, run1 + 13, 3);
	load_example_nfa(8);
	write_seed(dir, "example-nfa-run", blob, blob_size, 0, run1, 16);
	write_seed(dir, "example-nfa-mixed", blob, blob_size, 0, run3, 13);
	write_seed(dir, "example-nfa-thread", blob, blob_size, 1, run1 + 13, 3);
	{
		struct tb_spec s;

		tb_example(&s);
		tb_example_names(&s);
		load_spec(&s);
		write_seed(dir, "example-names", blob, blob_size, 0, run1, 16);
	}
}

/* --- the kernel's inline fast path ----------------------------------------- */

static union sbx_slot fast_slots[64], ref_slots[64], pre_slots[64];

static int same_thread(const struct sbx_thread *a, const union sbx_slot *as,
		       const struct sbx_thread *b, const union sbx_slot *bs)
{
	return a->capacity == b->capacity && a->nr_frames == b->nr_frames && a->nr_sj == b->nr_sj &&
	       a->depth == b->depth && a->max_depth == b->max_depth && a->window == b->window &&
	       a->window_sym == b->window_sym && a->window_map == b->window_map &&
	       memcmp(as, bs, sizeof(ref_slots)) == 0;
}

static void copy_thread(struct sbx_thread *dst, union sbx_slot *ds, const struct sbx_thread *src,
			const union sbx_slot *ss)
{
	*dst = *src;
	dst->slots = ds;
	memcpy(ds, ss, sizeof(ref_slots));
}

/*
 * sbx_step_fast() against sbx_step() on random marker streams: whenever the
 * fast path decides, sbx_step() allows the marker with the same resulting
 * state; when it does not, it leaves the state untouched. Returns how many
 * markers the fast path decided.
 */
static unsigned int fast_walk(uint32_t seed, unsigned int n)
{
	static const uint64_t odd_ids[] = { 0xffffffffULL, 1ULL << 32, 1ULL << 40, 0x7fffffffULL };
	struct sbx_thread fast, ref, pre;
	struct sbx_violation v;
	unsigned int i, decided = 0;
	int failed = failures;

	memset(ref_slots, 0, sizeof(ref_slots));
	sbx_thread_init(&view, &ref, ref_slots, 64);
	for (i = 0; i < n; i++) {
		uint64_t kind, id;
		int rf, rs;

		unsigned int try;

		/*
		 * Half of the steps take the first of 16 candidates that
		 * sbx_step() allows (a LIBC if one of 4 is), the others any.
		 */
		for (try = 0; try < 16; try++) {
			seed = seed * 1103515245u + 12345u;
			/* 0 and 9 are no kind; LIBC first (the bench loop). */
			kind = try < 4 && !(i % 2) ? SBX_MARK_LIBC : (seed >> 16) % 10;
			seed = seed * 1103515245u + 12345u;
			id = (seed >> 16) % 16 == 0 ? odd_ids[(seed >> 20) % 4] : (seed >> 16) % 7;
			if (i % 2)
				break;
			copy_thread(&pre, pre_slots, &ref, ref_slots);
			if (!sbx_step(&view, &pre, kind, id, &v))
				break;
		}
		if ((seed >> 8) % 64 == 0) {
			memset(ref_slots, 0, sizeof(ref_slots));
			if ((seed >> 17) & 1)
				sbx_thread_init(&view, &ref, ref_slots, 64);
			else
				sbx_thread_init_new_thread(&view, &ref, ref_slots, 64);
		}
		copy_thread(&fast, fast_slots, &ref, ref_slots);
		copy_thread(&pre, pre_slots, &ref, ref_slots);
		rf = sbx_step_fast(&view, &fast, kind, id);
		rs = sbx_step(&view, &ref, kind, id, &v);
		CHECK(rf == 0 || rf == 1, "fast returns %d", rf);
		if (rf == 0) {
			decided++;
			CHECK(rs == 0,
			      "fast allowed what sbx_step refuses: seed %u step %u kind %llu id %llu reason %u",
			      seed, i, (unsigned long long)kind, (unsigned long long)id, v.reason);
			CHECK(same_thread(&fast, fast_slots, &ref, ref_slots),
			      "fast and sbx_step differ: step %u kind %llu id %llu", i,
			      (unsigned long long)kind, (unsigned long long)id);
		} else {
			CHECK(same_thread(&fast, fast_slots, &pre, pre_slots),
			      "undecided marker changed the state: step %u kind %llu", i,
			      (unsigned long long)kind);
		}
		if (failures > failed)
			break;
	}
	return decided;
}

static void test_fast_path(void)
{
	struct sbx_violation v;
	struct tb_spec s;
	unsigned int d;

	load_example(8);
	d = fast_walk(1, 20000);
	CHECK(d > 400, "dyck example: the fast path decided only %u markers", d);
	load_example_nfa(8);
	d = fast_walk(2, 20000);
	CHECK(d > 4000, "nfa example: the fast path decided only %u markers", d);
	bound_example(&s);
	load_spec(&s);
	d = fast_walk(3, 20000);
	CHECK(d > 400, "bound example: the fast path decided only %u markers", d);
	tb_example_nfa(&s);
	s.flags |= SBX_BLOB_F_BOUND;
	s.nr_sets = 2;
	tb_set_add(&s, 1, 0);
	load_spec(&s);
	d = fast_walk(4, 20000);
	CHECK(d > 4000, "bound nfa example: the fast path decided only %u markers", d);
	load_recursive(8, 64);
	d = fast_walk(5, 20000);
	CHECK(d > 600, "recursive: the fast path decided only %u markers", d);

	/* States whose reads would leave the arrays are left to sbx_step(). */
	load_example(8);
	sbx_thread_init(&view, &thread, slots, 64);
	thread.slots[0].frame.mstate = 14;
	CHECK(sbx_step_fast(&view, &thread, L, 0) == 1, "mstate out of range");
	thread.slots[0].frame.mstate = 1;
	thread.nr_frames = 0;
	CHECK(sbx_step_fast(&view, &thread, L, 0) == 1, "no entry");
	thread.nr_frames = 9;
	CHECK(sbx_step_fast(&view, &thread, L, 0) == 1, "entries beyond the capacity");
	load_example_nfa(8);
	sbx_thread_init(&view, &thread, slots, 64);
	CHECK(sbx_step_fast(&view, &thread, L, 1) == 0 && thread.window_sym == 1 &&
		      thread.slots[0].frame.mstate == 3,
	      "exit");
	CHECK(sbx_step(&view, &thread, L, 4, &v) == 1 && sbx_step_fast(&view, &thread, L, 4) == 1,
	      "a refused LIBC is left to sbx_step");
}

static void test_resync(void)
{
	struct sbx_violation v;
	struct tb_spec s;
	uint32_t ro;

	tb_resync_example(&s);
	load_spec(&s);
	ro = tb_get32(blob + 120);
	CHECK(ro + 4 * 8 == blob_size, "resync section at the end");

	/* A refused write in {m1}: resume in {m4}, in write's window. */
	sbx_thread_init(&view, &thread, slots, 8);
	CHECK(sbx_step(&view, &thread, L, 0, NULL) == 0, "open");
	CHECK(sbx_step(&view, &thread, L, 2, &v) == 1 && v.reason == SBX_V_NOT_ALLOWED,
	      "write refused");
	CHECK(sbx_resync(&view, &thread, L, 2) == 0, "resync on write");
	CHECK(sbx_top(&thread)->mstate == 5 && thread.window_sym == 2 && thread.depth == 1 &&
		      sbx_top(&thread)->tag == SBX_FRAME_ROOT,
	      "at {m4}, window write, root kept: %u %u", sbx_top(&thread)->mstate,
	      thread.window_sym);

	/* read from anywhere: {m2 m3}, where both read and write are allowed next. */
	sbx_thread_init(&view, &thread, slots, 8);
	CHECK(sbx_resync(&view, &thread, L, 1) == 0 && sbx_top(&thread)->mstate == 7,
	      "resync on read from {m0}");
	CHECK(sbx_step(&view, &thread, L, 1, NULL) == 0 &&
		      sbx_step(&view, &thread, L, 2, NULL) == 0,
	      "read then write after resync");

	/* Not resynchronising: the thread is unchanged. */
	sbx_thread_init(&view, &thread, slots, 8);
	CHECK(sbx_resync(&view, &thread, L, 3) == 1 && sbx_top(&thread)->mstate == 1 &&
		      thread.window_sym == SBX_WINDOW_START,
	      "close is allowed nowhere in main");
	CHECK(sbx_resync(&view, &thread, L, 4) == 1, "symbol out of range");
	CHECK(sbx_resync(&view, &thread, L, 1ULL << 32 | 1) == 1, "id above 32 bits");
	CHECK(sbx_resync(&view, &thread, SBX_MARK_CALL, 0) == 1, "a CALL never resynchronises");
	CHECK(sbx_resync(&view, &thread, SBX_MARK_RET, 1) == 1, "a RET never resynchronises");
	CHECK(sbx_resync(&view, &thread, 0, 1) == 1, "unknown kind");
	CHECK(sbx_top(&thread)->mstate == 1 && thread.window_sym == SBX_WINDOW_START, "unchanged");
	/* A new thread's root (the empty frontier) is in no function. */
	sbx_thread_init_new_thread(&view, &thread, slots, 8);
	CHECK(sbx_resync(&view, &thread, L, 1) == 1 && sbx_top(&thread)->mstate == 0,
	      "no resync at a new thread's root");
	/* An inconsistent thread is never resynchronised. */
	sbx_thread_init(&view, &thread, slots, 8);
	thread.depth = 0;
	CHECK(sbx_resync(&view, &thread, L, 1) == 1, "inconsistent thread");
	sbx_thread_init(&view, &thread, slots, 8);
	sbx_top(&thread)->mstate = 8;
	CHECK(sbx_resync(&view, &thread, L, 1) == 1, "macro-state out of range");

	/* A group the writer left out (entry none) does not resynchronise. */
	s.resync[4] = 0;
	load_spec(&s);
	sbx_thread_init(&view, &thread, slots, 8);
	sbx_top(&thread)->mstate = 4;
	CHECK(sbx_resync(&view, &thread, L, 1) == 1, "left-out group");
	sbx_top(&thread)->mstate = 3;
	CHECK(sbx_resync(&view, &thread, L, 1) == 0, "another macro-state of the group");

	/* Without a resynchronisation section (all none): never. */
	tb_resync_example(&s);
	memset(s.resync, 0, sizeof(s.resync));
	load_spec(&s);
	sbx_thread_init(&view, &thread, slots, 8);
	CHECK(sbx_resync(&view, &thread, L, 1) == 1, "no entries");

	/* Validation of the section. */
	tb_resync_example(&s);
	load_spec(&s);
	CHECK(validate_mut(ro + 4 * 1, 8) == -SBX_EINVAL, "entry out of range");
	CHECK(validate_mut(ro + 4 * 1, 0xfffffffe) == -SBX_EINVAL, "entry just below none");
	CHECK(validate_mut(ro + 4 * 1, 2) == -SBX_EINVAL, "entry whose own entry is not itself");
	CHECK(validate_mut(ro + 4 * 6, 7) == -SBX_EINVAL, "any macro-state not its own");
	CHECK(validate_mut(ro + 4 * 6, SBX_RESYNC_NONE) == -SBX_EINVAL,
	      "an entry naming a macro-state whose entry is none");
	CHECK(validate_mut(ro + 4 * 0, 6) == -SBX_EINVAL, "the empty frontier resynchronises");
	CHECK(validate_mut(ro + 4 * 5, SBX_RESYNC_NONE) == 0, "an entry may be none");
	CHECK(validate_mut(120, ro + 4) == -SBX_EINVAL, "resync offset");
}

/* --- the names section (specs/kernel-abi.md, "Names") ------------------------ */

/* Builds @s, overwrites @n bytes of its names section at @at, validates. */
static int validate_names(const struct tb_spec *s, size_t at, const char *bytes, size_t n)
{
	static uint8_t b[1 << 16];
	struct sbx_policy_view w;
	size_t size = tb_build(s, b, sizeof(b));
	size_t no = tb_get32(b + 120) + 4 * tb_get32(b + 40);

	memcpy(b + no + at, bytes, n);
	return sbx_blob_validate(b, size, &w);
}

/* Validates @s's blob with its names section cut or extended (with @fill) by @delta. */
static int validate_names_resized(const struct tb_spec *s, int delta, uint8_t fill)
{
	static uint8_t b[1 << 16];
	struct sbx_policy_view w;
	size_t size = tb_build(s, b, sizeof(b));

	if (delta > 0)
		memset(b + size, fill, delta);
	size += delta;
	tb_put32(b + 16, size);
	tb_put32(b + 124, tb_get32(b + 124) + delta);
	return sbx_blob_validate(b, size, &w);
}

static void test_names(void)
{
	static char longest[SBX_NAME_LEN_MAX + 2];
	struct sbx_policy_view w;
	struct tb_spec s;
	/* Head 12, callees 5 * 4, offsets 8 * 4: the string area at 64. */
	const size_t area = 12 + 4 * 5 + 4 * 8;
	uint32_t le;
	size_t n;

	tb_example(&s);
	tb_example_names(&s);
	load_spec(&s);
	CHECK(view.nr_names == 8 && view.root_function == 0 && view.nr_callees == 5, "names view");
	CHECK(!strcmp(sbx_blob_symbol_name(&view, 0), "open") &&
		      !strcmp(sbx_blob_symbol_name(&view, 2), "write"),
	      "symbol names");
	CHECK(!sbx_blob_symbol_name(&view, 3) && !sbx_blob_symbol_name(&view, 1ULL << 32),
	      "no name past the symbols");
	CHECK(!strcmp(sbx_blob_frame_name(&view, SBX_FRAME_ROOT), "main"), "root: main");
	CHECK(!strcmp(sbx_blob_frame_name(&view, SBX_FRAME_SITE | 1), "b") &&
		      !strcmp(sbx_blob_frame_name(&view, SBX_FRAME_SITE | 4), "h"),
	      "site frames: their callee");
	CHECK(!strcmp(sbx_blob_frame_name(&view, SBX_FRAME_CALLBACK | 4), "cb"), "callback frame");
	CHECK(!sbx_blob_frame_name(&view, SBX_FRAME_SITE | 5) &&
		      !sbx_blob_frame_name(&view, SBX_FRAME_CALLBACK | 5) &&
		      !sbx_blob_frame_name(&view, SBX_FRAME_ROOT | 1) &&
		      !sbx_blob_frame_name(&view, 0xc0000000U),
	      "no name for a tag out of range");
	/* The same machine without names: nothing to name, still valid. */
	load_example(8);
	CHECK(view.nr_names == 0 && !sbx_blob_symbol_name(&view, 0) &&
		      !sbx_blob_frame_name(&view, SBX_FRAME_ROOT),
	      "a blob without names names nothing");
	/* A site with several callees (or none) and no root: not named. */
	tb_example(&s);
	tb_example_names(&s);
	s.callees[1] = 0;
	s.root_function = 0;
	load_spec(&s);
	CHECK(!sbx_blob_frame_name(&view, SBX_FRAME_SITE | 1) &&
		      !sbx_blob_frame_name(&view, SBX_FRAME_ROOT),
	      "SBX_NAME_NONE names nothing");
	/* nfa: no callee entries (nr_callees 0). */
	tb_example_nfa(&s);
	tb_example_names(&s);
	load_spec(&s);
	CHECK(view.nr_callees == 0 && !strcmp(sbx_blob_frame_name(&view, SBX_FRAME_ROOT), "main") &&
		      !strcmp(sbx_blob_symbol_name(&view, 1), "read"),
	      "nfa blob with names");

	/* Malformed: each refused with EINVAL. */
	tb_example(&s);
	tb_example_names(&s);
	tb_put32((uint8_t *)&le, 7);
	CHECK(validate_names(&s, 0, (char *)&le, 4) == -SBX_EINVAL, "nr_names too small");
	tb_put32((uint8_t *)&le, 9);
	CHECK(validate_names(&s, 0, (char *)&le, 4) == -SBX_EINVAL, "nr_names too large");
	tb_put32((uint8_t *)&le, 5);
	CHECK(validate_names(&s, 4, (char *)&le, 4) == -SBX_EINVAL, "root out of range");
	tb_put32((uint8_t *)&le, 4);
	CHECK(validate_names(&s, 8, (char *)&le, 4) == -SBX_EINVAL, "nr_callees not nr_sites");
	tb_put32((uint8_t *)&le, 5);
	CHECK(validate_names(&s, 12 + 4 * 2, (char *)&le, 4) == -SBX_EINVAL, "callee out of range");
	tb_put32((uint8_t *)&le, 4);
	CHECK(validate_names(&s, 12 + 4 * 2, (char *)&le, 4) == 0, "callee in range");
	tb_put32((uint8_t *)&le, 1);
	CHECK(validate_names(&s, 32, (char *)&le, 4) == -SBX_EINVAL, "first offset not 0");
	tb_put32((uint8_t *)&le, 6);
	CHECK(validate_names(&s, 36, (char *)&le, 4) == -SBX_EINVAL, "offset inside a name");
	CHECK(validate_names(&s, area + 2, "\x1b", 1) == -SBX_EINVAL, "an escape byte in a name");
	CHECK(validate_names(&s, area + 2, "\n", 1) == -SBX_EINVAL, "a newline in a name");
	CHECK(validate_names(&s, area + 2, " ", 1) == -SBX_EINVAL, "a space in a name");
	CHECK(validate_names(&s, area + 2, "\x7f", 1) == -SBX_EINVAL, "DEL in a name");
	CHECK(validate_names(&s, area + 2, "\xc3", 1) == -SBX_EINVAL, "a non-ASCII byte in a name");
	CHECK(validate_names(&s, area + 4, "x", 1) == -SBX_EINVAL, "a name's NUL overwritten");
	CHECK(validate_names(&s, area + 2, "_", 1) == 0, "a printable byte in a name");
	CHECK(validate_names_resized(&s, -1, 0) == -SBX_EINVAL, "the last NUL cut");
	CHECK(validate_names_resized(&s, 1, 0) == -SBX_EINVAL, "a byte after the last name");
	CHECK(validate_names_resized(&s, 1, 'x') == -SBX_EINVAL, "a name byte after the last NUL");
	/* The section cut anywhere (total_size and names_size kept consistent). */
	n = tb_build(&s, blob, sizeof(blob)) - (tb_get32(blob + 120) + 4 * 14);
	CHECK(validate_names_resized(&s, -(int)n, 0) == 0, "the whole section cut: no names");
	{
		size_t k;

		for (k = 1; k < n; k++)
			CHECK(validate_names_resized(&s, -(int)k, 0) == -SBX_EINVAL,
			      "names cut by %zu", k);
	}
	s.names[4] = "";
	CHECK(validate_spec(&s) == -SBX_EINVAL, "an empty name");
	memset(longest, 'f', SBX_NAME_LEN_MAX);
	s.names[4] = longest;
	CHECK(validate_spec(&s) == 0, "a name of SBX_NAME_LEN_MAX bytes");
	longest[SBX_NAME_LEN_MAX] = 'f';
	CHECK(validate_spec(&s) == -SBX_EINVAL, "a name over SBX_NAME_LEN_MAX bytes");
	tb_example_nfa(&s);
	tb_example_names(&s);
	s.flags = SBX_BLOB_F_NFA;
	{
		static uint8_t b[1 << 16];
		size_t size = tb_build(&s, b, sizeof(b));
		size_t no = tb_get32(b + 120) + 4 * tb_get32(b + 40);

		tb_put32(b + no + 8, 5);
		CHECK(sbx_blob_validate(b, size, &w) == -SBX_EINVAL,
		      "nfa blob with callee entries");
	}
}

int main(int argc, char **argv)
{
	test_valid_run();
	test_libc();
	test_call_ret();
	test_tail();
	test_callbacks();
	test_new_thread();
	test_overflow();
	test_deep_recursion();
	test_setjmp_stale();
	test_setjmp_many_depths();
	test_setjmp_folded();
	test_kinds();
	test_setjmp();
	test_unchanged_on_violation();
	test_copy();
	test_bad_state();
	test_fast_path();
	test_header_rejections();
	test_caps();
	test_section_rejections();
	test_nfa_rejections();
	test_nfa_stepping();
	test_binding();
	test_pins();
	test_resync();
	test_names();
	{
		int n, f = test_evbuf(&n);

		checks += n;
		failures += f;
	}
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
		write_seeds(argv[2]);
	printf("test_core: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
