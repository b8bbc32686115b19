#define _GNU_SOURCE
#include "sbx_device.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int sbx_call(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) == 0 ? 0 : -errno;
}

int sbx_dev_load(int fd, struct sbx_ioc_load *arg) { return sbx_call(fd, SBX_IOC_LOAD, arg); }
int sbx_dev_unload(int fd, struct sbx_ioc_unload *arg) { return sbx_call(fd, SBX_IOC_UNLOAD, arg); }
int sbx_dev_status(int fd, struct sbx_ioc_status *arg) { return sbx_call(fd, SBX_IOC_STATUS, arg); }
int sbx_dev_read(int fd, struct sbx_ioc_read *arg) { return sbx_call(fd, SBX_IOC_READ, arg); }
int sbx_dev_install(int fd, struct sbx_ioc_install *arg) { return sbx_call(fd, SBX_IOC_INSTALL, arg); }
int sbx_dev_remove(int fd, struct sbx_ioc_remove *arg) { return sbx_call(fd, SBX_IOC_REMOVE, arg); }
int sbx_dev_list(int fd, struct sbx_ioc_list *arg) { return sbx_call(fd, SBX_IOC_LIST, arg); }
int sbx_dev_tasks(int fd, struct sbx_ioc_tasks *arg) { return sbx_call(fd, SBX_IOC_TASKS, arg); }
int sbx_dev_policies(int fd, struct sbx_ioc_policies *arg) { return sbx_call(fd, SBX_IOC_POLICIES, arg); }

/* The child reports a failure as two ints on a close-on-exec pipe. */
static void sbx_child_fail(int pipe_fd, int stage)
{
	int report[2] = { stage, errno };
	ssize_t ignored = write(pipe_fd, report, sizeof(report));

	(void)ignored;
	_exit(127);
}

/*
 * In the child, before the exec: no new privileges, and only the capabilities
 * of @privs. Touches nothing but its locals (the child shares the parent's
 * memory). Returns 0 or -1 with errno set.
 */
static int sbx_child_privs(const struct sbx_spawn_privs *privs)
{
	struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	unsigned long long have, keep;
	int cap;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	if (!privs || !privs->drop_caps)
		return 0;
	if (syscall(SYS_capget, &head, data) != 0)
		return -1;
	have = (unsigned long long)data[1].permitted << 32 | data[0].permitted;
	keep = have & privs->keep_caps;
	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	for (cap = 0; cap < 64; cap++) {
		if (keep >> cap & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			return -1;	/* EINVAL: beyond this kernel's last capability */
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return -1;
	data[0].permitted = data[0].effective = data[0].inheritable = (__u32)keep;
	data[1].permitted = data[1].effective = data[1].inheritable = (__u32)(keep >> 32);
	if (syscall(SYS_capset, &head, data) != 0)
		return -1;
	for (cap = 0; cap < 64; cap++)
		if (keep >> cap & 1 &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
			return -1;
	return 0;
}

pid_t sbx_spawn_armed(int dev_fd, const struct sbx_ioc_arm *arm, const char *path,
		      char *const argv[], const struct sbx_spawn_privs *privs, int *stage,
		      int *err)
{
	int fds[2], report[2], sig, saved;
	sigset_t all, old_mask;
	pid_t parent = getpid();
	ssize_t n;
	pid_t pid;

	*stage = 0;
	*err = 0;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		*err = errno;
		return -1;
	}
	/*
	 * vfork, not fork: a forked copy of sbx's large address space is torn
	 * down by the execve, and that work is charged to the sandboxed program
	 * (about 0.8 M of a small program's 2 M instructions under QEMU's
	 * instruction counting, docs/evaluation.md). The child shares our
	 * memory until it execs, so it runs with every signal blocked until its
	 * handlers are reset, and writes nothing but its own locals (as
	 * posix_spawn does).
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old_mask);
	pid = vfork();
	if (pid == 0) {
		close(fds[0]);
		for (sig = 1; sig < _NSIG; sig++) {
			struct sigaction sa;

			if (sigaction(sig, NULL, &sa) != 0)
				continue;
			if (sig == SIGINT || sig == SIGQUIT ||
			    (sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL)) {
				sa.sa_handler = SIG_DFL;
				sa.sa_flags = 0;
				sigemptyset(&sa.sa_mask);
				sigaction(sig, &sa, NULL);
			}
		}
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		if (ioctl(dev_fd, SBX_IOC_ARM, arm) != 0)
			sbx_child_fail(fds[1], SBX_SPAWN_ARM);
		close(dev_fd);
		if (arm->flags & SBX_ARM_F_EXE)
			close(arm->exe_fd);
		if (sbx_child_privs(privs) != 0)
			sbx_child_fail(fds[1], SBX_SPAWN_PRIVS);
		/*
		 * The program dies with sbx run, as with bubblewrap's
		 * --die-with-parent: it is never orphaned and left enforced with
		 * nobody to report. NO_NEW_PRIVS keeps the exec from clearing it.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
			sbx_child_fail(fds[1], SBX_SPAWN_PRIVS);
		if (getppid() != parent)
			_exit(128 + SIGKILL);
		execve(path, argv, environ);
		sbx_child_fail(fds[1], SBX_SPAWN_EXEC);
	}
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (pid < 0) {
		*err = saved;
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	close(fds[1]);
	do
		n = read(fds[0], report, sizeof(report));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	if (n == 0)
		return pid;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(report)) {
		*stage = report[0];
		*err = report[1];
	} else {
		*err = EIO;
	}
	return -1;
}

/* The program that signals are forwarded to; 0 when there is none. */
static volatile sig_atomic_t sbx_forward_pid;
static const int sbx_forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
static struct sigaction sbx_forward_saved[sizeof(sbx_forwarded) / sizeof(sbx_forwarded[0])];

static void sbx_forward(int sig, siginfo_t *info, void *context)
{
	int saved = errno;

	(void)context;
	/*
	 * A signal the kernel generated for the terminal's foreground process
	 * group (Ctrl-C, Ctrl-\, a hangup) has reached the program directly:
	 * forwarding it would deliver it twice.
	 */
	if (info->si_code != SI_KERNEL && sbx_forward_pid > 0)
		kill((pid_t)sbx_forward_pid, sig);
	errno = saved;
}

int sbx_forward_signals(pid_t pid)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sbx_forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sbx_forward_pid = pid;
	for (i = 0; i < sizeof(sbx_forwarded) / sizeof(sbx_forwarded[0]); i++)
		if (sigaction(sbx_forwarded[i], &sa, &sbx_forward_saved[i]) != 0)
			return -errno;
	return 0;
}

void sbx_forward_stop(void)
{
	size_t i;

	for (i = 0; i < sizeof(sbx_forwarded) / sizeof(sbx_forwarded[0]); i++)
		sigaction(sbx_forwarded[i], &sbx_forward_saved[i], NULL);
	sbx_forward_pid = 0;
}
