// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_never.c - what a sandboxed thread may never do, whatever its policy
 * says, and what nobody may do to the module.
 *
 * The list (specs/kernel-abi.md, "Never allowed", says why each is there):
 *  - by number: init_module, finit_module, delete_module, kexec_load,
 *    kexec_file_load, bpf, seccomp, ptrace, process_vm_writev;
 *  - by argument: prctl(PR_SET_SECCOMP), prctl(PR_SET_SYSCALL_USER_DISPATCH),
 *    personality() with a persona other than the query 0xffffffff and the
 *    thread's current one;
 *  - by file: opening any /proc/<pid>/mem (or /proc/<pid>/task/<tid>/mem)
 *    for writing.
 *
 * Cost. The first two kinds share the window check of every system call
 * (sbx_task_check_syscall): at load, their bits (prctl's and personality's
 * too) are cleared from every system-call set of the policy's kernel copy,
 * and an unbound policy gets a window map of every call but these. So an
 * ordinary call pays nothing more, and these calls always reach the refused
 * path, which names them (sbx_never_classify): a forbidden number, or a
 * forbidden argument, is SBX_REASON_FORBIDDEN_SYSCALL; a prctl or
 * personality with harmless arguments is allowed after all when the window
 * (or the ambient set) allowed it before the masking (struct
 * sbx_policy.argchk).
 *
 * /proc/<pid>/mem is recognised where the kernel opens it, not at openat's
 * sys_enter, where only a user pointer is known (which another thread can
 * rewrite, and which can name the file through symbolic links, /proc/self/fd,
 * relative paths...): a kprobe on mem_open(), the open method of every
 * /proc/.../mem file, sees the struct file with its final f_mode. An enforced
 * thread opening one with FMODE_WRITE is SBX_REASON_PROC_MEM_WRITE; with
 * action kill the open fails (-EACCES) and the process is killed, so no
 * descriptor that can write ever exists.
 *
 * Forced unload. delete_module("sbx_dyck", O_TRUNC) (rmmod -f) would remove
 * the module whatever its reference count (the kernel only taints itself):
 * its probes, policies and thread states would go under running threads, and
 * an open /dev/sbx would call freed code at its close. A kprobe on the
 * system call's entry (both ABIs) refuses it with EBUSY, whatever the
 * module's state; rmmod without -f removes the module when nothing holds it.
 *
 * Refusing a call from a kprobe: the pre-handler sets the return value and
 * points the saved instruction pointer at a bare "ret", so the probed
 * function returns to its caller at once (what the kernel's error injection,
 * override_function_with_return(), does; it is not exported).
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/personality.h>
#include <linux/prctl.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/linkage.h>
#include <asm/unistd.h>

#include "sbx_dyck.h"

/* System calls forbidden by number. */
static const u16 sbx_never_nrs[] = {
	__NR_init_module, __NR_finit_module,	__NR_delete_module,
	__NR_kexec_load,  __NR_kexec_file_load, __NR_bpf,
	__NR_seccomp,	  __NR_ptrace,		__NR_process_vm_writev,
};

/*
 * The numbers masked out of every set: those above, and the calls whose
 * arguments are checked (prctl, personality). Built at init.
 */
static u8 sbx_never_map[SBX_SET_SIZE];

/* The window map of an unbound policy: every call but those of sbx_never_map. */
static u8 sbx_unbound_map[SBX_SET_SIZE];

/* struct sbx_policy.argchk bits: the set allowed the call before masking. */
#define SBX_ARGCHK_PRCTL       0x1
#define SBX_ARGCHK_PERSONALITY 0x2

static inline bool sbx_never_masked(unsigned long nr)
{
	return nr <= SBX_SET_NR_MAX && sbx_map_has(sbx_never_map, nr);
}

/**
 * sbx_never_prepare - mask the never-allowed calls out of a policy being loaded.
 * @p: the policy, validated, not yet published; @p->blob is the kernel's copy.
 *
 * Bound: every set loses the bits of sbx_never_map; @p->argchk records, per
 * set, whether it allowed prctl and personality. Unbound: the window and
 * ambient maps become sbx_unbound_map.
 *
 * Return: 0 or -ENOMEM.
 */
