// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_main.c - module init and exit of sbx_dyck, the Dyck-model libc-call
 * sandbox (specs/kernel-abi.md, specs/marker-abi.md).
 */
#define pr_fmt(fmt) "sbx: " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/workqueue.h>

#include "sbx_dyck.h"

unsigned int sbx_max_policies = 64;
module_param_named(max_policies, sbx_max_policies, uint, 0444);
MODULE_PARM_DESC(max_policies, "Policies loaded at the same time (default 64)");

unsigned long sbx_max_policy_bytes = 256UL << 20;
module_param_named(max_policy_bytes, sbx_max_policy_bytes, ulong, 0444);
MODULE_PARM_DESC(max_policy_bytes, "Total size of the loaded blobs (default 256 MiB)");

unsigned int sbx_max_tasks_per_policy = 4096;
module_param_named(max_tasks_per_policy, sbx_max_tasks_per_policy, uint, 0444);
MODULE_PARM_DESC(max_tasks_per_policy, "Threads armed or enforced with one policy (default 4096)");

unsigned int sbx_pool_reserve = 8;
module_param_named(pool_reserve, sbx_pool_reserve, uint, 0444);
MODULE_PARM_DESC(pool_reserve,
		 "Preallocated thread states per policy in use, for fork (default 8)");

/*
 * Writable at run time: off, nfa-mode programs keep their site markers (and the
 * window none after each of them, specs/kernel-abi.md, "Answers to markers").
 */
bool sbx_nfa_site_answer = true;
module_param_named(nfa_site_answer, sbx_nfa_site_answer, bool, 0644);
MODULE_PARM_DESC(
	nfa_site_answer,
	"Tell programs enforced in nfa mode to skip their CALL/RET/TAIL markers (default Y)");

struct workqueue_struct *sbx_wq;

static int __init sbx_init(void)
{
	int ret;

	if (sbx_pool_reserve > 1024)
		sbx_pool_reserve = 1024;

	sbx_wq = alloc_workqueue("sbx", 0, 0);
	if (!sbx_wq)
		return -ENOMEM;

	ret = sbx_task_init();
	if (ret)
		goto err_wq;

	ret = sbx_hooks_init();
	if (ret)
		goto err_task;

	ret = sbx_never_init();
	if (ret)
		goto err_hooks;

	ret = sbx_dev_init();
	if (ret)
		goto err_never;

	pr_info("loaded: abi %d, device %s\n", SBX_ABI_VERSION, SBX_DEVICE_PATH);
	return 0;

err_never:
	sbx_never_exit();
err_hooks:
	sbx_hooks_exit();
err_task:
	sbx_task_exit();
err_wq:
	destroy_workqueue(sbx_wq);
	return ret;
}

/*
 * The module cannot be removed while a thread is armed or enforced (each one
 * holds a module reference) or while /dev/sbx is open, and a forced unload
 * (O_TRUNC) is refused before it starts (sbx_never.c), so at this point no
 * thread state is left but those still waiting for their RCU release.
 * Registry entries do not pin the module: they are dropped here.
 */
static void __exit sbx_exit(void)
{
	sbx_dev_exit();
	sbx_registry_exit();	   /* no entry left; execs make no new state */
	sbx_never_exit();	   /* no kprobe handler runs any more */
	sbx_hooks_exit();	   /* no probe runs any more */
	sbx_task_exit();	   /* pending releases done */
	sbx_policy_exit();	   /* store references dropped, frees queued */
	destroy_workqueue(sbx_wq); /* drains the frees and pool work */
	pr_info("unloaded\n");
}

module_init(sbx_init);
module_exit(sbx_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Context-sensitive (Dyck model) libc-call sandbox");
MODULE_AUTHOR("dyck-sandbox");
