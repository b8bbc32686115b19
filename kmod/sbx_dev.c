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
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
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
	return file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN) &&
	       !sbx_task_sandboxed(current);
}

static int sbx_ioc_load(void __user *uarg)
{
	struct sbx_ioc_load a;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.reserved[0] || a.reserved[1])
		return -EINVAL;
	ret = sbx_policy_load(u64_to_user_ptr(a.blob), a.size, &a.id, &a.blob_flags);
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
	struct sbx_ioc_arm a;
	struct sbx_policy *p;
	bool nfa;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.reserved[0] || a.reserved[1])
		return -EINVAL;
	if (a.mode != SBX_MODE_DYCK && a.mode != SBX_MODE_NFA)
		return -EINVAL;
	if (a.action != SBX_ACTION_KILL && a.action != SBX_ACTION_LOG)
		return -EINVAL;
	p = sbx_policy_find(a.id);
	if (!p)
		return -ENOENT;
	nfa = p->view.flags & SBX_BLOB_F_NFA;
	if (nfa != (a.mode == SBX_MODE_NFA)) {
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
	ret = sbx_task_arm(p, a.action);
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
	sbx_task_stats(&s.enforced_tasks, &s.armed_tasks, &s.markers, &s.alloc_failures);
	sbx_report_stats(&s.violations, &s.records_dropped, &s.ring_size, &s.ring_count);
	if (copy_to_user(uarg, &s, sizeof(s)))
		return -EFAULT;
	return 0;
}

static int sbx_ioc_read(void __user *uarg)
{
	struct sbx_ioc_read a;
	u64 violations;
	u32 size, queued;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.reserved)
		return -EINVAL;
	ret = sbx_report_read(u64_to_user_ptr(a.records), a.max, &a.count);
	sbx_report_stats(&violations, &a.dropped, &size, &queued);
	/* Records read before a fault are gone from the ring: report them. */
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return ret;
}

static long sbx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SBX_IOC_STATUS:
		return sbx_ioc_status(uarg);
	case SBX_IOC_LOAD:
	case SBX_IOC_UNLOAD:
	case SBX_IOC_ARM:
	case SBX_IOC_READ:
		break;
	default:
		return -ENOTTY;
	}

	if (!sbx_privileged(file))
		return -EPERM;

	switch (cmd) {
	case SBX_IOC_LOAD:
		return sbx_ioc_load(uarg);
	case SBX_IOC_UNLOAD:
		return sbx_ioc_unload(uarg);
	case SBX_IOC_ARM:
		return sbx_ioc_arm(uarg);
	case SBX_IOC_READ:
		return sbx_ioc_read(uarg);
	}
	return -ENOTTY;
}

static const struct file_operations sbx_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
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

int sbx_dev_init(void)
{
	BUILD_BUG_ON(sizeof(struct sbx_ioc_load) != 40);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_unload) != 8);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_arm) != 32);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_status) != 96);
	BUILD_BUG_ON(sizeof(struct sbx_ioc_read) != 32);

	return misc_register(&sbx_miscdev);
}

void sbx_dev_exit(void)
{
	misc_deregister(&sbx_miscdev);
}
