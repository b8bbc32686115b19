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
 * running programs, which hung guest CPUs (sbx_hooks_init()). Every thread of
 * the system is on the syscall tracing slow path while the module is loaded.
 * The probe looks up the calling thread for every system
 * call: an enforced thread's calls are checked against its window
 * (specs/kernel-abi.md, "System-call binding"); any other thread's return
 * after the lookup finds nothing.
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>
#include <asm/compat.h>
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

static void sbx_probe_sys_enter(void *data, struct pt_regs *regs, long id);
static void sbx_probe_fork(void *data, struct task_struct *parent,
			   struct task_struct *child);
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

/*
 * Registration of sys_enter: users are thread states (armed or enforced) and
 * registry entries.
 */
static DEFINE_MUTEX(sbx_hooks_lock);
static atomic_t sbx_hook_users = ATOMIC_INIT(0);

/* Syscalls other than the marker that concern an enforced thread. */
static __always_inline bool sbx_watched_syscall(long id)
{
	return (unsigned long)(id - __NR_io_uring_setup) <= 2 ||
	       (id > 0 && (id & __X32_SYSCALL_BIT));
}

static void sbx_probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	if (id == SBX_MARKER_NR && !in_ia32_syscall()) {
		sbx_task_marker(regs);
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

static void sbx_probe_fork(void *data, struct task_struct *parent,
			   struct task_struct *child)
{
	if (sbx_task_any())
		sbx_task_fork(parent, child);
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

static void sbx_find_tp(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < SBX_TP_NR; i++)
		if (!sbx_tps[i].tp && !strcmp(tp->name, sbx_tps[i].name))
			sbx_tps[i].tp = tp;
}

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

/**
 * sbx_hooks_get - count a new thread state or registry entry, attaching
 * sys_enter if needed.
 *
 * Context: process context; sleeps.
 * Return: 0 or the error of tracepoint_probe_register().
 */
int sbx_hooks_get(void)
{
	int ret = 0;

	mutex_lock(&sbx_hooks_lock);
	if (!sbx_tps[SBX_TP_SYS_ENTER].registered)
		ret = sbx_tp_register(&sbx_tps[SBX_TP_SYS_ENTER]);
	if (!ret)
		atomic_inc(&sbx_hook_users);
	mutex_unlock(&sbx_hooks_lock);
	return ret;
}

/*
 * Another thread state, created by a fork of one that holds a reference, or by
 * an exec through a registry entry (which holds one). Any context.
 */
void sbx_hooks_get_more(void)
{
	atomic_inc(&sbx_hook_users);
}

/*
 * A thread state or registry entry is released (any context). sys_enter stays
 * attached (see sbx_hooks_init()).
 */
void sbx_hooks_put(void)
{
	atomic_dec(&sbx_hook_users);
}

int sbx_hooks_init(void)
{
	int i, ret;

	/* The io_uring numbers are contiguous (sbx_watched_syscall). */
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
	/*
	 * sys_enter too, now and until unload: attaching and detaching it while
	 * programs run patches the syscall entry's static key under them, and a
	 * guest CPU was seen looping at that site for minutes (a soft lockup in
	 * syscall_trace_enter). Every system call of the machine then takes the
	 * tracing path while the module is loaded (issue 19's cost).
	 */
	for (i = SBX_TP_SYS_ENTER; i < SBX_TP_NR; i++) {
		ret = sbx_tp_register(&sbx_tps[i]);
		if (ret)
			goto err;
	}
	return 0;

err:
	sbx_hooks_exit();
	return ret;
}

/* Detach every probe and wait until none runs any more. */
void sbx_hooks_exit(void)
{
	int i;

	mutex_lock(&sbx_hooks_lock);
	for (i = 0; i < SBX_TP_NR; i++)
		sbx_tp_unregister(&sbx_tps[i]);
	mutex_unlock(&sbx_hooks_lock);
	tracepoint_synchronize_unregister();
}
