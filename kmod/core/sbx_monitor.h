/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sbx_monitor.h - the per-thread Dyck monitor over a validated policy blob.
 *
 * Semantics: specs/marker-abi.md, "Meaning to a monitor"; the reference is
 * ThreadMonitor in Sources/DyckModel/Monitor.swift, which this code must agree
 * with on every marker stream (for an NFA blob: ThreadMonitor on the flattened
 * policy, with the markers read by FlattenedMarkers, specs/kernel-abi.md "Modes"). A step is a few table look-ups: a binary search
 * in the current macro-state's transitions, or in the callback table. It never
 * allocates; the slot array is provided (preallocated) by the caller.
 */
#ifndef _SBX_MONITOR_H
#define _SBX_MONITOR_H

#include "sbx_types.h"
#include "sbx_blob.h"
#include "sbx_le.h"
#include "../uapi/sbx_marker.h"

/* Frame tags: bits 31..30 the kind, bits 29..0 the site id or function index. */
#define SBX_FRAME_ROOT	    0x00000000U
#define SBX_FRAME_SITE	    0x40000000U
#define SBX_FRAME_CALLBACK  0x80000000U
#define SBX_FRAME_KIND_MASK 0xc0000000U
#define SBX_FRAME_ID_MASK   0x3fffffffU

/**
 * enum sbx_reason - why a marker was refused.
 * @SBX_V_UNKNOWN_KIND:   the kind is not one of SBX_MARK_*.
 * @SBX_V_ID_RANGE:       the id is out of range for its kind (or above 32 bits).
 * @SBX_V_NOT_ALLOWED:    no transition for it from the top frame's macro-state
 *                        (for TAIL: or the continuation cannot return).
 * @SBX_V_WRONG_RETURN:   RET/CB_EXIT does not match the top frame's kind.
 * @SBX_V_CANNOT_RETURN:  the top frame's macro-state holds no final state.
 * @SBX_V_NOT_CALLBACK:   CB_ENTER of a function that is not a callback.
 * @SBX_V_STACK_OVERFLOW: a push beyond the depth bound (the policy's max_depth
 *                        frames, counted logically: folded frames count).
 * @SBX_V_NO_SETJMP:      SJ_RESUME without a matching SJ_SAVE record.
 * @SBX_V_BAD_STATE:      the thread state does not fit the policy (never
 *                        happens when the thread was set up with the same view).
 * @SBX_V_SYSCALL_WINDOW: a system call in neither the window's set nor the
 *                        ambient set (sbx_syscall_check()).
 * @SBX_V_EXEC_MAPPING:   mmap, mprotect or pkey_mprotect with PROT_EXEC in a
 *                        window whose set may not map code.
 * @SBX_V_UNPINNED:       a marker that is not the pinned site its %rdx names,
 *                        or whose kind or id differ from the pinned ones
 *                        (sbx_pin_check()).
 * @SBX_V_STORE_FULL:     a push that needs a new frame entry, or an SJ_SAVE
 *                        that needs a new record, while all the thread's
 *                        slots (the policy's stack_limit) are in use.
 * @SBX_V_BUFFER:         a buffered event that may not come from the buffer:
 *                        a kind other than LIBC, CALL, RET, TAIL, CB_ENTER
 *                        and CB_EXIT, an id out of range for its kind, or a
 *                        LIBC event of a symbol the policy does not mark
 *                        bufferable (sbx_evbuf_check()); the module also
 *                        uses it for a fault on the buffer.
 */
enum sbx_reason {
	SBX_V_NONE = 0,
	SBX_V_UNKNOWN_KIND = 1,
	SBX_V_ID_RANGE = 2,
	SBX_V_NOT_ALLOWED = 3,
	SBX_V_WRONG_RETURN = 4,
	SBX_V_CANNOT_RETURN = 5,
	SBX_V_NOT_CALLBACK = 6,
	SBX_V_STACK_OVERFLOW = 7,
	SBX_V_NO_SETJMP = 8,
	SBX_V_BAD_STATE = 9,
	SBX_V_SYSCALL_WINDOW = 20,
	SBX_V_EXEC_MAPPING = 21,
	SBX_V_UNPINNED = 22,
	SBX_V_STORE_FULL = 27,
	SBX_V_BUFFER = 29,
};

