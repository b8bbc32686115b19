// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_task.c - per-thread monitor state, keyed by task_struct.
 *
 * The table is a fixed hash of task pointers; lookups are RCU (the probes
 * disable preemption, which they run with anyway, and which makes a read-side
 * section for call_rcu() without rcu_read_lock()'s out-of-line calls under
 * PREEMPT_RCU), insertions and removals take sbx_task_lock. A thread has a
 * state while it is armed or enforced, from SBX_IOC_ARM (or the fork of an
 * armed or enforced parent, or its exec of an executable in the registry)
 * until it exits, or until it execs while enforced (an exec of an installed
 * executable then gives it a new state).
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
#include <linux/binfmts.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <asm/syscall.h>
#include <asm/unistd.h>

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

/* Tries of sbx_task_list() to size its buffer while threads come and go. */
#define SBX_TASK_LIST_TRIES	4

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
	t->exe_bound = 0;
	t->lost_nest = 0;
	t->violations = 0;
	t->markers = 0;
	t->install_id = 0;
	t->exe.dev = 0;
	t->exe.ino = 0;
	t->bias = 0;
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
 * @exe:    the inode the next exec must run (SBX_ARM_F_EXE), or NULL.
 *
 * The caller has checked that the thread is neither armed nor enforced and
 * that its process has no other thread. Sleeps.
 *
 * Return: 0, -ENOSPC, -ENOMEM, or the error of registering the sys_enter probe.
 */
int sbx_task_arm(struct sbx_policy *p, u32 action, const struct sbx_exe *exe)
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
	if (exe) {
		t->exe_bound = 1;
		t->exe = *exe;
	}
	sbx_task_insert(t);
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

static void sbx_task_fill_record(struct sbx_violation_record *rec,
				 const struct sbx_task *t, struct task_struct *tsk)
{
	sbx_fill_record(rec, tsk, t->policy->id, t->action);
}

/* The thread's depth, top frame and frame tags (top down) before the event. */
static void sbx_task_fill_stack(struct sbx_violation_record *rec, const struct sbx_task *t)
{
	const struct sbx_thread *th = &t->thread;
	u32 i, n;

	rec->depth = th->depth;
	if (!th->depth || th->depth > th->limit)
		return;
	rec->tag = th->frames[th->depth - 1].tag;
	rec->mstate = th->frames[th->depth - 1].mstate;
	n = min_t(u32, th->depth, SBX_REC_STACK);
	for (i = 0; i < n; i++)
		rec->stack[i] = th->frames[th->depth - 1 - i].tag;
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
		sbx_task_lost_step(t, v->kind, v->id);
	}
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
		sbx_task_lost_step(t, regs->di, regs->si);
}

/**
 * sbx_task_marker - a marker (syscall 999) entered by the current thread.
 * @regs: its registers: %rdi kind, %rsi id, %rdx its pinned site's entry.
 *
 * The hot path of an enforced thread: one table lookup, the pin check (O(1))
 * and one core step.
 * Preemption is disabled (it already is in a tracepoint probe): that makes
 * the lookup an RCU read-side section without rcu_read_lock()'s calls.
 */
void sbx_task_marker(struct pt_regs *regs)
{
	struct sbx_violation v;
	struct sbx_task *t;

	/* Tracepoint probes run with preemption disabled: an RCU reader. */
	t = sbx_task_find(current);
	if (!t || t->state != SBX_TASK_ENFORCED)
		return;
	__this_cpu_inc(sbx_markers);
	WRITE_ONCE(t->markers, t->markers + 1);
	if (unlikely(t->killed | t->lost)) {
		sbx_task_marker_slow(t, regs);
		return;
	}
	if (unlikely(sbx_pin_check(t->view, t->bias, regs->ip, regs->dx, regs->di,
				   regs->si))) {
		sbx_task_marker_unpinned(t, regs);
		return;
	}
	if (unlikely(sbx_step(t->view, &t->thread, regs->di, regs->si, &v)))
		sbx_task_marker_refused(t, &v);
}

