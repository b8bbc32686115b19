/*
 * sbx_device.h - the control interface of /dev/sbx for Swift: the ioctl structures
 * of kmod/uapi/sbx_ioctl.h, and functions in place of ioctl(2), which Swift cannot
 * call (it is variadic and its request numbers are macros Swift does not import).
 */
#ifndef SBX_DEVICE_H
#define SBX_DEVICE_H

#include <sys/types.h>
#include <sbx_ioctl.h>
#include <sbx_marker.h>

/* Each returns 0, or -errno of the ioctl. */
int sbx_dev_load(int fd, struct sbx_ioc_load *arg);
int sbx_dev_unload(int fd, struct sbx_ioc_unload *arg);
int sbx_dev_status(int fd, struct sbx_ioc_status *arg);
int sbx_dev_read(int fd, struct sbx_ioc_read *arg);
int sbx_dev_install(int fd, struct sbx_ioc_install *arg);
int sbx_dev_remove(int fd, struct sbx_ioc_remove *arg);
int sbx_dev_list(int fd, struct sbx_ioc_list *arg);
int sbx_dev_tasks(int fd, struct sbx_ioc_tasks *arg);
int sbx_dev_policies(int fd, struct sbx_ioc_policies *arg);

/* Where sbx_spawn_armed failed in the child. */
enum sbx_spawn_stage {
	SBX_SPAWN_ARM = 1,	/* SBX_IOC_ARM */
	SBX_SPAWN_EXEC = 2,	/* execve */
	SBX_SPAWN_PRIVS = 3,	/* PR_SET_NO_NEW_PRIVS, or dropping capabilities */
};

/**
 * struct sbx_spawn_privs - what the program keeps of the launcher's privileges.
 * @drop_caps: 0: the capabilities stay as they are; 1: the program gets only
 *             those of @keep_caps that the launcher has: every other one
 *             leaves the bounding, permitted, effective, inheritable and
 *             ambient sets before the exec (so a root program gets no more
 *             back at its exec either), the kept ones are made inheritable
 *             and ambient (so a program run by another user keeps them too).
 * @keep_caps: bit N: capability N (linux/capability.h) is kept.
 *
 * The program is always spawned with PR_SET_NO_NEW_PRIVS: no exec of it or
 * of its descendants (a setuid or setgid file, file capabilities) can raise
 * its privileges.
 */
struct sbx_spawn_privs {
	int drop_caps;
	unsigned long long keep_caps;
};

/**
 * sbx_spawn_armed - vfork a child that arms itself and execs a program.
 * @dev_fd: an open descriptor of /dev/sbx (closed in the child before exec).
 * @arm:    the SBX_IOC_ARM argument (with SBX_ARM_F_EXE and its exe_fd, the
 *          kernel kills the child if @path turns out to be another file).
 * @path:   the program, as execve(2) takes it.
 * @argv:   its arguments, NULL-terminated.
 * @privs:  the privileges the program keeps (NULL: all, still with
 *          PR_SET_NO_NEW_PRIVS).
 * @stage:  out, on failure in the child: an enum sbx_spawn_stage.
 * @err:    out, on failure: the errno (of fork, pipe, the ARM ioctl, prctl,
 *          capset or execve).
 *
 * Returns the child's pid once its exec succeeded, or -1 when something failed
 * (the child, if any, has been reaped). The child has the parent's environment
 * and default SIGINT/SIGQUIT handling; the descriptors in @arm and @dev_fd are
 * not inherited by the program. The program gets SIGKILL when the calling
 * thread ends (PR_SET_PDEATHSIG): call this from the thread that waits.
 */
pid_t sbx_spawn_armed(int dev_fd, const struct sbx_ioc_arm *arm, const char *path,
		      char *const argv[], const struct sbx_spawn_privs *privs, int *stage,
		      int *err);

/**
 * sbx_forward_signals - pass SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and
 * SIGUSR2 that the launcher receives on to the program @pid, as a service
 * manager expects of a wrapper. Signals the kernel generated for the
 * terminal's process group (si_code SI_KERNEL: Ctrl-C, Ctrl-\, hangup) are not
 * forwarded: the program, in the same group, got them itself.
 * @pid: the program.
 *
 * Return: 0, or -errno of sigaction.
 */
int sbx_forward_signals(pid_t pid);

/* sbx_forward_stop - restore the dispositions sbx_forward_signals() replaced. */
void sbx_forward_stop(void);

#endif
