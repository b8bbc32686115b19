// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_report.c - violation records: a bounded ring read through SBX_IOC_READ,
 * a rate limit, and a short line in the kernel log.
 *
 * The ring keeps the SBX_RING_SIZE most recent records; a record pushed into
 * a full ring overwrites the oldest one. At most SBX_RECORD_BURST records are
 * queued per SBX_RECORD_INTERVAL; the others are only counted. Both kinds of
 * loss add to records_dropped. The log line is pr_notice_ratelimited().
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/atomic.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "sbx_dyck.h"

#define SBX_RING_SIZE		256
#define SBX_RECORD_INTERVAL	HZ
#define SBX_RECORD_BURST	100
#define SBX_READ_BATCH		16

static struct sbx_violation_record sbx_ring[SBX_RING_SIZE];
static unsigned int sbx_ring_head;	/* index of the oldest record */
static unsigned int sbx_ring_count;
static DEFINE_SPINLOCK(sbx_ring_lock);
static DEFINE_MUTEX(sbx_read_lock);	/* serialises readers */

static atomic64_t sbx_seq = ATOMIC64_INIT(0);
static atomic64_t sbx_dropped = ATOMIC64_INIT(0);
/* Counts what it refuses in sbx_dropped; no "callbacks suppressed" lines. */
static struct ratelimit_state sbx_record_rs =
	RATELIMIT_STATE_INIT_FLAGS(sbx_record_rs, SBX_RECORD_INTERVAL, SBX_RECORD_BURST,
				   RATELIMIT_MSG_ON_RELEASE);

static const char *const sbx_reason_names[] = {
	[SBX_REASON_UNKNOWN_KIND] = "unknown marker kind",
	[SBX_REASON_ID_RANGE] = "id out of range",
	[SBX_REASON_NOT_ALLOWED] = "not allowed",
	[SBX_REASON_WRONG_RETURN] = "wrong return",
	[SBX_REASON_CANNOT_RETURN] = "cannot return",
	[SBX_REASON_NOT_CALLBACK] = "not a callback",
	[SBX_REASON_STACK_OVERFLOW] = "stack overflow",
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
};

static const char *sbx_reason_name(u32 reason)
{
	if (reason < ARRAY_SIZE(sbx_reason_names) && sbx_reason_names[reason])
		return sbx_reason_names[reason];
	return "?";
}

/**
 * sbx_report - queue a violation record and log it. Any context.
 * @rec: the record; its @seq and @time_ns are filled in here.
 */
void sbx_report(struct sbx_violation_record *rec)
{
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
	BUILD_BUG_ON(sizeof(struct sbx_violation_record) != 160);

	rec->seq = atomic64_inc_return(&sbx_seq);
	rec->time_ns = ktime_get_boottime_ns();

	pr_notice_ratelimited("violation: pid %u tid %u (%s) policy %u: %s; syscall %u kind %llu id %llu, top %#x mstate %u depth %u%s\n",
			      rec->pid, rec->tid, rec->comm, rec->policy_id,
			      sbx_reason_name(rec->reason), rec->syscall_nr, rec->kind,
			      rec->id, rec->tag, rec->mstate, rec->depth,
			      rec->flags & SBX_REC_F_KILLED ? ", killed" : "");

	if (!__ratelimit(&sbx_record_rs)) {
		atomic64_inc(&sbx_dropped);
		return;
	}
	spin_lock_irqsave(&sbx_ring_lock, flags);
	if (sbx_ring_count == SBX_RING_SIZE) {
		sbx_ring_head = (sbx_ring_head + 1) % SBX_RING_SIZE;
		sbx_ring_count--;
		atomic64_inc(&sbx_dropped);
	}
	sbx_ring[(sbx_ring_head + sbx_ring_count) % SBX_RING_SIZE] = *rec;
	sbx_ring_count++;
	spin_unlock_irqrestore(&sbx_ring_lock, flags);
}