/* A system call outside the thread's window: record it; kill, or let it run. */
static noinline void sbx_task_syscall_refused(struct sbx_task *t, struct pt_regs *regs,
					      long nr, int reason)
{
	struct sbx_violation_record rec;

	/* Masked calls land here: name them, or let prctl/personality pass. */
	reason = sbx_never_classify(t, regs, nr, reason);
	if (!reason)
		return;
	sbx_task_fill_record(&rec, t, current);
	rec.reason = reason;
	rec.syscall_nr = (u32)nr;
	if (reason == SBX_REASON_FORBIDDEN_SYSCALL &&
	    (nr == __NR_prctl || nr == __NR_personality))
		rec.kind = regs->di;	/* the option, the persona */
	rec.id = t->thread.window_sym;
	rec.reserved = regs->dx;
	sbx_task_fill_stack(&rec, t);
	sbx_task_violation(t, &rec, regs);
}

/**
 * sbx_task_check_syscall - any system call other than a marker, io_uring or
 * a compat one, entered by the current thread.
 * @regs: its registers (%rdx is the protection of mmap and mprotect).
 * @nr:   the number the sys_enter tracepoint reported.
 *
 * An enforced thread's call must be in its window's set or the ambient set
 * (sbx_syscall_check()). A thread that is not enforced costs the lookup, or
 * one counter read while no thread is enforced.
 * While a log-mode thread resynchronises after a marker violation its window
 * is not known, and only the never-allowed calls are checked.
 */
