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
 *   sbx_registry.c the per-executable registry: policies enforced on every
 *                 exec of an inode (SBX_IOC_INSTALL, _REMOVE, _LIST)
 *   sbx_content.c the registry's content binding: SHA-256 of an executable
 *                 at install, stamps, re-verification at exec
 *   sbx_hooks.c   tracepoint probes (sys_enter, sched_process_*)
 *   sbx_never.c   calls a sandboxed thread may never make; kprobes on
 *                 mem_open (/proc/<pid>/mem for writing) and delete_module
 *                 (forced unload refused)
 *   sbx_report.c  violation records: per-policy queues and rate limits,
 *                 the kernel log
 *   core/         the freestanding monitor (blob validation, stepping)
 *
 * Context rules: probes run with preemption disabled and may not sleep; they
 * allocate only from a policy's pool or with GFP_ATOMIC, and never free
 * vmalloc'd memory (that happens in sbx_wq work items).
 */
#ifndef _SBX_DYCK_H
#define _SBX_DYCK_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/ratelimit.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/time64.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <asm/local64.h>

#include "core/sbx_blob.h"
#include "core/sbx_monitor.h"
#include "uapi/sbx_ioctl.h"
#include "uapi/sbx_marker.h"

/* SHA-256 (the registry's content binding). */
#define SBX_DIGEST_SIZE 32

struct pt_regs;
struct file;
struct inode;
struct linux_binprm;

/* sbx_main.c: module parameters and the workqueue. */
extern unsigned int sbx_max_policies;
extern unsigned long sbx_max_policy_bytes;
extern unsigned int sbx_max_tasks_per_policy;
extern unsigned int sbx_pool_reserve;
extern bool sbx_nfa_site_answer;
extern struct workqueue_struct *sbx_wq;

/**
 * struct sbx_qrec - a violation record in a policy's queue.
 * @link:    entry of struct sbx_rq.logs or .kills while queued; of
 *           struct sbx_rq.free while a free slot.
 * @rec:     the record.
 * @kill:    a kill record: in .kills, never evicted.
 * @queued:  in a queue (a reader may be copying it).
 * @in_task: embedded in a thread state (struct sbx_task.kill_rec), not one
 *           of the queue's slots.
 * @held:    with @in_task: the state was released while its record was
 *           queued; it is returned to the pool when the record is read.
 */
struct sbx_qrec {
	struct list_head link;
	struct sbx_violation_record rec;
	u8 kill;
	u8 queued;
	u8 in_task;
	u8 held;
};

/**
 * struct sbx_rq - the violation records of one policy (sbx_report.c).
 * @lock:          protects everything below (any context, irqsave).
 * @logs:          queued log records, in order of seq (slots).
 * @kills:         queued kill records, in order of seq (slots and records
 *                 embedded in thread states).
 * @free:          free slots.
 * @slots:         SBX_QUEUE_SIZE slots for log records and for kill records
 *                 that have no thread state (kvmalloc'd at load).
 * @rs:            the rate limit of log records.
 * @nr_logs:       entries of @logs.
 * @nr_kills:      entries of @kills.
 * @violations:    records made for the policy.
 * @dropped:       records lost (see struct sbx_policy_entry).
 * @dropped_rate:  of @dropped, log records refused by @rs.
 * @kills_dropped: of @dropped, kill records lost.
 */
struct sbx_rq {
	spinlock_t lock;
	struct list_head logs;
	struct list_head kills;
	struct list_head free;
	struct sbx_qrec *slots;
	struct ratelimit_state rs;
	u32 nr_logs;
	u32 nr_kills;
	u64 violations;
	u64 dropped;
	u64 dropped_rate;
	u64 kills_dropped;
};

