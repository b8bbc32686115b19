// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_task.c - per-thread monitor state, keyed by task_struct.
 *
 * The table is a fixed hash of task pointers; lookups are RCU (the probes
 * disable preemption, which they run with anyway, and which makes a read-side
 * section for call_rcu() without rcu_read_lock()'s out-of-line calls under
 * PREEMPT_RCU), insertions and removals take sbx_task_lock. A thread has a
 * state while it is armed or enforced, from SBX_IOC_ARM (or the fork of an
 * armed or enforced parent) until it exits, or until it execs while enforced.
 * Each state holds a use and a reference of its policy, a reference on the
 * sys_enter probe and one on the module. The use and the module reference go
 * when the state leaves the table; the others in an RCU callback after that,
 * so a lookup never sees a state being reused.
 *
 * Specs: specs/marker-abi.md ("Meaning to a monitor"), specs/kernel-abi.md
 * ("Control interface": thread life cycle, violations, resynchronisation).
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "sbx_dyck.h"

#define SBX_TASK_HASH_BITS	11

static DEFINE_HASHTABLE(sbx_task_table, SBX_TASK_HASH_BITS);
static DEFINE_SPINLOCK(sbx_task_lock);

static atomic_t sbx_nr_enforced = ATOMIC_INIT(0);
static atomic_t sbx_nr_armed = ATOMIC_INIT(0);
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

/* True if any thread is armed or enforced: lets the sched probes skip lookups. */
bool sbx_task_any(void)
{
	return atomic_read(&sbx_nr_armed) || atomic_read(&sbx_nr_enforced);
}

static void sbx_task_insert(struct sbx_task *t)
{
	unsigned long flags;

	if (t->state == SBX_TASK_ENFORCED)
		atomic_inc(&sbx_nr_enforced);
	else
		atomic_inc(&sbx_nr_armed);
	spin_lock_irqsave(&sbx_task_lock, flags);
	hash_add_rcu(sbx_task_table, &t->node, (unsigned long)t->task);
	spin_unlock_irqrestore(&sbx_task_lock, flags);
}

