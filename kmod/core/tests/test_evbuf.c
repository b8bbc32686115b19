// SPDX-License-Identifier: GPL-2.0
/*
 * test_evbuf.c - userspace unit tests of buffered events (specs/kernel-abi.md,
 * "Buffered events"): the event-buffer section of a blob (validation), the
 * slot rule (sbx_evbuf_collect()) and the replay (sbx_evbuf_check(),
 * sbx_evbuf_step(), sbx_evbuf_replay()). Run by test_core's main().
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

#define L  SBX_MARK_LIBC
#define C  SBX_MARK_CALL
#define R  SBX_MARK_RET
#define CE SBX_MARK_CB_ENTER
#define CX SBX_MARK_CB_EXIT
#define T  SBX_MARK_TAIL
#define SS SBX_MARK_SJ_SAVE
#define SR SBX_MARK_SJ_RESUME

#define W(kind, id) ((sbx_u64)(kind) << 32 | (sbx_u32)(id))

static uint8_t blob[1 << 16];
static size_t blob_size;
static struct sbx_policy_view view;
static union sbx_slot slots[64];
static struct sbx_thread thread;

/*
 * The core tests' example (blob_build.c: symbols open(0) read(1) write(2),
 * sites 0..4, callback 4), bound as test_binding()'s is, and buffered: read
 * and write bufferable, open not (it stands for a sensitive libc function).
 * It starts in main after the call of a (macro-state 2), so that paths
 * through b need no open.
 */
static void buffered_example(struct tb_spec *s)
{
	tb_example(s);
	s->flags |= SBX_BLOB_F_BOUND | SBX_BLOB_F_BUFFERED;
	s->nr_sets = 5;
	tb_set_add(s, 1, 12);
	tb_set_add(s, 2, 0);
	tb_set_add(s, 3, 1);
	tb_set_add(s, 4, 2);
	s->symsets[0] = 4; /* open */
	s->symsets[1] = 2; /* read */
	s->symsets[2] = 3; /* write */
	s->start_set = 3;
	s->ambient_set = 1;
	s->evbuf_tpoff = -0x110;
	s->bufferable[0] = 1U << 1 | 1U << 2;
	/* Past main's call of a, whose open needs its pinned marker. */
	s->initial = 2;
}

static void load(const struct tb_spec *s)
{
	int err;

	blob_size = tb_build(s, blob, sizeof(blob));
	err = sbx_blob_validate(blob, blob_size, &view);
	CHECK(err == 0, "blob refused: %d", err);
}

static int validate_spec(const struct tb_spec *s)
{
	static uint8_t b[1 << 16];
	struct sbx_policy_view w;
	size_t n = tb_build(s, b, sizeof(b));

	return sbx_blob_validate(b, n, &w);
}

/* The blob with a 32-bit word at @off replaced by @value: 0 or an errno. */
static int validate_mut32(size_t off, uint32_t value)
{
	static uint8_t copy[1 << 16];
	struct sbx_policy_view w;

	memcpy(copy, blob, blob_size);
	tb_put32(copy + off, value);
	return sbx_blob_validate(copy, blob_size, &w);
}

static int validate_tpoff(int64_t tpoff)
{
	struct tb_spec s;

	buffered_example(&s);
	s.evbuf_tpoff = tpoff;
	return validate_spec(&s);
}