/**
 * struct sbx_frame - one entry of a thread's stack: @count equal frames.
 * @tag:    SBX_FRAME_ROOT, SBX_FRAME_SITE | site or SBX_FRAME_CALLBACK | function
 *          (never SBX_FRAME_SITE with an NFA blob).
 * @mstate: the frame's frontier, a macro-state of the policy.
 * @saved_window: for a callback frame, the window of the libc call that ran
 *          the callback (struct sbx_thread.window_sym), restored by CB_EXIT;
 *          SBX_WINDOW_NONE in other frames.
 * @count:  how many consecutive logical frames, all equal in the three fields
 *          above, the entry stands for: direct recursion through one site
 *          suspends the same frame again and again, and costs one entry. The
 *          top entry always has @count 1 (specs/kernel-abi.md, "Stepping").
 */
struct sbx_frame {
	sbx_u32 tag;
	sbx_u32 mstate;
	sbx_u32 saved_window;
	sbx_u32 count;
};

/**
 * struct sbx_sj_record - a setjmp that returned 0, in a frame still alive.
 * @number: the setjmp call number.
 * @level:  the logical depth of the frame that made it (1 = root).
 * @entry:  the index of that frame's entry; the frame is the lowest of the
 *          entry's @count (an entry whose top frame holds records never folds
 *          into the one below).
 * @mstate: that frame's macro-state at the time.
 */
struct sbx_sj_record {
	sbx_u32 number;
	sbx_u32 level;
	sbx_u32 entry;
	sbx_u32 mstate;
};

/*
 * One slot of a thread's store: frame entries fill it from the bottom, setjmp
 * records from the top, so one preallocated array of stack_limit slots bounds
 * both together.
 */
union sbx_slot {
	struct sbx_frame frame;
	struct sbx_sj_record sj;
};

_Static_assert(sizeof(struct sbx_frame) == 16, "frame size");
_Static_assert(sizeof(struct sbx_sj_record) == 16, "record size");
_Static_assert(sizeof(union sbx_slot) == 16, "slot size");

/**
 * struct sbx_thread - the monitor state of one thread.
 * @slots:     caller-provided array of at least @capacity slots: entry i is
 *             slots[i].frame (entry @nr_frames - 1 the top), record i (0 the
 *             oldest, lowest) is slots[@capacity - 1 - i].sj.
 * @capacity:  the policy's stack_limit: @nr_frames + @nr_sj never exceed it.
 * @nr_frames: entries in use, 1..@capacity.
 * @nr_sj:     setjmp records in use; their levels never decrease from record
 *             0 up, and none is above @depth.
 * @depth:     the logical depth: the sum of the entries' counts, 1..@max_depth.
 * @max_depth: the policy's max_depth.
 * @window:    the index of the window's system-call set (0 without
 *             SBX_BLOB_F_BOUND).
 * @window_sym: the window: the symbol id of the last LIBC marker,
 *             SBX_WINDOW_START or SBX_WINDOW_NONE.
 * @window_map: the bit map of set @window (of the policy's view; a map that
 *             allows every call without SBX_BLOB_F_BOUND).
 */
struct sbx_thread {
	union sbx_slot *slots;
	sbx_u32 capacity;
	sbx_u32 nr_frames;
	sbx_u32 nr_sj;
	sbx_u32 depth;
	sbx_u32 max_depth;
	sbx_u32 window;
	sbx_u32 window_sym;
	const sbx_u8 *window_map;
};

/* The top entry (a frame of count 1). */
static inline struct sbx_frame *sbx_top(const struct sbx_thread *t)
{
	return &t->slots[t->nr_frames - 1].frame;
}

