// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_monitor.c - stepping a thread's Dyck monitor (specs/marker-abi.md,
 * "Meaning to a monitor"; specs/kernel-abi.md, "Stepping").
 *
 * Every frontier the monitor can reach is a macro-state of the blob, so a
 * marker costs at most one binary search in the top macro-state's transitions
 * (or in the callback table) plus O(1) table reads. Setjmp records live exactly
 * as long as the frame that made them, so they form a stack ordered by depth:
 * a pop drops the records of the popped frame from the top of that stack,
 * SJ_SAVE looks only at the records of the top frame, and SJ_RESUME scans from
 * the top and drops what it passes over (amortised O(1) per record saved).
 * Direct recursion suspends equal frames, which fold into one entry with a
 * count. A refused marker leaves the thread exactly as it was. In an NFA blob
 * (the flattened model) CALL/RET/TAIL of a valid site are allowed and change
 * nothing; callbacks and setjmp work as in a Dyck blob.
 */
#include "sbx_monitor.h"
#include "sbx_le.h"
#include "../uapi/sbx_marker.h"

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
		return p->none_map; /* sbx_all_calls */
	return p->sets + (sbx_u64)SBX_SET_SIZE * set;
}

static inline void sbx_set_window(const struct sbx_policy_view *p, struct sbx_thread *t,
				  sbx_u32 sym)
{
	t->window_sym = sym;
	t->window = sbx_window_set(p, sym);
	t->window_map = sbx_set_map(p, t->window);
}

static int sbx_thread_setup(const struct sbx_policy_view *p, struct sbx_thread *t,
			    union sbx_slot *slots, sbx_u32 capacity, sbx_u32 mstate, sbx_u32 window)
{
	struct sbx_frame *root;

	if (!p || !t || !slots || capacity < p->stack_limit || p->stack_limit == 0 ||
	    p->max_depth == 0)
		return -SBX_EINVAL;
	t->slots = slots;
	t->capacity = p->stack_limit;
	t->max_depth = p->max_depth;
	t->nr_frames = 1;
	t->nr_sj = 0;
	t->depth = 1;
	sbx_set_window(p, t, window);
	root = &slots[0].frame;
	root->tag = SBX_FRAME_ROOT;
	root->mstate = mstate;
	root->saved_window = SBX_WINDOW_NONE;
	root->count = 1;
	return 0;
}

/**
 * sbx_thread_init - the state of a thread at exec: one root frame at the
 * entry function's initial state, in the start window.
 * @p:        a validated policy.
 * @t:        the thread state to fill.
 * @slots:    an array of @capacity slots the thread will use.
 * @capacity: at least @p->stack_limit.
 *
 * Return: 0, or -SBX_EINVAL if an argument is NULL or @capacity is too small.
 */
int sbx_thread_init(const struct sbx_policy_view *p, struct sbx_thread *t, union sbx_slot *slots,
		    sbx_u32 capacity)
{
	if (!p)
		return -SBX_EINVAL;
	return sbx_thread_setup(p, t, slots, capacity, p->initial_mstate, SBX_WINDOW_START);
}

/**
 * sbx_thread_init_new_thread - the state of a new thread of a running process:
 * a root frame with the empty frontier, where only CB_ENTER is possible, in
 * window SBX_WINDOW_NONE until sbx_thread_inherit_window() gives it its
 * creator's.
 * @p:        the policy, as for sbx_thread_init().
 * @t:        the thread state to set up.
 * @slots:    its slot array, as for sbx_thread_init().
 * @capacity: slots in @slots, as for sbx_thread_init().
 *
 * Return: 0, or -SBX_EINVAL as for sbx_thread_init().
 */
int sbx_thread_init_new_thread(const struct sbx_policy_view *p, struct sbx_thread *t,
			       union sbx_slot *slots, sbx_u32 capacity)
{
	if (!p)
		return -SBX_EINVAL;
	return sbx_thread_setup(p, t, slots, capacity, p->thread_mstate, SBX_WINDOW_NONE);
}

/**
 * sbx_thread_consistent - do a thread's counters fit its arrays?
 * @t: the thread state.
 *
 * Checks what every step relies on: at least one entry, entries and records
 * within the slots, a logical depth from the entry count to max_depth, a top
 * entry of count 1. O(1); the contents of the entries are the stepping rules'.
 *
 * Return: 1 if so, else 0.
 */
int sbx_thread_consistent(const struct sbx_thread *t)
{
	return t->nr_frames >= 1 && t->nr_frames <= t->capacity &&
	       t->nr_sj <= t->capacity - t->nr_frames && t->depth >= t->nr_frames &&
	       t->depth <= t->max_depth && sbx_top(t)->count == 1;
}