void sbx_task_check_syscall(struct pt_regs *regs, long nr)
{
	struct sbx_task *t;
	int reason;

	/* Nothing enforced (only armed threads or installed files): no lookup. */
	if (!atomic_read(&sbx_nr_enforced))
		return;
	/* Tracepoint probes run with preemption disabled: an RCU reader. */
	t = sbx_task_find(current);
	if (likely(!t) || t->state != SBX_TASK_ENFORCED)
		return;
	if (unlikely(t->killed | t->lost)) {
		if (t->killed)
			sbx_block_syscall(regs);
		else if (sbx_never_forbidden(regs, nr))
			sbx_task_syscall_refused(t, regs, nr, SBX_REASON_FORBIDDEN_SYSCALL);
		return;
	}
	/*
	 * The never-allowed calls are masked out of every window
	 * (sbx_never_prepare()), so they cost nothing here: they are refused,
	 * and named in the refused path.
	 */
	reason = sbx_syscall_check(t->view, &t->thread, (unsigned long)nr, regs->dx);
	if (unlikely(reason))
		sbx_task_syscall_refused(t, regs, nr, reason);
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
	sbx_task_fill_stack(&rec, t);
	sbx_task_violation(t, &rec, regs);
out:
	preempt_enable();
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
	ct->install_id = pt->install_id;
	ct->exe_bound = pt->exe_bound;
	ct->exe = pt->exe;
	ct->bias = pt->bias;
	if (pt->state == SBX_TASK_ENFORCED) {
		if (same_thread_group(parent, child)) {
			ret = sbx_thread_init_new_thread(&p->view, &ct->thread, ct->frames,
							 p->view.stack_limit);
			if (!ret)
				sbx_thread_inherit_window(&p->view, &ct->thread, &pt->thread);
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
	if (WARN_ON_ONCE(sbx_thread_init(t->view, &t->thread, t->frames,
					 t->view->stack_limit))) {
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
	sbx_report(&rec);
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
	if (t->exe_bound && !sbx_exe_is(&t->exe, inode))
		sbx_task_exe_mismatch(t, tsk);
}

/* No state for a thread that execed an installed executable: fail closed. */
static void sbx_task_install_failed(const struct sbx_install *e, struct task_struct *tsk,
				    int err)
{
	struct sbx_violation_record rec;

	atomic64_inc(&sbx_alloc_failures);
	sbx_fill_record(&rec, tsk, e->policy->id, e->action);
	rec.reason = SBX_REASON_NO_MEMORY;
	rec.flags = SBX_REC_F_KILLED;
	sbx_report(&rec);
	kill_pid(task_tgid(tsk), SIGKILL, 1);
	pr_notice_ratelimited("no monitor state for exec of task %d with policy %u (%d): killed\n",
			      task_pid_nr(tsk), e->policy->id, err);
}

/*
 * A thread that is not armed execed @inode: if the registry has an entry for
 * it, a new state enforcing the entry's policy from the entry, not yet in the
 * table; else NULL. The caller is an RCU reader (preemption disabled), which
 * keeps the entry and its references alive.
 */
static struct sbx_task *sbx_task_exec_installed(struct task_struct *tsk,
						const struct inode *inode)
{
	struct sbx_install *e;
	struct sbx_policy *p;
	struct sbx_task *t;

	e = sbx_registry_find(inode);
	if (!e)
		return NULL;
	/* A module being removed enforces nothing any more. */
	if (!try_module_get(THIS_MODULE))
		return NULL;
	p = e->policy;
	t = sbx_policy_slot_get(p, false);
	if (IS_ERR(t)) {
		module_put(THIS_MODULE);
		sbx_task_install_failed(e, tsk, PTR_ERR(t));
		return NULL;
	}
	sbx_task_setup(t, tsk, p, SBX_TASK_ENFORCED, e->action);
	t->install_id = e->id;
	sbx_task_enforce(t, tsk);
	/* The entry holds both until a grace period after its removal. */
	sbx_policy_get(p);
	sbx_hooks_get_more();
	atomic64_inc(&e->execs);
	return t;
}

/**
 * sbx_task_exec - sched_process_exec: @tsk (current) has execed successfully.
 * @tsk:  the thread.
 * @bprm: the exec; @bprm->file is the file that runs (for a script, its
 *        interpreter).
 *
 * Armed: the new image is enforced from its entry; with an exe binding the
 * process is killed if another file runs. Otherwise, an exec of a file in the
 * registry is enforced with the entry's policy (an enforced thread leaves its
 * old policy for it), and an enforced thread that execs any other file drops
 * its policy with the old image.
 */
void sbx_task_exec(struct task_struct *tsk, const struct linux_binprm *bprm)
{
	const struct inode *inode = file_inode(bprm->file);
	struct sbx_task *t = NULL, *nt = NULL;
	bool drop;

	preempt_disable();
	if (sbx_task_any())
		t = sbx_task_find(tsk);
	if (t && t->state == SBX_TASK_ARMED) {
		sbx_task_exec_armed(t, tsk, inode);
		preempt_enable();
		return;
	}
	drop = t;
	if (sbx_registry_any())
		nt = sbx_task_exec_installed(tsk, inode);
	preempt_enable();
	/* Only this thread changes its own entry: remove, then add. */
	if (drop)
		sbx_task_remove(tsk);
	if (nt)
		sbx_task_insert(nt);
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

static void sbx_task_entry_fill(struct sbx_task_entry *e, const struct sbx_task *t)
{
	struct task_struct *tsk = t->task;
	u32 flags = 0;

	memset(e, 0, sizeof(*e));
	e->pid = task_tgid_nr(tsk);
	e->tid = task_pid_nr(tsk);
	e->policy_id = t->policy->id;
	e->state = READ_ONCE(t->state) == SBX_TASK_ENFORCED ? SBX_STATE_ENFORCED
							     : SBX_STATE_ARMED;
	e->mode = t->view->flags & SBX_BLOB_F_NFA ? SBX_MODE_NFA : SBX_MODE_DYCK;
	e->action = t->action;
	e->markers = READ_ONCE(t->markers);
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

	guess = atomic_read(&sbx_nr_armed) + atomic_read(&sbx_nr_enforced);
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