/* Record @i, 0 the oldest. */
static inline struct sbx_sj_record *sbx_sj(const struct sbx_thread *t, sbx_u32 i)
{
	return &t->slots[t->capacity - 1 - i].sj;
}

/**
 * struct sbx_violation - a refused marker and where the thread was.
 * @reason: an enum sbx_reason.
 * @kind:   the marker's kind, as issued.
 * @id:     the marker's id, as issued.
 * @tag:    the top frame's tag.
 * @mstate: the top frame's macro-state.
 * @depth:  the logical stack depth.
 */
struct sbx_violation {
	sbx_u32 reason;
	sbx_u32 tag;
	sbx_u64 kind;
	sbx_u64 id;
	sbx_u32 mstate;
	sbx_u32 depth;
};

int sbx_thread_init(const struct sbx_policy_view *p, struct sbx_thread *t, union sbx_slot *slots,
		    sbx_u32 capacity);
int sbx_thread_init_new_thread(const struct sbx_policy_view *p, struct sbx_thread *t,
			       union sbx_slot *slots, sbx_u32 capacity);
int sbx_thread_copy(struct sbx_thread *dst, union sbx_slot *slots, sbx_u32 capacity,
		    const struct sbx_thread *src);
int sbx_thread_consistent(const struct sbx_thread *t);
sbx_u32 sbx_thread_tags(const struct sbx_thread *t, sbx_u32 *tags, sbx_u32 n);
void sbx_thread_pop(struct sbx_thread *t);
int sbx_step(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 kind, sbx_u64 id,
	     struct sbx_violation *out);
void sbx_thread_inherit_window(const struct sbx_policy_view *p, struct sbx_thread *t,
			       const struct sbx_thread *creator);
int sbx_resync(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 kind, sbx_u64 id);

static inline const sbx_u8 *sbx_mstate(const struct sbx_policy_view *p, sbx_u32 m)
{
	return p->mstates + (sbx_u64)SBX_BLOB_MSTATE_SIZE * m;
}

static inline int sbx_is_final(const struct sbx_policy_view *p, sbx_u32 m)
{
	return sbx_le32(sbx_mstate(p, m) + 8) & SBX_MSTATE_F_FINAL;
}

/*
 * The target of @key from macro-state @m (< nr_mstates), or -1 if there is
 * none: a binary search in its transitions. Inline: sbx_step_fast() runs it on
 * the kernel's hot path.
 */
