// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_dev.c - the control device /dev/sbx (a misc device, mode 0600) and its
 * ioctls, defined in uapi/sbx_ioctl.h and specs/kernel-abi.md.
 *
 * Every argument is copied in once, checked field by field (reserved fields
 * and unknown flags must be zero) and never read again from userspace.
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "sbx_dyck.h"

/*
 * May this descriptor and caller change the sandbox? The capability is the
 * opener's (file->f_cred), so a descriptor opened by root and passed on keeps
 * root's right, and one opened without it never gains it; a sandboxed caller
 * is refused whatever it holds.
 */
static bool sbx_privileged(struct file *file)
{
	return file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN) && !sbx_task_sandboxed(current);
}

/* The mode and action of SBX_IOC_ARM and SBX_IOC_INSTALL. */
static int sbx_check_mode_action(u32 mode, u32 action)
{
	if (mode != SBX_MODE_DYCK && mode != SBX_MODE_NFA)
		return -EINVAL;
	if (action != SBX_ACTION_KILL && action != SBX_ACTION_LOG)
		return -EINVAL;
	return 0;
}

/* SBX_MODE_NFA if and only if the blob has SBX_BLOB_F_NFA. */
static bool sbx_mode_fits(const struct sbx_policy *p, u32 mode)
{
	bool nfa = p->view.flags & SBX_BLOB_F_NFA;

	return nfa == (mode == SBX_MODE_NFA);
}

/*
 * The inode of descriptor @fd (O_PATH allowed). With @regular, it must be a
 * regular file.
 *
 * Return: 0, -EBADF (no such descriptor) or -EINVAL (not a regular file).
 */
static int sbx_exe_from_fd(s32 fd, struct sbx_exe *exe, bool regular)
{
	const struct inode *inode;
	struct file *f;
	int ret = 0;

	if (fd < 0)
		return -EBADF;
	f = fget_raw(fd);
	if (!f)
		return -EBADF;
	inode = file_inode(f);
	if (regular && !S_ISREG(inode->i_mode)) {
		ret = -EINVAL;
		goto out;
	}
	exe->dev = inode->i_sb->s_dev;
	exe->ino = inode->i_ino;
out:
	fput(f);
	return ret;
}

static int sbx_ioc_load(struct file *file, void __user *uarg)
{
	struct sbx_ioc_load a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~SBX_LOAD_F_OWNED) || a.reserved[0] || a.reserved[1])
		return -EINVAL;
	ret = sbx_policy_load(u64_to_user_ptr(a.blob), a.size,
			      a.flags & SBX_LOAD_F_OWNED ? file : NULL, &a.id, &a.blob_flags);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &a, sizeof(a))) {
		/* Nobody knows its id: take it back (it is unused). */
		sbx_policy_unload(a.id);
		return -EFAULT;
	}
	return 0;
}

static int sbx_ioc_unload(void __user *uarg)
{
	struct sbx_ioc_unload a;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags)
		return -EINVAL;
	return sbx_policy_unload(a.id);
}

static int sbx_ioc_arm(void __user *uarg)
{
	struct sbx_exe exe, *bind = NULL;
	struct sbx_ioc_arm a;
	struct sbx_policy *p;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~SBX_ARM_F_EXE) || a.exec > SBX_EXEC_UNCONFINED || a.reserved)
		return -EINVAL;
	ret = sbx_check_mode_action(a.mode, a.action);
	if (ret)
		return ret;
	if (a.flags & SBX_ARM_F_EXE) {
		ret = sbx_exe_from_fd(a.exe_fd, &exe, true);
		if (ret)
			return ret;
		bind = &exe;
	}
	p = sbx_policy_find(a.id);
	if (!p)
		return -ENOENT;
	if (!sbx_mode_fits(p, a.mode)) {
		ret = -EINVAL;
		goto err_put;
	}
	/*
	 * Arming is per thread (the one that will exec); with other threads
	 * around, one of them could exec unarmed.
	 */
	if (!thread_group_empty(current)) {
		ret = -EBUSY;
		goto err_put;
	}
	ret = sbx_task_arm(p, a.action, a.exec, bind);
	if (ret)
		goto err_put;
	return 0;

