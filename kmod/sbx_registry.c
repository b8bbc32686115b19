// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_registry.c - the per-executable registry: a policy enforced on every
 * exec of one inode, by any process (SBX_IOC_INSTALL, _REMOVE, _LIST).
 *
 * Entries are kept in a small hash keyed by inode (super block device and
 * inode number), which the exec probe reads under RCU (preemption disabled),
 * and in a list in order of installation. Both are changed under
 * sbx_registry_lock, a mutex: only ioctls and module exit change them. The
 * exec path of every process on the system goes through sbx_registry_any()
 * first, one atomic read, so an empty registry costs nothing more.
 *
 * An entry holds a reference and a use of its policy (it cannot be unloaded).
 * It costs other processes nothing: the sys_enter probe is attached from load,
 * and a thread gets the syscall tracing flag only when an exec enforces it
 * through the entry (sbx_hooks.c). Removal
 * unpublishes the entry, waits for a grace period, and only then drops them:
 * a probe that found the entry has taken its own references by then
 * (sbx_task_exec). Entries do not pin the module; module exit drops them.
 *
 * Specs: specs/kernel-abi.md ("Control interface": SBX_IOC_INSTALL, thread
 * life cycle).
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/kdev_t.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sbx_dyck.h"

#define SBX_REGISTRY_HASH_BITS 6

static DEFINE_HASHTABLE(sbx_registry_table, SBX_REGISTRY_HASH_BITS);
static LIST_HEAD(sbx_registry_list_head); /* in order of installation */
static DEFINE_MUTEX(sbx_registry_lock);	  /* the hash, the list, the id counter */
static u64 sbx_registry_next_id = 1;

/* Entries in the registry; read without the lock by the exec probe. */
atomic_t sbx_nr_installed = ATOMIC_INIT(0);

static unsigned long sbx_exe_key(dev_t dev, unsigned long ino)
{
	return ino ^ ((unsigned long)dev << 32) ^ dev;
}

/**
 * sbx_registry_find - the entry for an inode, or NULL.
 * @inode: the inode of the file being execed.
 *
 * The caller is an RCU reader (rcu_read_lock() or preemption disabled); the
 * entry and the references it holds stay valid until the reader ends.
 */
struct sbx_install *sbx_registry_find(const struct inode *inode)
{
	dev_t dev = inode->i_sb->s_dev;
	unsigned long ino = inode->i_ino;
	struct sbx_install *e;

	hash_for_each_possible_rcu(sbx_registry_table, e, node, sbx_exe_key(dev, ino))
		if (e->exe.ino == ino && e->exe.dev == dev)
			return e;
	return NULL;
}

/* The entry for @exe, or NULL. The caller holds sbx_registry_lock. */
static struct sbx_install *sbx_registry_lookup(const struct sbx_exe *exe)
{
	struct sbx_install *e;

	hash_for_each_possible(sbx_registry_table, e, node, sbx_exe_key(exe->dev, exe->ino))
		if (e->exe.ino == exe->ino && e->exe.dev == exe->dev)
			return e;
	return NULL;
}

/* Drop what an unpublished entry holds, after a grace period. */
static void sbx_install_free(struct sbx_install *e)
{
	sbx_policy_unuse(e->policy);
	sbx_policy_put(e->policy);
	kfree(e);
}

/**
 * sbx_registry_install - add an entry (SBX_IOC_INSTALL), or replace one.
 * @tmpl:     the entry's executable, policy, mode, action, exec transition,
 *            digest and stamp (copied); on success the caller's reference
 *            and use of the policy pass to the entry.
 * @replace:  replace the inode's entry, if it has one.
 * @replaced: out: the policy of the entry replaced (its use is dropped when
 *            this returns), or 0.
 * @id:       out: the entry's id, for sbx_registry_remove().
 *
 * A replacement is published before the old entry is unpublished: an exec
 * meanwhile finds one of them. Sleeps.
 *
 * Return: 0, -ENOMEM, -ENOSPC or -EEXIST.
 */
int sbx_registry_install(const struct sbx_install *tmpl, bool replace, u32 *replaced, u64 *id)
{
	struct sbx_install *e, *old;
	int ret;

	*replaced = 0;
	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e)
		return -ENOMEM;
	*e = *tmpl;
	INIT_HLIST_NODE(&e->node);
	INIT_LIST_HEAD(&e->link);
	atomic64_set(&e->execs, 0);
	atomic_set(&e->refused, 0);

	mutex_lock(&sbx_registry_lock);
	old = sbx_registry_lookup(&e->exe);
	if (old && !replace) {
		ret = -EEXIST;
		goto err_unlock;
	}
	if (!old && atomic_read(&sbx_nr_installed) >= SBX_MAX_INSTALLED) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	e->id = sbx_registry_next_id++;
	list_add_tail(&e->link, &sbx_registry_list_head);
	/* Counted before it is visible: the probe looks only if it counts. */
	if (!old)
		atomic_inc(&sbx_nr_installed);
	/* At the bucket's head: found before @old from now on. */
	hash_add_rcu(sbx_registry_table, &e->node, sbx_exe_key(e->exe.dev, e->exe.ino));
	if (old) {
		hash_del_rcu(&old->node);
		list_del(&old->link);
	}
	*id = e->id;
	mutex_unlock(&sbx_registry_lock);
	pr_debug("installed policy %u for inode %u:%u:%lu\n", e->policy->id, MAJOR(e->exe.dev),
		 MINOR(e->exe.dev), e->exe.ino);
	if (old) {
		*replaced = old->policy->id;
		/* Exec probes that found it have taken their references. */
		synchronize_rcu();
		sbx_install_free(old);
	}
	return 0;

