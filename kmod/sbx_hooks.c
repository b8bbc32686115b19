// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_hooks.c - the tracepoint probes: sys_enter, sched_process_fork,
 * sched_process_exec, sched_process_exit and sched_process_free.
 *
 * The tracepoints are looked up by name with for_each_kernel_tracepoint()
 * (the sched ones are not exported to modules) and attached with
 * tracepoint_probe_register(); no kernel patch is needed.
 *
 * Cost for threads that are not sandboxed. The sched probes are registered at
 * load and return after two atomic reads while no thread is armed or enforced
 * (the exec probe after three while the registry is empty).
 * The sys_enter probe is registered at load too, and stays until unload:
 * attaching it at run time patched the syscall entry's static key under
 * running programs, which hung guest CPUs (sbx_hooks_init()).
 *
 * The per-thread flag. The kernel calls the sys_enter tracepoint only for
 * threads with SYSCALL_WORK_SYSCALL_TRACEPOINT in their syscall_work; the
 * first registration of sys_enter or sys_exit sets it on every thread
 * (syscall_regfunc()), and a new task copies it from the task that creates it
 * (syscall_tracepoint_update() in copy_process()). The module makes the flag
 * mean "armed or enforced" (specs/kernel-abi.md, "The tracing flag"):
 *  - after its registration it clears the flag of every thread (none is
 *    armed or enforced at load);
 *  - the fork probe, which runs after copy_process() and before the child
 *    first runs, sets it on a child given an armed or enforced state and
 *    clears it on any other child;
 *  - SBX_IOC_ARM sets it on the calling thread, an exec that enforces a thread
 *    sets it, an exec into an unconfined image clears it.
 * Nothing else clears the flag while sys_enter is registered (the kernel's
 * syscall_unregfunc() clears it only when the last syscall tracepoint user
 * goes), so an armed or enforced thread always has it: its flag is set in its
 * own context or before it first runs, and a new thread or process of an
 * armed or enforced one copies it anyway. Other threads never take the slow
 * path because of the module.
 *
 * Other users of the syscall tracepoints (perf, ftrace, BPF) rely on the
 * kernel setting the flag everywhere. While one is attached the module leaves
 * every flag set ("unmanaged"): at load if sys_enter or sys_exit already has
 * a probe, and from the moment another probe registers on either of them (a
 * kprobe on the tracepoint_probe_register*() functions sets every thread's
 * flag before the registration proceeds). That lasts until the module is
 * unloaded: the cost for idle threads is then the kernel's own while tracing.
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/atomic.h>
#include <linux/kprobes.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/thread_info.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>
#include <asm/syscall.h>
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/mman.h>

#include <trace/events/sched.h>
#include <trace/events/syscalls.h>

#include "sbx_dyck.h"

struct sbx_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;
	bool registered;
};

static void sbx_probe_fork(void *data, struct task_struct *parent, struct task_struct *child);
static void sbx_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
			   struct linux_binprm *bprm);
static void sbx_probe_exit(void *data, struct task_struct *p);
static void sbx_probe_free(void *data, struct task_struct *p);

enum { SBX_TP_SYS_ENTER, SBX_TP_FORK, SBX_TP_EXEC, SBX_TP_EXIT, SBX_TP_FREE, SBX_TP_NR };

static struct sbx_tp sbx_tps[SBX_TP_NR] = {
	[SBX_TP_SYS_ENTER] = { "sys_enter", sbx_probe_sys_enter },
	[SBX_TP_FORK] = { "sched_process_fork", sbx_probe_fork },
	[SBX_TP_EXEC] = { "sched_process_exec", sbx_probe_exec },
	[SBX_TP_EXIT] = { "sched_process_exit", sbx_probe_exit },
	[SBX_TP_FREE] = { "sched_process_free", sbx_probe_free },
};

static void sbx_probe_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	/* The child has not run yet: its flag is right before its first call. */
	if (sbx_task_any() && sbx_task_fork(parent, child))
		return;
	sbx_hooks_idle(child);
}

static void sbx_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
			   struct linux_binprm *bprm)
{
	if (sbx_task_any() || sbx_registry_any())
		sbx_task_exec(p, bprm);
}

static void sbx_probe_exit(void *data, struct task_struct *p)
{
	if (sbx_task_any())
		sbx_task_gone(p);
}

static void sbx_probe_free(void *data, struct task_struct *p)
{
	if (sbx_task_any())
		sbx_task_gone(p);
}

/* sys_exit: no probe of ours, but its users need the flag too. */
static struct tracepoint *sbx_tp_sys_exit;

static void sbx_find_tp(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < SBX_TP_NR; i++)
		if (!sbx_tps[i].tp && !strcmp(tp->name, sbx_tps[i].name))
			sbx_tps[i].tp = tp;
	if (!sbx_tp_sys_exit && !strcmp(tp->name, "sys_exit"))
		sbx_tp_sys_exit = tp;
}

