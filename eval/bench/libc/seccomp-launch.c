/*
 * seccomp-launch - the peer a user would compare the sandbox with (issue 19):
 * loads a seccomp-bpf allowlist of about 50 system calls with libseccomp, then
 * execs the program, which runs under it (the filter survives the exec).
 *
 *   seccomp-launch PROG [ARGS...]    run PROG under the allowlist
 *   seccomp-launch --check           a child loads the filter and makes a system
 *                                    call outside the list (personality): it must
 *                                    die of SIGSYS; exit 0 if it did, 1 if not
 *
 * Every rule allows one system call whatever its arguments (the kernel's
 * seccomp action cache then answers those without running the filter, as a
 * user's allowlist of this kind gets on 5.11 and later); anything else kills
 * the process (SCMP_ACT_KILL_PROCESS). The list is what a libc program that
 * reads and writes files, allocates, uses signals and threads needs, and
 * execve for the launch itself. Prints "seccomp-launch: N rules" on stderr with
 * --check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(openat),
	SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(access),
	SCMP_SYS(faccessat2), SCMP_SYS(fcntl), SCMP_SYS(ioctl), SCMP_SYS(dup),
	SCMP_SYS(pipe2), SCMP_SYS(getdents64), SCMP_SYS(getcwd),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(brk), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(futex), SCMP_SYS(set_robust_list),
	SCMP_SYS(set_tid_address), SCMP_SYS(rseq), SCMP_SYS(arch_prctl),
	SCMP_SYS(prlimit64), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(getpid), SCMP_SYS(getppid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(uname), SCMP_SYS(sysinfo),
	SCMP_SYS(execve), SCMP_SYS(exit), SCMP_SYS(exit_group),
};
#define NALLOWED ((int)(sizeof(allowed) / sizeof(allowed[0])))

static int load_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int i, rc = -ENOMEM;

	if (!ctx)
		return rc;
	for (i = 0; i < NALLOWED; i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
		if (rc < 0)
			goto out;
	}
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return rc;
}

static int check(void)
{
	int status, rc;
	pid_t pid = fork();

	if (pid < 0) {
		perror("seccomp-launch: fork");
		return 1;
	}
	if (pid == 0) {
		rc = load_filter();
		if (rc < 0)
			_exit(3);
		personality(0xffffffff);  /* not in the list: killed here */
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("seccomp-launch: waitpid");
		return 1;
	}
	fprintf(stderr, "seccomp-launch: %d rules\n", NALLOWED);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		return 0;
	fprintf(stderr, "seccomp-launch: the forbidden call was not killed (status 0x%x)\n", status);
	return 1;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc == 2 && strcmp(argv[1], "--check") == 0)
		return check();
	if (argc < 2) {
		fprintf(stderr, "usage: seccomp-launch PROG [ARGS...] | --check\n");
		return 2;
	}
	rc = load_filter();
	if (rc < 0) {
		fprintf(stderr, "seccomp-launch: cannot load the filter: %s\n", strerror(-rc));
		return 1;
	}
	execv(argv[1], argv + 1);
	perror("seccomp-launch: execv");  /* write is allowed, so this reaches stderr */
	return 127;
}
