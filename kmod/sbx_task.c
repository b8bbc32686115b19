// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_task.c - per-thread monitor state, keyed by task_struct.
 *
 * The table is a fixed hash of task pointers; lookups are RCU (the probes
 * disable preemption, which they run with anyway, and which makes a read-side
 * section for call_rcu() without rcu_read_lock()'s out-of-line calls under
 * PREEMPT_RCU), insertions and removals take sbx_task_lock. A thread has a
 * state while it is armed, enforced or unconfined, from SBX_IOC_ARM (or the
 * fork of a parent with a state, or its exec of an executable in the
 * registry) until it exits; an exec replaces an enforced thread's state by
 * the exec transition (enforced with an installed policy, or unconfined), or
 * kills it (specs/kernel-abi.md, "Exec transitions").
 * Each armed or enforced state holds a use and a reference of its policy and
 * one on the module. The use and the module reference go when the state
 * leaves the table; the policy reference in an RCU callback after that, so a
 * lookup never sees a state being reused. An armed or enforced thread has the
 * syscall tracing flag, any other thread not (sbx_hooks.c). An
 * unconfined state has no policy: it is a bare struct sbx_task (kmalloc'd,
 * no frames) holding a module reference only; it exists so that the thread
 * and its descendants are never privileged for /dev/sbx.
 *
 * Specs: specs/marker-abi.md ("Meaning to a monitor"), specs/kernel-abi.md
 * ("Control interface": thread life cycle, violations, resynchronisation).
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/atomic.h>
#include <linux/binfmts.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <asm/compat.h>
#include <asm/fsgsbase.h>
#include <asm/syscall.h>
#include <asm/unistd.h>

#include "sbx_dyck.h"

#define SBX_TASK_HASH_BITS 11

static DEFINE_HASHTABLE(sbx_task_table, SBX_TASK_HASH_BITS);
static DEFINE_SPINLOCK(sbx_task_lock);

static atomic_t sbx_nr_enforced = ATOMIC_INIT(0);
static atomic_t sbx_nr_armed = ATOMIC_INIT(0);
static atomic_t sbx_nr_unconfined = ATOMIC_INIT(0);
static atomic64_t sbx_alloc_failures = ATOMIC64_INIT(0);
static DEFINE_PER_CPU(u64, sbx_markers);

/*
 * The state of @tsk, or NULL. The caller is an RCU reader: rcu_read_lock(),
 * or preemption disabled (as in the probes).
 */
static __always_inline struct sbx_task *sbx_task_find(const struct task_struct *tsk)
{
	struct sbx_task *t;

	hash_for_each_possible_rcu(sbx_task_table, t, node, (unsigned long)tsk)
		if (t->task == tsk)
			return t;
	return NULL;
}

/* True if any thread has a state: lets the sched probes skip lookups. */
bool sbx_task_any(void)
{
	return atomic_read(&sbx_nr_armed) || atomic_read(&sbx_nr_enforced) ||
	       atomic_read(&sbx_nr_unconfined);
}

static atomic_t *sbx_task_counter(u8 state)
{
	switch (state) {
	case SBX_TASK_ENFORCED:
		return &sbx_nr_enforced;
	case SBX_TASK_UNCONFINED:
		return &sbx_nr_unconfined;
	default:
		return &sbx_nr_armed;
	}
}

/* Tries of sbx_task_list() to size its buffer while threads come and go. */
#define SBX_TASK_LIST_TRIES 4

static void sbx_task_insert(struct sbx_task *t)
{
	unsigned long flags;

	atomic_inc(sbx_task_counter(t->state));
	spin_lock_irqsave(&sbx_task_lock, flags);
	hash_add_rcu(sbx_task_table, &t->node, (unsigned long)t->task);
	spin_unlock_irqrestore(&sbx_task_lock, flags);
}

static void sbx_task_release_rcu(struct rcu_head *head)
{
	struct sbx_task *t = container_of(head, struct sbx_task, rcu);
	struct sbx_policy *p = t->policy;

	if (!p) { /* unconfined: no policy */
		kfree(t);
		return;
	}
	sbx_policy_slot_put(p, t);
	sbx_policy_put(p);
}

/* Remove the state of @tsk, if any, and release it after a grace period. */
static void sbx_task_remove(struct task_struct *tsk)
{
	struct sbx_task *t, *found = NULL;
	unsigned long flags;

	spin_lock_irqsave(&sbx_task_lock, flags);
	hash_for_each_possible(sbx_task_table, t, node, (unsigned long)tsk) {
		if (t->task == tsk) {
			hash_del_rcu(&t->node);
			found = t;
			break;
		}
	}
	spin_unlock_irqrestore(&sbx_task_lock, flags);
	if (!found)
		return;
	atomic_dec(sbx_task_counter(found->state));
	if (found->policy)
		sbx_policy_unuse(found->policy);
	call_rcu(&found->rcu, sbx_task_release_rcu);
	/*
	 * The module may go as soon as the last state has left the table (not
	 * only after its release): module exit detaches the probes, waits for
	 * running ones and then for pending releases (rcu_barrier()) before its
	 * code and sbx_wq go away.
	 */
	module_put(THIS_MODULE);
}

static void sbx_task_setup(struct sbx_task *t, struct task_struct *tsk, struct sbx_policy *p,
			   u8 state, u8 action, u8 exec)
{
	INIT_HLIST_NODE(&t->node);
	INIT_LIST_HEAD(&t->pool_link);
	t->task = tsk;
	t->policy = p;
	t->view = p ? &p->view : NULL;
	t->state = state;
	t->action = action;
	t->exec = exec;
	t->killed = 0;
	t->lost = 0;
	t->buffered = p && (p->view.flags & SBX_BLOB_F_BUFFERED);
	t->exe_bound = 0;
	t->lost_nest = 0;
	t->violations = 0;
	local64_set(&t->markers, 0);
	t->unchecked = 0;
	t->install_id = 0;
	t->exe.dev = 0;
	t->exe.ino = 0;
	t->bias = 0;
	/* Never queued here: a queued state is held, not pooled. */
	INIT_LIST_HEAD(&t->kill_rec.link);
	t->kill_rec.kill = 1;
	t->kill_rec.queued = 0;
	t->kill_rec.in_task = 1;
	t->kill_rec.held = 0;
}

/*
 * A new unconfined state for @tsk (not yet in the table), or NULL. Any
 * context. It holds a module reference.
 */
static struct sbx_task *sbx_task_new_unconfined(struct task_struct *tsk)
{
	struct sbx_task *t;

	t = kmalloc(sizeof(*t), GFP_ATOMIC | __GFP_NOWARN);
	if (!t)
		return NULL;
	sbx_task_setup(t, tsk, NULL, SBX_TASK_UNCONFINED, 0, SBX_EXEC_UNCONFINED);
	__module_get(THIS_MODULE);
	return t;
}

/*
 * Is @tsk armed, enforced or unconfined? Such a thread may not use the
 * privileged ioctls.
 */
bool sbx_task_sandboxed(struct task_struct *tsk)
{
	bool ret;

	rcu_read_lock();
	ret = sbx_task_find(tsk) != NULL;
	rcu_read_unlock();
	return ret;
}

/**
 * sbx_task_arm - arm the calling thread with a policy (SBX_IOC_ARM).
 * @p:      the policy; the caller's reference passes to the thread's state
 *          on success.
 * @action: SBX_ACTION_KILL or SBX_ACTION_LOG.
 * @exec:   SBX_EXEC_*: the transition of the enforced image's execs.
 * @exe:    the inode the next exec must run (SBX_ARM_F_EXE), or NULL.
 *
 * The caller has checked that the thread is neither armed nor enforced and
 * that its process has no other thread. Sleeps.
 *
 * Return: 0, -ENOSPC or -ENOMEM.
 */
