// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_policy.c - the policy store: blobs loaded through /dev/sbx, their
 * references, and per-policy pools of preallocated thread states.
 *
 * A policy is referenced by the store while it is loaded, by every thread
 * state armed or enforced with it and by every registry entry; it is *used*
 * (struct sbx_policy.users) while such a state is in the task table, an entry
 * holds it, or an arm or install is in progress. Only the store makes new
 * users of a loaded policy (SBX_IOC_ARM and SBX_IOC_INSTALL, under
 * sbx_policy_lock), a fork adds one while its parent is one, and an exec
 * through a registry entry adds one while the entry holds one (an entry drops
 * its use only a grace period after it became unreachable), so "unused" is
 * stable under sbx_policy_lock. A state's reference outlives its use by an
 * RCU grace period (it is dropped when the state is released), so the final
 * put can come from any context: freeing always runs in sbx_wq.
 *
 * Thread states are sized by the policy (slots for its stack limit) and must
 * be obtainable in the fork probe, which cannot sleep. Each policy keeps a pool
 * of free states, refilled to sbx_pool_reserve by a work item; when the pool is
 * empty the probe falls back to a GFP_ATOMIC allocation. States return to the
 * pool from any context (after their RCU grace period) and are freed only in
 * work items, so vmalloc'd states are never freed from atomic context.
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/err.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sbx_dyck.h"

static DEFINE_IDR(sbx_policies);
static DEFINE_MUTEX(sbx_policy_lock); /* the idr and the totals below */
static u32 sbx_nr_policies;
static u64 sbx_policy_bytes;

static void sbx_pool_work(struct work_struct *work);
static void sbx_policy_free_work(struct work_struct *work);
static void sbx_policy_reap_work(struct work_struct *work);

static struct sbx_policy *sbx_policy_alloc(void *blob, u32 size, const struct sbx_policy_view *view)
{
	struct sbx_policy *p = kzalloc(sizeof(*p), GFP_KERNEL);

	if (!p)
		return NULL;
	if (sbx_rq_init(&p->rq)) {
		kfree(p);
		return NULL;
	}
	refcount_set(&p->ref, 1);
	atomic_set(&p->users, 0);
	p->blob = blob;
	p->size = size;
	p->view = *view;
	p->slot_size = struct_size((struct sbx_task *)NULL, slots, view->stack_limit);
	spin_lock_init(&p->pool_lock);
	INIT_LIST_HEAD(&p->pool_free);
	INIT_WORK(&p->pool_work, sbx_pool_work);
	INIT_WORK(&p->free_work, sbx_policy_free_work);
	INIT_WORK(&p->reap_work, sbx_policy_reap_work);
	return p;
}

/**
 * sbx_policy_load - copy a blob from userspace, validate it and store it.
 * @ublob:      the blob in userspace.
 * @owner:      with SBX_LOAD_F_OWNED, the loader's file (sbx_policy_disown()),
 *              else NULL.
 * @size:       its size.
 * @id:         the new policy's id.
 * @blob_flags: the blob header's flags.
 *
 * Return: 0, or -E2BIG, -EFAULT, -EINVAL, -ENOSPC, -ENOMEM (see SBX_IOC_LOAD).
 */