static void test_evbuf_validation(void)
{
	struct tb_spec s;
	size_t eo;

	buffered_example(&s);
	load(&s);
	eo = tb_evbuf_off(&s);
	CHECK(blob_size == eo + 16 + 4, "size %zu, section at %zu", blob_size, eo);
	CHECK(view.evbuf_tpoff == (uint64_t)-0x110 && view.bufferable == blob + eo + 16,
	      "view %llx", view.evbuf_tpoff);
	CHECK(validate_mut32(12, SBX_BLOB_F_BOUND) == -SBX_EINVAL,
	      "the section without SBX_BLOB_F_BUFFERED");
	CHECK(validate_mut32(eo + 8, SBX_EVBUF_CAP - 1) == -SBX_EINVAL, "capacity 31");
	CHECK(validate_mut32(eo + 8, SBX_EVBUF_CAP * 2) == -SBX_EINVAL, "capacity 64");
	CHECK(validate_mut32(eo + 8, 0) == -SBX_EINVAL, "capacity 0");
	CHECK(validate_mut32(eo + 12, 2) == -SBX_EINVAL, "two bit words for 3 symbols");
	CHECK(validate_mut32(eo + 12, 0) == -SBX_EINVAL, "no bit word for 3 symbols");
	CHECK(validate_mut32(eo + 16, 1U << 3) == -SBX_EINVAL, "bit of symbol 3 of 3");
	CHECK(validate_mut32(eo + 16, 1U << 31) == -SBX_EINVAL, "bit 31 of 3 symbols");
	CHECK(validate_mut32(eo + 16, 7) == 0, "every symbol bufferable");
	CHECK(validate_mut32(eo + 16, 0) == 0, "no symbol bufferable");
	/* tpoff: negative, 8-aligned, the whole struct below the thread pointer. */
	CHECK(validate_tpoff(-(int64_t)SBX_EVBUF_SIZE) == 0, "tpoff -264");
	CHECK(validate_tpoff(-(int64_t)SBX_EVBUF_SIZE + 8) == -SBX_EINVAL, "tpoff -256");
	CHECK(validate_tpoff(0) == -SBX_EINVAL, "tpoff 0");
	CHECK(validate_tpoff(8) == -SBX_EINVAL, "tpoff 8");
	CHECK(validate_tpoff(-0x1004) == -SBX_EINVAL, "tpoff not 8-aligned");
	CHECK(validate_tpoff(-(int64_t)SBX_EVBUF_TPOFF_MAX) == 0, "tpoff at the bound");
	CHECK(validate_tpoff(-(int64_t)SBX_EVBUF_TPOFF_MAX - 8) == -SBX_EINVAL,
	      "tpoff past the bound");
	CHECK(validate_tpoff(INT64_MIN) == -SBX_EINVAL, "tpoff INT64_MIN");
	CHECK(validate_tpoff(INT64_MAX & ~7LL) == -SBX_EINVAL, "tpoff INT64_MAX");
	/* The section's size depends on nr_symbols: 32 symbols, 1 word; 33, 2. */
	buffered_example(&s);
	s.nr_symbols = 32;
	s.bufferable[0] = 0x80000000U;
	CHECK(validate_spec(&s) == 0, "32 symbols, bit 31");
	s.nr_symbols = 33;
	s.bufferable[1] = 1;
	CHECK(validate_spec(&s) == 0, "33 symbols, bit 32");
	s.bufferable[1] = 2;
	CHECK(validate_spec(&s) == -SBX_EINVAL, "33 symbols, bit 33");
	/* Every truncation and extension of a buffered blob is refused. */
	buffered_example(&s);
	load(&s);
	for (size_t n = 0; n < blob_size; n++) {
		struct sbx_policy_view w;

		CHECK(sbx_blob_validate(blob, n, &w) == -SBX_EINVAL, "truncated to %zu", n);
	}
	/* With names: they follow the section. */
	tb_example_names(&s);
	load(&s);
	CHECK(view.nr_names == 8 && strcmp(sbx_blob_symbol_name(&view, 2), "write") == 0 &&
		      view.bufferable == blob + eo + 16,
	      "names after the section");
	/* NFA blobs buffer too. */
	tb_example_nfa(&s);
	s.flags |= SBX_BLOB_F_BUFFERED;
	s.evbuf_tpoff = -4096;
	s.bufferable[0] = 2;
	CHECK(validate_spec(&s) == 0, "nfa, buffered");
}