int sbx_task_arm(struct sbx_policy *p, u32 action, u32 exec, const struct sbx_exe *exe)
{
	struct sbx_task *t;

	t = sbx_policy_slot_get(p, true);
	if (IS_ERR(t))
		return PTR_ERR(t);
	__module_get(THIS_MODULE);
	sbx_task_setup(t, current, p, SBX_TASK_ARMED, action, exec);
	if (exe) {
		t->exe_bound = 1;
		t->exe = *exe;
	}
	sbx_task_insert(t);
	/* Its children copy it; its exec keeps it (enforced from the entry on). */
	sbx_hooks_enforced(current);
	return 0;
}

/* Racy against prctl(PR_SET_NAME) as every tracepoint's copy is. */
static void sbx_copy_comm(char *dst, const struct task_struct *tsk)
{
	BUILD_BUG_ON(sizeof(tsk->comm) != 16);
	memcpy(dst, tsk->comm, 16);
	dst[15] = '\0';
}

static void sbx_fill_record(struct sbx_violation_record *rec, struct task_struct *tsk,
			    u32 policy_id, u32 action)
{
	memset(rec, 0, sizeof(*rec));
	rec->pid = task_tgid_nr(tsk);
	rec->tid = task_pid_nr(tsk);
	sbx_copy_comm(rec->comm, tsk);
	rec->policy_id = policy_id;
	rec->action = action;
}

static void sbx_task_fill_record(struct sbx_violation_record *rec, const struct sbx_task *t,
				 struct task_struct *tsk)
{
	sbx_fill_record(rec, tsk, t->policy ? t->policy->id : 0, t->action);
}

/* The thread's depth, top frame and frame tags (top down) before the event. */
static void sbx_task_fill_stack(struct sbx_violation_record *rec, const struct sbx_task *t)
{
	const struct sbx_thread *th = &t->thread;

	rec->depth = th->depth;
	if (!sbx_thread_consistent(th))
		return;
	rec->tag = sbx_top(th)->tag;
	rec->mstate = sbx_top(th)->mstate;
	sbx_thread_tags(th, rec->stack, SBX_REC_STACK);
}

/*
 * Make the system call being entered harmless. Setting orig_ax to -1 skips it
 * where the entry code re-reads the number after the sys_enter tracepoint
 * (Debian's 6.1.0-56, 6.1.192, does: verified in a guest, the call returns
 * -ENOSYS without effect); older entry code (e.g. 6.6.21's
 * syscall_trace_enter()) runs the number it passed to the tracepoint. So every
 * argument register of both ABIs is also set to -1: io_uring_setup, _enter and
 * _register then fail with EFAULT or EBADF, and a 32-bit syscall gets
 * arguments that are invalid pointers, descriptors, pids and flags. The
 * pending SIGKILL does the rest (fork and exec fail with it pending, and the
 * thread never returns to userspace).
 */
static void sbx_block_syscall(struct pt_regs *regs)
{
	regs->orig_ax = -1;
	regs->di = -1UL;
	regs->si = -1UL;
	regs->dx = -1UL;
	regs->r10 = -1UL;
	regs->r8 = -1UL;
	regs->r9 = -1UL;
	regs->bx = -1UL;
	regs->cx = -1UL;
	regs->bp = -1UL;
}

/* Record a violation of the current thread; with action kill, kill its process. */
static void sbx_task_violation(struct sbx_task *t, struct sbx_violation_record *rec,
			       struct pt_regs *block)
{
	WRITE_ONCE(t->violations, t->violations + 1);
	if (t->action == SBX_ACTION_KILL) {
		rec->flags |= SBX_REC_F_KILLED;
		t->killed = 1;
	}
	sbx_report(t->policy, t, rec);
	if (t->action != SBX_ACTION_KILL)
		return;
	if (block)
		sbx_block_syscall(block);
	/* SIGKILL takes the whole thread group down. */
	kill_pid(task_tgid(current), SIGKILL, 1);
}

/*
 * Log mode after a violation: the thread's stack below the failing function
 * is kept, and events are accepted unchecked until the thread resynchronises
 * (specs/kernel-abi.md, "Log mode"): at the failing frame's nesting (calls
 * entered meanwhile are counted in lost_nest, so that their returns are not
 * taken for the frame's own), a LIBC marker that the policy allows from some
 * state of the top frame's functions (sbx_resync(); the refused marker itself
 * included); the return of the failing frame; or an SJ_RESUME that the core
 * accepts (a setjmp saved before the violation, at or below the current
 * depth). Every other marker is counted in unchecked. @refused: the marker is
 * the one just refused (recorded, so not counted).
 */
static void sbx_task_lost_step(struct sbx_task *t, u64 kind, u64 id, bool refused)
{
	struct sbx_thread *th = &t->thread;
	u32 tag;

	switch (kind) {
	case SBX_MARK_CALL:
	case SBX_MARK_CB_ENTER:
		if (t->lost_nest < U32_MAX)
			t->lost_nest++;
		break;
	case SBX_MARK_RET:
	case SBX_MARK_CB_EXIT:
		if (t->lost_nest) {
			t->lost_nest--;
			break;
		}
		if (kind == SBX_MARK_RET) {
			if (id >= t->view->nr_sites)
				break;
			tag = SBX_FRAME_SITE | (u32)id;
		} else {
			if (id >= t->view->nr_functions)
				break;
			tag = SBX_FRAME_CALLBACK | (u32)id;
		}
		if (th->depth >= 2 && sbx_thread_consistent(th) && sbx_top(th)->tag == tag) {
			sbx_thread_pop(th);
			t->lost = 0;
			return;
		}
		break;
	case SBX_MARK_SJ_RESUME:
		if (!sbx_step(t->view, th, kind, id, NULL)) {
			t->lost = 0;
			t->lost_nest = 0;
			return;
		}
		break;
	case SBX_MARK_LIBC:
		/* Only in the failing frame: a callee's states are not its. */
		if (!t->lost_nest && !sbx_resync(t->view, th, kind, id)) {
			t->lost = 0;
			return;
		}
		break;
	default:
		break;
	}
	if (!refused)
		WRITE_ONCE(t->unchecked, t->unchecked + 1);
}

/* A marker the core refused: record it; kill, or start resynchronising. */
static noinline void sbx_task_marker_refused(struct sbx_task *t, const struct sbx_violation *v)
{
	struct sbx_violation_record rec;

	sbx_task_fill_record(&rec, t, current);
	rec.reason = v->reason;
	rec.syscall_nr = SBX_MARKER_NR;
	rec.kind = v->kind;
	rec.id = v->id;
	/* The core left the thread as it was: its stack is the one before. */
	sbx_task_fill_stack(&rec, t);
	rec.tag = v->tag;
	rec.mstate = v->mstate;
	rec.depth = v->depth;
	rec.flags = SBX_REC_F_MARKER;
	sbx_task_violation(t, &rec, NULL);
	if (t->action == SBX_ACTION_LOG) {
		t->lost = 1;
		t->lost_nest = 0;
		WRITE_ONCE(t->unchecked, 0);
		sbx_task_lost_step(t, v->kind, v->id, true);
	}
}

/*
 * A log-mode thread that is still lost exits or execs after markers went
 * unchecked: say how many since its violation (SBX_REASON_UNRESYNCED), once
 * (a forked child counts its own from the fork; a thread that made none, such
 * as system()'s child on its way to exec, has nothing to report). The
 * caller is an RCU reader; @tsk is the thread (current at exit and exec).
 */
