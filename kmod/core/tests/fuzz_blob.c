// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_blob.c - libFuzzer harness of the monitor core.
 *
 * Input: u32 LE n, then n bytes of blob (fewer if the input ends), then a mode
 * byte (bit 0: start as a new thread), then events of 3 bytes each:
 *   byte 0: bits 3..0 the kind (0..15, so unknown kinds too), bit 4: id is
 *           0xffffffff - id, bit 5: id has bit 32 set, bit 6: fork (copy the
 *           thread and continue with the copy) before the event;
 *   bytes 1-2: id, LE.
 * Every blob is validated; a valid one is stepped with the events, checking
 * the thread's invariants, that a refused event changes nothing, and (NFA
 * blobs) that an allowed CALL/RET/TAIL changes nothing either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sbx_blob.h"
#include "../sbx_monitor.h"
#include "../../uapi/sbx_marker.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_thread(const struct sbx_policy_view *v, const struct sbx_thread *t)
{
	sbx_u32 i, level = 0, r = 0;

	check(t->capacity == v->stack_limit && t->max_depth == v->max_depth);
	check(sbx_thread_consistent(t));
	check(sbx_top(t)->mstate < v->nr_mstates);
	check(t->slots[0].frame.tag == SBX_FRAME_ROOT && t->slots[0].frame.count == 1);
	/* The depth is the entries' counts; a record is at the lowest frame of its entry. */
	for (i = 0; i < t->nr_frames; i++) {
		const struct sbx_frame *f = &t->slots[i].frame;

		check(f->count >= 1);
		check(f->mstate < v->nr_mstates);
		for (; r < t->nr_sj && sbx_sj(t, r)->entry == i; r++)
			check(sbx_sj(t, r)->level == level + 1);
		/* Only the lowest frame of an entry may hold records: equal neighbours fold. */
		if (i >= 1 && i + 1 < t->nr_frames) {
			const struct sbx_frame *b = &t->slots[i - 1].frame;
			int owns = r > 0 && sbx_sj(t, r - 1)->entry == i;

			check(owns || b->tag != f->tag || b->mstate != f->mstate ||
			      b->saved_window != f->saved_window);
		}
		level += f->count;
	}
	check(r == t->nr_sj && level == t->depth);
	/* The flattened model has no stack of calls: only callbacks push. */
	if (v->flags & SBX_BLOB_F_NFA)
		check((sbx_top(t)->tag & SBX_FRAME_KIND_MASK) != SBX_FRAME_SITE);
	/* The window always names a set of the policy (set 0 when unbound). */
	check(v->nr_sets ? t->window < v->nr_sets : t->window == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_policy_view view;
	struct sbx_thread t, before, copy;
	union sbx_slot *frames, *saved, *other;
	struct sbx_violation out;
	size_t n, pos;
	uint8_t *blob;
	int err;

	if (size < 4)
		return 0;
	n = data[0] | data[1] << 8 | data[2] << 16 | (size_t)data[3] << 24;
	if (n > size - 4)
		n = size - 4;
	/* An exact-size copy, so that ASan sees any read past the blob. */
	blob = malloc(n ? n : 1);
	memcpy(blob, data + 4, n);
	err = sbx_blob_validate(blob, n, &view);
	check(err == 0 || err == -SBX_EINVAL || err == -SBX_E2BIG);
	if (err) {
		free(blob);
		return 0;
	}
	check(view.stack_limit >= 1 && view.stack_limit <= SBX_STACK_LIMIT_MAX);
	pos = 4 + n;
	frames = malloc(sizeof(*frames) * view.stack_limit);
	saved = malloc(sizeof(*saved) * view.stack_limit);
	other = malloc(sizeof(*other) * view.stack_limit);
	if (pos < size && (data[pos++] & 1))
		err = sbx_thread_init_new_thread(&view, &t, frames, view.stack_limit);
	else
		err = sbx_thread_init(&view, &t, frames, view.stack_limit);
	check(err == 0);
	check(sbx_thread_init(&view, &before, saved, view.stack_limit - 1) == -SBX_EINVAL);

	for (; pos + 3 <= size; pos += 3) {
		uint8_t k = data[pos];
		uint64_t kind = k & 0x0f;
		uint64_t id = data[pos + 1] | data[pos + 2] << 8;

		if (k & 0x10)
			id = 0xffffffffULL - id;
		if (k & 0x20)
			id |= 1ULL << 32;
		if (k & 0x40) {
			union sbx_slot *tmp;

			check(sbx_thread_copy(&copy, other, view.stack_limit, &t) == 0);
			check(copy.depth == t.depth && copy.nr_sj == t.nr_sj &&
			      copy.nr_frames == t.nr_frames);
			check(!memcmp(other, t.slots, sizeof(*other) * t.nr_frames));
			check(!memcmp(other + t.capacity - t.nr_sj, t.slots + t.capacity - t.nr_sj,
				      sizeof(*other) * t.nr_sj));
			t = copy;
			tmp = frames;
			frames = other;
			other = tmp;
		}
		before = t;
		memcpy(saved, t.slots, sizeof(*saved) * t.capacity);
		if (!sbx_step(&view, &t, kind, id, &out)) {
			if ((view.flags & SBX_BLOB_F_NFA) &&
			    (kind == SBX_MARK_CALL || kind == SBX_MARK_RET ||
			     kind == SBX_MARK_TAIL)) {
				/* Only the window changes: program code runs. */
				check(t.depth == before.depth && t.nr_frames == before.nr_frames &&
				      t.nr_sj == before.nr_sj);
				check(t.window_sym == SBX_WINDOW_NONE && t.window == 0);
				check(!memcmp(saved, t.slots, sizeof(*saved) * t.capacity));
			}
		} else {
			check((out.reason >= SBX_V_UNKNOWN_KIND && out.reason <= SBX_V_NO_SETJMP) ||
			      out.reason == SBX_V_STORE_FULL);
			check(before.window == t.window && before.window_sym == t.window_sym);
			check(out.depth == t.depth && out.kind == kind && out.id == id);
			check(!memcmp(&before, &t, sizeof(t)));
			check(!memcmp(saved, t.slots, sizeof(*saved) * t.capacity));
			/* Log mode: resynchronise on the refused marker, as the module does. */
			if (!sbx_resync(&view, &t, kind, id)) {
				check(kind == SBX_MARK_LIBC && t.window_sym == id);
				check(t.depth == before.depth && t.nr_frames == before.nr_frames &&
				      t.nr_sj == before.nr_sj);
			} else {
				check(!memcmp(&before, &t, sizeof(t)));
			}
		}
		check_thread(&view, &t);
		/* System calls and pins: any number, any registers; reads stay inside. */
		err = sbx_syscall_check(&view, &t, id & 0x3ff, kind);
		check(err == 0 || err == SBX_V_SYSCALL_WINDOW || err == SBX_V_EXEC_MAPPING);
		err = sbx_pin_check(&view, id << 12, kind << 8 | id, id * 16 + view.pin_table_vaddr,
				    kind, id);
		check(err == 0 || err == SBX_V_UNPINNED);
	}
	free(frames);
	free(saved);
	free(other);
	free(blob);
	return 0;
}