err_put:
	sbx_policy_unuse(p);
	sbx_policy_put(p);
	return ret;
}

static int sbx_ioc_status(void __user *uarg)
{
	struct sbx_ioc_status s;

	memset(&s, 0, sizeof(s));
	s.abi_version = SBX_ABI_VERSION;
	sbx_policy_stats(&s.nr_policies, &s.policy_bytes);
	sbx_task_stats(&s.enforced_tasks, &s.armed_tasks, &s.unconfined_tasks, &s.markers,
		       &s.alloc_failures);
	sbx_report_stats(&s.violations, &s.records_dropped, &s.kills_dropped, &s.ring_size,
			 &s.ring_count);
	s.nr_installed = atomic_read(&sbx_nr_installed);
	if (copy_to_user(uarg, &s, sizeof(s)))
		return -EFAULT;
	return 0;
}

static int sbx_ioc_read(void __user *uarg)
{
	struct sbx_ioc_read a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~SBX_READ_F_POLICY)
		return -EINVAL;
	if (!(a.flags & SBX_READ_F_POLICY) && a.policy_id)
		return -EINVAL;
	ret = sbx_report_read(u64_to_user_ptr(a.records), a.max, a.flags & SBX_READ_F_POLICY,
			      a.policy_id, &a.count, &a.dropped);
	/* Records read before a fault are gone from their queues: report them. */
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return ret;
}

static int sbx_ioc_install(void __user *uarg)
{
	struct sbx_install *tmpl;
	struct sbx_ioc_install a;
	struct sbx_policy *p;
	u64 entry;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~SBX_INSTALL_F_REPLACE) || a.exec > SBX_EXEC_UNCONFINED || a.replaced ||
	    a.reserved1 || a.reserved)
		return -EINVAL;
	ret = sbx_check_mode_action(a.mode, a.action);
	if (ret)
		return ret;
	tmpl = kzalloc(sizeof(*tmpl), GFP_KERNEL);
	if (!tmpl)
		return -ENOMEM;
	ret = sbx_exe_from_fd(a.exe_fd, &tmpl->exe, true);
	if (ret)
		goto out_free;
	p = sbx_policy_find(a.id);
	if (!p) {
		ret = -ENOENT;
		goto out_free;
	}
	if (!sbx_mode_fits(p, a.mode)) {
		ret = -EINVAL;
		goto err_put;
	}
	ret = sbx_content_install(a.exe_fd, tmpl->digest, &tmpl->stamp, &tmpl->stamp_ok);
	if (ret)
		goto err_put;
	tmpl->policy = p;
	tmpl->mode = a.mode;
	tmpl->action = a.action;
	tmpl->exec = a.exec;
	ret = sbx_registry_install(tmpl, a.flags & SBX_INSTALL_F_REPLACE, &a.replaced, &entry);
	if (ret)
		goto err_put;
	a.dev = new_encode_dev(tmpl->exe.dev);
	a.ino = tmpl->exe.ino;
	if (copy_to_user(uarg, &a, sizeof(a))) {
		/* The caller does not know it succeeded: take it back. */
		sbx_registry_remove(&tmpl->exe, entry, NULL);
		ret = -EFAULT;
	}
	goto out_free;

err_put:
	sbx_policy_unuse(p);
	sbx_policy_put(p);
out_free:
	kfree(tmpl);
	return ret;
}

static int sbx_ioc_remove(void __user *uarg)
{
	struct sbx_ioc_remove a;
	struct sbx_exe exe;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~SBX_REMOVE_F_INODE) || a.reserved0)
		return -EINVAL;
	if (a.flags & SBX_REMOVE_F_INODE) {
		/* new_encode_dev() is a bijection of the 32-bit values. */
		if (a.dev > U32_MAX)
			return -ENOENT;
		exe.dev = new_decode_dev(a.dev);
		exe.ino = a.ino;
	} else {
		if (a.dev || a.ino)
			return -EINVAL;
		ret = sbx_exe_from_fd(a.exe_fd, &exe, false);
		if (ret)
			return ret;
	}
	ret = sbx_registry_remove(&exe, 0, &a.policy_id);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

