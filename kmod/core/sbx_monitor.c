// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_monitor.c - stepping a thread's Dyck monitor (specs/marker-abi.md,
 * "Meaning to a monitor"; specs/kernel-abi.md, "Stepping").
 *
 * Every frontier the monitor can reach is a macro-state of the blob, so a
 * marker costs at most one binary search in the top macro-state's transitions
 * (or in the callback table) plus O(1) table reads; setjmp markers scan the 16
 * records. A refused marker leaves the thread exactly as it was. In an NFA blob
 * (the flattened model) CALL/RET/TAIL of a valid site are allowed and change
 * nothing; callbacks and setjmp work as in a Dyck blob.
 */
#include "sbx_monitor.h"
#include "sbx_le.h"
#include "../uapi/sbx_marker.h"

static inline const sbx_u8 *sbx_mstate(const struct sbx_policy_view *p, sbx_u32 m)
{
	return p->mstates + (sbx_u64)SBX_BLOB_MSTATE_SIZE * m;
}

static inline int sbx_is_final(const struct sbx_policy_view *p, sbx_u32 m)
{
	return sbx_le32(sbx_mstate(p, m) + 8) & SBX_MSTATE_F_FINAL;
}

/* The target of @key from macro-state @m, or -1 if there is none. */
static long long sbx_lookup(const struct sbx_policy_view *p, sbx_u32 m, sbx_u32 key)
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