static noinline void sbx_task_unresynced(struct sbx_task *t, struct task_struct *tsk)
{
	struct sbx_violation_record rec;

	sbx_task_fill_record(&rec, t, tsk);
	rec.reason = SBX_REASON_UNRESYNCED;
	rec.id = t->unchecked;
	sbx_task_fill_stack(&rec, t);
	WRITE_ONCE(t->lost, 0);
	/* No deviation of its own: the thread's violations stay as they are. */
	sbx_report(t->policy, t, &rec);
}

/*
 * A marker that is not the pinned site its %rdx names: record it, with the
 * address it came from; kill, or (log mode) ignore the marker.
 */
static noinline void sbx_task_marker_unpinned(struct sbx_task *t, struct pt_regs *regs)
{
	struct sbx_violation_record rec;

	sbx_task_fill_record(&rec, t, current);
	rec.reason = SBX_REASON_UNPINNED;
	rec.syscall_nr = SBX_MARKER_NR;
	rec.kind = regs->di;
	rec.id = regs->si;
	rec.reserved = regs->ip - 2 - t->bias;
	rec.flags = SBX_REC_F_MARKER;
	sbx_task_fill_stack(&rec, t);
	sbx_task_violation(t, &rec, regs);
}

/* A marker of a killed thread (blocked), or of a lost one (pinned, then resync). */
static noinline void sbx_task_marker_slow(struct sbx_task *t, struct pt_regs *regs)
{
	if (t->killed) {
		sbx_block_syscall(regs);
		return;
	}
	if (sbx_pin_check(t->view, t->bias, regs->ip, regs->dx, regs->di, regs->si))
		sbx_task_marker_unpinned(t, regs);
	else
		sbx_task_lost_step(t, regs->di, regs->si, false);
}

/*
 * An allowed marker's answer (specs/marker-abi.md, "Answers"): to a CALL, RET
 * or TAIL in nfa mode, where they change nothing, SBX_MARKER_NO_SITES, so that
 * the program stops issuing them; to anything else nothing, and the system
 * call fails with ENOSYS (SBX_MARKER_KEEP) as without the module. The value
 * only reaches the program when the entry code re-reads the number after the
 * tracepoint and finds -1 (no system call: %rax is returned as it is), as
 * Debian's 6.1 kernel does (sbx_block_syscall()); entry code that does not
 * re-read overwrites %rax with -ENOSYS, and the program keeps every marker.
 */
static __always_inline void sbx_task_marker_answer(struct sbx_task *t, struct pt_regs *regs)
{
	if ((t->view->flags & SBX_BLOB_F_NFA) &&
	    (regs->di == SBX_MARK_CALL || regs->di == SBX_MARK_RET || regs->di == SBX_MARK_TAIL) &&
	    READ_ONCE(sbx_nfa_site_answer)) {
		regs->orig_ax = -1;
		regs->ax = SBX_MARKER_NO_SITES;
	}
}

/*
 * A marker other than an allowed LIBC: CALL, TAIL and RET through
 * sbx_step_fast(), the others (and any refusal) through sbx_step(), which
 * decides on the thread as it was and fills the violation. Out of line, so
 * that the LIBC path needs few registers and has no violation record to clear
 * and no stack canary.
 */
static noinline void sbx_task_marker_step(struct sbx_task *t, struct pt_regs *regs)
{
	struct sbx_violation v;

	if (sbx_step_fast(t->view, &t->thread, regs->di, regs->si) &&
	    sbx_step(t->view, &t->thread, regs->di, regs->si, &v)) {
		sbx_task_marker_refused(t, &v);
		return;
	}
	sbx_task_marker_answer(t, regs);
}

/*
 * A buffered event the core refused, or a buffer the drain could not read or
 * clear (@v NULL: SBX_REASON_BUFFER with kind and id 0 and the buffer's
 * address in @reserved): record it with the system call being entered, and
 * block that call; kill, or (log mode) start resynchronising.
 */
static noinline void sbx_task_event_refused(struct sbx_task *t, const struct sbx_violation *v,
					    struct pt_regs *regs, long nr, unsigned long addr)
{
	struct sbx_violation_record rec;

	sbx_task_fill_record(&rec, t, current);
	rec.syscall_nr = (u32)nr;
	rec.flags = SBX_REC_F_MARKER;
	sbx_task_fill_stack(&rec, t);
	if (v) {
		rec.reason = v->reason;
		rec.kind = v->kind;
		rec.id = v->id;
		rec.tag = v->tag;
		rec.mstate = v->mstate;
		rec.depth = v->depth;
	} else {
		rec.reason = SBX_REASON_BUFFER;
		rec.reserved = addr;
	}
	sbx_task_violation(t, &rec, regs);
	if (t->action != SBX_ACTION_LOG)
		return;
	t->lost = 1;
	t->lost_nest = 0;
	WRITE_ONCE(t->unchecked, 0);
	/* A word the buffer may not carry is no event: it never resynchronises. */
	if (v && v->reason != SBX_V_BUFFER)
		sbx_task_lost_step(t, v->kind, v->id, true);
}

/*
 * Slots [@from, @to) of the user buffer into @slots, one 8-byte load each with
 * page faults disabled: a drain reads a few slots, for which a loop costs less
 * than a string copy (a byte per iteration on CPUs with fast strings).
 */