/*
 * 1 while the module manages the flags (clears them on idle threads); 0 from
 * load when it cannot, or from the moment another syscall tracepoint user
 * registers, until unload. Written with full barriers on both sides (see
 * sbx_hooks_idle()).
 */
static int sbx_flags_managed;

/**
 * sbx_hooks_enforced - @tsk is armed or enforced: its system calls must reach
 * the sys_enter probe from its next one on.
 * @tsk: current, or a new task that has not run yet.
 *
 * Any context.
 */
void sbx_hooks_enforced(struct task_struct *tsk)
{
	set_task_syscall_work(tsk, SYSCALL_TRACEPOINT);
}

/**
 * sbx_hooks_idle - @tsk is neither armed nor enforced: take it off the syscall
 * tracing path, unless another tracepoint user needs it there.
 * @tsk: current, a new task that has not run yet, or any thread at load.
 *
 * Never called for an armed or enforced thread. Against a concurrent
 * sbx_hooks_unmanage(): either this sees sbx_flags_managed still 1 after its
 * clear, and then that walk's set comes later, or it sees 0 and sets the flag
 * back itself (both sides order their accesses with full barriers).
 * Any context.
 */
void sbx_hooks_idle(struct task_struct *tsk)
{
	if (!READ_ONCE(sbx_flags_managed))
		return;
	clear_task_syscall_work(tsk, SYSCALL_TRACEPOINT);
	smp_mb__after_atomic();
	if (unlikely(!READ_ONCE(sbx_flags_managed)))
		set_task_syscall_work(tsk, SYSCALL_TRACEPOINT);
}

/*
 * Another user of the syscall tracepoints: give every thread its flag back,
 * as the kernel would have, and stop clearing flags until unload. A thread
 * created meanwhile is in the task list before its fork probe, which sees
 * sbx_flags_managed 0 (or this walk sees it). Any context (RCU walk).
 */
static void sbx_hooks_unmanage(const char *why)
{
	struct task_struct *p, *t;

	if (xchg(&sbx_flags_managed, 0))
		pr_info("%s: every thread keeps the syscall tracing path until the module is unloaded\n",
			why);
	smp_mb();
	rcu_read_lock();
	for_each_process_thread(p, t)
		set_task_syscall_work(t, SYSCALL_TRACEPOINT);
	rcu_read_unlock();
}

/*
 * Has a syscall tracepoint a probe that is not ours? The caller is an RCU-sched
 * reader of the tracepoints' probe arrays.
 */
static bool sbx_tracepoints_foreign(void)
{
	struct tracepoint_func *f;

	if (static_key_enabled(&sbx_tp_sys_exit->key))
		return true;
	f = rcu_dereference_sched(sbx_tps[SBX_TP_SYS_ENTER].tp->funcs);
	for (; f && f->func; f++)
		if (f->func != (void *)sbx_probe_sys_enter)
			return true;
	return false;
}

/*
 * tracepoint_probe_register(tp, probe, data), _prio(tp, probe, data, prio) and
 * _prio_may_exist(tp, probe, data, prio): before another probe is added to
 * sys_enter or sys_exit (the kernel's syscall_regfunc() sets the flags only
 * for the first probe of either, which ours is).
 */
static int sbx_tp_register_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct tracepoint *tp = (struct tracepoint *)regs->di;

	if (tp == sbx_tp_sys_exit ||
	    (tp == sbx_tps[SBX_TP_SYS_ENTER].tp && (void *)regs->si != (void *)sbx_probe_sys_enter))
		sbx_hooks_unmanage(tp->name);
	return 0;
}

static struct kprobe sbx_kp_tp_register[] = {
	{ .symbol_name = "tracepoint_probe_register", .pre_handler = sbx_tp_register_pre },
	{ .symbol_name = "tracepoint_probe_register_prio", .pre_handler = sbx_tp_register_pre },
	{ .symbol_name = "tracepoint_probe_register_prio_may_exist",
	  .pre_handler = sbx_tp_register_pre },
};

static struct kprobe *sbx_kp_tp[ARRAY_SIZE(sbx_kp_tp_register)];
static bool sbx_kp_tp_registered;

static int sbx_tp_register(struct sbx_tp *t)
{
	int ret = tracepoint_probe_register(t->tp, t->probe, NULL);

	if (ret)
		pr_err("cannot attach to tracepoint %s: %d\n", t->name, ret);
	else
		t->registered = true;
	return ret;
}

static void sbx_tp_unregister(struct sbx_tp *t)
{
	if (!t->registered)
		return;
	WARN_ON(tracepoint_probe_unregister(t->tp, t->probe, NULL));
	t->registered = false;
}

/*
 * Attach the kprobes that see other syscall tracepoint users come, and decide
 * whether the module manages the flags: not if a syscall tracepoint is in use
 * already, nor if the kprobes cannot be attached (the module then costs every
 * thread the tracing path, as before; it still enforces).
 */