/**
 * struct sbx_policy - a loaded, validated policy blob.
 * @ref:          references: one of the store while loaded, one per thread
 *                state (armed or enforced, until its RCU release), one per
 *                registry entry and one per arm or install in progress;
 *                freed (in sbx_wq) at zero.
 * @users:        thread states in the task table, registry entries and arms
 *                or installs in progress: the policy is in use (cannot be
 *                unloaded) while not zero. Unlike @ref it drops as soon as a
 *                state leaves the table.
 * @id:           the id userspace names it by.
 * @size:         the blob's size in bytes.
 * @blob:         the blob (kvmalloc'd, immutable once loaded).
 * @view:         the validated view of @blob the monitor steps.
 * @slot_size:    bytes of a thread state for this policy (slots included).
 * @pool_lock:    protects @pool_free, @pool_nr_free and @nr_tasks.
 * @pool_free:    preallocated free thread states (struct sbx_task.pool_link).
 * @pool_nr_free: entries of @pool_free.
 * @nr_tasks:     thread states in use; at most sbx_max_tasks_per_policy.
 * @pool_work:    refills @pool_free to sbx_pool_reserve and trims it.
 * @free_work:    frees the policy after the last reference is dropped.
 * @rq:           its violation records. A state whose kill record is unread
 *                when it is released stays counted in @nr_tasks (it is
 *                held by @rq) until the record is read.
 * @argchk:       bound policies: per system-call set, whether it allowed prctl
 *                (bit 0) and personality (bit 1) before sbx_never_prepare()
 *                masked them out; NULL for an unbound policy.
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
	struct sbx_rq rq;
	u8 *argchk;
	/* SBX_LOAD_F_OWNED: the loader's file (identity only, under sbx_policy_lock). */
	const struct file *owner;
	unsigned long flags; /* SBX_POLICY_ORPHAN */
	struct work_struct reap_work;
};

/* The owner's file was closed: unload when the last use goes. */
#define SBX_POLICY_ORPHAN 0

/**
 * struct sbx_exe - an executable, named by its inode.
 * @dev: the device of the inode's super block (kernel dev_t, i_sb->s_dev).
 * @ino: the inode number.
 */
struct sbx_exe {
	dev_t dev;
	unsigned long ino;
};

/* Thread states (struct sbx_task.state). */
#define SBX_TASK_ARMED	    1 /* enforced from the next successful exec */
#define SBX_TASK_ENFORCED   2 /* markers are checked */
#define SBX_TASK_UNCONFINED 3 /* no policy (@policy NULL); never privileged */

/* struct sbx_task.hot of an enforced thread with nothing rare (x86: little-endian). */
#define SBX_TASK_HOT_PLAIN SBX_TASK_ENFORCED

/**
 * struct sbx_task - the monitor state of one thread (task_struct).
 * @node:      entry of the task table, keyed by @task (RCU readers).
 * @pool_link: entry of the policy's free pool while unused.
 * @rcu:       deferred release after removal from the table.
 * @task:      the thread: the key. Dereferenced through the table only
 *             under its lock (SBX_IOC_TASKS, _LIST), where the state is
 *             known to be in the table, so its task is not freed yet: the
 *             exit and free probes remove it first.
 * @policy:    the policy it is armed or enforced with (a counted reference);
 *             NULL when unconfined (the state is then a bare kmalloc'd
 *             struct sbx_task without slots).
 * @view:      &@policy->view, or NULL.
 * @state:     SBX_TASK_ARMED, SBX_TASK_ENFORCED or SBX_TASK_UNCONFINED.
 * @action:    SBX_ACTION_KILL or SBX_ACTION_LOG.
 * @exec:      the exec transition, SBX_EXEC_* (uapi): what a successful exec
 *             of an enforced thread does.
 * @killed:    a violation killed the process: further events are blocked
 *             and not recorded again.
 * @lost:      log mode after a violation: the thread is resynchronising
 *             (specs/kernel-abi.md, "Resynchronisation").
 * @buffered:  @view has SBX_BLOB_F_BUFFERED (the probes drain the thread's
 *             event buffer), a copy made at setup.
 * @hot:       @state, @killed, @lost and @buffered as one word: the probes
 *             test "enforced, not killed, not lost, no buffer" with one
 *             compare against SBX_TASK_HOT_PLAIN and take everything else
 *             out of line. Each byte is written on its own as before.
 * @exe_bound: armed with SBX_ARM_F_EXE: the next exec must run @exe.
 * @lost_nest: while @lost, calls entered and not yet returned since.
 * @violations: violations of this thread (records it caused).
 * @markers:   markers this thread made while enforced (local64_inc: one
 *             instruction; only the thread itself counts).
 * @unchecked: while @lost, the markers accepted without a check since the
 *             violation that made the thread lost (neither the refused marker
 *             nor the one that ended it counts; a forked child starts at 0);
 *             if not 0 when the thread exits or execs still lost, reported
 *             (SBX_REASON_UNRESYNCED).
 * @install_id: the id of the registry entry the thread (or the process it
 *             was forked from) was enforced through, or 0.
 * @exe:       with @exe_bound, the inode the exec must run.
 * @bias:      the executable's load bias, mm->start_code - text_vaddr of the
 *             policy at exec (the pinned sites are link-time addresses).
 * @kill_rec:  the storage of the thread's kill record, reserved with the
 *             state, so that queueing it never fails (sbx_report.c). It may
 *             outlive the thread: see struct sbx_policy.rq.
 * @thread:    the core's state; valid when @state is SBX_TASK_ENFORCED.
 * @slots:     @view->stack_limit slots (frame entries and setjmp records)
 *             for @thread.
 *
 * A state is read and written only by its own thread (the probes run in the
 * thread's context: sys_enter, exec, exit, and fork in the parent), by the
 * fork probe of its parent before the child first runs, or after the thread
 * is dead (free). So it needs no lock; the table has one for insertion and
 * removal, and lookups are RCU. SBX_IOC_TASKS and SBX_IOC_LIST read the
 * counters and flags of other threads' states racily (READ_ONCE), under the
 * table lock.
 */