static void test_evbuf_collect(void)
{
	sbx_u64 b[SBX_EVBUF_CAP];
	uint32_t end, n, i;

	/* Empty buffer, any count. */
	memset(b, 0, sizeof(b));
	CHECK(sbx_evbuf_collect(b, 0, &end) == 0 && end == 0, "empty %u", end);
	CHECK(sbx_evbuf_collect(b, 5, &end) == 0 && end == 5, "empty, count 5: %u", end);
	/* In order, the count exact. */
	for (i = 0; i < 4; i++)
		b[i] = W(L, i + 1);
	n = sbx_evbuf_collect(b, 4, &end);
	CHECK(n == 4 && end == 4 && b[0] == W(L, 1) && b[3] == W(L, 4), "four: %u %u", n, end);
	/* Holes below the count are skipped (an append that moved on). */
	memset(b, 0, sizeof(b));
	b[0] = W(C, 1);
	b[2] = W(R, 1);
	b[5] = W(L, 2);
	n = sbx_evbuf_collect(b, 6, &end);
	CHECK(n == 3 && end == 6 && b[0] == W(C, 1) && b[1] == W(R, 1) && b[2] == W(L, 2),
	      "holes: %u %u", n, end);
	/* Past the count: taken while non-zero (a handler's append behind the count). */
	memset(b, 0, sizeof(b));
	b[0] = W(C, 1);
	b[1] = W(L, 1);
	b[2] = W(L, 2);
	b[4] = W(L, 3);
	n = sbx_evbuf_collect(b, 1, &end);
	CHECK(n == 3 && end == 3 && b[2] == W(L, 2), "past the count: %u %u", n, end);
	/* A stale count above the events: nothing past the count is read. */
	memset(b, 0, sizeof(b));
	b[0] = W(C, 1);
	b[10] = W(L, 1);
	n = sbx_evbuf_collect(b, 9, &end);
	CHECK(n == 1 && end == 9, "slot 10 behind a free slot 9 is not taken: %u %u", n, end);
	memset(b, 0, sizeof(b));
	b[0] = W(C, 1);
	b[9] = W(L, 1);
	n = sbx_evbuf_collect(b, 9, &end);
	CHECK(n == 2 && end == 10 && b[1] == W(L, 1), "slot 9 at count 9 is: %u %u", n, end);
	/* An attacker's count: clamped to the capacity. */
	for (i = 0; i < SBX_EVBUF_CAP; i++)
		b[i] = W(L, i + 1);
	n = sbx_evbuf_collect(b, 0xffffffffULL, &end);
	CHECK(n == SBX_EVBUF_CAP && end == SBX_EVBUF_CAP && b[31] == W(L, 32), "full, count max");
	for (i = 0; i < SBX_EVBUF_CAP; i++)
		b[i] = W(L, i + 1);
	n = sbx_evbuf_collect(b, ~0ULL, &end);
	CHECK(n == SBX_EVBUF_CAP && end == SBX_EVBUF_CAP, "full, count 2^64-1");
	n = sbx_evbuf_collect(b, 0, &end);
	CHECK(n == SBX_EVBUF_CAP && end == SBX_EVBUF_CAP && b[0] == W(L, 1),
	      "full, count 0: every slot by the second rule");
	memset(b, 0, sizeof(b));
	b[31] = W(L, 1);
	n = sbx_evbuf_collect(b, 0xffffffffULL, &end);
	CHECK(n == 1 && end == SBX_EVBUF_CAP && b[0] == W(L, 1), "last slot only");
}

/* Replays @words (a zero-terminated list) from exec; returns the refused index or -1. */
static int replay(const sbx_u64 *words, struct sbx_violation *v)
{
	uint32_t n = 0, i;

	sbx_thread_init(&view, &thread, slots, 64);
	while (words[n])
		n++;
	i = sbx_evbuf_replay(&view, &thread, words, n, v);
	return i == n ? -1 : (int)i;
}

#define REPLAY(v, ...)                                          \
	({                                                      \
		static const sbx_u64 w_[] = { __VA_ARGS__, 0 }; \
		replay(w_, v);                                  \
	})

#define SYS(nr) sbx_syscall_check(&view, &thread, (nr), 0)