static int sbx_hooks_watch_tracers(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(sbx_kp_tp); i++)
		sbx_kp_tp[i] = &sbx_kp_tp_register[i];
	ret = register_kprobes(sbx_kp_tp, ARRAY_SIZE(sbx_kp_tp));
	if (ret) {
		pr_notice(
			"cannot watch the syscall tracepoints' registrations (%d): every thread keeps the syscall tracing path while the module is loaded\n",
			ret);
		return 0;
	}
	sbx_kp_tp_registered = true;
	WRITE_ONCE(sbx_flags_managed, 1);
	smp_mb();
	/* From here on the kprobes report newcomers; these were there before. */
	if (static_key_enabled(&sbx_tps[SBX_TP_SYS_ENTER].tp->key) ||
	    static_key_enabled(&sbx_tp_sys_exit->key))
		sbx_hooks_unmanage("a syscall tracepoint is in use");
	return 0;
}

/* At load: take every thread off the tracing path (none is armed or enforced). */
static void sbx_hooks_idle_all(void)
{
	struct task_struct *p, *t;

	if (!READ_ONCE(sbx_flags_managed))
		return;
	rcu_read_lock();
	for_each_process_thread(p, t)
		sbx_hooks_idle(t);
	rcu_read_unlock();
}

int sbx_hooks_init(void)
{
	int i, ret;

	/* The io_uring numbers are contiguous (sbx_watched_syscall(), sbx_task.c). */
	BUILD_BUG_ON(__NR_io_uring_enter != __NR_io_uring_setup + 1);
	BUILD_BUG_ON(__NR_io_uring_register != __NR_io_uring_setup + 2);
	/* The core's x86-64 numbers of the calls that can map code. */
	BUILD_BUG_ON(SBX_NR_MMAP != __NR_mmap);
	BUILD_BUG_ON(SBX_NR_MPROTECT != __NR_mprotect);
	BUILD_BUG_ON(SBX_NR_PKEY_MPROTECT != __NR_pkey_mprotect);
	BUILD_BUG_ON(SBX_PROT_EXEC != PROT_EXEC);
	BUILD_BUG_ON(SBX_NR_OPENAT != __NR_openat);
	BUILD_BUG_ON(SBX_OPENAT_WRITE_FLAGS !=
		     (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE));

	/* The probes' prototypes are those of the tracepoints. */
	check_trace_callback_type_sys_enter(sbx_probe_sys_enter);
	check_trace_callback_type_sched_process_fork(sbx_probe_fork);
	check_trace_callback_type_sched_process_exec(sbx_probe_exec);
	check_trace_callback_type_sched_process_exit(sbx_probe_exit);
	check_trace_callback_type_sched_process_free(sbx_probe_free);

	for_each_kernel_tracepoint(sbx_find_tp, NULL);
	for (i = 0; i < SBX_TP_NR; i++) {
		if (!sbx_tps[i].tp) {
			pr_err("tracepoint %s not found\n", sbx_tps[i].name);
			return -ENOENT;
		}
	}
	if (!sbx_tp_sys_exit) {
		pr_err("tracepoint sys_exit not found\n");
		return -ENOENT;
	}
	ret = sbx_hooks_watch_tracers();
	if (ret)
		return ret;
	/*
	 * The sched probes first: a fork from here on gets its flag from the
	 * fork probe, a task created before is in the task list for the walk
	 * below. Then sys_enter, now and until unload: attaching and detaching
	 * it while programs run patches the syscall entry's static key under
	 * them, and a guest CPU was seen looping at that site for minutes (a
	 * soft lockup in syscall_trace_enter). Its registration puts every
	 * thread on the tracing path (syscall_regfunc()); the walk takes them
	 * off again. No thread is armed or enforced yet: /dev/sbx does not
	 * exist.
	 */
	for (i = SBX_TP_FORK; i < SBX_TP_NR; i++) {
		ret = sbx_tp_register(&sbx_tps[i]);
		if (ret)
			goto err;
	}
	ret = sbx_tp_register(&sbx_tps[SBX_TP_SYS_ENTER]);
	if (ret)
		goto err;
	preempt_disable();
	if (READ_ONCE(sbx_flags_managed) && sbx_tracepoints_foreign())
		sbx_hooks_unmanage("a syscall tracepoint is in use");
	preempt_enable();
	sbx_hooks_idle_all();
	return 0;

err:
	sbx_hooks_exit();
	return ret;
}

/*
 * Detach every probe and wait until none runs any more. Unregistering
 * sys_enter lets the kernel clear every thread's flag if no other syscall
 * tracepoint user is left (syscall_unregfunc()); if one is, the flags are all
 * set (the module stopped managing them when it came). The kprobes go last,
 * so that a tracer that registers meanwhile still gets every flag.
 */
void sbx_hooks_exit(void)
{
	int i;

	for (i = 0; i < SBX_TP_NR; i++)
		sbx_tp_unregister(&sbx_tps[i]);
	tracepoint_synchronize_unregister();
	if (sbx_kp_tp_registered) {
		unregister_kprobes(sbx_kp_tp, ARRAY_SIZE(sbx_kp_tp));
		sbx_kp_tp_registered = false;
	}
	WRITE_ONCE(sbx_flags_managed, 0);
}