int sbx_never_prepare(struct sbx_policy *p)
{
	u8 *sets;
	u32 i;
	int b;

	if (!(p->view.flags & SBX_BLOB_F_BOUND)) {
		p->view.none_map = sbx_unbound_map;
		p->view.ambient_map = sbx_unbound_map;
		return 0;
	}
	p->argchk = kvcalloc(p->view.nr_sets, 1, GFP_KERNEL_ACCOUNT);
	if (!p->argchk)
		return -ENOMEM;
	/* The view's sets are the blob's, which the module owns. */
	sets = (u8 *)p->blob + (p->view.sets - (const u8 *)p->blob);
	for (i = 0; i < p->view.nr_sets; i++) {
		u8 *map = sets + (size_t)SBX_SET_SIZE * i;

		if (sbx_map_has(map, __NR_prctl))
			p->argchk[i] |= SBX_ARGCHK_PRCTL;
		if (sbx_map_has(map, __NR_personality))
			p->argchk[i] |= SBX_ARGCHK_PERSONALITY;
		for (b = 0; b < SBX_SET_SIZE; b++)
			map[b] &= ~sbx_never_map[b];
	}
	return 0;
}

/* Are this prctl's or personality's arguments forbidden? */
static bool sbx_never_args(const struct pt_regs *regs, unsigned long nr)
{
	unsigned int persona;

	if (nr == __NR_prctl) {
		/* prctl's option is an int: the kernel ignores the upper half. */
		switch ((int)regs->di) {
		case PR_SET_SECCOMP:
		case PR_SET_SYSCALL_USER_DISPATCH:
			return true;
		default:
			return false;
		}
	}
	persona = (unsigned int)regs->di;
	return persona != 0xffffffff && persona != current->personality;
}

/**
 * sbx_never_classify - the reason of a system call the window check refused.
 * @t:      the enforced thread's state.
 * @regs:   the call's registers.
 * @nr:     its number.
 * @reason: what sbx_syscall_check() returned (not 0).
 *
 * Return: SBX_REASON_FORBIDDEN_SYSCALL for a call on the never-allowed list;
 * 0 for a prctl or personality with harmless arguments that the thread's
 * window or the ambient set allowed before sbx_never_prepare() masked it;
 * else @reason.
 */
int sbx_never_classify(const struct sbx_task *t, const struct pt_regs *regs, unsigned long nr,
		       int reason)
{
	const struct sbx_policy *p = t->policy;
	u8 bit;

	if (!sbx_never_masked(nr))
		return reason;
	if (nr != __NR_prctl && nr != __NR_personality)
		return SBX_REASON_FORBIDDEN_SYSCALL;
	if (sbx_never_args(regs, nr))
		return SBX_REASON_FORBIDDEN_SYSCALL;
	if (!p->argchk) /* unbound: every call is allowed */
		return 0;
	bit = nr == __NR_prctl ? SBX_ARGCHK_PRCTL : SBX_ARGCHK_PERSONALITY;
	if ((p->argchk[t->thread.window] | p->argchk[p->view.ambient_set]) & bit)
		return 0;
	return reason;
}

/*
 * A thread whose window is not known (log mode, resynchronising): only the
 * never-allowed list applies. Return: true if the call is on it.
 */
bool sbx_never_forbidden(const struct pt_regs *regs, unsigned long nr)
{
	if (!sbx_never_masked(nr))
		return false;
	if (nr != __NR_prctl && nr != __NR_personality)
		return true;
	return sbx_never_args(regs, nr);
}

/* --- kprobes ------------------------------------------------------------- */

/* A bare return: a kprobe handler sends the probed function here. */
asmlinkage void sbx_return_now(void);
asm(".pushsection .text\n"
    ".type sbx_return_now, @function\n"
    "sbx_return_now:\n\t" ASM_RET ".size sbx_return_now, .-sbx_return_now\n"
    ".popsection\n");

