// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_report.c - violation records: one queue and one rate limit per policy,
 * read through SBX_IOC_READ, counted in SBX_IOC_STATUS and SBX_IOC_POLICIES,
 * and a short line in the kernel log.
 *
 * Each policy's queue (struct sbx_rq) has two lists in order of seq: kill
 * records and log records. What one sandbox does never costs another its
 * records, and a kill record is never lost:
 *
 *  - The storage of a thread's kill record is reserved with its thread state
 *    (struct sbx_task.kill_rec), so queueing it never fails and never evicts
 *    another kill record. A state that is released while its kill record is
 *    unread is held by the queue (it stays counted against the policy's task
 *    budget) and returns to the policy's pool when the record is read, or is
 *    freed with the policy. Memory per policy stays bounded by its task
 *    budget plus SBX_QUEUE_SIZE slots.
 *  - Log records use the SBX_QUEUE_SIZE slots allocated at load. In a full
 *    queue a new log record evicts the oldest log record; at most
 *    SBX_QUEUE_RATE log records per second are queued (the policy's own rate
 *    limit). Kill records are not rate limited: a thread records one kill at
 *    most (struct sbx_task.killed).
 *  - A kill record about a task that has no state (SBX_REASON_NO_MEMORY of a
 *    child or an exec that could get none) takes a slot too, evicting the
 *    oldest log record if need be; it is lost (kills_dropped) only when every
 *    slot holds such an unread record.
 *
 * Sequence numbers are taken under the queue's lock, so each list is in
 * order of seq; a reader merges the two. The kernel log lines are rate
 * limited globally, kill lines apart from the others.
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/atomic.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/string_helpers.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "sbx_dyck.h"

#define SBX_READ_BATCH 16

static DEFINE_MUTEX(sbx_read_lock); /* serialises readers */

static atomic64_t sbx_seq = ATOMIC64_INIT(0);
/* Records lost by all policies since load, and the kill records among them. */
static atomic64_t sbx_dropped = ATOMIC64_INIT(0);
static atomic64_t sbx_kills_dropped = ATOMIC64_INIT(0);
/* The kernel log lines: log records and kill records are limited apart. */
static DEFINE_RATELIMIT_STATE(sbx_log_rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);
static DEFINE_RATELIMIT_STATE(sbx_log_kill_rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);

static const char *const sbx_reason_names[] = {
	[SBX_REASON_UNKNOWN_KIND] = "unknown marker kind",
	[SBX_REASON_ID_RANGE] = "id out of range",
	[SBX_REASON_NOT_ALLOWED] = "not allowed",
	[SBX_REASON_WRONG_RETURN] = "wrong return",
	[SBX_REASON_CANNOT_RETURN] = "cannot return",
	[SBX_REASON_NOT_CALLBACK] = "not a callback",
	[SBX_REASON_STACK_OVERFLOW] = "stack deeper than the policy's max_depth",
	[SBX_REASON_NO_SETJMP] = "no matching setjmp",
	[SBX_REASON_BAD_STATE] = "bad state",
	[SBX_REASON_COMPAT_SYSCALL] = "32-bit syscall",
	[SBX_REASON_IO_URING] = "io_uring",
	[SBX_REASON_NO_MEMORY] = "no memory for new task",
	[SBX_REASON_EXE_MISMATCH] = "exec of another file than bound",
	[SBX_REASON_SYSCALL_WINDOW] = "system call outside its window",
	[SBX_REASON_EXEC_MAPPING] = "executable mapping outside the loader",
	[SBX_REASON_UNPINNED] = "marker not from its pinned site",
	[SBX_REASON_FORBIDDEN_SYSCALL] = "system call never allowed",
	[SBX_REASON_PROC_MEM_WRITE] = "/proc/<pid>/mem opened for writing",
	[SBX_REASON_STORE_FULL] = "frames and setjmp records fill the policy's stack_limit slots",
	[SBX_REASON_UNRESYNCED] = "log mode: never resynchronised (id: markers unchecked)",
	[SBX_REASON_BUFFER] = "buffered event not allowed from the buffer, or the buffer faulted",
};