int sbx_policy_load(const void __user *ublob, u32 size, const struct file *owner, u32 *id,
		    u32 *blob_flags)
{
	struct sbx_policy_view view;
	struct sbx_policy *p;
	void *blob;
	int ret;

	if (size > SBX_BLOB_MAX_SIZE)
		return -E2BIG;
	if (size < SBX_BLOB_HEADER_SIZE)
		return -EINVAL;

	blob = kvmalloc(size, GFP_KERNEL_ACCOUNT);
	if (!blob)
		return -ENOMEM;
	if (copy_from_user(blob, ublob, size)) {
		ret = -EFAULT;
		goto err_blob;
	}
	/* The core's error numbers are Linux's: -SBX_EINVAL == -EINVAL. */
	ret = sbx_blob_validate(blob, size, &view);
	if (ret)
		goto err_blob;

	p = sbx_policy_alloc(blob, size, &view);
	if (!p) {
		ret = -ENOMEM;
		goto err_blob;
	}
	/* The never-allowed calls leave every window (sbx_never.c). */
	ret = sbx_never_prepare(p);
	if (ret)
		goto err_policy;

	mutex_lock(&sbx_policy_lock);
	if (sbx_nr_policies >= sbx_max_policies || sbx_policy_bytes + size > sbx_max_policy_bytes) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	ret = idr_alloc_cyclic(&sbx_policies, p, 1, INT_MAX, GFP_KERNEL);
	if (ret < 0)
		goto err_unlock;
	p->id = ret;
	p->owner = owner;
	sbx_nr_policies++;
	sbx_policy_bytes += size;
	mutex_unlock(&sbx_policy_lock);

	*id = p->id;
	*blob_flags = view.flags;
	pr_debug("policy %u loaded: %u bytes, %u macro-states%s\n", p->id, size, view.nr_mstates,
		 view.flags & SBX_BLOB_F_NFA ? ", nfa" : "");
	return 0;

err_unlock:
	mutex_unlock(&sbx_policy_lock);
err_policy:
	kvfree(p->argchk);
	sbx_rq_destroy(p);
	kfree(p);
err_blob:
	kvfree(blob);
	return ret;
}

/*
 * Take @p out of the store if it is still in it and unused; the caller holds
 * sbx_policy_lock and, on true, puts the store's reference.
 */
static bool sbx_policy_remove_unused(struct sbx_policy *p)
{
	if (atomic_read(&p->users) || idr_find(&sbx_policies, p->id) != p)
		return false;
	idr_remove(&sbx_policies, p->id);
	sbx_nr_policies--;
	sbx_policy_bytes -= p->size;
	return true;
}

/**
 * sbx_policy_unload - remove an unused policy from the store.
 * @id: its id.
 *
 * Return: 0, -ENOENT (no such policy) or -EBUSY (a thread is armed or
 * enforced with it, or a registry entry holds it). Thread states that are
 * gone but not yet released keep a reference, not a use: the policy is freed
 * after them.
 */
int sbx_policy_unload(u32 id)
{
	struct sbx_policy *p;

	if (id == 0 || id > INT_MAX)
		return -ENOENT;
	mutex_lock(&sbx_policy_lock);
	p = idr_find(&sbx_policies, id);
	if (!p) {
		mutex_unlock(&sbx_policy_lock);
		return -ENOENT;
	}
	if (!sbx_policy_remove_unused(p)) {
		mutex_unlock(&sbx_policy_lock);
		return -EBUSY;
	}
	mutex_unlock(&sbx_policy_lock);
	sbx_policy_put(p);
	return 0;
}

/*
 * Unuse and disown meet here: whichever of the last unuse and the owner's close
 * comes second sees the other (a fully ordered atomic on each side), so an
 * orphan is unloaded exactly once, by the first to find it unused.
 */
static void sbx_policy_reap_work(struct work_struct *work)
{
	struct sbx_policy *p = container_of(work, struct sbx_policy, reap_work);
	bool removed;

	mutex_lock(&sbx_policy_lock);
	removed = sbx_policy_remove_unused(p);
	mutex_unlock(&sbx_policy_lock);
	if (removed) {
		pr_debug("policy %u unloaded: its owner is gone and nothing uses it\n", p->id);
		sbx_policy_put(p);
	}
	sbx_policy_put(p); /* the work's */
}

/**
 * sbx_policy_disown - the file that loaded policies with SBX_LOAD_F_OWNED is
 * being released: unload those nothing uses, and have the others unloaded by
 * their last sbx_policy_unuse(). Sleeps.
 * @file: the file.
 */
void sbx_policy_disown(const struct file *file)
{
	struct sbx_policy *p;
	int id;

	mutex_lock(&sbx_policy_lock);
	idr_for_each_entry(&sbx_policies, p, id)
	{
		if (p->owner != file)
			continue;
		p->owner = NULL;
		set_bit(SBX_POLICY_ORPHAN, &p->flags);
		smp_mb__after_atomic();
		if (sbx_policy_remove_unused(p)) {
			pr_debug("policy %u unloaded with its owner\n", p->id);
			sbx_policy_put(p);
		}
	}
	mutex_unlock(&sbx_policy_lock);
}