/* Make the function whose entry @regs are return @err to its caller. */
static int sbx_kprobe_fail(struct pt_regs *regs, int err)
{
	regs->ax = (unsigned long)(long)err;
	regs->ip = (unsigned long)sbx_return_now;
	/* The instruction pointer changed: kprobes must not single-step. */
	return 1;
}

/* int mem_open(struct inode *inode, struct file *file) */
static int sbx_mem_open_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct file *file = (struct file *)regs->si;

	if (!(file->f_mode & FMODE_WRITE) || !sbx_task_any())
		return 0;
	if (sbx_task_proc_mem_write(file))
		return sbx_kprobe_fail(regs, -EACCES);
	return 0;
}

/* Is the module name at @uname ours? Unreadable without a fault: assume so. */
static bool sbx_name_is_ours(const char __user *uname)
{
	const char *ours = THIS_MODULE->name;
	size_t i;
	char c;

	for (i = 0; i <= strlen(ours); i++) {
		if (copy_from_user_nofault(&c, uname + i, 1))
			return true;
		if (c != ours[i])
			return false;
	}
	return true;
}

static struct kprobe sbx_kp_delete_ia32;

/* long __x64_sys_delete_module(const struct pt_regs *regs), and __ia32_. */
static int sbx_delete_module_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct pt_regs *u = (const struct pt_regs *)regs->di;
	unsigned long uname;
	unsigned int flags;

	if (kp == &sbx_kp_delete_ia32) {
		uname = (u32)u->bx;
		flags = (u32)u->cx;
	} else {
		uname = u->di;
		flags = (u32)u->si;
	}
	if (!(flags & O_TRUNC) || !sbx_name_is_ours((const char __user *)uname))
		return 0;
	pr_notice_ratelimited("forced unload refused (pid %d, %s): use rmmod without -f\n",
			      task_tgid_nr(current), current->comm);
	return sbx_kprobe_fail(regs, -EBUSY);
}

static struct kprobe sbx_kp_mem_open = {
	.symbol_name = "mem_open",
	.pre_handler = sbx_mem_open_pre,
};

static struct kprobe sbx_kp_delete = {
	.symbol_name = "__x64_sys_delete_module",
	.pre_handler = sbx_delete_module_pre,
};

static struct kprobe sbx_kp_delete_ia32 = {
	.symbol_name = "__ia32_sys_delete_module",
	.pre_handler = sbx_delete_module_pre,
};

static struct kprobe *sbx_kprobes[] = {
	&sbx_kp_mem_open,
	&sbx_kp_delete,
#ifdef CONFIG_IA32_EMULATION
	&sbx_kp_delete_ia32,
#endif
};

/**
 * sbx_never_init - build the maps and attach the kprobes.
 *
 * Context: module init. Return: 0 or the error of register_kprobes() (the
 * module does not load: it would not enforce the list).
 */
int sbx_never_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(sbx_never_nrs); i++)
		sbx_never_map[sbx_never_nrs[i] / 8] |= 1U << (sbx_never_nrs[i] % 8);
	sbx_never_map[__NR_prctl / 8] |= 1U << (__NR_prctl % 8);
	sbx_never_map[__NR_personality / 8] |= 1U << (__NR_personality % 8);
	/* Every call and code mappings (bit 511), but those. */
	for (i = 0; i < SBX_SET_SIZE; i++)
		sbx_unbound_map[i] = sbx_all_calls[i] & ~sbx_never_map[i];

	ret = register_kprobes(sbx_kprobes, ARRAY_SIZE(sbx_kprobes));
	if (ret)
		pr_err("cannot attach the kprobes (mem_open, delete_module): %d\n", ret);
	return ret;
}

/* Module exit (and failed init): detach the kprobes, wait for running handlers. */
void sbx_never_exit(void)
{
	unregister_kprobes(sbx_kprobes, ARRAY_SIZE(sbx_kprobes));
}