static void sbx_task_release_rcu(struct rcu_head *head)
{
	struct sbx_task *t = container_of(head, struct sbx_task, rcu);
	struct sbx_policy *p = t->policy;

	sbx_policy_slot_put(p, t);
	sbx_policy_put(p);
	sbx_hooks_put();
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
	if (found->state == SBX_TASK_ENFORCED)
		atomic_dec(&sbx_nr_enforced);
	else
		atomic_dec(&sbx_nr_armed);
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

static void sbx_task_setup(struct sbx_task *t, struct task_struct *tsk,
			   struct sbx_policy *p, u8 state, u8 action)
{
	INIT_HLIST_NODE(&t->node);
	INIT_LIST_HEAD(&t->pool_link);
	t->task = tsk;
	t->policy = p;
	t->view = &p->view;
	t->state = state;
	t->action = action;
	t->killed = 0;
	t->lost = 0;
	t->lost_nest = 0;
}

/* Is @tsk armed or enforced? Such a thread may not use the privileged ioctls. */
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
 *
 * The caller has checked that the thread is neither armed nor enforced and
 * that its process has no other thread. Sleeps.
 *
 * Return: 0, -ENOSPC, -ENOMEM, or the error of registering the sys_enter probe.
 */
int sbx_task_arm(struct sbx_policy *p, u32 action)
{
	struct sbx_task *t;
	int ret;

	t = sbx_policy_slot_get(p, true);
	if (IS_ERR(t))
		return PTR_ERR(t);
	ret = sbx_hooks_get();
	if (ret) {
		sbx_policy_slot_put(p, t);
		return ret;
	}
	__module_get(THIS_MODULE);
	sbx_task_setup(t, current, p, SBX_TASK_ARMED, action);
	sbx_task_insert(t);
	return 0;
}

static void sbx_task_fill_record(struct sbx_violation_record *rec,
				 const struct sbx_task *t, struct task_struct *tsk)
{
	memset(rec, 0, sizeof(*rec));
	rec->pid = task_tgid_nr(tsk);
	rec->tid = task_pid_nr(tsk);
	/* Racy against prctl(PR_SET_NAME) as every tracepoint's copy is. */
	memcpy(rec->comm, tsk->comm, min(sizeof(rec->comm), sizeof(tsk->comm)));
	rec->comm[sizeof(rec->comm) - 1] = '\0';
	rec->policy_id = t->policy->id;
	rec->action = t->action;
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
	if (t->action == SBX_ACTION_KILL) {
		rec->flags |= SBX_REC_F_KILLED;
		t->killed = 1;
	}
	sbx_report(rec);
	if (t->action != SBX_ACTION_KILL)
		return;
	if (block)
		sbx_block_syscall(block);
	/* SIGKILL takes the whole thread group down. */
	kill_pid(task_tgid(current), SIGKILL, 1);
}

/*
 * Log mode after a violation: the thread's stack below the failing function
 * is kept, and events are accepted unchecked until the failing frame (the top
 * frame when the violation happened) returns. Calls entered meanwhile are
 * counted so that their returns are not taken for the frame's own; an
 * SJ_RESUME that the core accepts (a setjmp saved before the violation, at or
 * below the current depth) also ends it. See specs/kernel-abi.md.
 */
static void sbx_task_lost_step(struct sbx_task *t, u64 kind, u64 id)
{
	struct sbx_thread *th = &t->thread;
	u32 tag;

	switch (kind) {
	case SBX_MARK_CALL:
	case SBX_MARK_CB_ENTER:
		if (t->lost_nest < U32_MAX)
			t->lost_nest++;
		return;
	case SBX_MARK_RET:
	case SBX_MARK_CB_EXIT:
		if (t->lost_nest) {
			t->lost_nest--;
			return;
		}
		if (kind == SBX_MARK_RET) {
			if (id >= t->view->nr_sites)
				return;
			tag = SBX_FRAME_SITE | (u32)id;
		} else {
			if (id >= t->view->nr_functions)
				return;
			tag = SBX_FRAME_CALLBACK | (u32)id;
		}
		if (th->depth >= 2 && th->depth <= th->limit &&
		    th->frames[th->depth - 1].tag == tag) {
			th->depth--;
			t->lost = 0;
		}
		return;
	case SBX_MARK_SJ_RESUME:
		if (!sbx_step(t->view, th, kind, id, NULL)) {
			t->lost = 0;
			t->lost_nest = 0;
		}
		return;
	default:
		return;
	}
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
	rec.tag = v->tag;
	rec.mstate = v->mstate;
	rec.depth = v->depth;
	rec.flags = SBX_REC_F_MARKER;
	sbx_task_violation(t, &rec, NULL);
	if (t->action == SBX_ACTION_LOG) {
		t->lost = 1;
		t->lost_nest = 0;
		sbx_task_lost_step(t, v->kind, v->id);
	}
}

/**
 * sbx_task_marker - a marker (syscall 999) entered by the current thread.
 * @regs: its registers: %rdi kind, %rsi id.
 *
 * The hot path of an enforced thread: one table lookup and one core step.
 * Preemption is disabled (it already is in a tracepoint probe): that makes
 * the lookup an RCU read-side section without rcu_read_lock()'s calls.
 */
void sbx_task_marker(struct pt_regs *regs)
{
	struct sbx_violation v;
	struct sbx_task *t;

	preempt_disable();
	t = sbx_task_find(current);
	if (!t || t->state != SBX_TASK_ENFORCED)
		goto out;
	__this_cpu_inc(sbx_markers);
	if (unlikely(t->killed | t->lost)) {
		if (!t->killed)
			sbx_task_lost_step(t, regs->di, regs->si);
		goto out;
	}
	if (unlikely(sbx_step(t->view, &t->thread, regs->di, regs->si, &v)))
		sbx_task_marker_refused(t, &v);
out:
	preempt_enable();
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
void sbx_task_syscall(struct pt_regs *regs, long nr, u32 reason, u32 flags)
{
	struct sbx_violation_record rec;
	const struct sbx_frame *top;
	struct sbx_task *t;

	preempt_disable();
	t = sbx_task_find(current);
	if (!t || t->state != SBX_TASK_ENFORCED)
		goto out;
	if (unlikely(t->killed)) {
		sbx_block_syscall(regs);
		goto out;
	}
	sbx_task_fill_record(&rec, t, current);
	rec.reason = reason;
	rec.syscall_nr = (u32)nr;
	rec.flags = flags;
	rec.depth = t->thread.depth;
	if (t->thread.depth && t->thread.depth <= t->thread.limit) {
		top = &t->thread.frames[t->thread.depth - 1];
		rec.tag = top->tag;
		rec.mstate = top->mstate;
	}
	sbx_task_violation(t, &rec, regs);
out:
	preempt_enable();
}

/* The fork probe could not give @child a state: fail closed. */
static void sbx_task_fork_failed(struct sbx_task *pt, struct task_struct *child, int err)
{
	struct sbx_violation_record rec;

	atomic64_inc(&sbx_alloc_failures);
	sbx_task_fill_record(&rec, pt, child);
	rec.reason = SBX_REASON_NO_MEMORY;
	rec.flags = SBX_REC_F_KILLED;
	sbx_report(&rec);
	/*
	 * The child has not run yet; with SIGKILL pending it never reaches
	 * userspace. A new thread takes its whole process with it.
	 */
	send_sig_info(SIGKILL, SEND_SIG_PRIV, child);
	pr_notice_ratelimited("no monitor state for new task %d of policy %u (%d): killed\n",
			      task_pid_nr(child), pt->policy->id, err);
}

/**
 * sbx_task_fork - sched_process_fork: give @child its state.
 * @parent: the forking thread (current).
 * @child:  the new thread or process; it has not run yet.
 *
 * Enforced parent: a new process gets a copy of the parent's state, a new
 * thread starts at the policy's thread_mstate. Armed parent: the child is
 * armed alike. No state can be had: the child is killed.
 */
void sbx_task_fork(struct task_struct *parent, struct task_struct *child)
{
	struct sbx_task *pt, *ct;
	struct sbx_policy *p;
	int ret = 0;

	preempt_disable();
	pt = sbx_task_find(parent);
	if (!pt)
		goto out;
	p = pt->policy;
	ct = sbx_policy_slot_get(p, false);
	if (IS_ERR(ct)) {
		sbx_task_fork_failed(pt, child, PTR_ERR(ct));
		goto out;
	}
	sbx_task_setup(ct, child, p, pt->state, pt->action);
	if (pt->state == SBX_TASK_ENFORCED) {
		if (same_thread_group(parent, child)) {
			ret = sbx_thread_init_new_thread(&p->view, &ct->thread, ct->frames,
							 p->view.stack_limit);
		} else {
			ret = sbx_thread_copy(&ct->thread, ct->frames, p->view.stack_limit,
					      &pt->thread);
			ct->killed = pt->killed;
			ct->lost = pt->lost;
			ct->lost_nest = pt->lost_nest;
		}
	}
	if (WARN_ON_ONCE(ret)) {
		sbx_policy_slot_put(p, ct);
		sbx_task_fork_failed(pt, child, ret);
		goto out;
	}
	sbx_policy_get(p);
	sbx_hooks_get_more();
	__module_get(THIS_MODULE);
	sbx_task_insert(ct);
out:
	preempt_enable();
}

/**
 * sbx_task_exec - sched_process_exec: @tsk (current) has execed successfully.
 * @tsk: the thread.
 *
 * Armed: the new image is enforced from its entry. Enforced: the old policy
 * is dropped with the old image.
 */
void sbx_task_exec(struct task_struct *tsk)
{
	struct sbx_task *t;
	bool drop = false;

	preempt_disable();
	t = sbx_task_find(tsk);
	if (!t)
		goto out;
	if (t->state != SBX_TASK_ARMED) {
		drop = true;
		goto out;
	}
	if (WARN_ON_ONCE(sbx_thread_init(t->view, &t->thread, t->frames,
					 t->view->stack_limit))) {
		/* Cannot happen (the slot fits the policy); fail closed. */
		t->killed = 1;
		kill_pid(task_tgid(tsk), SIGKILL, 1);
	}
	t->lost = 0;
	t->lost_nest = 0;
	t->state = SBX_TASK_ENFORCED;
	atomic_dec(&sbx_nr_armed);
	atomic_inc(&sbx_nr_enforced);
out:
	preempt_enable();
	if (drop)
		sbx_task_remove(tsk);
}

/* sched_process_exit and sched_process_free: forget @tsk. */
void sbx_task_gone(struct task_struct *tsk)
{
	sbx_task_remove(tsk);
}

void sbx_task_stats(u32 *enforced, u32 *armed, u64 *markers, u64 *alloc_failures)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(sbx_markers, cpu);
	*enforced = atomic_read(&sbx_nr_enforced);
	*armed = atomic_read(&sbx_nr_armed);
	*markers = sum;
	*alloc_failures = atomic64_read(&sbx_alloc_failures);
}

int sbx_task_init(void)
{
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