err_unlock:
	mutex_unlock(&sbx_registry_lock);
	kfree(e);
	return ret;
}

/**
 * sbx_registry_refused - count an exec refused because the content of entry
 * @id's file changed (if the entry is still there). Sleeps.
 */
void sbx_registry_refused(u64 id)
{
	struct sbx_install *e;

	mutex_lock(&sbx_registry_lock);
	list_for_each_entry(e, &sbx_registry_list_head, link) {
		if (e->id == id) {
			atomic_inc(&e->refused);
			break;
		}
	}
	mutex_unlock(&sbx_registry_lock);
}

/* Unpublish @e. The caller holds sbx_registry_lock. */
static void sbx_registry_unlink(struct sbx_install *e)
{
	hash_del_rcu(&e->node);
	list_del(&e->link);
	atomic_dec(&sbx_nr_installed);
}

/**
 * sbx_registry_remove - remove an entry (SBX_IOC_REMOVE).
 * @exe:       its executable.
 * @only_id:   if not 0, remove the entry only if it has this id.
 * @policy_id: out, if not NULL: the entry's policy.
 *
 * Threads enforced through the entry stay enforced. When this returns, the
 * entry's use of the policy is dropped (an unload can follow at once). Sleeps.
 *
 * Return: 0 or -ENOENT.
 */
int sbx_registry_remove(const struct sbx_exe *exe, u64 only_id, u32 *policy_id)
{
	struct sbx_install *e;

	mutex_lock(&sbx_registry_lock);
	e = sbx_registry_lookup(exe);
	if (!e || (only_id && e->id != only_id)) {
		mutex_unlock(&sbx_registry_lock);
		return -ENOENT;
	}
	sbx_registry_unlink(e);
	mutex_unlock(&sbx_registry_lock);
	if (policy_id)
		*policy_id = e->policy->id;
	/* Exec probes that found the entry have taken their references. */
	synchronize_rcu();
	sbx_install_free(e);
	return 0;
}

/**
 * sbx_registry_list - copy the registry to userspace (SBX_IOC_LIST).
 * @ubuf:  the user array.
 * @max:   its capacity in entries.
 * @count: out: the number of entries; min(@count, @max) are written, in order
 *         of installation.
 *
 * Sleeps.
 *
 * Return: 0, -ENOMEM or -EFAULT.
 */
int sbx_registry_list(struct sbx_install_entry __user *ubuf, u32 max, u32 *count)
{
	struct sbx_install_entry *buf = NULL;
	u32 *processes = NULL;
	u64 *ids = NULL;
	struct sbx_install *e;
	u32 cap, n = 0, i;
	int ret = 0;

	cap = min_t(u32, max, SBX_MAX_INSTALLED);
	if (cap) {
		buf = kvcalloc(cap, sizeof(*buf), GFP_KERNEL);
		ids = kvcalloc(cap, sizeof(*ids), GFP_KERNEL);
		processes = kvcalloc(cap, sizeof(*processes), GFP_KERNEL);
		if (!buf || !ids || !processes) {
			ret = -ENOMEM;
			goto out;
		}
	}

	mutex_lock(&sbx_registry_lock);
	*count = atomic_read(&sbx_nr_installed);
	list_for_each_entry(e, &sbx_registry_list_head, link) {
		if (n == cap)
			break;
		buf[n].dev = new_encode_dev(e->exe.dev);
		buf[n].ino = e->exe.ino;
		buf[n].policy_id = e->policy->id;
		buf[n].mode = e->mode;
		buf[n].action = e->action;
		buf[n].execs = atomic64_read(&e->execs);
		buf[n].exec = e->exec;
		buf[n].refused = atomic_read(&e->refused);
		ids[n] = e->id;
		n++;
	}
	mutex_unlock(&sbx_registry_lock);

	/* Ids ascend in the list's order; the threads are counted after. */
	sbx_task_count_installed(ids, processes, n);
	for (i = 0; i < n; i++)
		buf[i].processes = processes[i];
	if (n && copy_to_user(ubuf, buf, n * sizeof(*buf)))
		ret = -EFAULT;
out:
	kvfree(processes);
	kvfree(ids);
	kvfree(buf);
	return ret;
}

/*
 * Module exit, before the probes are detached: drop every entry. Nothing can
 * install any more (the device is gone); an exec probe that still finds an
 * entry cannot take a module reference (the module is going), so it makes no
 * state.
 */
void sbx_registry_exit(void)
{
	struct sbx_install *e, *tmp;
	LIST_HEAD(gone);

	mutex_lock(&sbx_registry_lock);
	list_for_each_entry_safe(e, tmp, &sbx_registry_list_head, link) {
		hash_del_rcu(&e->node);
		list_move_tail(&e->link, &gone);
		atomic_dec(&sbx_nr_installed);
	}
	mutex_unlock(&sbx_registry_lock);
	if (list_empty(&gone))
		return;
	synchronize_rcu();
	list_for_each_entry_safe(e, tmp, &gone, link)
		sbx_install_free(e);
}