static const char *sbx_reason_name(u32 reason)
{
	if (reason < ARRAY_SIZE(sbx_reason_names) && sbx_reason_names[reason])
		return sbx_reason_names[reason];
	return "?";
}

/**
 * sbx_rq_init - set up a new policy's record queue. Sleeps.
 * @q: the queue (zeroed).
 *
 * Return: 0 or -ENOMEM.
 */
int sbx_rq_init(struct sbx_rq *q)
{
	unsigned int i;

	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->logs);
	INIT_LIST_HEAD(&q->kills);
	INIT_LIST_HEAD(&q->free);
	q->slots = kvcalloc(SBX_QUEUE_SIZE, sizeof(*q->slots), GFP_KERNEL_ACCOUNT);
	if (!q->slots)
		return -ENOMEM;
	for (i = 0; i < SBX_QUEUE_SIZE; i++)
		list_add_tail(&q->slots[i].link, &q->free);
	/* What it refuses is counted in dropped_rate; no "suppressed" lines. */
	ratelimit_state_init(&q->rs, HZ, SBX_QUEUE_RATE);
	ratelimit_set_flags(&q->rs, RATELIMIT_MSG_ON_RELEASE);
	return 0;
}

/**
 * sbx_rq_destroy - free a policy's queue: the policy is being freed.
 * @p: the policy; no reference is left, so no record can be added or read.
 *
 * The records still queued are discarded (counted in records_dropped); the
 * thread states held for their kill records are freed. Sleeps (sbx_wq).
 */
void sbx_rq_destroy(struct sbx_policy *p)
{
	struct sbx_rq *q = &p->rq;
	struct sbx_qrec *qr, *next;

	if (!q->slots)
		return;
	atomic64_add(q->nr_logs + q->nr_kills, &sbx_dropped);
	list_for_each_entry_safe(qr, next, &q->kills, link) {
		list_del(&qr->link);
		if (!qr->in_task)
			continue;
		/* Every state was released before the last reference went. */
		if (WARN_ON_ONCE(!qr->held))
			continue;
		p->nr_tasks--;
		kvfree(container_of(qr, struct sbx_task, kill_rec));
	}
	kvfree(q->slots);
	q->slots = NULL;
}

/**
 * sbx_rq_hold - a thread state of @p is released: keep it if its kill record
 * is still queued. Any context.
 * @p: its policy.
 * @t: the state, no longer reachable through the task table.
 *
 * Return: true if the queue holds the state (the caller must not pool it).
 */