static bool sbx_rec_wanted(const struct sbx_violation_record *r, bool by_policy, u32 policy_id)
{
	return !by_policy || r->policy_id == policy_id;
}

/*
 * Copy up to @n of the oldest wanted records into @out without removing
 * them. Returns how many.
 */
static unsigned int sbx_ring_peek(struct sbx_violation_record *out, unsigned int n,
				  bool by_policy, u32 policy_id)
{
	const struct sbx_violation_record *r;
	unsigned long flags;
	unsigned int i, got = 0;

	spin_lock_irqsave(&sbx_ring_lock, flags);
	for (i = 0; i < sbx_ring_count && got < n; i++) {
		r = &sbx_ring[(sbx_ring_head + i) % SBX_RING_SIZE];
		if (sbx_rec_wanted(r, by_policy, policy_id))
			out[got++] = *r;
	}
	spin_unlock_irqrestore(&sbx_ring_lock, flags);
	return got;
}

/*
 * Remove the wanted records up to sequence number @last that are still
 * queued; the others keep their order.
 */
static void sbx_ring_consume(u64 last, bool by_policy, u32 policy_id)
{
	const struct sbx_violation_record *r;
	unsigned long flags;
	unsigned int i, kept = 0, count;

	spin_lock_irqsave(&sbx_ring_lock, flags);
	if (!by_policy) {
		while (sbx_ring_count && sbx_ring[sbx_ring_head].seq <= last) {
			sbx_ring_head = (sbx_ring_head + 1) % SBX_RING_SIZE;
			sbx_ring_count--;
		}
		goto out;
	}
	count = sbx_ring_count;
	for (i = 0; i < count; i++) {
		r = &sbx_ring[(sbx_ring_head + i) % SBX_RING_SIZE];
		if (r->seq <= last && r->policy_id == policy_id)
			continue;
		if (kept != i)
			sbx_ring[(sbx_ring_head + kept) % SBX_RING_SIZE] = *r;
		kept++;
	}
	sbx_ring_count = kept;
out:
	spin_unlock_irqrestore(&sbx_ring_lock, flags);
}

/**
 * sbx_report_read - move the oldest records to userspace (SBX_IOC_READ).
 * @buf:   the user array.
 * @max:   its capacity in records.
 * @by_policy: take only the records of @policy_id.
 * @policy_id: the policy, with @by_policy.
 * @count: records written.
 *
 * Records are removed only after they were copied.
 *
 * Return: 0, -ENOMEM or -EFAULT (nothing copied by the failing batch is lost).
 */
int sbx_report_read(struct sbx_violation_record __user *buf, u32 max, bool by_policy,
		    u32 policy_id, u32 *count)
{
	struct sbx_violation_record *batch;
	unsigned int n, done = 0;
	int ret = 0;

	*count = 0;
	if (!max)
		return 0;
	batch = kmalloc_array(SBX_READ_BATCH, sizeof(*batch), GFP_KERNEL);
	if (!batch)
		return -ENOMEM;
	mutex_lock(&sbx_read_lock);
	while (done < max) {
		n = sbx_ring_peek(batch, min_t(u32, max - done, SBX_READ_BATCH),
				  by_policy, policy_id);
		if (!n)
			break;
		if (copy_to_user(buf + done, batch, n * sizeof(*batch))) {
			ret = -EFAULT;
			break;
		}
		sbx_ring_consume(batch[n - 1].seq, by_policy, policy_id);
		done += n;
	}
	mutex_unlock(&sbx_read_lock);
	kfree(batch);
	*count = done;
	return ret;
}

void sbx_report_stats(u64 *violations, u64 *dropped, u32 *ring_size, u32 *ring_count)
{
	unsigned long flags;

	*violations = atomic64_read(&sbx_seq);
	*dropped = atomic64_read(&sbx_dropped);
	*ring_size = SBX_RING_SIZE;
	spin_lock_irqsave(&sbx_ring_lock, flags);
	*ring_count = sbx_ring_count;
	spin_unlock_irqrestore(&sbx_ring_lock, flags);
}
