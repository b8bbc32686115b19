/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sbx_dyck.h - internal interfaces between the files of the sbx_dyck module.
 *
 *   sbx_main.c    module init/exit, parameters, the module's workqueue
 *   sbx_dev.c     /dev/sbx and its ioctls (uapi/sbx_ioctl.h)
 *   sbx_policy.c  the policy store: loaded blobs, references, per-policy
 *                 pools of preallocated thread states
 *   sbx_task.c    per-thread state keyed by task_struct: lookup, arm, fork,
 *                 exec, exit, stepping markers, resynchronisation
 *   sbx_hooks.c   tracepoint probes (sys_enter, sched_process_*)
 *   sbx_report.c  violation records: ring, rate limit, kernel log
 *   core/         the freestanding monitor (blob validation, stepping)
 *
 * Context rules: probes run with preemption disabled and may not sleep; they
 * allocate only from a policy's pool or with GFP_ATOMIC, and never free
 * vmalloc'd memory (that happens in sbx_wq work items).
 */
#ifndef _SBX_DYCK_H
#define _SBX_DYCK_H

#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include "core/sbx_blob.h"
#include "core/sbx_monitor.h"
#include "uapi/sbx_ioctl.h"
#include "uapi/sbx_marker.h"

struct pt_regs;
struct file;

/* sbx_main.c: module parameters and the workqueue. */
extern unsigned int sbx_max_policies;
extern unsigned long sbx_max_policy_bytes;
extern unsigned int sbx_max_tasks_per_policy;
extern unsigned int sbx_pool_reserve;
extern struct workqueue_struct *sbx_wq;

/**
 * struct sbx_policy - a loaded, validated policy blob.
 * @ref:          references: one of the store while loaded, one per thread
 *                state (armed or enforced, until its RCU release) and one
 *                per arm in progress; freed (in sbx_wq) at zero.
 * @users:        thread states in the task table plus arms in progress: the
 *                policy is in use (cannot be unloaded) while not zero. Unlike
 *                @ref it drops as soon as a state leaves the table.
 * @id:           the id userspace names it by.
 * @size:         the blob's size in bytes.
 * @blob:         the blob (kvmalloc'd, immutable once loaded).
 * @view:         the validated view of @blob the monitor steps.
 * @slot_size:    bytes of a thread state for this policy (frames included).
 * @pool_lock:    protects @pool_free, @pool_nr_free and @nr_tasks.
 * @pool_free:    preallocated free thread states (struct sbx_task.pool_link).
 * @pool_nr_free: entries of @pool_free.
 * @nr_tasks:     thread states in use; at most sbx_max_tasks_per_policy.
 * @pool_work:    refills @pool_free to sbx_pool_reserve and trims it.
 * @free_work:    frees the policy after the last reference is dropped.
 */
struct sbx_policy {
	refcount_t ref;
	atomic_t users;
	u32 id;
	u32 size;
	void *blob;
	struct sbx_policy_view view;
	size_t slot_size;
	spinlock_t pool_lock;
	struct list_head pool_free;
	u32 pool_nr_free;
	u32 nr_tasks;
	struct work_struct pool_work;
	struct work_struct free_work;
};

/* Thread states (struct sbx_task.state). */
#define SBX_TASK_ARMED		1	/* enforced from the next successful exec */
#define SBX_TASK_ENFORCED	2	/* markers are checked */

/**
 * struct sbx_task - the monitor state of one thread (task_struct).
 * @node:      entry of the task table, keyed by @task (RCU readers).
 * @pool_link: entry of the policy's free pool while unused.
 * @rcu:       deferred release after removal from the table.
 * @task:      the thread; a key only, never dereferenced through the table.
 * @policy:    the policy it is armed or enforced with (a counted reference).
 * @view:      &@policy->view.
 * @state:     SBX_TASK_ARMED or SBX_TASK_ENFORCED.
 * @action:    SBX_ACTION_KILL or SBX_ACTION_LOG.
 * @killed:    a violation killed the process: further events are blocked
 *             and not recorded again.
 * @lost:      log mode after a violation: the thread is resynchronising
 *             (specs/kernel-abi.md, "Resynchronisation").
 * @lost_nest: while @lost, calls entered and not yet returned since.
 * @thread:    the core's state; valid when @state is SBX_TASK_ENFORCED.
 * @frames:    @view->stack_limit frames for @thread.
 *
 * A state is read and written only by its own thread (the probes run in the
 * thread's context: sys_enter, exec, exit, and fork in the parent), by the
 * fork probe of its parent before the child first runs, or after the thread
 * is dead (free). So it needs no lock; the table has one for insertion and
 * removal, and lookups are RCU.
 */
struct sbx_task {
	struct hlist_node node;
	struct list_head pool_link;
	struct rcu_head rcu;
	struct task_struct *task;
	struct sbx_policy *policy;
	const struct sbx_policy_view *view;
	u8 state;
	u8 action;
	u8 killed;
	u8 lost;
	u32 lost_nest;
	struct sbx_thread thread;
	struct sbx_frame frames[];
};

/* sbx_policy.c */
int sbx_policy_load(const void __user *blob, u32 size, u32 *id, u32 *blob_flags);
int sbx_policy_unload(u32 id);
struct sbx_policy *sbx_policy_find(u32 id);
void sbx_policy_get(struct sbx_policy *p);
void sbx_policy_unuse(struct sbx_policy *p);
void sbx_policy_put(struct sbx_policy *p);
struct sbx_task *sbx_policy_slot_get(struct sbx_policy *p, bool can_sleep);
void sbx_policy_slot_put(struct sbx_policy *p, struct sbx_task *t);
void sbx_policy_stats(u32 *nr, u64 *bytes);
void sbx_policy_exit(void);

/* sbx_task.c */
int sbx_task_init(void);
void sbx_task_exit(void);
bool sbx_task_sandboxed(struct task_struct *tsk);
int sbx_task_arm(struct sbx_policy *p, u32 action);
void sbx_task_fork(struct task_struct *parent, struct task_struct *child);
void sbx_task_exec(struct task_struct *tsk);
void sbx_task_gone(struct task_struct *tsk);
void sbx_task_marker(struct pt_regs *regs);
void sbx_task_syscall(struct pt_regs *regs, long nr, u32 reason, u32 flags);
void sbx_task_stats(u32 *enforced, u32 *armed, u64 *markers, u64 *alloc_failures);
bool sbx_task_any(void);

/* sbx_hooks.c */
int sbx_hooks_init(void);
void sbx_hooks_exit(void);
int sbx_hooks_get(void);
void sbx_hooks_get_more(void);
void sbx_hooks_put(void);

/* sbx_report.c */
void sbx_report(struct sbx_violation_record *rec);
int sbx_report_read(struct sbx_violation_record __user *buf, u32 max, u32 *count);
void sbx_report_stats(u64 *violations, u64 *dropped, u32 *ring_size, u32 *ring_count);

/* sbx_dev.c */
int sbx_dev_init(void);
void sbx_dev_exit(void);

#endif /* _SBX_DYCK_H */