/**
 * sbx_thread_copy - the state of a forked child: a copy of the parent's.
 * @dst:      the child's thread state.
 * @slots:    the child's slot array of @capacity slots.
 * @capacity: at least @src->capacity.
 * @src:      the parent's thread state.
 *
 * Copies the entries and records in use (at most @src->capacity slots).
 *
 * Return: 0, or -SBX_EINVAL if an argument is NULL, @capacity is too small or
 * @src is inconsistent.
 */
int sbx_thread_copy(struct sbx_thread *dst, union sbx_slot *slots, sbx_u32 capacity,
		    const struct sbx_thread *src)
{
	sbx_u32 i;

	if (!dst || !slots || !src || capacity < src->capacity || !src->slots ||
	    !sbx_thread_consistent(src))
		return -SBX_EINVAL;
	for (i = 0; i < src->nr_frames; i++)
		slots[i] = src->slots[i];
	/* Records sit at the end of the parent's capacity: so they do in the child. */
	for (i = 0; i < src->nr_sj; i++)
		slots[src->capacity - 1 - i] = src->slots[src->capacity - 1 - i];
	dst->slots = slots;
	dst->capacity = src->capacity;
	dst->max_depth = src->max_depth;
	dst->nr_frames = src->nr_frames;
	dst->nr_sj = src->nr_sj;
	dst->depth = src->depth;
	dst->window = src->window;
	dst->window_sym = src->window_sym;
	dst->window_map = src->window_map;
	return 0;
}

/**
 * sbx_thread_tags - the tags of a thread's logical frames, top first.
 * @t:    a consistent thread state.
 * @tags: filled with up to @n tags.
 * @n:    how many are wanted.
 *
 * Folded frames are repeated; costs O(@n).
 *
 * Return: the number of tags written, min(@n, @t->depth).
 */