static void test_evbuf_replay(void)
{
	struct sbx_violation v;
	struct tb_spec s;
	uint32_t ms;

	buffered_example(&s);
	load(&s);
	/* An accepted path: main -> b -> h, read, back, write, back. */
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(L, 1), W(R, 3), W(L, 2), W(R, 1)) == -1, "%u",
	      v.reason);
	CHECK(thread.depth == 1 && sbx_top(&thread)->mstate == 3, "at main's end: %u %u",
	      thread.depth, sbx_top(&thread)->mstate);
	/* The window after a replay is the last event's: RET, program code. */
	CHECK(thread.window_sym == SBX_WINDOW_NONE && SYS(1) == SBX_V_SYSCALL_WINDOW &&
		      SYS(12) == 0,
	      "window after RET");
	/* Ending on a LIBC event: that symbol's window. */
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(L, 1)) == -1, "%u", v.reason);
	CHECK(thread.window_sym == 1 && SYS(0) == 0 && SYS(1) == SBX_V_SYSCALL_WINDOW,
	      "read's window: read yes, write no (%x)", thread.window_sym);
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(L, 1), W(R, 3), W(L, 2)) == -1 &&
		      thread.window_sym == 2 && SYS(1) == 0 && SYS(0) == SBX_V_SYSCALL_WINDOW,
	      "write's window");
	/* Order matters: the same events in another order are no path. */
	CHECK(REPLAY(&v, W(C, 1), W(L, 1), W(C, 3)) == 1 && v.reason == SBX_V_NOT_ALLOWED &&
		      v.kind == L && v.id == 1,
	      "read before the call: %u", v.reason);
	/* A forged non-path: stopped at the first refused event, the state before it. */
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(L, 2)) == 2 && v.reason == SBX_V_NOT_ALLOWED &&
		      thread.depth == 3,
	      "write in h: %u", v.reason);
	CHECK(REPLAY(&v, W(C, 1), W(R, 0)) == 1 && v.reason == SBX_V_WRONG_RETURN, "%u", v.reason);
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(R, 3)) == 2 && v.reason == SBX_V_CANNOT_RETURN, "%u",
	      v.reason);
	CHECK(REPLAY(&v, W(CE, 3)) == 0 && v.reason == SBX_V_NOT_CALLBACK, "%u", v.reason);
	/* Callbacks and tail calls replay as their markers. */
	CHECK(REPLAY(&v, W(C, 1), W(CE, 4), W(L, 2), W(CX, 4), W(C, 3), W(L, 1), W(R, 3)) == -1,
	      "callback: %u", v.reason);
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(L, 1), W(R, 3), W(T, 4), W(L, 1)) == -1, "tail: %u",
	      v.reason);
	/* A forged sensitive LIBC word: open is not bufferable, even where it is allowed. */
	s.initial = 1;
	load(&s);
	CHECK(REPLAY(&v, W(C, 0), W(C, 2), W(L, 1), W(R, 2), W(L, 0)) == 4 &&
		      v.reason == SBX_V_BUFFER && v.kind == L && v.id == 0,
	      "open from the buffer: %u", v.reason);
	/* ... while its synchronous marker is accepted there. */
	CHECK(sbx_step(&view, &thread, L, 0, &v) == 0 && thread.window_sym == 0 && SYS(2) == 0,
	      "open's pinned marker");
	s.initial = 2;
	load(&s);
	/* Every malformed word is SBX_V_BUFFER. */
	CHECK(REPLAY(&v, W(SS, 1)) == 0 && v.reason == SBX_V_BUFFER, "SJ_SAVE");
	CHECK(REPLAY(&v, W(SR, 1)) == 0 && v.reason == SBX_V_BUFFER, "SJ_RESUME");
	CHECK(REPLAY(&v, W(0, 1)) == 0 && v.reason == SBX_V_BUFFER, "kind 0");
	CHECK(REPLAY(&v, W(9, 0)) == 0 && v.reason == SBX_V_BUFFER, "kind 9");
	CHECK(REPLAY(&v, W(0xffffffffU, 0xffffffffU)) == 0 && v.reason == SBX_V_BUFFER, "all ones");
	CHECK(REPLAY(&v, W(L, 3)) == 0 && v.reason == SBX_V_BUFFER, "LIBC 3 of 3");
	CHECK(REPLAY(&v, W(L, 0xffffffffU)) == 0 && v.reason == SBX_V_BUFFER, "LIBC max");
	CHECK(REPLAY(&v, W(C, 5)) == 0 && v.reason == SBX_V_BUFFER, "CALL 5 of 5");
	CHECK(REPLAY(&v, W(R, 5)) == 0 && v.reason == SBX_V_BUFFER, "RET 5 of 5");
	CHECK(REPLAY(&v, W(T, 5)) == 0 && v.reason == SBX_V_BUFFER, "TAIL 5 of 5");
	CHECK(REPLAY(&v, W(CE, 5)) == 0 && v.reason == SBX_V_BUFFER, "CB_ENTER 5 of 5");
	CHECK(REPLAY(&v, W(CX, 5)) == 0 && v.reason == SBX_V_BUFFER, "CB_EXIT 5 of 5");
	/* A refused word leaves the thread as the events before it made it. */
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(SS, 1)) == 2 && v.reason == SBX_V_BUFFER &&
		      thread.depth == 3 && v.depth == 3 && v.tag == (SBX_FRAME_SITE | 3),
	      "state kept: depth %u tag %x", thread.depth, v.tag);
	ms = sbx_top(&thread)->mstate;
	CHECK(ms == 10 && thread.window_sym == SBX_WINDOW_NONE, "top %u", ms);
	/* A forged path, then a system call outside the window of its last event. */
	CHECK(REPLAY(&v, W(C, 1), W(C, 3), W(L, 1)) == -1 && SYS(59) == SBX_V_SYSCALL_WINDOW &&
		      SYS(1) == SBX_V_SYSCALL_WINDOW,
	      "execve and write refused after a forged read");
	/* A full buffer: SBX_EVBUF_CAP events, all taken in order. */
	{
		sbx_u64 w[SBX_EVBUF_CAP];
		uint32_t i;

		w[0] = W(C, 1);
		w[1] = W(C, 3);
		for (i = 2; i < SBX_EVBUF_CAP; i += 3) {
			w[i] = W(CE, 4);
			w[i + 1] = W(L, 2);
			w[i + 2] = W(CX, 4);
		}
		sbx_thread_init(&view, &thread, slots, 64);
		CHECK(sbx_evbuf_replay(&view, &thread, w, SBX_EVBUF_CAP, &v) == SBX_EVBUF_CAP &&
			      thread.depth == 3 && thread.window_sym == SBX_WINDOW_NONE,
		      "32 events: %u", v.reason);
		CHECK(sbx_evbuf_replay(&view, &thread, w + 3, 1, &v) == 0 &&
			      v.reason == SBX_V_NOT_ALLOWED,
		      "write in h after them: %u", v.reason);
	}
	/* A blob without SBX_BLOB_F_BUFFERED has no bufferable event. */
	tb_example(&s);
	load(&s);
	CHECK(sbx_evbuf_check(&view, W(C, 0)) == SBX_V_BUFFER &&
		      sbx_evbuf_check(&view, W(L, 1)) == SBX_V_BUFFER,
	      "unbuffered blob");
	CHECK(REPLAY(&v, W(C, 0)) == 0 && v.reason == SBX_V_BUFFER && thread.depth == 1,
	      "unbuffered blob: CALL refused");
	/* The drain's inline LIBC path must not read the absent bufferable bits. */
	CHECK(REPLAY(&v, W(L, 1)) == 0 && v.reason == SBX_V_BUFFER && v.kind == L && v.id == 1,
	      "unbuffered blob: LIBC refused");
	/* NFA: sites pass, LIBC words by the bit. */
	tb_example_nfa(&s);
	s.flags |= SBX_BLOB_F_BUFFERED;
	s.evbuf_tpoff = -4096;
	s.bufferable[0] = 2;
	load(&s);
	CHECK(REPLAY(&v, W(C, 0), W(C, 2), W(L, 1), W(R, 2), W(R, 0)) == -1, "nfa: %u", v.reason);
	CHECK(REPLAY(&v, W(L, 1), W(L, 2)) == 1 && v.reason == SBX_V_BUFFER, "nfa: write %u",
	      v.reason);
	CHECK(REPLAY(&v, W(C, 5)) == 0 && v.reason == SBX_V_BUFFER, "nfa: site 5 of 5");
}