struct sbx_task {
	struct hlist_node node;
	struct list_head pool_link;
	struct rcu_head rcu;
	struct task_struct *task;
	struct sbx_policy *policy;
	const struct sbx_policy_view *view;
	union {
		struct {
			u8 state;
			u8 killed;
			u8 lost;
			u8 buffered;
		};
		u32 hot;
	};
	u8 action;
	u8 exec;
	u8 exe_bound;
	u32 lost_nest;
	u32 violations;
	local64_t markers;
	u64 unchecked;
	u64 install_id;
	struct sbx_exe exe;
	u64 bias;
	struct sbx_qrec kill_rec;
	struct sbx_thread thread;
	union sbx_slot slots[];
};

/* sbx_policy.c */
struct sbx_policy *sbx_policy_next(u32 *id);
int sbx_policy_load(const void __user *blob, u32 size, const struct file *owner, u32 *id,
		    u32 *blob_flags);
void sbx_policy_disown(const struct file *file);
int sbx_policy_unload(u32 id);
struct sbx_policy *sbx_policy_find(u32 id);
void sbx_policy_get(struct sbx_policy *p);
void sbx_policy_unuse(struct sbx_policy *p);
void sbx_policy_put(struct sbx_policy *p);
struct sbx_task *sbx_policy_slot_get(struct sbx_policy *p, bool can_sleep);
void sbx_policy_slot_put(struct sbx_policy *p, struct sbx_task *t);
void sbx_policy_slot_return(struct sbx_policy *p, struct sbx_task *t);
void sbx_policy_stats(u32 *nr, u64 *bytes);
void sbx_policy_exit(void);

/* sbx_task.c */
int sbx_task_init(void);
void sbx_task_exit(void);
bool sbx_task_sandboxed(struct task_struct *tsk);
int sbx_task_arm(struct sbx_policy *p, u32 action, u32 exec, const struct sbx_exe *exe);
bool sbx_task_fork(struct task_struct *parent, struct task_struct *child);
void sbx_task_exec(struct task_struct *tsk, const struct linux_binprm *bprm);
void sbx_task_gone(struct task_struct *tsk);
void sbx_probe_sys_enter(void *data, struct pt_regs *regs, long id);
bool sbx_task_proc_mem_write(struct file *file);
void sbx_task_stats(u32 *enforced, u32 *armed, u32 *unconfined, u64 *markers, u64 *alloc_failures);
bool sbx_task_any(void);
int sbx_task_list(struct sbx_task_entry __user *buf, u32 max, u32 *count);
void sbx_task_rebuilt(struct file *file, struct sbx_policy *policy, u32 action, int err);
void sbx_task_count_installed(const u64 *ids, u32 *processes, u32 n);

/**
 * struct sbx_stamp - what the inode says of its content: size, mtime, ctime.
 *
 * Every change of a file's content through the inode (write, truncate, a
 * writable mapping) sets its ctime to the current (coarse) time; userspace
 * cannot set ctime. So a stamp taken after the coarse clock has passed the
 * file's ctime, with writes denied, changes with any later content change.
 */