static __always_inline int sbx_evbuf_read(u64 *slots, struct sbx_evbuf __user *ub, u32 from, u32 to)
{
	u32 i;

	if (!user_access_begin(ub, sizeof(*ub)))
		return -EFAULT;
	for (i = from; i < to; i++)
		unsafe_get_user(slots[i], &ub->ev[i], efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/* Clears the count (and the reserved word) and slots [0, @end). */
static __always_inline int sbx_evbuf_clear(struct sbx_evbuf __user *ub, u32 end)
{
	u32 i;

	if (!user_access_begin(ub, sizeof(*ub)))
		return -EFAULT;
	unsafe_put_user(0ULL, (u64 __user *)ub, efault);
	for (i = 0; i < end; i++)
		unsafe_put_user(0ULL, &ub->ev[i], efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/*
 * sbx_task_drain - replay the current thread's event buffer, at the entry of
 * any system call of an enforced thread of a SBX_BLOB_F_BUFFERED blob, before
 * that call is checked (specs/kernel-abi.md, "Buffered events").
 *
 * The buffer is at the user FS base (live in the CPU during a system call on
 * x86-64) plus the blob's tpoff; with an FS base of 0 there is none. Probes
 * run with preemption disabled, so it is read and cleared with page faults
 * disabled: a buffer that is not mapped, not resident or not writable where
 * it must be written is a violation (SBX_REASON_BUFFER), as is any word the
 * core refuses. The count and slot 0 decide the common case, an empty
 * buffer, inline (sbx_task_drain_check()), which passes the count it read as
 * @head.
 *
 * Only the slots the slot rule can take are read: the counted ones and the
 * one after them, and the rest only when that one is taken (an append a
 * signal interrupted). The count used is the one read first, never a second
 * read: another thread may change it in between, and a larger one would name
 * slots that were not read. The count and the slots taken are then cleared,
 * and at most SBX_EVBUF_CAP events are stepped: inline and without re-testing
 * the thread's flags while every event is allowed, out of line from the first
 * refused one. No allocation, no loop over states.
 */
static noinline void sbx_task_drain(struct sbx_task *t, struct pt_regs *regs, long nr,
				    struct sbx_evbuf __user *ub, u64 head)
{
	const struct sbx_policy_view *p = t->view;
	u32 c = min_t(u32, (u32)head, SBX_EVBUF_CAP);
	u32 nread = min_t(u32, c + 1, SBX_EVBUF_CAP);
	/* Only what is read is used: no need to zero it first. */
	u64 slots[SBX_EVBUF_CAP] __attribute__((__uninitialized__));
	struct sbx_violation v;
	u32 n, end, i = 0;
	int err;
	u64 w;

	pagefault_disable();
	err = sbx_evbuf_read(slots, ub, 0, nread);
	if (!err && unlikely(nread < SBX_EVBUF_CAP && slots[nread - 1]))
		err = sbx_evbuf_read(slots, ub, nread, SBX_EVBUF_CAP);
	if (!err) {
		n = sbx_evbuf_collect(slots, c, &end);
		/* The count and every slot below end: slots there not taken are 0 already. */
		err = sbx_evbuf_clear(ub, end);
	}
	pagefault_enable();
	if (err)
		goto fault;
	if (likely(!t->lost && !t->killed))
		while (i < n && likely(!sbx_evbuf_step_fast(p, &t->thread, slots[i])))
			i++;
	for (; i < n && !t->killed; i++) {
		w = slots[i];
		if (unlikely(t->lost)) {
			if (sbx_evbuf_check(p, w)) {
				v.reason = SBX_V_BUFFER;
				v.kind = sbx_evbuf_kind(w);
				v.id = sbx_evbuf_id(w);
				v.tag = sbx_top(&t->thread)->tag;
				v.mstate = sbx_top(&t->thread)->mstate;
				v.depth = t->thread.depth;
				sbx_task_event_refused(t, &v, regs, nr, 0);
			} else {
				sbx_task_lost_step(t, sbx_evbuf_kind(w), sbx_evbuf_id(w), false);
			}
			continue;
		}
		if (sbx_evbuf_step(p, &t->thread, w, &v))
			sbx_task_event_refused(t, &v, regs, nr, 0);
	}
	return;
fault:
	sbx_task_event_refused(t, NULL, regs, nr, (unsigned long)ub);
}

/*
 * The drain's common case inline: an empty buffer (count 0, slot 0 free) costs
 * the FS base read and two user reads with page faults disabled; anything
 * else, a fault included, goes to sbx_task_drain().
 */
static __always_inline void sbx_task_drain_check(struct sbx_task *t, struct pt_regs *regs, long nr)
{
	unsigned long fs = x86_fsbase_read_cpu();
	struct sbx_evbuf __user *ub;
	u64 head, first;

	/*
	 * No thread pointer yet (from exec until the loader or libc sets it up):
	 * no buffer, and no instrumented code has run.
	 */
	if (!fs)
		return;
	ub = (struct sbx_evbuf __user *)(fs + t->view->evbuf_tpoff);
	/* One user access region for both words. */
	pagefault_disable();
	if (unlikely(!user_access_begin(ub, sizeof(*ub))))
		goto fault;
	unsafe_get_user(head, (u64 __user *)ub, efault);
	unsafe_get_user(first, &ub->ev[0], efault);
	user_access_end();
	pagefault_enable();
	if (likely(!(u32)head && !first))
		return;
	sbx_task_drain(t, regs, nr, ub, head);
	return;
efault:
	user_access_end();
fault:
	pagefault_enable();
	/* The drain finds the fault again and records it. */
	sbx_task_drain(t, regs, nr, ub, 0);
}

/*
 * The pin check and the step of an enforced thread's marker that is neither
 * killed nor lost. Inline in both marker paths (sbx_task_marker() and
 * sbx_task_marker_rare()).
 */
static __always_inline void sbx_task_marker_check(struct sbx_task *t, struct pt_regs *regs)
{
	const struct sbx_policy_view *p = t->view;
	u64 kind = regs->di, id = regs->si;

	if (unlikely(sbx_pin_check(p, t->bias, regs->ip, regs->dx, kind, id))) {
		sbx_task_marker_unpinned(t, regs);
		return;
	}
	/* The constant kind leaves only the LIBC rule inline. */
	if (likely(kind == SBX_MARK_LIBC) &&
	    likely(!sbx_step_fast(p, &t->thread, SBX_MARK_LIBC, id)))
		return;
	sbx_task_marker_step(t, regs);
}

/*
 * A marker of a thread whose struct sbx_task.hot is not SBX_TASK_HOT_PLAIN:
 * not enforced (nothing to do), or enforced with a buffer to drain first, or
 * killed, or lost.
 */
static noinline void sbx_task_marker_rare(struct sbx_task *t, struct pt_regs *regs)
{
	if (t->state != SBX_TASK_ENFORCED)
		return;
	__this_cpu_inc(sbx_markers);
	local64_inc(&t->markers);
	/* The buffered events come before the marker. */
	if (t->buffered && !t->killed)
		sbx_task_drain_check(t, regs, SBX_MARKER_NR);
	if (t->killed | t->lost) {
		sbx_task_marker_slow(t, regs);
		return;
	}
	sbx_task_marker_check(t, regs);
}

/*
 * sbx_task_marker - a marker (syscall 999) entered by the current thread.
 * @regs: its registers: %rdi kind, %rsi id, %rdx its pinned site's entry.
 *
 * The hot path of an enforced thread: one table lookup, one compare of the
 * state word, the pin check (O(1)) and one core step: inline for an allowed
 * LIBC marker (sbx_step_fast()), out of line for the others
 * (sbx_task_marker_step()). A thread that is not enforced, killed, lost or
 * has an event buffer takes sbx_task_marker_rare().
 * Tracepoint probes run with preemption disabled: that makes the lookup an
 * RCU read-side section without rcu_read_lock()'s calls.
 */
static __always_inline void sbx_task_marker(struct pt_regs *regs)
{
	struct sbx_task *t;

	t = sbx_task_find(current);
	if (unlikely(!t))
		return;
	if (unlikely(t->hot != SBX_TASK_HOT_PLAIN)) {
		sbx_task_marker_rare(t, regs);
		return;
	}
	__this_cpu_inc(sbx_markers);
	local64_inc(&t->markers);
	sbx_task_marker_check(t, regs);
}

/* A system call outside the thread's window: record it; kill, or let it run. */
static noinline void sbx_task_syscall_refused(struct sbx_task *t, struct pt_regs *regs, long nr,
					      int reason)
{
	struct sbx_violation_record rec;

	/* Masked calls land here: name them, or let prctl/personality pass. */
	reason = sbx_never_classify(t, regs, nr, reason);
	if (!reason)
		return;
	sbx_task_fill_record(&rec, t, current);
	rec.reason = reason;
	rec.syscall_nr = (u32)nr;
	if (reason == SBX_REASON_FORBIDDEN_SYSCALL && (nr == __NR_prctl || nr == __NR_personality))
		rec.kind = regs->di; /* the option, the persona */
	rec.id = t->thread.window_sym;
	rec.reserved = regs->dx;
	sbx_task_fill_stack(&rec, t);
	sbx_task_violation(t, &rec, regs);
}

/*
 * May this code mapping, which the window allows, be made? Only of a file that
 * nobody can write: mmap with PROT_EXEC of a file opened read-only whose inode
 * no one holds open for writing (not anonymous memory, not a memfd being
 * filled); mprotect to PROT_EXEC only of file mappings whose pages were never
 * written (no anonymous COW pages). Shellcode needs memory it wrote, so it has
 * none (specs/kernel-abi.md, "Executable mappings"). The mmap lock cannot be
 * waited for here (probes run with preemption disabled): if it is taken, the
 * mprotect is refused; nothing but an attack changes code to executable
 * while the loader does not (the loader maps code with mmap).
 */
static noinline bool sbx_exec_mapping_ok(struct pt_regs *regs, long nr)
{
	struct vm_area_struct *vma;
	unsigned long start, end;
	struct file *file;
	bool ok = true;

	if (nr == __NR_mmap) {
		if (regs->r10 & MAP_ANONYMOUS)
			return false;
		file = fget((unsigned int)regs->r8);
		if (!file)
			return true; /* EBADF: the call fails by itself */
		ok = !(file->f_mode & FMODE_WRITE) &&
		     atomic_read(&file_inode(file)->i_writecount) <= 0;
		fput(file);
		return ok;
	}
	start = regs->di;
	if (regs->si > TASK_SIZE || start > TASK_SIZE - regs->si)
		return true; /* EINVAL or ENOMEM: the call fails by itself */
	end = start + PAGE_ALIGN(regs->si);
	if (!mmap_read_trylock(current->mm))
		return false;
	for (vma = find_vma(current->mm, start); vma && vma->vm_start < end;
	     vma = find_vma(current->mm, vma->vm_end)) {
		if (!vma->vm_file || vma->anon_vma ||
		    atomic_read(&file_inode(vma->vm_file)->i_writecount) > 0) {
			ok = false;
			break;
		}
	}
	mmap_read_unlock(current->mm);
	return ok;
}

/*
 * A code mapping the window allows: with a bound blob, also of a file nobody
 * can write (sbx_exec_mapping_ok()), else refused (SBX_V_EXEC_MAPPING). Out
 * of line, so that the probe makes only tail calls.
 */
static noinline void sbx_task_exec_mapping(struct sbx_task *t, struct pt_regs *regs, long nr)
{
	if ((t->view->flags & SBX_BLOB_F_BOUND) && !sbx_exec_mapping_ok(regs, nr))
		sbx_task_syscall_refused(t, regs, nr, SBX_V_EXEC_MAPPING);
}

/*
 * The window check of an enforced thread's system call (neither killed nor
 * lost). Inline in both paths (sbx_task_check_syscall() and
 * sbx_task_check_syscall_rare()).
 *
 * The never-allowed calls are masked out of every window
 * (sbx_never_prepare()), so they cost nothing here: they are refused, and
 * named in the refused path.
 */
static __always_inline void sbx_task_window_check(struct sbx_task *t, struct pt_regs *regs, long nr)
{
	int reason = sbx_syscall_check(t->view, &t->thread, (unsigned long)nr, regs->dx);

	if (unlikely(reason))
		sbx_task_syscall_refused(t, regs, nr, reason);
	else if (unlikely((regs->dx & PROT_EXEC) &&
			  (nr == __NR_mmap || nr == __NR_mprotect || nr == __NR_pkey_mprotect)))
		sbx_task_exec_mapping(t, regs, nr);
}

/*
 * A system call of a thread whose struct sbx_task.hot is not
 * SBX_TASK_HOT_PLAIN: not enforced (nothing to do), or enforced with a buffer
 * to drain first, or killed, or lost. While a log-mode thread resynchronises
 * after a marker violation its window is not known, and only the
 * never-allowed calls are checked.
 */
static noinline void sbx_task_check_syscall_rare(struct sbx_task *t, struct pt_regs *regs, long nr)
{
	if (t->state != SBX_TASK_ENFORCED)
		return;
	/* The buffered events come before the call's check. */
	if (t->buffered && !t->killed)
		sbx_task_drain_check(t, regs, nr);
	if (t->killed) {
		sbx_block_syscall(regs);
		return;
	}
	if (t->lost) {
		if (sbx_never_forbidden(regs, nr))
			sbx_task_syscall_refused(t, regs, nr, SBX_REASON_FORBIDDEN_SYSCALL);
		return;
	}
	sbx_task_window_check(t, regs, nr);
}

/*
 * sbx_task_check_syscall - any system call other than a marker, io_uring or
 * a compat one, entered by the current thread.
 * @regs: its registers (%rdx is the protection of mmap and mprotect).
 * @nr:   the number the sys_enter tracepoint reported.
 *
 * An enforced thread's call must be in its window's set or the ambient set
 * (sbx_syscall_check()). Only armed and enforced threads reach the probe
 * (or every thread while another syscall tracer is attached, "The tracing
 * flag"): a thread without a state costs the lookup.
 */
static noinline notrace void sbx_task_check_syscall(struct pt_regs *regs, long nr)
{
	struct sbx_task *t;

	/* Tracepoint probes run with preemption disabled: an RCU reader. */
	t = sbx_task_find(current);
	if (!t)
		return;
	if (unlikely(t->hot != SBX_TASK_HOT_PLAIN)) {
		sbx_task_check_syscall_rare(t, regs, nr);
		return;
	}
	sbx_task_window_check(t, regs, nr);
}

/**
 * sbx_task_syscall - a system call an enforced thread may not make.
 * @regs:   its registers.
 * @nr:     the number the sys_enter tracepoint reported.
 * @reason: SBX_REASON_COMPAT_SYSCALL or SBX_REASON_IO_URING.
 * @flags:  SBX_REC_F_IA32, SBX_REC_F_X32 or 0.
 *
 * With action kill the call is blocked and the process killed; with action
 * log it is recorded and runs.
 */
static noinline void sbx_task_syscall(struct pt_regs *regs, long nr, u32 reason, u32 flags)
{
	struct sbx_violation_record rec;
	struct sbx_task *t;

	/* The probe runs with preemption disabled: an RCU reader. */
	t = sbx_task_find(current);
	if (!t || t->state != SBX_TASK_ENFORCED)
		return;
	if (unlikely(t->killed)) {
		sbx_block_syscall(regs);
		return;
	}
	sbx_task_fill_record(&rec, t, current);
	rec.reason = reason;
	rec.syscall_nr = (u32)nr;
	rec.flags = flags;
	sbx_task_fill_stack(&rec, t);
	sbx_task_violation(t, &rec, regs);
}

/* Syscalls other than the marker that concern an enforced thread. */
static __always_inline bool sbx_watched_syscall(long id)
{
	return (unsigned long)(id - __NR_io_uring_setup) <= 2 ||
	       (id > 0 && (id & __X32_SYSCALL_BIT));
}

/* Every x86-64 call below io_uring's is an ordinary one: one compare. */
#define SBX_NR_ORDINARY_BELOW __NR_io_uring_setup

/**
 * sbx_probe_sys_enter - the sys_enter tracepoint's probe (sbx_hooks.c attaches
 * it): every system call of an armed or enforced thread ("The tracing flag").
 * @data: unused.
 * @regs: the caller's registers.
 * @id:   the system call number.
 *
 * Markers first (inline: one jump less for the hottest event), then the
 * ordinary calls (one compare for every number below io_uring's, then a tail
 * call), then io_uring and compat calls. Not traced by ftrace (notrace), nor
 * is sbx_task_check_syscall(): they run at every system call of an enforced
 * thread. A thread's state is written only in its own context (struct
 * sbx_task), so the probe reads its state word without READ_ONCE.
 */
notrace void sbx_probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	if (likely(id == SBX_MARKER_NR) && !in_ia32_syscall()) {
		sbx_task_marker(regs);
		return;
	}
	if (likely((unsigned long)id < SBX_NR_ORDINARY_BELOW) && !in_ia32_syscall()) {
		sbx_task_check_syscall(regs, id);
		return;
	}
	if (likely(!sbx_watched_syscall(id) && !in_ia32_syscall())) {
		sbx_task_check_syscall(regs, id);
		return;
	}
	if (in_ia32_syscall())
		sbx_task_syscall(regs, id, SBX_REASON_COMPAT_SYSCALL, SBX_REC_F_IA32);
	else if (id & __X32_SYSCALL_BIT)
		sbx_task_syscall(regs, id, SBX_REASON_COMPAT_SYSCALL, SBX_REC_F_X32);
	else
		sbx_task_syscall(regs, id, SBX_REASON_IO_URING, 0);
}

/**
 * sbx_task_proc_mem_write - the current thread opens a /proc/<pid>/mem file
 * with write access (the mem_open kprobe).
 * @file: the file being opened.
 *
 * An enforced thread may never do so: a record (SBX_REASON_PROC_MEM_WRITE)
 * and, with action kill, the process is killed. Preemption is disabled (a
 * kprobe handler): an RCU reader.
 *
 * Return: true if the open must fail (action kill, or a killed thread).
 */
bool sbx_task_proc_mem_write(struct file *file)
{
	struct sbx_violation_record rec;
	struct sbx_task *t;

	t = sbx_task_find(current);
	if (!t || t->state != SBX_TASK_ENFORCED)
		return false;
	if (t->killed)
		return true;
	sbx_task_fill_record(&rec, t, current);
	rec.reason = SBX_REASON_PROC_MEM_WRITE;
	rec.syscall_nr = (u32)task_pt_regs(current)->orig_ax;
	if (in_ia32_syscall())
		rec.flags |= SBX_REC_F_IA32;
	rec.kind = file->f_flags;
	rec.id = t->thread.window_sym;
	sbx_task_fill_stack(&rec, t);
	sbx_task_violation(t, &rec, NULL);
	return t->action == SBX_ACTION_KILL;
}

/* The fork probe could not give @child a state: fail closed. */
static void sbx_task_fork_failed(struct sbx_task *pt, struct task_struct *child, int err)
{
	struct sbx_violation_record rec;

	atomic64_inc(&sbx_alloc_failures);
	sbx_task_fill_record(&rec, pt, child);
	rec.reason = SBX_REASON_NO_MEMORY;
	rec.flags = SBX_REC_F_KILLED;
	/* The child has no state to hold its record: a slot of the queue. */
	sbx_report(pt->policy, NULL, &rec);
	/*
	 * The child has not run yet; with SIGKILL pending it never reaches
	 * userspace. A new thread takes its whole process with it.
	 */
	send_sig_info(SIGKILL, SEND_SIG_PRIV, child);
	pr_notice_ratelimited("no monitor state for new task %d of policy %u (%d): killed\n",
			      task_pid_nr(child), pt->policy ? pt->policy->id : 0, err);
}

/**
 * sbx_task_fork - sched_process_fork: give @child its state.
 * @parent: the forking thread (current).
 * @child:  the new thread or process; it has not run yet.
 *
 * Enforced parent: a new process gets a copy of the parent's state, a new
 * thread starts at the policy's thread_mstate. Armed parent: the child is
 * armed alike. No state can be had: the child is killed. The child of an
 * armed or enforced parent has the syscall tracing flag in every case (it
 * copied the parent's; set again here, so that it holds whatever the kernel
 * copied).
 *
 * Return: true if the parent is armed or enforced (the child has the flag),
 * false if the child is neither (its flag is the caller's to clear).
 */
bool sbx_task_fork(struct task_struct *parent, struct task_struct *child)
{
	struct sbx_task *pt, *ct;
	struct sbx_policy *p;
	bool enforced = false;
	int ret = 0;

	preempt_disable();
	pt = sbx_task_find(parent);
	if (!pt)
		goto out;
	if (pt->state == SBX_TASK_UNCONFINED) {
		/* Descendants of an unconfined image stay unprivileged. */
		ct = sbx_task_new_unconfined(child);
		if (!ct)
			sbx_task_fork_failed(pt, child, -ENOMEM);
		else
			sbx_task_insert(ct);
		goto out;
	}
	/* Fail closed: even a child that is killed below keeps the flag. */
	enforced = true;
	sbx_hooks_enforced(child);
	p = pt->policy;
	ct = sbx_policy_slot_get(p, false);
	if (IS_ERR(ct)) {
		sbx_task_fork_failed(pt, child, PTR_ERR(ct));
		goto out;
	}
	sbx_task_setup(ct, child, p, pt->state, pt->action, pt->exec);
	ct->install_id = pt->install_id;
	ct->exe_bound = pt->exe_bound;
	ct->exe = pt->exe;
	ct->bias = pt->bias;
	if (pt->state == SBX_TASK_ENFORCED) {
		if (same_thread_group(parent, child)) {
			ret = sbx_thread_init_new_thread(&p->view, &ct->thread, ct->slots,
							 p->view.stack_limit);
			if (!ret)
				sbx_thread_inherit_window(&p->view, &ct->thread, &pt->thread);
		} else {
			ret = sbx_thread_copy(&ct->thread, ct->slots, p->view.stack_limit,
					      &pt->thread);
			ct->killed = pt->killed;
			ct->lost = pt->lost;
			ct->lost_nest = pt->lost_nest;
			/* Its own count: the parent reports the markers before the fork. */
		}
	}
	if (WARN_ON_ONCE(ret)) {
		sbx_policy_slot_put(p, ct);
		sbx_task_fork_failed(pt, child, ret);
		goto out;
	}
	sbx_policy_get(p);
	__module_get(THIS_MODULE);
	sbx_task_insert(ct);
out:
	preempt_enable();
	return enforced;
}

static bool sbx_exe_is(const struct sbx_exe *exe, const struct inode *inode)
{
	return exe->dev == inode->i_sb->s_dev && exe->ino == inode->i_ino;
}

/*
 * The thread starts running a new image: enforce it from its entry, in the
 * start window. The pinned sites are link-time addresses: the load bias is
 * where the kernel put the executable's text (mm->start_code, the lowest
 * executable segment's address) less that segment's link-time address.
 */
static void sbx_task_enforce(struct sbx_task *t, struct task_struct *tsk)
{
	t->bias = tsk->mm ? tsk->mm->start_code - t->view->text_vaddr : 0;
	if (WARN_ON_ONCE(sbx_thread_init(t->view, &t->thread, t->slots, t->view->stack_limit))) {
		/* Cannot happen (the slot fits the policy); fail closed. */
		t->killed = 1;
		kill_pid(task_tgid(tsk), SIGKILL, 1);
	}
	t->lost = 0;
	t->lost_nest = 0;
}

/*
 * Armed with SBX_ARM_F_EXE, the thread execed another file: kill the process
 * before the new image runs, whatever the action.
 */
static void sbx_task_exe_mismatch(struct sbx_task *t, struct task_struct *tsk)
{
	struct sbx_violation_record rec;

	sbx_task_fill_record(&rec, t, tsk);
	rec.reason = SBX_REASON_EXE_MISMATCH;
	rec.flags = SBX_REC_F_KILLED;
	WRITE_ONCE(t->violations, t->violations + 1);
	WRITE_ONCE(t->killed, 1);
	sbx_report(t->policy, t, &rec);
	/* Pending SIGKILL: the thread never returns to userspace. */
	kill_pid(task_tgid(tsk), SIGKILL, 1);
}

/* An armed thread execed: it becomes enforced. */
static void sbx_task_exec_armed(struct sbx_task *t, struct task_struct *tsk,
				const struct inode *inode)
{
	sbx_task_enforce(t, tsk);
	/* Enforced before armed drops: the sum never undercounts the table. */
	atomic_inc(&sbx_nr_enforced);
	WRITE_ONCE(t->state, SBX_TASK_ENFORCED);
	atomic_dec(&sbx_nr_armed);
	sbx_hooks_enforced(tsk); /* set at arm already */
	if (t->exe_bound && !sbx_exe_is(&t->exe, inode))
		sbx_task_exe_mismatch(t, tsk);
}

/* No state for a thread that execed: fail closed. */
static void sbx_task_exec_failed(struct task_struct *tsk, struct sbx_policy *p, u32 action, int err)
{
	struct sbx_violation_record rec;

	atomic64_inc(&sbx_alloc_failures);
	sbx_fill_record(&rec, tsk, p->id, action);
	rec.reason = SBX_REASON_NO_MEMORY;
	rec.flags = SBX_REC_F_KILLED;
	sbx_report(p, NULL, &rec);
	kill_pid(task_tgid(tsk), SIGKILL, 1);
	pr_notice_ratelimited("no monitor state for exec of task %d (policy %u, %d): killed\n",
			      task_pid_nr(tsk), p->id, err);
}

/*
 * @tsk execed @bprm->file, which has registry entry @e: a new state enforcing
 * the entry's policy from the new image's entry, not yet in the table, or
 * NULL when none could be had (the process is then killed). When the inode's
 * stamp is not the entry's, the content is verified before the new image
 * runs (sbx_content_verify_later). @prev is the thread's state before the
 * exec (enforced or unconfined), or NULL. The caller is an RCU reader
 * (preemption disabled), which keeps the entry and its references alive.
 */
static struct sbx_task *sbx_task_exec_installed(struct task_struct *tsk,
						const struct linux_binprm *bprm,
						struct sbx_install *e, const struct sbx_task *prev)
{
	struct sbx_policy *prev_policy = prev ? prev->policy : NULL;
	struct sbx_policy *p = e->policy;
	struct sbx_task *t;
	int ret;

	/* A module being removed enforces nothing any more. */
	if (!try_module_get(THIS_MODULE))
		return NULL;
	t = sbx_policy_slot_get(p, false);
	if (IS_ERR(t)) {
		module_put(THIS_MODULE);
		sbx_task_exec_failed(tsk, p, e->action, PTR_ERR(t));
		return NULL;
	}
	sbx_task_setup(t, tsk, p, SBX_TASK_ENFORCED, e->action, e->exec);
	t->install_id = e->id;
	sbx_task_enforce(t, tsk);
	/* The entry holds both until a grace period after its removal. */
	sbx_policy_get(p);
	if (!e->stamp_ok || !sbx_content_stamp_matches(&e->stamp, file_inode(bprm->file))) {
		ret = sbx_content_verify_later(tsk, bprm->file, e, prev_policy);
		if (ret && ret != -ESRCH) {
			/* Cannot verify: fail closed (the state is kept, killed). */
			t->killed = 1;
			sbx_task_exec_failed(tsk, p, e->action, ret);
		}
	}
	atomic64_inc(&e->execs);
	return t;
}

/*
 * The exec transition of enforced thread @t refuses the exec of @bprm->file:
 * record it (the file, the frame and the window it was made in). With action
 * kill the process is killed before the new image runs and the old state
 * stays (killed); with action log the new image runs unconfined (returned,
 * not yet in the table; NULL if no state can be had: killed).
 */
static struct sbx_task *sbx_task_exec_denied(struct sbx_task *t, struct task_struct *tsk,
					     const struct linux_binprm *bprm)
{
	struct sbx_violation_record rec;
	struct sbx_task *nt;

	sbx_task_fill_record(&rec, t, tsk);
	rec.reason = SBX_REASON_EXEC_DENIED;
	rec.syscall_nr = (u32)syscall_get_nr(tsk, task_pt_regs(tsk));
	rec.id = t->thread.window_sym;
	rec.reserved = t->exec;
	rec.depth = t->thread.depth;
	if (sbx_thread_consistent(&t->thread)) {
		rec.tag = sbx_top(&t->thread)->tag;
		rec.mstate = sbx_top(&t->thread)->mstate;
	}
	sbx_content_path(&rec, bprm->file);
	pr_notice_ratelimited("exec of %s by pid %d (policy %u): %s, %s\n", rec.path,
			      task_tgid_nr(tsk), t->policy->id,
			      t->exec == SBX_EXEC_DENY ? "execs are denied" : "no installed policy",
			      t->action == SBX_ACTION_KILL ? "killed" : "runs unconfined (log)");
	/* Pending SIGKILL: the thread never returns to userspace. */
	sbx_task_violation(t, &rec, NULL);
	if (t->action == SBX_ACTION_KILL)
		return NULL;
	nt = sbx_task_new_unconfined(tsk);
	if (!nt) {
		t->killed = 1;
		sbx_task_exec_failed(tsk, t->policy, t->action, -ENOMEM);
	}
	return nt;
}

/**
 * sbx_task_exec - sched_process_exec: @tsk (current) has execed successfully.
 * @tsk:  the thread.
 * @bprm: the exec; @bprm->file is the file that runs (for a script, its
 *        interpreter).
 *
 * The new image has not run yet. Armed: it is enforced from its entry; with an
 * exe binding the process is killed if another file runs. Enforced: the
 * thread's exec transition (specs/kernel-abi.md, "Exec transitions"):
 * SBX_EXEC_DENY refuses every exec; otherwise an installed file is enforced
 * with its entry's policy, and any other file is refused (SBX_EXEC_REGISTRY)
 * or runs unconfined (SBX_EXEC_UNCONFINED). A refused exec is recorded and
 * kills the process before the new image runs (in log mode, the image runs
 * unconfined). Unconfined or without state: an installed file is enforced
 * with its entry's policy; otherwise nothing changes.
 */
void sbx_task_exec(struct task_struct *tsk, const struct linux_binprm *bprm)
{
	const struct inode *inode = file_inode(bprm->file);
	struct sbx_task *t = NULL, *nt = NULL;
	struct sbx_install *e = NULL;

	preempt_disable();
	if (sbx_task_any())
		t = sbx_task_find(tsk);
	/* The old image's unchecked markers are reported before it goes. */
	if (t && t->state == SBX_TASK_ENFORCED && t->lost && t->unchecked && !t->killed)
		sbx_task_unresynced(t, tsk);
	if (t && t->state == SBX_TASK_ARMED) {
		sbx_task_exec_armed(t, tsk, inode);
		goto out_keep;
	}
	if (t && t->state == SBX_TASK_ENFORCED && t->killed)
		goto out_keep; /* dying: nothing more to decide */
	if (t && t->state == SBX_TASK_ENFORCED && t->exec == SBX_EXEC_DENY) {
		nt = sbx_task_exec_denied(t, tsk, bprm);
		goto out_replace;
	}
	if (sbx_registry_any())
		e = sbx_registry_find(inode);
	if (e) {
		nt = sbx_task_exec_installed(tsk, bprm, e, t);
		/* No state (killed): keep the old one, blocking its events. */
		if (!nt && t && t->state == SBX_TASK_ENFORCED)
			t->killed = 1;
		goto out_replace;
	}
	if (!t || t->state == SBX_TASK_UNCONFINED)
		goto out_keep; /* nothing to enforce: unchanged */
	if (t->exec == SBX_EXEC_UNCONFINED) {
		nt = sbx_task_new_unconfined(tsk);
		if (!nt) {
			t->killed = 1;
			sbx_task_exec_failed(tsk, t->policy, t->action, -ENOMEM);
		}
	} else {
		nt = sbx_task_exec_denied(t, tsk, bprm);
	}
out_replace:
	preempt_enable();
	/* Only this thread changes its own entry: remove, then add. */
	if (nt) {
		if (t)
			sbx_task_remove(tsk);
		sbx_task_insert(nt);
		/*
		 * The new image's first system call is checked; an unconfined
		 * one's are not looked at. Without a new state the old one stays
		 * (killed, enforced): its flag too.
		 */
		if (nt->state == SBX_TASK_ENFORCED)
			sbx_hooks_enforced(tsk);
		else
			sbx_hooks_idle(tsk);
	}
	return;
out_keep:
	preempt_enable();
}

/**
 * sbx_task_rebuilt - the file the current thread execed is not the content its
 * registry entry was installed for: record it and kill the process.
 * @file:      the file exec'd.
 * @policy:    the policy the record names (and whose queue takes it).
 * @action:    the action it names.
 * @err:       0 (another digest) or the error of reading the file.
 *
 * Process context (the task work of sbx_content_verify_later()), before the
 * new image's first instruction; the pending SIGKILL is taken on the way out.
 */
void sbx_task_rebuilt(struct file *file, struct sbx_policy *policy, u32 action, int err)
{
	struct sbx_violation_record rec;
	struct sbx_task *t;

	sbx_fill_record(&rec, current, policy->id, action);
	rec.reason = SBX_REASON_EXE_REBUILT;
	rec.flags = SBX_REC_F_KILLED;
	sbx_content_path(&rec, file);
	rcu_read_lock();
	t = sbx_task_find(current);
	if (t && t->state == SBX_TASK_ENFORCED) {
		WRITE_ONCE(t->violations, t->violations + 1);
		WRITE_ONCE(t->killed, 1);
	}
	rcu_read_unlock();
	sbx_report(policy, NULL, &rec);
	kill_pid(task_tgid(current), SIGKILL, 1);
	pr_notice_ratelimited(
		"%s was rebuilt: its content is not the one its policy was installed for%s (pid %d): killed\n",
		rec.path, err ? " (cannot read it)" : "", task_tgid_nr(current));
}

/*
 * sched_process_exit and sched_process_free: forget @tsk. A log-mode thread
 * that exits still lost, with unchecked markers, first reports them (at exit,
 * as current; its free finds no state any more).
 */
void sbx_task_gone(struct task_struct *tsk)
{
	struct sbx_task *t;

	rcu_read_lock();
	t = sbx_task_find(tsk);
	if (t && READ_ONCE(t->state) == SBX_TASK_ENFORCED && READ_ONCE(t->lost) &&
	    READ_ONCE(t->unchecked) && !READ_ONCE(t->killed) && tsk == current)
		sbx_task_unresynced(t, tsk);
	rcu_read_unlock();
	sbx_task_remove(tsk);
}

void sbx_task_stats(u32 *enforced, u32 *armed, u32 *unconfined, u64 *markers, u64 *alloc_failures)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) sum += per_cpu(sbx_markers, cpu);
	*enforced = atomic_read(&sbx_nr_enforced);
	*armed = atomic_read(&sbx_nr_armed);
	*unconfined = atomic_read(&sbx_nr_unconfined);
	*markers = sum;
	*alloc_failures = atomic64_read(&sbx_alloc_failures);
}

static void sbx_task_entry_fill(struct sbx_task_entry *e, const struct sbx_task *t)
{
	struct task_struct *tsk = t->task;
	u32 flags = 0;

	memset(e, 0, sizeof(*e));
	e->pid = task_tgid_nr(tsk);
	e->tid = task_pid_nr(tsk);
	if (!t->policy) {
		e->state = SBX_STATE_UNCONFINED;
		sbx_copy_comm(e->comm, tsk);
		return;
	}
	e->policy_id = t->policy->id;
	e->state = READ_ONCE(t->state) == SBX_TASK_ENFORCED ? SBX_STATE_ENFORCED : SBX_STATE_ARMED;
	e->mode = t->view->flags & SBX_BLOB_F_NFA ? SBX_MODE_NFA : SBX_MODE_DYCK;
	e->action = t->action;
	e->markers = local64_read(&t->markers);
	e->violations = READ_ONCE(t->violations);
	if (READ_ONCE(t->killed))
		flags |= SBX_TASK_F_KILLED;
	if (READ_ONCE(t->lost))
		flags |= SBX_TASK_F_LOST;
	if (t->install_id)
		flags |= SBX_TASK_F_INSTALLED;
	e->flags = flags;
	sbx_copy_comm(e->comm, tsk);
}

/*
 * Fill up to @cap entries of @buf from the table; return the number of
 * states in it.
 */
static u32 sbx_task_snapshot(struct sbx_task_entry *buf, u32 cap)
{
	struct sbx_task *t;
	unsigned long flags;
	u32 total = 0;
	int bkt;

	spin_lock_irqsave(&sbx_task_lock, flags);
	hash_for_each(sbx_task_table, bkt, t, node) {
		if (total < cap)
			sbx_task_entry_fill(&buf[total], t);
		total++;
	}
	spin_unlock_irqrestore(&sbx_task_lock, flags);
	return total;
}

/**
 * sbx_task_list - a snapshot of the armed and enforced threads (SBX_IOC_TASKS).
 * @ubuf:  the user array.
 * @max:   its capacity in entries.
 * @count: the number of threads; min(@count, @max) entries are written.
 *
 * The entries are collected under the table lock into a kernel buffer sized
 * beforehand, then copied. If threads are created faster than the buffer can
 * be resized, after SBX_TASK_LIST_TRIES tries @count is what was taken.
 * Sleeps.
 *
 * Return: 0, -ENOMEM or -EFAULT.
 */
int sbx_task_list(struct sbx_task_entry __user *ubuf, u32 max, u32 *count)
{
	struct sbx_task_entry *buf = NULL;
	u32 guess, cap = 0, total = 0;
	int tries, ret = 0;

	guess = atomic_read(&sbx_nr_armed) + atomic_read(&sbx_nr_enforced) +
		atomic_read(&sbx_nr_unconfined);
	for (tries = 0; tries < SBX_TASK_LIST_TRIES; tries++) {
		kvfree(buf);
		buf = NULL;
		/* A little slack for threads created meanwhile. */
		cap = min_t(u32, max, guess + 16);
		if (cap) {
			buf = kvmalloc_array(cap, sizeof(*buf), GFP_KERNEL);
			if (!buf)
				return -ENOMEM;
		}
		total = sbx_task_snapshot(buf, cap);
		if (total <= cap || cap == max)
			break;
		guess = total;
	}
	if (total > cap && cap < max)
		total = cap;
	if (cap && copy_to_user(ubuf, buf, min(total, cap) * sizeof(*buf)))
		ret = -EFAULT;
	kvfree(buf);
	*count = total;
	return ret;
}

/**
 * sbx_task_count_installed - processes enforced through registry entries.
 * @ids:       entry ids, ascending.
 * @processes: out: per entry, the enforced threads that were enforced through
 *             it (or forked from one that was) and lead their thread group.
 * @n:         entries of both arrays.
 */
void sbx_task_count_installed(const u64 *ids, u32 *processes, u32 n)
{
	const struct sbx_task *t;
	unsigned long flags;
	u32 lo, hi, mid;
	int bkt;

	if (!n)
		return;
	memset(processes, 0, n * sizeof(*processes));
	spin_lock_irqsave(&sbx_task_lock, flags);
	hash_for_each(sbx_task_table, bkt, t, node) {
		if (!t->install_id || READ_ONCE(t->state) != SBX_TASK_ENFORCED ||
		    task_pid_nr(t->task) != task_tgid_nr(t->task))
			continue;
		lo = 0;
		hi = n;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (ids[mid] < t->install_id)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && ids[lo] == t->install_id)
			processes[lo]++;
	}
	spin_unlock_irqrestore(&sbx_task_lock, flags);
}

int sbx_task_init(void)
{
	/* One compare of struct sbx_task.hot tests the four bytes (x86). */
	BUILD_BUG_ON(!IS_ENABLED(CONFIG_X86_64));
	BUILD_BUG_ON(offsetof(struct sbx_task, state) != offsetof(struct sbx_task, hot));
	BUILD_BUG_ON(offsetof(struct sbx_task, buffered) + 1 !=
		     offsetof(struct sbx_task, hot) + sizeof(u32));
	return 0;
}

/* Module exit, after the probes are gone: wait for the pending releases. */
void sbx_task_exit(void)
{
	struct sbx_task *t;
	struct hlist_node *tmp;
	int bkt;

	rcu_barrier();
	/* Every state holds a module reference, so none can be left. */
	hash_for_each_safe(sbx_task_table, bkt, tmp, t, node) {
		WARN_ONCE(1, "thread state left at exit\n");
		hash_del(&t->node);
	}
}