/**
 * sbx_policy_next - the loaded policy with the lowest id >= *@id, with a new
 * reference (not a use; drop it with sbx_policy_put()). Sleeps.
 * @id: in: where to start; out: the policy's id.
 *
 * Return: the policy, or NULL if none is loaded from *@id on.
 */
struct sbx_policy *sbx_policy_next(u32 *id)
{
	struct sbx_policy *p;
	int next = *id;

	if (*id > INT_MAX)
		return NULL;
	mutex_lock(&sbx_policy_lock);
	p = idr_get_next(&sbx_policies, &next);
	if (p) {
		refcount_inc(&p->ref);
		*id = next;
	}
	mutex_unlock(&sbx_policy_lock);
	return p;
}

/**
 * sbx_policy_find - a loaded policy by id, with a new reference and use, for
 * a thread about to be armed or a registry entry about to be made. Undo with
 * sbx_policy_unuse() and sbx_policy_put() if that fails.
 * @id: its id.
 *
 * Return: the policy, or NULL.
 */
struct sbx_policy *sbx_policy_find(u32 id)
{
	struct sbx_policy *p = NULL;

	if (id == 0 || id > INT_MAX)
		return NULL;
	mutex_lock(&sbx_policy_lock);
	p = idr_find(&sbx_policies, id);
	if (p) {
		refcount_inc(&p->ref);
		atomic_inc(&p->users);
	}
	mutex_unlock(&sbx_policy_lock);
	return p;
}

/*
 * A reference and use for a new thread state; the caller holds one (or is an
 * RCU reader of a registry entry that does). Any context.
 */
void sbx_policy_get(struct sbx_policy *p)
{
	refcount_inc(&p->ref);
	atomic_inc(&p->users);
}

/*
 * A thread state left the task table, or a registry entry went (its reference
 * goes later, so @p is alive here). Any context: an orphan's unload is queued.
 */
void sbx_policy_unuse(struct sbx_policy *p)
{
	if (atomic_dec_and_test(&p->users) && test_bit(SBX_POLICY_ORPHAN, &p->flags)) {
		refcount_inc(&p->ref);
		if (!queue_work(sbx_wq, &p->reap_work))
			sbx_policy_put(p);
	}
}

/* Drop a reference. Any context; the free runs in sbx_wq. */
void sbx_policy_put(struct sbx_policy *p)
{
	if (refcount_dec_and_test(&p->ref))
		queue_work(sbx_wq, &p->free_work);
}

static void sbx_policy_free_work(struct work_struct *work)
{
	struct sbx_policy *p = container_of(work, struct sbx_policy, free_work);
	struct sbx_task *t, *next;

	/* No state is in use, so nothing can queue the pool work again. */
	cancel_work_sync(&p->pool_work);
	/* Discards the unread records, frees the states held for them. */
	sbx_rq_destroy(p);
	WARN_ON(p->nr_tasks);
	list_for_each_entry_safe(t, next, &p->pool_free, pool_link)
		kvfree(t);
	pr_debug("policy %u freed\n", p->id);
	kvfree(p->argchk);
	kvfree(p->blob);
	kfree(p);
}

/* Keep between sbx_pool_reserve and twice that many free states. */
static void sbx_pool_work(struct work_struct *work)
{
	struct sbx_policy *p = container_of(work, struct sbx_policy, pool_work);
	struct sbx_task *t;
	unsigned long flags;

	for (;;) {
		spin_lock_irqsave(&p->pool_lock, flags);
		if (p->pool_nr_free > 2 * sbx_pool_reserve) {
			t = list_first_entry(&p->pool_free, struct sbx_task, pool_link);
			list_del(&t->pool_link);
			p->pool_nr_free--;
			spin_unlock_irqrestore(&p->pool_lock, flags);
			kvfree(t);
			continue;
		}
		if (p->pool_nr_free >= sbx_pool_reserve ||
		    p->nr_tasks + p->pool_nr_free >= sbx_max_tasks_per_policy) {
			spin_unlock_irqrestore(&p->pool_lock, flags);
			return;
		}
		spin_unlock_irqrestore(&p->pool_lock, flags);

		t = kvzalloc(p->slot_size, GFP_KERNEL);
		if (!t)
			return;
		spin_lock_irqsave(&p->pool_lock, flags);
		list_add(&t->pool_link, &p->pool_free);
		p->pool_nr_free++;
		spin_unlock_irqrestore(&p->pool_lock, flags);
	}
}