bool sbx_rq_hold(struct sbx_policy *p, struct sbx_task *t)
{
	struct sbx_rq *q = &p->rq;
	unsigned long flags;
	bool held = false;

	spin_lock_irqsave(&q->lock, flags);
	if (t->kill_rec.in_task && t->kill_rec.queued) {
		t->kill_rec.held = 1;
		held = true;
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return held;
}

/*
 * A slot for a new record of @q, with its lock held: a free one, else the
 * oldest log record's (evicted and counted). NULL if every slot holds a kill
 * record.
 */
static struct sbx_qrec *sbx_rq_slot(struct sbx_rq *q, bool *evicted)
{
	struct sbx_qrec *qr;

	*evicted = false;
	qr = list_first_entry_or_null(&q->free, struct sbx_qrec, link);
	if (qr) {
		list_del(&qr->link);
		return qr;
	}
	qr = list_first_entry_or_null(&q->logs, struct sbx_qrec, link);
	if (!qr)
		return NULL;
	list_del(&qr->link);
	q->nr_logs--;
	q->dropped++;
	*evicted = true;
	return qr;
}

/*
 * The libc function a record is about, from the blob's names: a LIBC
 * marker's symbol, or the window of a system call or exec. NULL if the blob
 * has no names or the id names no symbol.
 */
static const char *sbx_report_symbol(const struct sbx_policy *p,
				     const struct sbx_violation_record *rec)
{
	switch (rec->reason) {
	case SBX_REASON_SYSCALL_WINDOW:
	case SBX_REASON_EXEC_MAPPING:
	case SBX_REASON_EXEC_DENIED:
		return sbx_blob_symbol_name(&p->view, rec->id);
	}
	if (rec->syscall_nr == SBX_MARKER_NR && rec->kind == SBX_MARK_LIBC)
		return sbx_blob_symbol_name(&p->view, rec->id);
	return NULL;
}

/* Each byte of a command name escaped is at most "\xHH"; and the NUL. */
#define SBX_COMM_ESC_SIZE (4 * sizeof_field(struct sbx_violation_record, comm) + 1)

/*
 * The command name of @rec as the log line shows it, in @buf. The thread
 * chose it (prctl(PR_SET_NAME), or the name of the file it execed): a newline
 * in it would start a forged log line, a control byte would drive the
 * terminal of whoever reads the log. So every byte that is not printable
 * ASCII, and the backslash (which makes the escape unambiguous) and the space
 * (so that COMM is one field of the line), is written as \xHH (lower-case
 * hex); the rest stands as it is. The name is read up to its NUL or its 16
 * bytes, whichever comes first, so the result always fits @buf.
 */
static void sbx_report_comm(const struct sbx_violation_record *rec, char buf[SBX_COMM_ESC_SIZE])
{
	size_t len = strnlen(rec->comm, sizeof(rec->comm));
	int n;

	n = string_escape_mem(rec->comm, len, buf, SBX_COMM_ESC_SIZE - 1,
			      ESCAPE_HEX | ESCAPE_NAP | ESCAPE_APPEND, "\\ ");
	buf[min_t(int, n, SBX_COMM_ESC_SIZE - 1)] = '\0';
}

/*
 * The kernel log line of @rec. With the blob's names it names the libc
 * function and the function of the top frame ("not allowed: fopen in main");
 * a blob without names gives the line of a version 6 blob. The validator
 * made every name 1..SBX_NAME_LEN_MAX printable ASCII bytes without spaces;
 * the precision bounds what is printed regardless. The command name is the
 * thread's own choice: it is escaped (sbx_report_comm).
 */
static void sbx_report_log(const struct sbx_policy *p, const struct sbx_violation_record *rec,
			   bool kill)
{
	const char *sym = sbx_report_symbol(p, rec);
	const char *fn = rec->depth ? sbx_blob_frame_name(&p->view, rec->tag) : NULL;
	char comm[SBX_COMM_ESC_SIZE];

	sbx_report_comm(rec, comm);
	pr_notice(
		"violation: pid %u tid %u (%s) policy %u: %s%s%.*s%s%.*s; syscall %u kind %llu id %llu, top %#x mstate %u depth %u%s\n",
		rec->pid, rec->tid, comm, rec->policy_id, sbx_reason_name(rec->reason),
		sym ? ": " : "", (int)SBX_NAME_LEN_MAX, sym ?: "",
		fn ? (sym ? " in " : ": in ") : "", (int)SBX_NAME_LEN_MAX, fn ?: "",
		rec->syscall_nr, rec->kind, rec->id, rec->tag, rec->mstate, rec->depth,
		kill ? ", killed" : "");
}

/**
 * sbx_report - queue a violation record and log it. Any context.
 * @p:   the policy the record is about (the caller holds a reference).
 * @t:   the thread state the record is about, or NULL when it has none (a
 *       task killed because no state could be had for it). A kill record of
 *       a state is queued in @t->kill_rec.
 * @rec: the record; its @seq and @time_ns are filled in here. It is a kill
 *       record if it has SBX_REC_F_KILLED.
 */
void sbx_report(struct sbx_policy *p, struct sbx_task *t, struct sbx_violation_record *rec)
{
	bool kill = rec->flags & SBX_REC_F_KILLED;
	struct sbx_rq *q = &p->rq;
	struct sbx_qrec *qr;
	bool rated = false, evicted = false, lost = false;
	unsigned long flags;

	/* The core's reasons are the uapi's. */
	BUILD_BUG_ON(SBX_REASON_UNKNOWN_KIND != SBX_V_UNKNOWN_KIND);
	BUILD_BUG_ON(SBX_REASON_ID_RANGE != SBX_V_ID_RANGE);
	BUILD_BUG_ON(SBX_REASON_NOT_ALLOWED != SBX_V_NOT_ALLOWED);
	BUILD_BUG_ON(SBX_REASON_WRONG_RETURN != SBX_V_WRONG_RETURN);
	BUILD_BUG_ON(SBX_REASON_CANNOT_RETURN != SBX_V_CANNOT_RETURN);
	BUILD_BUG_ON(SBX_REASON_NOT_CALLBACK != SBX_V_NOT_CALLBACK);
	BUILD_BUG_ON(SBX_REASON_STACK_OVERFLOW != SBX_V_STACK_OVERFLOW);
	BUILD_BUG_ON(SBX_REASON_NO_SETJMP != SBX_V_NO_SETJMP);
	BUILD_BUG_ON(SBX_REASON_BAD_STATE != SBX_V_BAD_STATE);
	BUILD_BUG_ON(SBX_REASON_SYSCALL_WINDOW != SBX_V_SYSCALL_WINDOW);
	BUILD_BUG_ON(SBX_REASON_EXEC_MAPPING != SBX_V_EXEC_MAPPING);
	BUILD_BUG_ON(SBX_REASON_UNPINNED != SBX_V_UNPINNED);
	BUILD_BUG_ON(SBX_REASON_STORE_FULL != SBX_V_STORE_FULL);
	BUILD_BUG_ON(SBX_REASON_BUFFER != SBX_V_BUFFER);
	BUILD_BUG_ON(sizeof(struct sbx_violation_record) != 160);

	rec->time_ns = ktime_get_boottime_ns();
	/* The rate limit has its own lock; it never applies to a kill. */
	if (!kill && !__ratelimit(&q->rs))
		rated = true;

	spin_lock_irqsave(&q->lock, flags);
	/* Taken under the lock: each list stays in order of seq. */
	rec->seq = atomic64_inc_return(&sbx_seq);
	q->violations++;
	if (rated) {
		q->dropped++;
		q->dropped_rate++;
		lost = true;
		goto unlock;
	}
	if (kill && t && !t->kill_rec.queued) {
		qr = &t->kill_rec;
	} else {
		qr = sbx_rq_slot(q, &evicted);
		if (!qr) {
			/* Every slot holds a kill record, which stays. */
			q->dropped++;
			if (kill)
				q->kills_dropped++;
			lost = true;
			goto unlock;
		}
	}
	qr->rec = *rec;
	qr->kill = kill;
	qr->queued = 1;
	if (kill) {
		list_add_tail(&qr->link, &q->kills);
		q->nr_kills++;
	} else {
		list_add_tail(&qr->link, &q->logs);
		q->nr_logs++;
	}
unlock:
	spin_unlock_irqrestore(&q->lock, flags);
	if (evicted)
		atomic64_inc(&sbx_dropped);
	if (lost) {
		atomic64_inc(&sbx_dropped);
		if (kill)
			atomic64_inc(&sbx_kills_dropped);
	}

	/* Kill lines have their own limit: a flood of log lines cannot hide them. */
	if (__ratelimit(kill ? &sbx_log_kill_rs : &sbx_log_rs))
		sbx_report_log(p, rec, kill);
}

/*
 * Copy up to @n of the oldest records of @q into @out, in order of seq,
 * without removing them. *@last_log is the seq of the last log record
 * copied (unchanged if none), *@nr_kills the number of kill records copied
 * (the first ones of q->kills: only readers remove kill records).
 */
static unsigned int sbx_rq_peek(struct sbx_rq *q, struct sbx_violation_record *out, unsigned int n,
				u64 *last_log, unsigned int *nr_kills)
{
	struct sbx_qrec *l, *k;
	unsigned long flags;
	unsigned int got = 0;

	*nr_kills = 0;
	spin_lock_irqsave(&q->lock, flags);
	l = list_first_entry_or_null(&q->logs, struct sbx_qrec, link);
	k = list_first_entry_or_null(&q->kills, struct sbx_qrec, link);
	while (got < n && (l || k)) {
		if (l && (!k || l->rec.seq < k->rec.seq)) {
			out[got++] = l->rec;
			*last_log = l->rec.seq;
			l = list_is_last(&l->link, &q->logs) ? NULL : list_next_entry(l, link);
		} else {
			out[got++] = k->rec;
			(*nr_kills)++;
			k = list_is_last(&k->link, &q->kills) ? NULL : list_next_entry(k, link);
		}
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return got;
}

/*
 * Remove what sbx_rq_peek() copied: the log records up to seq @last_log that
 * are still queued (others may have been evicted meanwhile) and the first
 * @nr_kills kill records. Held thread states go back to the pool.
 */
static void sbx_rq_consume(struct sbx_policy *p, u64 last_log, unsigned int nr_kills)
{
	struct sbx_rq *q = &p->rq;
	struct sbx_qrec *qr, *next;
	unsigned long flags;
	LIST_HEAD(release);

	spin_lock_irqsave(&q->lock, flags);
	while ((qr = list_first_entry_or_null(&q->logs, struct sbx_qrec, link)) &&
	       qr->rec.seq <= last_log) {
		list_move_tail(&qr->link, &q->free);
		qr->queued = 0;
		q->nr_logs--;
	}
	while (nr_kills-- && (qr = list_first_entry_or_null(&q->kills, struct sbx_qrec, link))) {
		q->nr_kills--;
		qr->queued = 0;
		if (!qr->in_task) {
			list_move_tail(&qr->link, &q->free);
		} else if (qr->held) {
			qr->held = 0;
			list_move_tail(&qr->link, &release);
		} else {
			list_del_init(&qr->link);
		}
	}
	spin_unlock_irqrestore(&q->lock, flags);
	list_for_each_entry_safe(qr, next, &release, link) {
		list_del_init(&qr->link);
		sbx_policy_slot_return(p, container_of(qr, struct sbx_task, kill_rec));
	}
}

/*
 * Move up to @max - *@done records of @p to @buf + *@done, through @batch.
 * Return: 0 or -EFAULT (what the failing batch held stays queued).
 */
static int sbx_rq_read(struct sbx_policy *p, struct sbx_violation_record __user *buf, u32 max,
		       u32 *done, struct sbx_violation_record *batch)
{
	unsigned int n, nr_kills;
	u64 last_log;

	while (*done < max) {
		last_log = 0;
		n = sbx_rq_peek(&p->rq, batch, min_t(u32, max - *done, SBX_READ_BATCH), &last_log,
				&nr_kills);
		if (!n)
			break;
		if (copy_to_user(buf + *done, batch, n * sizeof(*batch)))
			return -EFAULT;
		sbx_rq_consume(p, last_log, nr_kills);
		*done += n;
	}
	return 0;
}

static u64 sbx_rq_dropped(struct sbx_rq *q)
{
	unsigned long flags;
	u64 dropped;

	spin_lock_irqsave(&q->lock, flags);
	dropped = q->dropped;
	spin_unlock_irqrestore(&q->lock, flags);
	return dropped;
}

/**
 * sbx_report_read - move the oldest records to userspace (SBX_IOC_READ).
 * @buf:       the user array.
 * @max:       its capacity in records.
 * @by_policy: take only the records of @policy_id.
 * @policy_id: the policy, with @by_policy.
 * @count:     records written.
 * @dropped:   with @by_policy the policy's dropped counter (0 if it is not
 *             loaded), else the global one.
 *
 * Records are removed only after they were copied. Sleeps.
 *
 * Return: 0, -ENOMEM or -EFAULT (nothing copied by the failing batch is lost).
 */
int sbx_report_read(struct sbx_violation_record __user *buf, u32 max, bool by_policy, u32 policy_id,
		    u32 *count, u64 *dropped)
{
	struct sbx_violation_record *batch = NULL;
	struct sbx_policy *p;
	u32 id, done = 0;
	int ret = 0;

	*count = 0;
	*dropped = by_policy ? 0 : atomic64_read(&sbx_dropped);
	if (max) {
		batch = kmalloc_array(SBX_READ_BATCH, sizeof(*batch), GFP_KERNEL);
		if (!batch)
			return -ENOMEM;
	}
	mutex_lock(&sbx_read_lock);
	if (by_policy) {
		id = policy_id;
		p = sbx_policy_next(&id);
		if (p && id == policy_id) {
			if (max)
				ret = sbx_rq_read(p, buf, max, &done, batch);
			*dropped = sbx_rq_dropped(&p->rq);
		}
		if (p)
			sbx_policy_put(p);
	} else if (max) {
		for (id = 1; done < max && (p = sbx_policy_next(&id)); id++) {
			ret = sbx_rq_read(p, buf, max, &done, batch);
			sbx_policy_put(p);
			if (ret || id == U32_MAX)
				break;
		}
	}
	mutex_unlock(&sbx_read_lock);
	kfree(batch);
	*count = done;
	return ret;
}

/* The queue counters of @p, for SBX_IOC_POLICIES. */
static void sbx_rq_entry(struct sbx_policy *p, struct sbx_policy_entry *e)
{
	struct sbx_rq *q = &p->rq;
	unsigned long flags;

	memset(e, 0, sizeof(*e));
	e->id = p->id;
	e->blob_flags = p->view.flags;
	e->size = p->size;
	e->users = atomic_read(&p->users);
	e->queue_size = SBX_QUEUE_SIZE;
	spin_lock_irqsave(&q->lock, flags);
	e->violations = q->violations;
	e->dropped = q->dropped;
	e->dropped_rate = q->dropped_rate;
	e->queued = q->nr_logs + q->nr_kills;
	e->queued_kills = q->nr_kills;
	e->kills_dropped = min_t(u64, q->kills_dropped, U32_MAX);
	spin_unlock_irqrestore(&q->lock, flags);
}

/**
 * sbx_report_stats - the record counters of SBX_IOC_STATUS. Sleeps.
 * @violations:    violations since load.
 * @dropped:       records lost since load (all policies).
 * @kills_dropped: kill records lost since load.
 * @queue_size:    SBX_QUEUE_SIZE.
 * @queued:        records waiting in the queues of the loaded policies.
 */
void sbx_report_stats(u64 *violations, u64 *dropped, u64 *kills_dropped, u32 *queue_size,
		      u32 *queued)
{
	struct sbx_policy_entry e;
	struct sbx_policy *p;
	u32 id;

	*violations = atomic64_read(&sbx_seq);
	*dropped = atomic64_read(&sbx_dropped);
	*kills_dropped = atomic64_read(&sbx_kills_dropped);
	*queue_size = SBX_QUEUE_SIZE;
	*queued = 0;
	for (id = 1; (p = sbx_policy_next(&id)); id++) {
		sbx_rq_entry(p, &e);
		sbx_policy_put(p);
		*queued += e.queued;
		if (id == U32_MAX)
			break;
	}
}

/**
 * sbx_report_policies - the loaded policies and their queues
 * (SBX_IOC_POLICIES). Sleeps.
 * @ubuf:  the user array.
 * @max:   its capacity in entries.
 * @count: the number of loaded policies; min(@count, @max) entries are
 *         written, in order of id.
 *
 * Return: 0, -ENOMEM or -EFAULT.
 */
int sbx_report_policies(struct sbx_policy_entry __user *ubuf, u32 max, u32 *count)
{
	struct sbx_policy_entry *buf = NULL;
	struct sbx_policy_entry e;
	struct sbx_policy *p;
	u32 id, cap, total = 0;
	int ret = 0;

	cap = min_t(u32, max, sbx_max_policies);
	if (cap) {
		buf = kvmalloc_array(cap, sizeof(*buf), GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
	}
	for (id = 1; (p = sbx_policy_next(&id)); id++) {
		sbx_rq_entry(p, &e);
		sbx_policy_put(p);
		if (total < cap)
			buf[total] = e;
		total++;
		if (id == U32_MAX)
			break;
	}
	if (cap && copy_to_user(ubuf, buf, min(total, cap) * sizeof(*buf)))
		ret = -EFAULT;
	kvfree(buf);
	*count = total;
	return ret;
}