static int sbx_ioc_list(void __user *uarg)
{
	struct sbx_ioc_list a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.reserved)
		return -EINVAL;
	ret = sbx_registry_list(u64_to_user_ptr(a.entries), a.max, &a.count);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

static int sbx_ioc_tasks(void __user *uarg)
{
	struct sbx_ioc_tasks a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.reserved)
		return -EINVAL;
	ret = sbx_task_list(u64_to_user_ptr(a.entries), a.max, &a.count);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

static int sbx_ioc_policies(void __user *uarg)
{
	struct sbx_ioc_policies a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.reserved)
		return -EINVAL;
	ret = sbx_report_policies(u64_to_user_ptr(a.entries), a.max, &a.count);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

static long sbx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SBX_IOC_STATUS:
		return sbx_ioc_status(uarg);
	case SBX_IOC_LIST:
		return sbx_ioc_list(uarg);
	case SBX_IOC_TASKS:
		return sbx_ioc_tasks(uarg);
	case SBX_IOC_POLICIES:
		return sbx_ioc_policies(uarg);
	case SBX_IOC_LOAD:
	case SBX_IOC_UNLOAD:
	case SBX_IOC_ARM:
	case SBX_IOC_READ:
	case SBX_IOC_INSTALL:
	case SBX_IOC_REMOVE:
		break;
	default:
		return -ENOTTY;
	}

	if (!sbx_privileged(file))
		return -EPERM;

	switch (cmd) {
	case SBX_IOC_LOAD:
		return sbx_ioc_load(file, uarg);
	case SBX_IOC_UNLOAD:
		return sbx_ioc_unload(uarg);
	case SBX_IOC_ARM:
		return sbx_ioc_arm(uarg);
	case SBX_IOC_READ:
		return sbx_ioc_read(uarg);
	case SBX_IOC_INSTALL:
		return sbx_ioc_install(uarg);
	case SBX_IOC_REMOVE:
		return sbx_ioc_remove(uarg);
	}
	return -ENOTTY;
}

/* The last close of an open of /dev/sbx: its owned policies go (SBX_LOAD_F_OWNED). */
static int sbx_release(struct inode *inode, struct file *file)
{
	sbx_policy_disown(file);
	return 0;
}

static const struct file_operations sbx_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.release = sbx_release,
	.unlocked_ioctl = sbx_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	.llseek = no_llseek,
#endif
};

static struct miscdevice sbx_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = SBX_DEVICE_NAME,
	.fops = &sbx_fops,
	.mode = 0600,
};

/*
 * No holes in the ABI structs (as landlock's build_check_abi()): each size is the
 * sum of its fields' sizes, so no byte that userspace passes or reads is padding
 * that one compiler fills and another does not, and every byte is a field the
 * kernel checks. The sizes themselves are pinned in sbx_dev_init().
 */