/**
 * sbx_policy_slot_get - a thread state for @p, counted against its budget.
 * @p:         the policy (the caller holds a reference).
 * @can_sleep: process context that may sleep (the arm ioctl); otherwise the
 *             state comes from the pool or from GFP_ATOMIC memory.
 *
 * The state is zeroed only when freshly allocated; the caller initialises it.
 *
 * Return: the state, ERR_PTR(-ENOSPC) when the budget is used up, or
 * ERR_PTR(-ENOMEM).
 */
struct sbx_task *sbx_policy_slot_get(struct sbx_policy *p, bool can_sleep)
{
	struct sbx_task *t = NULL;
	unsigned long flags;
	bool refill;

	spin_lock_irqsave(&p->pool_lock, flags);
	if (p->nr_tasks >= sbx_max_tasks_per_policy) {
		spin_unlock_irqrestore(&p->pool_lock, flags);
		return ERR_PTR(-ENOSPC);
	}
	p->nr_tasks++;
	if (!list_empty(&p->pool_free)) {
		t = list_first_entry(&p->pool_free, struct sbx_task, pool_link);
		list_del(&t->pool_link);
		p->pool_nr_free--;
	}
	refill = p->pool_nr_free < sbx_pool_reserve;
	spin_unlock_irqrestore(&p->pool_lock, flags);

	if (!t) {
		if (can_sleep)
			t = kvzalloc(p->slot_size, GFP_KERNEL_ACCOUNT);
		else
			t = kzalloc(p->slot_size, GFP_ATOMIC | __GFP_NOWARN);
	}
	if (refill)
		queue_work(sbx_wq, &p->pool_work);
	if (!t) {
		spin_lock_irqsave(&p->pool_lock, flags);
		p->nr_tasks--;
		spin_unlock_irqrestore(&p->pool_lock, flags);
		return ERR_PTR(-ENOMEM);
	}
	return t;
}

/**
 * sbx_policy_slot_put - return a thread state to its policy's pool, or leave
 * it to the policy's record queue while its kill record is unread.
 * @p: the policy it was obtained from (the caller still holds a reference).
 * @t: the state, no longer reachable by any reader.
 *
 * Any context.
 */
void sbx_policy_slot_put(struct sbx_policy *p, struct sbx_task *t)
{
	if (sbx_rq_hold(p, t))
		return;
	sbx_policy_slot_return(p, t);
}

/**
 * sbx_policy_slot_return - return a thread state to its policy's pool.
 * @p: the policy it was obtained from; the caller holds a reference.
 * @t: the state, no longer reachable and no longer queued.
 *
 * Any context.
 */
void sbx_policy_slot_return(struct sbx_policy *p, struct sbx_task *t)
{
	unsigned long flags;
	bool trim;

	spin_lock_irqsave(&p->pool_lock, flags);
	list_add(&t->pool_link, &p->pool_free);
	p->pool_nr_free++;
	p->nr_tasks--;
	trim = p->pool_nr_free > 2 * sbx_pool_reserve;
	spin_unlock_irqrestore(&p->pool_lock, flags);
	if (trim)
		queue_work(sbx_wq, &p->pool_work);
}

void sbx_policy_stats(u32 *nr, u64 *bytes)
{
	mutex_lock(&sbx_policy_lock);
	*nr = sbx_nr_policies;
	*bytes = sbx_policy_bytes;
	mutex_unlock(&sbx_policy_lock);
}

/* Module exit: drop the store's references; the frees run in sbx_wq. */
void sbx_policy_exit(void)
{
	struct sbx_policy *p;
	int id;

	mutex_lock(&sbx_policy_lock);
	idr_for_each_entry(&sbx_policies, p, id)
	{
		WARN_ON(atomic_read(&p->users));
		sbx_policy_put(p);
	}
	idr_destroy(&sbx_policies);
	sbx_nr_policies = 0;
	sbx_policy_bytes = 0;
	mutex_unlock(&sbx_policy_lock);
}