/* Same stream as markers and as buffered words: the same states, in dyck mode. */
static void test_evbuf_same_as_markers(void)
{
	static const uint64_t ev[][2] = { { C, 1 }, { CE, 4 }, { L, 2 }, { CX, 4 }, { C, 3 },
					  { L, 1 }, { R, 3 },  { T, 4 }, { L, 1 },  { R, 1 } };
	union sbx_slot other_slots[64];
	struct sbx_thread other;
	struct sbx_violation v;
	struct tb_spec s;
	size_t i;
	int ok = 1;

	buffered_example(&s);
	load(&s);
	sbx_thread_init(&view, &thread, slots, 64);
	sbx_thread_init(&view, &other, other_slots, 64);
	for (i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		int a = sbx_step(&view, &thread, ev[i][0], ev[i][1], &v);
		int b = sbx_evbuf_step(&view, &other, W(ev[i][0], ev[i][1]), &v);

		ok &= a == 0 && b == 0 && thread.depth == other.depth &&
		      thread.nr_frames == other.nr_frames &&
		      sbx_top(&thread)->mstate == sbx_top(&other)->mstate &&
		      thread.window_sym == other.window_sym && thread.window == other.window;
	}
	CHECK(ok, "markers and buffered words diverge");
}

int test_evbuf(int *nr_checks)
{
	test_evbuf_validation();
	test_evbuf_collect();
	test_evbuf_replay();
	test_evbuf_same_as_markers();
	*nr_checks = checks;
	return failures;
}