/* The entry macro-state of callback @function, or -1 if it is not one. */
static long long sbx_callback(const struct sbx_policy_view *p, sbx_u32 function)
{
	sbx_u32 lo = 0, hi = p->nr_callbacks;

	while (lo < hi) {
		sbx_u32 mid = lo + (hi - lo) / 2;
		const sbx_u8 *c = p->callbacks + (sbx_u64)SBX_BLOB_CALLBACK_SIZE * mid;
		sbx_u32 f = sbx_le32(c);

		if (f == function)
			return sbx_le32(c + 4);
		if (f < function)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static inline sbx_u32 sbx_site_entered(const struct sbx_policy_view *p, sbx_u32 site)
{
	return sbx_le32(p->sites + (sbx_u64)SBX_BLOB_SITE_SIZE * site);
}

/* The set index of window @sym (a symbol id or SBX_WINDOW_*). */
static inline sbx_u32 sbx_window_set(const struct sbx_policy_view *p, sbx_u32 sym)
{
	if (!(p->flags & SBX_BLOB_F_BOUND) || sym == SBX_WINDOW_NONE)
		return 0;
	if (sym == SBX_WINDOW_START)
		return p->start_set;
	if (sym >= p->nr_symbols)
		return 0;
	return sbx_le32(p->symsets + (sbx_u64)4 * sym);
}

static inline const sbx_u8 *sbx_set_map(const struct sbx_policy_view *p, sbx_u32 set)
{
	if (!(p->flags & SBX_BLOB_F_BOUND))
		return p->none_map;	/* sbx_all_calls */
	return p->sets + (sbx_u64)SBX_SET_SIZE * set;
}

static inline void sbx_set_window(const struct sbx_policy_view *p, struct sbx_thread *t,
				  sbx_u32 sym)
{
	t->window_sym = sym;
	t->window = sbx_window_set(p, sym);
	t->window_map = sbx_set_map(p, t->window);
}

/* Program code runs: the empty set. */
static inline void sbx_window_none(const struct sbx_policy_view *p, struct sbx_thread *t)
{
	t->window_sym = SBX_WINDOW_NONE;
	t->window = 0;
	t->window_map = p->none_map;
}

static int sbx_thread_setup(const struct sbx_policy_view *p, struct sbx_thread *t,
			    struct sbx_frame *frames, sbx_u32 capacity, sbx_u32 mstate,
			    sbx_u32 window)
{
	if (!p || !t || !frames || capacity < p->stack_limit || p->stack_limit == 0)
		return -SBX_EINVAL;
	t->frames = frames;
	t->limit = p->stack_limit;
	t->depth = 1;
	t->nr_sj = 0;
	sbx_set_window(p, t, window);
	frames[0].tag = SBX_FRAME_ROOT;
	frames[0].mstate = mstate;
	frames[0].saved_window = SBX_WINDOW_NONE;
	return 0;
}

/**
 * sbx_thread_init - the state of a thread at exec: one root frame at the
 * entry function's initial state, in the start window.
 * @p:        a validated policy.
 * @t:        the thread state to fill.
 * @frames:   an array of @capacity frames the thread will use.
 * @capacity: at least @p->stack_limit.
 *
 * Return: 0, or -SBX_EINVAL if an argument is NULL or @capacity is too small.
 */
int sbx_thread_init(const struct sbx_policy_view *p, struct sbx_thread *t,
		    struct sbx_frame *frames, sbx_u32 capacity)
{
	if (!p)
		return -SBX_EINVAL;
	return sbx_thread_setup(p, t, frames, capacity, p->initial_mstate, SBX_WINDOW_START);
}

/**
 * sbx_thread_init_new_thread - the state of a new thread of a running process:
 * a root frame with the empty frontier, where only CB_ENTER is possible, in
 * window SBX_WINDOW_NONE until sbx_thread_inherit_window() gives it its
 * creator's.
 * @p:        the policy, as for sbx_thread_init().
 * @t:        the thread state to set up.
 * @frames:   its frame array, as for sbx_thread_init().
 * @capacity: frames in @frames, as for sbx_thread_init().
 *
 * Return: 0, or -SBX_EINVAL as for sbx_thread_init().
 */
int sbx_thread_init_new_thread(const struct sbx_policy_view *p, struct sbx_thread *t,
			       struct sbx_frame *frames, sbx_u32 capacity)
{
	if (!p)
		return -SBX_EINVAL;
	return sbx_thread_setup(p, t, frames, capacity, p->thread_mstate, SBX_WINDOW_NONE);
}

/**
 * sbx_thread_copy - the state of a forked child: a copy of the parent's.
 * @dst:      the child's thread state.
 * @frames:   the child's frame array of @capacity frames.
 * @capacity: at least @src->limit.
 * @src:      the parent's thread state.
 *
 * Return: 0, or -SBX_EINVAL if an argument is NULL, @capacity is too small or
 * @src is inconsistent.
 */
int sbx_thread_copy(struct sbx_thread *dst, struct sbx_frame *frames, sbx_u32 capacity,
		    const struct sbx_thread *src)
{
	sbx_u32 i;

	if (!dst || !frames || !src || capacity < src->limit || src->depth == 0 ||
	    src->depth > src->limit || src->nr_sj > SBX_SJ_RECORDS)
		return -SBX_EINVAL;
	for (i = 0; i < src->depth; i++)
		frames[i] = src->frames[i];
	for (i = 0; i < src->nr_sj; i++)
		dst->sj[i] = src->sj[i];
	dst->frames = frames;
	dst->limit = src->limit;
	dst->depth = src->depth;
	dst->nr_sj = src->nr_sj;
	dst->window = src->window;
	dst->window_sym = src->window_sym;
	dst->window_map = src->window_map;
	return 0;
}

/**
 * sbx_thread_inherit_window - a new thread runs in the window of the thread
 * that created it (the libc call that made the clone: pthread_create's set
 * covers the new thread's start in libc).
 * @p:       the policy of both threads.
 * @t:       the new thread's state.
 * @creator: the creating thread's state.
 */
void sbx_thread_inherit_window(const struct sbx_policy_view *p, struct sbx_thread *t,
			       const struct sbx_thread *creator)
{
	sbx_set_window(p, t, creator->window_sym);
}

static void sbx_sj_save(struct sbx_thread *t, sbx_u32 number)
{
	sbx_u32 i, n = 0;

	/* Drop the records this one supersedes, keeping the order of the rest. */
	for (i = 0; i < t->nr_sj; i++) {
		if (t->sj[i].number == number && t->sj[i].depth >= t->depth)
			continue;
		t->sj[n++] = t->sj[i];
	}
	/* Full: forget the oldest. */
	if (n == SBX_SJ_RECORDS) {
		for (i = 1; i < n; i++)
			t->sj[i - 1] = t->sj[i];
		n--;
	}
	t->sj[n].number = number;
	t->sj[n].depth = t->depth;
	t->sj[n].mstate = t->frames[t->depth - 1].mstate;
	t->nr_sj = n + 1;
}

static int sbx_sj_resume(struct sbx_thread *t, sbx_u32 number)
{
	sbx_u32 i;

	for (i = t->nr_sj; i-- > 0;) {
		const struct sbx_sj_record *r = &t->sj[i];

		if (r->number != number || r->depth > t->depth || r->depth == 0)
			continue;
		t->depth = r->depth;
		t->frames[t->depth - 1].mstate = r->mstate;
		return 0;
	}
	return SBX_V_NO_SETJMP;
}

/* Returns 0 or an enum sbx_reason; changes @t only when it returns 0. */
static int sbx_do_step(const struct sbx_policy_view *p, struct sbx_thread *t,
		       sbx_u64 kind, sbx_u64 id)
{
	struct sbx_frame *top = &t->frames[t->depth - 1];
	long long next;
	sbx_u32 entered;

	if (kind < SBX_MARK_LIBC || kind > SBX_MARK_KIND_MAX)
		return SBX_V_UNKNOWN_KIND;
	if (id > SBX_MARK_ID_MAX)
		return SBX_V_ID_RANGE;

	switch (kind) {
	case SBX_MARK_LIBC:
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

	case SBX_MARK_CALL:
	case SBX_MARK_TAIL:
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
			top->mstate = entered;
			sbx_window_none(p, t);
			return 0;
		}
		if (t->depth >= t->limit)
			return SBX_V_STACK_OVERFLOW;
		top->mstate = (sbx_u32)next;
		t->frames[t->depth].tag = SBX_FRAME_SITE | (sbx_u32)id;
		t->frames[t->depth].mstate = entered;
		t->frames[t->depth].saved_window = SBX_WINDOW_NONE;
		t->depth++;
		sbx_window_none(p, t);
		return 0;

	case SBX_MARK_RET:
		if (id >= p->nr_sites)
			return SBX_V_ID_RANGE;
		if (!(p->flags & SBX_BLOB_F_NFA)) {
			if (top->tag != (SBX_FRAME_SITE | (sbx_u32)id))
				return SBX_V_WRONG_RETURN;
			if (!sbx_is_final(p, top->mstate))
				return SBX_V_CANNOT_RETURN;
			t->depth--;
		}
		sbx_window_none(p, t);
		return 0;

	case SBX_MARK_CB_ENTER:
		if (id >= p->nr_functions)
			return SBX_V_ID_RANGE;
		next = sbx_callback(p, (sbx_u32)id);
		if (next < 0)
			return SBX_V_NOT_CALLBACK;
		if (t->depth >= t->limit)
			return SBX_V_STACK_OVERFLOW;
		t->frames[t->depth].tag = SBX_FRAME_CALLBACK | (sbx_u32)id;
		t->frames[t->depth].mstate = (sbx_u32)next;
		t->frames[t->depth].saved_window = t->window_sym;
		t->depth++;
		sbx_window_none(p, t);
		return 0;

	case SBX_MARK_CB_EXIT:
		if (id >= p->nr_functions)
			return SBX_V_ID_RANGE;
		if (top->tag != (SBX_FRAME_CALLBACK | (sbx_u32)id))
			return SBX_V_WRONG_RETURN;
		if (!sbx_is_final(p, top->mstate))
			return SBX_V_CANNOT_RETURN;
		t->depth--;
		sbx_set_window(p, t, top->saved_window);
		return 0;

	case SBX_MARK_SJ_SAVE:
		sbx_sj_save(t, (sbx_u32)id);
		sbx_window_none(p, t);
		return 0;

	case SBX_MARK_SJ_RESUME:
		if (sbx_sj_resume(t, (sbx_u32)id))
			return SBX_V_NO_SETJMP;
		sbx_window_none(p, t);
		return 0;
	}
	return SBX_V_UNKNOWN_KIND;
}

/**
 * sbx_step - feed one marker to a thread's monitor.
 * @p:    the validated policy the thread was set up with.
 * @t:    the thread state.
 * @kind: the marker's kind (%rdi), any value.
 * @id:   the marker's id (%rsi), any value.
 * @out:  if not NULL, filled on a violation: the reason and the thread's top
 *        frame and depth before the marker.
 *
 * Return: 0 if the marker is allowed (@t has advanced), 1 if it is a violation
 * (@t is unchanged).
 */
int sbx_step(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 kind,
	     sbx_u64 id, struct sbx_violation *out)
{
	int reason;

	if (t->depth == 0 || t->depth > t->limit || t->nr_sj > SBX_SJ_RECORDS ||
	    t->frames[t->depth - 1].mstate >= p->nr_mstates)
		reason = SBX_V_BAD_STATE;
	else
		reason = sbx_do_step(p, t, kind, id);
	if (!reason)
		return 0;
	if (out) {
		out->reason = reason;
		out->kind = kind;
		out->id = id;
		out->depth = t->depth;
		if (t->depth && t->depth <= t->limit) {
			out->tag = t->frames[t->depth - 1].tag;
			out->mstate = t->frames[t->depth - 1].mstate;
		} else {
			out->tag = 0;
			out->mstate = 0;
		}
	}
	return 1;
}