sbx_u32 sbx_thread_tags(const struct sbx_thread *t, sbx_u32 *tags, sbx_u32 n)
{
	sbx_u32 e = t->nr_frames, k = 0, c;

	while (e-- > 0 && k < n) {
		const struct sbx_frame *f = &t->slots[e].frame;

		for (c = 0; c < f->count && k < n; c++)
			tags[k++] = f->tag;
	}
	return k;
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

/**
 * sbx_thread_pop - pop the top frame (which is not the root) without a check.
 * @t: a consistent thread state with @t->depth >= 2.
 *
 * The frame's setjmp records die with it. If the entry below stands for more
 * than one frame, its top frame becomes an entry of its own (in the popped
 * entry's slot), so the top entry keeps count 1. Used by RET and CB_EXIT after
 * their checks, and by the module's resynchronisation (log mode).
 */
void sbx_thread_pop(struct sbx_thread *t)
{
	struct sbx_frame *top, *below;

	if (t->nr_frames < 2)
		return;
	top = sbx_top(t);
	below = &t->slots[t->nr_frames - 2].frame;
	sbx_sj_drop_from(t, t->depth);
	if (below->count > 1) {
		below->count--;
		*top = *below;
		top->count = 1;
	} else {
		t->nr_frames--;
	}
	t->depth--;
}

/* SJ_SAVE: a re-save of a number in the same frame replaces its record. */
static int sbx_sj_save(struct sbx_thread *t, sbx_u32 number)
{
	struct sbx_sj_record *r;
	sbx_u32 i;

	for (i = t->nr_sj; i-- > 0 && sbx_sj(t, i)->level == t->depth;) {
		r = sbx_sj(t, i);
		if (r->number == number) {
			r->mstate = sbx_top(t)->mstate;
			return 0;
		}
	}
	if (t->nr_frames + t->nr_sj >= t->capacity)
		return SBX_V_STORE_FULL;
	r = sbx_sj(t, t->nr_sj++);
	r->number = number;
	r->level = t->depth;
	r->entry = t->nr_frames - 1;
	r->mstate = sbx_top(t)->mstate;
	return 0;
}

/*
 * SJ_RESUME: the most recent live record of the number. The frames above its
 * frame die, and their records with them (records of its own frame stay).
 */
static int sbx_sj_resume(struct sbx_thread *t, sbx_u32 number)
{
	struct sbx_sj_record r;
	struct sbx_frame *f;
	sbx_u32 i;

	for (i = t->nr_sj; i > 0; i--) {
		if (sbx_sj(t, i - 1)->number == number)
			break;
	}
	if (i == 0)
		return SBX_V_NO_SETJMP;
	r = *sbx_sj(t, i - 1);
	sbx_sj_drop_from(t, r.level + 1);
	t->nr_frames = r.entry + 1;
	t->depth = r.level;
	f = sbx_top(t);
	f->count = 1;
	f->mstate = r.mstate;
	return 0;
}

/* Returns 0 or an enum sbx_reason; changes @t only when it returns 0. */
static int sbx_do_step(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 kind,
		       sbx_u64 id)
{
	struct sbx_frame *top = sbx_top(t);
	long long next;
	int fold, reason;

	if (kind < SBX_MARK_LIBC || kind > SBX_MARK_KIND_MAX)
		return SBX_V_UNKNOWN_KIND;
	if (id > SBX_MARK_ID_MAX)
		return SBX_V_ID_RANGE;

	switch (kind) {
	case SBX_MARK_LIBC:
		return sbx_step_libc(p, t, top, id);

	case SBX_MARK_CALL:
	case SBX_MARK_TAIL:
		return sbx_step_site(p, t, top, kind, id);

	case SBX_MARK_RET:
		return sbx_step_ret(p, t, top, id);

	case SBX_MARK_CB_ENTER:
		if (id >= p->nr_functions)
			return SBX_V_ID_RANGE;
		next = sbx_callback(p, (sbx_u32)id);
		if (next < 0)
			return SBX_V_NOT_CALLBACK;
		fold = sbx_can_fold(t, top->mstate);
		reason = sbx_push_check(t, fold);
		if (reason)
			return reason;
		sbx_push(t, fold, SBX_FRAME_CALLBACK | (sbx_u32)id, (sbx_u32)next, t->window_sym);
		sbx_window_none(p, t);
		return 0;

	case SBX_MARK_CB_EXIT: {
		sbx_u32 saved;

		if (id >= p->nr_functions)
			return SBX_V_ID_RANGE;
		if (top->tag != (SBX_FRAME_CALLBACK | (sbx_u32)id))
			return SBX_V_WRONG_RETURN;
		if (!sbx_is_final(p, top->mstate))
			return SBX_V_CANNOT_RETURN;
		saved = top->saved_window;
		sbx_thread_pop(t);
		sbx_set_window(p, t, saved);
		return 0;
	}

	case SBX_MARK_SJ_SAVE:
		reason = sbx_sj_save(t, (sbx_u32)id);
		if (reason)
			return reason;
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

/* The record of a refused event; the top frame only if the state has one. */
static void sbx_fill_violation(const struct sbx_thread *t, int reason, sbx_u64 kind, sbx_u64 id,
			       struct sbx_violation *out)
{
	if (!out)
		return;
	out->reason = reason;
	out->kind = kind;
	out->id = id;
	out->depth = t->depth;
	if (t->nr_frames >= 1 && t->nr_frames <= t->capacity) {
		out->tag = sbx_top(t)->tag;
		out->mstate = sbx_top(t)->mstate;
	} else {
		out->tag = 0;
		out->mstate = 0;
	}
}

/**
 * sbx_step - feed one marker to a thread's monitor.
 * @p:    the validated policy the thread was set up with.
 * @t:    the thread state.
 * @kind: the marker's kind (%rdi), any value.
 * @id:   the marker's id (%rsi), any value.
 * @out:  if not NULL, filled on a violation: the reason and the thread's top
 *        frame and (logical) depth before the marker.
 *
 * Return: 0 if the marker is allowed (@t has advanced), 1 if it is a violation
 * (@t is unchanged).
 */
int sbx_step(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 kind, sbx_u64 id,
	     struct sbx_violation *out)
{
	int reason;

	if (!sbx_thread_consistent(t) || sbx_top(t)->mstate >= p->nr_mstates)
		reason = SBX_V_BAD_STATE;
	else
		reason = sbx_do_step(p, t, kind, id);
	if (!reason)
		return 0;
	sbx_fill_violation(t, reason, kind, id, out);
	return 1;
}

/**
 * sbx_resync - log mode: may a thread that lost its place resume here?
 * @p:    the validated policy the thread was set up with.
 * @t:    the thread state; its top frame is the frame that was refused an
 *        event (the module calls this only back at that frame's nesting).
 * @kind: the marker's kind, any value.
 * @id:   the marker's id, any value.
 *
 * The rule (specs/kernel-abi.md, "Log mode"): a LIBC marker whose symbol the
 * policy allows from some state of the functions the top frame's frontier is
 * in resumes checking in the frontier of all the states that symbol leads to
 * from any state of those functions. The blob holds that frontier as the
 * target of the LIBC key from the top macro-state's "any" macro-state (the
 * resynchronisation section), so this costs one binary search, like a step;
 * no loop over states, no allocation. The top frame's tag, depth and setjmp
 * records are kept; the window becomes the symbol's, as for an allowed LIBC.
 * Kill mode never calls it: it only widens what log mode watches again.
 *
 * Return: 0 if the thread resumed (@t changed: the top frame's macro-state
 * and the window), 1 if not (@t is unchanged): another kind, an id out of
 * range, an inconsistent state, a frontier without functions (a new
 * thread's root) or a group the blob left out, or a symbol that no state of
 * the functions allows.
 */
int sbx_resync(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 kind, sbx_u64 id)
{
	struct sbx_frame *top;
	sbx_u32 any;
	long long next;

	if (kind != SBX_MARK_LIBC || id >= p->nr_symbols)
		return 1;
	if (!sbx_thread_consistent(t) || sbx_top(t)->mstate >= p->nr_mstates)
		return 1;
	top = sbx_top(t);
	any = sbx_le32(p->resync + (sbx_u64)SBX_BLOB_RESYNC_SIZE * top->mstate);
	if (any == SBX_RESYNC_NONE)
		return 1;
	next = sbx_lookup(p, any, SBX_KEY_LIBC(id));
	if (next < 0)
		return 1;
	top->mstate = (sbx_u32)next;
	sbx_set_window(p, t, (sbx_u32)id);
	return 0;
}

/**
 * sbx_evbuf_collect - the events of a copied buffer, in replay order.
 * @slots: the SBX_EVBUF_CAP slot words as read from the thread's buffer;
 *         on return slots[0..n-1] are the events to replay, in order.
 * @count: the buffer's count as read: a hint the program writes, any value.
 * @end:   set to the number of leading slots the caller must clear in the
 *         buffer (every slot taken is below it; slots below it that were not
 *         taken are 0 already).
 *
 * The slot rule (specs/kernel-abi.md, "Buffered events"): with c = min(count,
 * SBX_EVBUF_CAP), the non-zero slots 0..c-1 in index order, then slots c,
 * c + 1, ... while below SBX_EVBUF_CAP and non-zero: an append that a signal
 * interrupted between its cmpxchg and its count store left its event at
 * index c or above. Bounded: SBX_EVBUF_CAP reads, no allocation.
 *
 * Return: the number of events, 0..SBX_EVBUF_CAP.
 */
sbx_u32 sbx_evbuf_collect(sbx_u64 *slots, sbx_u64 count, sbx_u32 *end)
{
	sbx_u32 c = count < SBX_EVBUF_CAP ? (sbx_u32)count : SBX_EVBUF_CAP;
	sbx_u32 i, n = 0;

	for (i = 0; i < c; i++)
		if (slots[i])
			slots[n++] = slots[i];
	for (; i < SBX_EVBUF_CAP && slots[i]; i++)
		slots[n++] = slots[i];
	*end = i;
	return n;
}

/**
 * sbx_evbuf_step - replay one buffered event.
 * @p:    the validated policy the thread was set up with.
 * @t:    the thread state.
 * @word: the event word, any value.
 * @out:  if not NULL, filled on a violation, as by sbx_step(), with the
 *        word's kind and id.
 *
 * The event is stepped exactly as the synchronous marker (kind, id) would be
 * (sbx_step(): windows included), without the pin check, after
 * sbx_evbuf_check(): a word that may not come from the buffer is refused
 * with SBX_V_BUFFER before anything else.
 *
 * Return: 0 if allowed (@t advanced), 1 if a violation (@t unchanged).
 */
int sbx_evbuf_step(const struct sbx_policy_view *p, struct sbx_thread *t, sbx_u64 word,
		   struct sbx_violation *out)
{
	sbx_u64 kind = sbx_evbuf_kind(word), id = sbx_evbuf_id(word);

	if (!sbx_evbuf_step_fast(p, t, word))
		return 0;
	if (!sbx_evbuf_check(p, word))
		return sbx_step(p, t, kind, id, out);
	sbx_fill_violation(t, SBX_V_BUFFER, kind, id, out);
	return 1;
}

/**
 * sbx_evbuf_replay - replay collected events until the first violation.
 * @p:      the validated policy the thread was set up with.
 * @t:      the thread state.
 * @events: the events (sbx_evbuf_collect()).
 * @n:      how many, at most SBX_EVBUF_CAP.
 * @out:    as for sbx_evbuf_step().
 *
 * Return: @n if every event was allowed, else the index of the refused one
 * (@t has taken the events before it).
 */
sbx_u32 sbx_evbuf_replay(const struct sbx_policy_view *p, struct sbx_thread *t,
			 const sbx_u64 *events, sbx_u32 n, struct sbx_violation *out)
{
	sbx_u32 i;

	for (i = 0; i < n; i++)
		if (sbx_evbuf_step(p, t, events[i], out))
			return i;
	return n;
}