static inline long long sbx_lookup(const struct sbx_policy_view *p, sbx_u32 m, sbx_u32 key)
{
	const sbx_u8 *ms = sbx_mstate(p, m);
	sbx_u32 lo = sbx_le32(ms), hi = lo + sbx_le32(ms + 4);

	while (lo < hi) {
		sbx_u32 mid = lo + (hi - lo) / 2;
		const sbx_u8 *t = p->trans + (sbx_u64)SBX_BLOB_TRANS_SIZE * mid;
		sbx_u32 k = sbx_le32(t);

		if (k == key)
			return sbx_le32(t + 4);
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Program code runs: the empty set. */
static inline void sbx_window_none(const struct sbx_policy_view *p, struct sbx_thread *t)
{
	t->window_sym = SBX_WINDOW_NONE;
	t->window = 0;
	t->window_map = p->none_map;
}

static inline sbx_u32 sbx_site_entered(const struct sbx_policy_view *p, sbx_u32 site)
{
	return sbx_le32(p->sites + (sbx_u64)SBX_BLOB_SITE_SIZE * site);
}

/* The records made by frames at logical depth @level or above die. */
static inline void sbx_sj_drop_from(struct sbx_thread *t, sbx_u32 level)
{
	while (t->nr_sj && sbx_sj(t, t->nr_sj - 1)->level >= level)
		t->nr_sj--;
}

/*
 * Can the top frame, with macro-state @mstate, fold into the entry below when a
 * frame is pushed over it? Only if the two are equal and the top frame made no
 * setjmp record: a record's frame stays the lowest of its entry, so that
 * SJ_RESUME finds its depth from the entry alone.
 */
static inline int sbx_can_fold(const struct sbx_thread *t, sbx_u32 mstate)
{
	const struct sbx_frame *top = sbx_top(t), *below;

	if (t->nr_frames < 2)
		return 0;
	if (t->nr_sj && sbx_sj(t, t->nr_sj - 1)->entry == t->nr_frames - 1)
		return 0;
	below = &t->slots[t->nr_frames - 2].frame;
	return below->tag == top->tag && below->mstate == mstate &&
	       below->saved_window == top->saved_window;
}

/* Room for a push that folds (@fold) or needs a new entry; 0 or a reason. */
static inline int sbx_push_check(const struct sbx_thread *t, int fold)
{
	if (t->depth >= t->max_depth)
		return SBX_V_STACK_OVERFLOW;
	if (!fold && t->nr_frames + t->nr_sj >= t->capacity)
		return SBX_V_STORE_FULL;
	return 0;
}

static inline void sbx_push(struct sbx_thread *t, int fold, sbx_u32 tag, sbx_u32 mstate,
			    sbx_u32 saved_window)
{
	struct sbx_frame *f;

	if (fold) {
		/* The top joins the entry below; its slot takes the new frame. */
		t->slots[t->nr_frames - 2].frame.count++;
		f = sbx_top(t);
	} else {
		f = &t->slots[t->nr_frames++].frame;
	}
	f->tag = tag;
	f->mstate = mstate;
	f->saved_window = saved_window;
	f->count = 1;
	t->depth++;
}

/*
 * CALL or TAIL @id from the top frame @top (as for sbx_step_libc()). Returns 0
 * or an enum sbx_reason; changes @t only when it returns 0.
 */
static inline int sbx_step_site(const struct sbx_policy_view *p, struct sbx_thread *t,
				struct sbx_frame *top, sbx_u64 kind, sbx_u64 id)
{
	long long next;
	sbx_u32 entered;
	int fold, reason;

	if (id >= p->nr_sites)
		return SBX_V_ID_RANGE;
	/* The flattened model has no stack: a valid site changes nothing. */
	if (p->flags & SBX_BLOB_F_NFA) {
		sbx_window_none(p, t);
		return 0;
	}
	next = sbx_lookup(p, top->mstate, SBX_KEY_SITE(id));
	if (next < 0)
		return SBX_V_NOT_ALLOWED;
	entered = sbx_site_entered(p, (sbx_u32)id);
	if (kind == SBX_MARK_TAIL) {
		if (!sbx_is_final(p, (sbx_u32)next))
			return SBX_V_NOT_ALLOWED;
		/* The calling frame is replaced: its setjmp buffers are dead. */
		sbx_sj_drop_from(t, t->depth);
		top->mstate = entered;
		sbx_window_none(p, t);
		return 0;
	}
	fold = sbx_can_fold(t, (sbx_u32)next);
	reason = sbx_push_check(t, fold);
	if (reason)
		return reason;
	top->mstate = (sbx_u32)next;
	sbx_push(t, fold, SBX_FRAME_SITE | (sbx_u32)id, entered, SBX_WINDOW_NONE);
	sbx_window_none(p, t);
	return 0;
}

/* RET @id, as sbx_step_site(). */
static inline int sbx_step_ret(const struct sbx_policy_view *p, struct sbx_thread *t,
			       struct sbx_frame *top, sbx_u64 id)
{
	if (id >= p->nr_sites)
		return SBX_V_ID_RANGE;
	if (!(p->flags & SBX_BLOB_F_NFA)) {
		if (top->tag != (SBX_FRAME_SITE | (sbx_u32)id))
			return SBX_V_WRONG_RETURN;
		if (!sbx_is_final(p, top->mstate))
			return SBX_V_CANNOT_RETURN;
		sbx_thread_pop(t);
	}
	sbx_window_none(p, t);
	return 0;
}

/*
 * LIBC @id from the top frame @top (whose macro-state is < nr_mstates): the
 * rule of sbx_step() and sbx_step_fast() alike. Returns 0 or an enum
 * sbx_reason; changes @t only when it returns 0.
 */
static inline int sbx_step_libc(const struct sbx_policy_view *p, struct sbx_thread *t,
				struct sbx_frame *top, sbx_u64 id)
{
	long long next;

	/* Also refuses ids above 32 bits: nr_symbols is a 32-bit count. */
	if (id >= p->nr_symbols)
		return SBX_V_ID_RANGE;
	next = sbx_lookup(p, top->mstate, SBX_KEY_LIBC(id));
	if (next < 0)
		return SBX_V_NOT_ALLOWED;
	top->mstate = (sbx_u32)next;
	/* id < nr_symbols: its set, without sbx_window_set()'s cases. */
	t->window_sym = (sbx_u32)id;
	if (p->flags & SBX_BLOB_F_BOUND) {
		t->window = sbx_le32(p->symsets + 4 * id);
		t->window_map = p->sets + (sbx_u64)SBX_SET_SIZE * t->window;
	}
	return 0;
}

/**
 * sbx_step_fast - the markers of hot loops, inline: LIBC, CALL, TAIL and RET.
 * @p:    the validated policy the thread was set up with.
 * @t:    the thread state.
 * @kind: the marker's kind (%rdi), any value.
 * @id:   the marker's id (%rsi), any value.
 *
 * Decides only markers that sbx_step() allows, by the same rules (the same
 * code: sbx_step_libc(), sbx_step_site(), sbx_step_ret()) and with the same
 * effect on @t; every other marker, allowed or not, is left to sbx_step().
 * Of sbx_step()'s re-validation of the thread state it keeps what its reads
 * and writes rely on: the entries and records inside the slots, the top's
 * macro-state inside the policy. The rest of sbx_thread_consistent() (the
 * depth against the entries and max_depth, the top entry's count of 1) holds
 * by construction, since only the core writes a thread state, and sbx_step()
 * still checks it for every marker it decides. No loop but the binary search
 * (and a pop's or TAIL's dropping of dead setjmp records), no allocation.
 *
 * Return: 0 if the marker is allowed (@t has advanced as sbx_step() would
 * have advanced it), 1 if it is not decided here (@t is unchanged: pass the
 * marker to sbx_step()).
 */
static inline int sbx_step_fast(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 kind,
				sbx_u64 id)
{
	struct sbx_frame *top;

	/* nr_frames in 1..capacity (0 wraps around), the records in the rest. */
	if (t->nr_frames - 1 >= t->capacity || t->nr_sj > t->capacity - t->nr_frames)
		return 1;
	top = sbx_top(t);
	if (top->mstate >= p->nr_mstates)
		return 1;
	switch (kind) {
	case SBX_MARK_LIBC:
		return sbx_step_libc(p, t, top, id) ? 1 : 0;
	case SBX_MARK_CALL:
	case SBX_MARK_TAIL:
		return sbx_step_site(p, t, top, kind, id) ? 1 : 0;
	case SBX_MARK_RET:
		return sbx_step_ret(p, t, top, id) ? 1 : 0;
	}
	return 1;
}

static inline int sbx_map_has(const sbx_u8 *map, sbx_u64 bit)
{
	return map[bit / 8] >> (bit % 8) & 1;
}

/**
 * sbx_syscall_check - may the thread make this system call in its window?
 * @p:    the thread's validated policy.
 * @t:    the thread state.
 * @nr:   the system call number (x86-64), any value.
 * @prot: its third argument (the protection of mmap, mprotect, pkey_mprotect).
 *
 * Without SBX_BLOB_F_BOUND every call is allowed. Otherwise the call must be
 * in the window's set or the ambient set, openat with SBX_OPENAT_WRITE_FLAGS
 * needs SBX_SET_BIT_OPEN_WRITE in the window's set, and mmap, mprotect or pkey_mprotect with
 * SBX_PROT_EXEC must in addition be made in a window whose set has
 * SBX_SET_BIT_EXEC_MAP, and never with SBX_PROT_WRITE as well (W^X)
 * (specs/kernel-abi.md, "System-call binding"). A bit
 * test in the window's map (and in the ambient map when it fails); never
 * changes @t. Inline: it runs on every system call of an enforced thread.
 *
 * Return: 0 if allowed, else SBX_V_SYSCALL_WINDOW or SBX_V_EXEC_MAPPING.
 */
static inline int sbx_syscall_check(const struct sbx_policy_view *p, const struct sbx_thread *t,
				    sbx_u64 nr, sbx_u64 prot)
{
	const sbx_u8 *w = t->window_map;

	if (nr > SBX_SET_NR_MAX)
		return p->flags & SBX_BLOB_F_BOUND ? SBX_V_SYSCALL_WINDOW : 0;
	if (!sbx_map_has(w, nr) && !sbx_map_has(p->ambient_map, nr))
		return SBX_V_SYSCALL_WINDOW;
	/* Most calls have no rule on their arguments: one range test and two compares. */
	if (nr - SBX_NR_MMAP > SBX_NR_MPROTECT - SBX_NR_MMAP && nr != SBX_NR_OPENAT &&
	    nr != SBX_NR_PKEY_MPROTECT)
		return 0;
	/* Opening a file for writing is a right of its own (the ambient set only reads). */
	if (nr == SBX_NR_OPENAT && (prot & SBX_OPENAT_WRITE_FLAGS) &&
	    !sbx_map_has(w, SBX_SET_BIT_OPEN_WRITE))
		return SBX_V_SYSCALL_WINDOW;
	/* Code is mapped only where the window may, and never writable (W^X). */
	if ((nr - SBX_NR_MMAP <= SBX_NR_MPROTECT - SBX_NR_MMAP || nr == SBX_NR_PKEY_MPROTECT) &&
	    (prot & SBX_PROT_EXEC) &&
	    (!sbx_map_has(w, SBX_SET_BIT_EXEC_MAP) ||
	     ((prot & SBX_PROT_WRITE) && (p->flags & SBX_BLOB_F_BOUND))))
		return SBX_V_EXEC_MAPPING;
	return 0;
}

/**
 * sbx_pin_check - is a marker the pinned site it claims to be?
 * @p:    the policy (with the executable's pin table).
 * @bias: the executable's load bias (mm->start_code - @p->text_vaddr at exec).
 * @ip:   the instruction pointer after the marker's syscall instruction.
 * @rdx:  the marker's %rdx: the run-time address of its .sbx_sites entry.
 * @kind: the marker's kind (%rdi).
 * @id:   the marker's id (%rsi).
 *
 * Without SBX_BLOB_F_PINNED every marker passes. Otherwise the entry that
 * %rdx names must exist (inside the table, on an entry boundary), its site
 * must be the 2-byte syscall instruction just executed, and its kind and id
 * must be the marker's (specs/marker-abi.md, "Pinned sites"). O(1), inline:
 * it runs on every marker.
 *
 * Return: 0 or SBX_V_UNPINNED.
 */
static inline int sbx_pin_check(const struct sbx_policy_view *p, sbx_u64 bias, sbx_u64 ip,
				sbx_u64 rdx, sbx_u64 kind, sbx_u64 id)
{
	const sbx_u8 *e;
	sbx_u64 off;

	if (!(p->flags & SBX_BLOB_F_PINNED))
		return 0;
	off = rdx - bias - p->pin_table_vaddr;
	if (off >= p->pin_bytes || (off % SBX_BLOB_PIN_SIZE))
		return SBX_V_UNPINNED;
	e = p->pins + off;
	if (sbx_le64(e) != ip - 2 - bias || sbx_le32(e + 8) != kind || sbx_le32(e + 12) != id)
		return SBX_V_UNPINNED;
	return 0;
}

/* A buffered event word: (u64)kind << 32 | id; 0 is a free slot. */
static inline sbx_u64 sbx_evbuf_kind(sbx_u64 word)
{
	return word >> 32;
}

static inline sbx_u64 sbx_evbuf_id(sbx_u64 word)
{
	return word & 0xffffffffULL;
}

/* Is symbol @sym (< nr_symbols) marked bufferable in a SBX_BLOB_F_BUFFERED blob? */
static inline int sbx_symbol_bufferable(const struct sbx_policy_view *p, sbx_u64 sym)
{
	return sbx_le32(p->bufferable + 4 * (sym / 32)) >> (sym % 32) & 1;
}

/**
 * sbx_evbuf_check - may this word come from the buffer at all?
 * @p:    the thread's validated policy.
 * @word: a non-zero buffered event word, any value.
 *
 * A bufferable kind (LIBC, CALL, RET, TAIL, CB_ENTER, CB_EXIT) with an id in
 * range for it, and for LIBC a symbol with its bufferable bit set: the
 * policy, not the program, says which libc calls may skip their pinned
 * marker. A blob without SBX_BLOB_F_BUFFERED has no bufferable event. O(1).
 *
 * Return: 0 or SBX_V_BUFFER.
 */
static inline int sbx_evbuf_check(const struct sbx_policy_view *p, sbx_u64 word)
{
	sbx_u64 id = sbx_evbuf_id(word);

	if (!(p->flags & SBX_BLOB_F_BUFFERED))
		return SBX_V_BUFFER;
	switch (sbx_evbuf_kind(word)) {
	case SBX_MARK_LIBC:
		return id < p->nr_symbols && sbx_symbol_bufferable(p, id) ? 0 : SBX_V_BUFFER;
	case SBX_MARK_CALL:
	case SBX_MARK_RET:
	case SBX_MARK_TAIL:
		return id < p->nr_sites ? 0 : SBX_V_BUFFER;
	case SBX_MARK_CB_ENTER:
	case SBX_MARK_CB_EXIT:
		return id < p->nr_functions ? 0 : SBX_V_BUFFER;
	}
	return SBX_V_BUFFER;
}

/**
 * sbx_evbuf_step_fast - sbx_evbuf_check() and sbx_step_fast() of one word, inline.
 * @p:    the thread's validated policy.
 * @t:    the thread state.
 * @word: a buffered event word, any value.
 *
 * The drain's loop: a bufferable LIBC word, nearly every buffered event, is
 * tested and stepped with its kind and id checked once; other kinds take
 * the two functions as they are.
 *
 * Return: 0 if the word is allowed (@t advanced), 1 if not or not decided
 * here (@t unchanged): then sbx_evbuf_step() decides and explains.
 */
static inline int sbx_evbuf_step_fast(const struct sbx_policy_view *p, struct sbx_thread *t,
				      sbx_u64 word)
{
	sbx_u64 kind = sbx_evbuf_kind(word), id = sbx_evbuf_id(word);
	struct sbx_frame *top;

	if (kind != SBX_MARK_LIBC)
		return sbx_evbuf_check(p, word) || sbx_step_fast(p, t, kind, id);
	if (!(p->flags & SBX_BLOB_F_BUFFERED) || id >= p->nr_symbols ||
	    !sbx_symbol_bufferable(p, id))
		return 1;
	/* sbx_step_fast()'s test of the thread, then its LIBC case. */
	if (t->nr_frames - 1 >= t->capacity || t->nr_sj > t->capacity - t->nr_frames)
		return 1;
	top = sbx_top(t);
	if (top->mstate >= p->nr_mstates)
		return 1;
	return sbx_step_libc(p, t, top, id) ? 1 : 0;
}

sbx_u32 sbx_evbuf_collect(sbx_u64 *slots, sbx_u64 count, sbx_u32 *end);
int sbx_evbuf_step(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 word,
		   struct sbx_violation *out);
sbx_u32 sbx_evbuf_replay(const struct sbx_policy_view *p, struct sbx_thread *t,
			 const sbx_u64 *events, sbx_u32 n, struct sbx_violation *out);

#endif /* _SBX_MONITOR_H */