struct sbx_stamp {
	struct timespec64 ctime;
	struct timespec64 mtime;
	loff_t size;
};

/**
 * struct sbx_install - an entry of the per-executable registry.
 * @node:   entry of the registry's hash, keyed by @exe (RCU readers).
 * @link:   entry of the list in order of installation.
 * @exe:    the executable's inode.
 * @id:     unique and increasing (order of installation); never 0.
 * @policy: the policy, with a reference and a use held by the entry.
 * @mode:   SBX_MODE_*.
 * @action: SBX_ACTION_*.
 * @exec:   SBX_EXEC_*: the transition of the threads it enforces.
 * @digest: SHA-256 of the file's content at install.
 * @stamp:  the inode's stamp when @digest was taken.
 * @stamp_ok: @stamp can be trusted (the clock had passed the file's ctime);
 *          otherwise every exec hashes the file.
 * @execs:  execs enforced through the entry.
 * @refused: execs refused because the content was not @digest.
 *
 * Readers (the exec probe) may use an entry they found until the end of their
 * RCU read-side section: removal waits for a grace period before it drops the
 * entry's references, so a probe can take its own with sbx_policy_get().
 */
struct sbx_install {
	struct hlist_node node;
	struct list_head link;
	struct sbx_exe exe;
	u64 id;
	struct sbx_policy *policy;
	u32 mode;
	u32 action;
	u32 exec;
	u8 digest[SBX_DIGEST_SIZE];
	struct sbx_stamp stamp;
	bool stamp_ok;
	atomic64_t execs;
	atomic_t refused;
};

/* sbx_registry.c */
extern atomic_t sbx_nr_installed;

/* True if the registry has an entry: lets the exec probe skip the lookup. */
static inline bool sbx_registry_any(void)
{
	return atomic_read(&sbx_nr_installed) != 0;
}

struct sbx_install *sbx_registry_find(const struct inode *inode);
int sbx_registry_install(const struct sbx_install *tmpl, bool replace, u32 *replaced, u64 *id);
void sbx_registry_refused(u64 id);
int sbx_registry_remove(const struct sbx_exe *exe, u64 only_id, u32 *policy_id);
int sbx_registry_list(struct sbx_install_entry __user *buf, u32 max, u32 *count);
void sbx_registry_exit(void);

/* sbx_content.c */
int sbx_content_install(s32 fd, u8 digest[SBX_DIGEST_SIZE], struct sbx_stamp *stamp,
			bool *stamp_ok);
bool sbx_content_stamp_matches(const struct sbx_stamp *s, const struct inode *inode);
int sbx_content_verify_later(struct task_struct *tsk, struct file *file,
			     const struct sbx_install *e, struct sbx_policy *prev_policy);
void sbx_content_path(struct sbx_violation_record *rec, struct file *file);

/* sbx_never.c */
int sbx_never_init(void);
void sbx_never_exit(void);
int sbx_never_prepare(struct sbx_policy *p);
int sbx_never_classify(const struct sbx_task *t, const struct pt_regs *regs, unsigned long nr,
		       int reason);
bool sbx_never_forbidden(const struct pt_regs *regs, unsigned long nr);

/* sbx_hooks.c */
int sbx_hooks_init(void);
void sbx_hooks_exit(void);
void sbx_hooks_enforced(struct task_struct *tsk);
void sbx_hooks_idle(struct task_struct *tsk);

/* sbx_report.c */
int sbx_rq_init(struct sbx_rq *q);
void sbx_rq_destroy(struct sbx_policy *p);
bool sbx_rq_hold(struct sbx_policy *p, struct sbx_task *t);
void sbx_report(struct sbx_policy *p, struct sbx_task *t, struct sbx_violation_record *rec);
int sbx_report_read(struct sbx_violation_record __user *buf, u32 max, bool by_policy, u32 policy_id,
		    u32 *count, u64 *dropped);
void sbx_report_stats(u64 *violations, u64 *dropped, u64 *kills_dropped, u32 *queue_size,
		      u32 *queued);
int sbx_report_policies(struct sbx_policy_entry __user *buf, u32 max, u32 *count);

/* sbx_dev.c */
int sbx_dev_init(void);
void sbx_dev_exit(void);

#endif /* _SBX_DYCK_H */
