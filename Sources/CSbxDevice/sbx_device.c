#define _GNU_SOURCE
#include "sbx_device.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
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

/* The child reports a failure as two ints on a close-on-exec pipe. */
static void sbx_child_fail(int pipe_fd, int stage)
{
	int report[2] = { stage, errno };
	ssize_t ignored = write(pipe_fd, report, sizeof(report));

	(void)ignored;
	_exit(127);
}

pid_t sbx_spawn_armed(int dev_fd, const struct sbx_ioc_arm *arm, const char *path,
		      char *const argv[], int *stage, int *err)
{
	int fds[2], report[2];
	struct sbx_ioc_arm copy = *arm;
	ssize_t n;
	pid_t pid;

	*stage = 0;
	*err = 0;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		*err = errno;
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		*err = errno;
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here on. */
		close(fds[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		if (ioctl(dev_fd, SBX_IOC_ARM, &copy) != 0)
			sbx_child_fail(fds[1], SBX_SPAWN_ARM);
		close(dev_fd);
		if (copy.flags & SBX_ARM_F_EXE)
			close(copy.exe_fd);
		execve(path, argv, environ);
		sbx_child_fail(fds[1], SBX_SPAWN_EXEC);
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
