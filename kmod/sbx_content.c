// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_content.c - the registry follows content, not only inodes.
 *
 * SBX_IOC_INSTALL hashes the executable (SHA-256 of the whole file, read with
 * writes to the inode denied) and takes a stamp of its inode (size, mtime,
 * ctime). The exec probe compares the inode with the stamp: equal, the
 * content is the one installed (see struct sbx_stamp for why); different (a
 * chmod, a touch, or a binary rewritten in place), the probe cannot read the
 * file (it may not sleep), so it queues a task work on the exec'ing thread
 * (TWA_RESUME: it runs before the new image's first instruction) that hashes
 * the file exec'd and, if the digest is not the entry's, records
 * SBX_REASON_EXE_REBUILT and kills the process.
 *
 * Specs: specs/kernel-abi.md ("Exec transitions", "Content binding").
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <crypto/sha2.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/version.h>

#include "sbx_dyck.h"

#define SBX_HASH_CHUNK (64 * 1024)
/* How long install waits for the clock to pass the file's ctime: 2.5 s. */
#define SBX_STAMP_WAIT_MS    10
#define SBX_STAMP_WAIT_TRIES 250

static struct timespec64 sbx_mtime(const struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return inode_get_mtime(inode);
#else
	return inode->i_mtime;
#endif
}

static void sbx_stamp_take(struct sbx_stamp *s, const struct inode *inode)
{
	s->ctime = inode_get_ctime(inode);
	s->mtime = sbx_mtime(inode);
	s->size = i_size_read(inode);
}

/**
 * sbx_content_stamp_matches - does @inode still have stamp @s?
 * @s:     an entry's stamp.
 * @inode: the inode being execed.
 *
 * Any context (reads three fields racily: a change meanwhile is caught at the
 * next exec, and none can happen during an exec, which denies writes).
 */
bool sbx_content_stamp_matches(const struct sbx_stamp *s, const struct inode *inode)
{
	struct timespec64 c = inode_get_ctime(inode), m = sbx_mtime(inode);

	return timespec64_equal(&c, &s->ctime) && timespec64_equal(&m, &s->mtime) &&
	       i_size_read(inode) == s->size;
}

/* SHA-256 of @f from offset 0 to its end. Sleeps. */
static int sbx_content_hash(struct file *f, u8 digest[SBX_DIGEST_SIZE])
{
	struct sha256_state st;
	loff_t pos = 0;
	ssize_t n;
	void *buf;
	int ret = 0;

	buf = kvmalloc(SBX_HASH_CHUNK, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	sha256_init(&st);
	for (;;) {
		n = kernel_read(f, buf, SBX_HASH_CHUNK, &pos);
		if (n < 0) {
			ret = n;
			goto out;
		}
		if (!n)
			break;
		sha256_update(&st, buf, n);
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
		cond_resched();
	}
	sha256_final(&st, digest);
out:
	kvfree(buf);
	return ret;
}

/**
 * sbx_content_install - hash the executable of descriptor @fd for an entry.
 * @fd:       the descriptor (O_PATH is enough; the file is reopened read-only).
 * @digest:   out: SHA-256 of its content.
 * @stamp:    out: its inode's stamp, taken with writes denied.
 * @stamp_ok: out: the clock had passed the stamp's ctime before the hash (a
 *            later change is then seen in the stamp); false after 2.5 s of
 *            waiting (a ctime in the future): every exec hashes the file.
 *
 * Sleeps (reads the whole file).
 *
 * Return: 0, -EBADF, -ETXTBSY (open for writing), -EINTR (fatal signal),
 * -ENOMEM, or the error of opening or reading the file.
 */
int sbx_content_install(s32 fd, u8 digest[SBX_DIGEST_SIZE], struct sbx_stamp *stamp, bool *stamp_ok)
{
	struct timespec64 now;
	struct inode *inode;
	struct file *o, *f;
	int i, ret;

	if (fd < 0)
		return -EBADF;
	o = fget_raw(fd);
	if (!o)
		return -EBADF;
	f = dentry_open(&o->f_path, O_RDONLY | O_LARGEFILE, current_cred());
	fput(o);
	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = deny_write_access(f);
	if (ret)
		goto out_fput;
	inode = file_inode(f);
	sbx_stamp_take(stamp, inode);
	/*
	 * A write after this one sets ctime to current_time(), which must
	 * then differ from the stamp's: wait until it would.
	 */
	*stamp_ok = false;
	for (i = 0; i < SBX_STAMP_WAIT_TRIES; i++) {
		now = current_time(inode);
		if (timespec64_compare(&now, &stamp->ctime) > 0) {
			*stamp_ok = true;
			break;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_allow;
		}
		msleep(SBX_STAMP_WAIT_MS);
	}
	ret = sbx_content_hash(f, digest);
out_allow:
	allow_write_access(f);
out_fput:
	fput(f);
	return ret;
}

/**
 * sbx_content_path - name the file exec'd in a record (@rec->path).
 * @rec:  the record, zeroed by its filler.
 * @file: the file that runs.
 *
 * Any context. A path longer than the field keeps its end.
 */
void sbx_content_path(struct sbx_violation_record *rec, struct file *file)
{
	const size_t room = sizeof(rec->path);
	char buf[256];
	size_t len;
	char *p;

	p = d_path(&file->f_path, buf, sizeof(buf));
	if (IS_ERR(p)) {
		snprintf(rec->path, room, ".../%pD", file);
		return;
	}
	len = strlen(p);
	if (len < room) {
		memcpy(rec->path, p, len);
		return;
	}
	memcpy(rec->path, "...", 3);
	memcpy(rec->path + 3, p + len - (room - 4), room - 4);
}

/**
 * struct sbx_verify - a re-verification queued on an exec'ing thread.
 * @cb:        the task work.
 * @file:      the file exec'd (a reference).
 * @entry_id:  the registry entry's id (its refused counter).
 * @policy:    the policy a record names (a reference).
 * @action:    the action a record names.
 * @digest:    the entry's digest.
 */
struct sbx_verify {
	struct callback_head cb;
	struct file *file;
	u64 entry_id;
	struct sbx_policy *policy;
	u32 action;
	u8 digest[SBX_DIGEST_SIZE];
};

static void sbx_verify_fn(struct callback_head *cb)
{
	struct sbx_verify *v = container_of(cb, struct sbx_verify, cb);
	u8 digest[SBX_DIGEST_SIZE];
	int ret;

	/* Also run by exit_task_work(): nothing to refuse any more. */
	if (current->flags & PF_EXITING)
		goto out;
	ret = sbx_content_hash(v->file, digest);
	if (ret == -EINTR) /* a fatal signal: the process is going */
		goto out;
	if (!ret && !memcmp(digest, v->digest, SBX_DIGEST_SIZE))
		goto out;
	sbx_task_rebuilt(v->file, v->policy, v->action, ret);
	sbx_registry_refused(v->entry_id);
out:
	sbx_policy_put(v->policy);
	fput(v->file);
	kfree(v);
	module_put(THIS_MODULE);
}

/**
 * sbx_content_verify_later - hash the file exec'd before the new image runs.
 * @tsk:         the exec'ing thread (current).
 * @file:        the file exec'd.
 * @e:           its registry entry (the caller is an RCU reader).
 * @prev_policy: the policy @tsk was enforced with before the exec, or NULL.
 *
 * Any context (the exec probe). The caller holds a module reference (the
 * thread's new state); the work takes its own.
 *
 * Return: 0, -ENOMEM, or the error of task_work_add() (-ESRCH: exiting).
 */
int sbx_content_verify_later(struct task_struct *tsk, struct file *file,
			     const struct sbx_install *e, struct sbx_policy *prev_policy)
{
	struct sbx_verify *v;
	int ret;

	v = kmalloc(sizeof(*v), GFP_ATOMIC | __GFP_NOWARN);
	if (!v)
		return -ENOMEM;
	init_task_work(&v->cb, sbx_verify_fn);
	v->file = get_file(file);
	v->entry_id = e->id;
	v->policy = prev_policy ? prev_policy : e->policy;
	refcount_inc(&v->policy->ref); /* the caller's reference keeps it alive now */
	v->action = e->action;
	memcpy(v->digest, e->digest, SBX_DIGEST_SIZE);
	__module_get(THIS_MODULE);
	ret = task_work_add(tsk, &v->cb, TWA_RESUME);
	if (ret) {
		sbx_policy_put(v->policy);
		fput(v->file);
		kfree(v);
		module_put(THIS_MODULE);
	}
	return ret;
}