static void sbx_build_check_abi(void)
{
	size_t size;

	size = sizeof_field(struct sbx_ioc_load, blob) + sizeof_field(struct sbx_ioc_load, size) +
	       sizeof_field(struct sbx_ioc_load, flags) + sizeof_field(struct sbx_ioc_load, id) +
	       sizeof_field(struct sbx_ioc_load, blob_flags) +
	       sizeof_field(struct sbx_ioc_load, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_load) != size);

	size = sizeof_field(struct sbx_ioc_unload, id) + sizeof_field(struct sbx_ioc_unload, flags);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_unload) != size);

	size = sizeof_field(struct sbx_ioc_arm, id) + sizeof_field(struct sbx_ioc_arm, mode) +
	       sizeof_field(struct sbx_ioc_arm, action) + sizeof_field(struct sbx_ioc_arm, flags) +
	       sizeof_field(struct sbx_ioc_arm, exe_fd) + sizeof_field(struct sbx_ioc_arm, exec) +
	       sizeof_field(struct sbx_ioc_arm, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_arm) != size);

	size = sizeof_field(struct sbx_ioc_status, abi_version) +
	       sizeof_field(struct sbx_ioc_status, nr_policies) +
	       sizeof_field(struct sbx_ioc_status, enforced_tasks) +
	       sizeof_field(struct sbx_ioc_status, armed_tasks) +
	       sizeof_field(struct sbx_ioc_status, markers) +
	       sizeof_field(struct sbx_ioc_status, violations) +
	       sizeof_field(struct sbx_ioc_status, records_dropped) +
	       sizeof_field(struct sbx_ioc_status, alloc_failures) +
	       sizeof_field(struct sbx_ioc_status, policy_bytes) +
	       sizeof_field(struct sbx_ioc_status, ring_size) +
	       sizeof_field(struct sbx_ioc_status, ring_count) +
	       sizeof_field(struct sbx_ioc_status, nr_installed) +
	       sizeof_field(struct sbx_ioc_status, unconfined_tasks) +
	       sizeof_field(struct sbx_ioc_status, kills_dropped) +
	       sizeof_field(struct sbx_ioc_status, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_status) != size);

	size = sizeof_field(struct sbx_violation_record, seq) +
	       sizeof_field(struct sbx_violation_record, time_ns) +
	       sizeof_field(struct sbx_violation_record, pid) +
	       sizeof_field(struct sbx_violation_record, tid) +
	       sizeof_field(struct sbx_violation_record, comm) +
	       sizeof_field(struct sbx_violation_record, policy_id) +
	       sizeof_field(struct sbx_violation_record, reason) +
	       sizeof_field(struct sbx_violation_record, action) +
	       sizeof_field(struct sbx_violation_record, syscall_nr) +
	       sizeof_field(struct sbx_violation_record, kind) +
	       sizeof_field(struct sbx_violation_record, id) +
	       sizeof_field(struct sbx_violation_record, tag) +
	       sizeof_field(struct sbx_violation_record, mstate) +
	       sizeof_field(struct sbx_violation_record, depth) +
	       sizeof_field(struct sbx_violation_record, flags) +
	       sizeof_field(struct sbx_violation_record, reserved) +
	       sizeof_field(struct sbx_violation_record, stack);
	BUILD_BUG_ON(sizeof(struct sbx_violation_record) != size);
	BUILD_BUG_ON(sizeof_field(struct sbx_violation_record, path) !=
		     sizeof_field(struct sbx_violation_record, stack));

	size = sizeof_field(struct sbx_ioc_read, records) + sizeof_field(struct sbx_ioc_read, max) +
	       sizeof_field(struct sbx_ioc_read, count) +
	       sizeof_field(struct sbx_ioc_read, dropped) +
	       sizeof_field(struct sbx_ioc_read, policy_id) +
	       sizeof_field(struct sbx_ioc_read, flags);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_read) != size);

	size = sizeof_field(struct sbx_ioc_install, id) +
	       sizeof_field(struct sbx_ioc_install, mode) +
	       sizeof_field(struct sbx_ioc_install, action) +
	       sizeof_field(struct sbx_ioc_install, flags) +
	       sizeof_field(struct sbx_ioc_install, exe_fd) +
	       sizeof_field(struct sbx_ioc_install, exec) +
	       sizeof_field(struct sbx_ioc_install, dev) +
	       sizeof_field(struct sbx_ioc_install, ino) +
	       sizeof_field(struct sbx_ioc_install, replaced) +
	       sizeof_field(struct sbx_ioc_install, reserved1) +
	       sizeof_field(struct sbx_ioc_install, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_install) != size);

	size = sizeof_field(struct sbx_ioc_remove, flags) +
	       sizeof_field(struct sbx_ioc_remove, exe_fd) +
	       sizeof_field(struct sbx_ioc_remove, dev) + sizeof_field(struct sbx_ioc_remove, ino) +
	       sizeof_field(struct sbx_ioc_remove, policy_id) +
	       sizeof_field(struct sbx_ioc_remove, reserved0);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_remove) != size);

	size = sizeof_field(struct sbx_install_entry, dev) +
	       sizeof_field(struct sbx_install_entry, ino) +
	       sizeof_field(struct sbx_install_entry, policy_id) +
	       sizeof_field(struct sbx_install_entry, mode) +
	       sizeof_field(struct sbx_install_entry, action) +
	       sizeof_field(struct sbx_install_entry, processes) +
	       sizeof_field(struct sbx_install_entry, execs) +
	       sizeof_field(struct sbx_install_entry, exec) +
	       sizeof_field(struct sbx_install_entry, refused);
	BUILD_BUG_ON(sizeof(struct sbx_install_entry) != size);

	size = sizeof_field(struct sbx_ioc_list, entries) + sizeof_field(struct sbx_ioc_list, max) +
	       sizeof_field(struct sbx_ioc_list, count) +
	       sizeof_field(struct sbx_ioc_list, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_list) != size);

	size = sizeof_field(struct sbx_task_entry, pid) + sizeof_field(struct sbx_task_entry, tid) +
	       sizeof_field(struct sbx_task_entry, policy_id) +
	       sizeof_field(struct sbx_task_entry, state) +
	       sizeof_field(struct sbx_task_entry, mode) +
	       sizeof_field(struct sbx_task_entry, action) +
	       sizeof_field(struct sbx_task_entry, markers) +
	       sizeof_field(struct sbx_task_entry, violations) +
	       sizeof_field(struct sbx_task_entry, flags) +
	       sizeof_field(struct sbx_task_entry, comm) +
	       sizeof_field(struct sbx_task_entry, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_task_entry) != size);

	size = sizeof_field(struct sbx_ioc_tasks, entries) +
	       sizeof_field(struct sbx_ioc_tasks, max) + sizeof_field(struct sbx_ioc_tasks, count) +
	       sizeof_field(struct sbx_ioc_tasks, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_tasks) != size);

	size = sizeof_field(struct sbx_policy_entry, id) +
	       sizeof_field(struct sbx_policy_entry, blob_flags) +
	       sizeof_field(struct sbx_policy_entry, size) +
	       sizeof_field(struct sbx_policy_entry, users) +
	       sizeof_field(struct sbx_policy_entry, violations) +
	       sizeof_field(struct sbx_policy_entry, dropped) +
	       sizeof_field(struct sbx_policy_entry, dropped_rate) +
	       sizeof_field(struct sbx_policy_entry, queued) +
	       sizeof_field(struct sbx_policy_entry, queued_kills) +
	       sizeof_field(struct sbx_policy_entry, queue_size) +
	       sizeof_field(struct sbx_policy_entry, kills_dropped) +
	       sizeof_field(struct sbx_policy_entry, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_policy_entry) != size);

	size = sizeof_field(struct sbx_ioc_policies, entries) +
	       sizeof_field(struct sbx_ioc_policies, max) +
	       sizeof_field(struct sbx_ioc_policies, count) +
	       sizeof_field(struct sbx_ioc_policies, reserved);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_policies) != size);
}

int sbx_dev_init(void)
{
	sbx_build_check_abi();
	BUILD_BUG_ON(sizeof(struct sbx_ioc_load) != 40);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_unload) != 8);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_arm) != 32);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_status) != 96);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_read) != 32);
	BUILD_BUG_ON(sizeof(struct sbx_violation_record) != 160);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_install) != 56);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_remove) != 32);
	BUILD_BUG_ON(sizeof(struct sbx_install_entry) != 48);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_list) != 24);
	BUILD_BUG_ON(sizeof(struct sbx_task_entry) != 64);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_tasks) != 24);
	BUILD_BUG_ON(sizeof(struct sbx_policy_entry) != 64);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_policies) != 24);
	BUILD_BUG_ON(SBX_STATE_ARMED != SBX_TASK_ARMED);
	BUILD_BUG_ON(SBX_STATE_ENFORCED != SBX_TASK_ENFORCED);

	return misc_register(&sbx_miscdev);
}

void sbx_dev_exit(void)
{
	misc_deregister(&sbx_miscdev);
}
