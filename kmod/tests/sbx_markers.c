// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_markers - a test program that issues the markers and system calls given
 * on its command line, to drive the sbx_dyck module in a guest.
 *
 *   sbx_markers STEP...
 *
 * Steps, executed in order:
 *   K:I           marker kind K, id I (an inline syscall 999, as instrumented
 *                 code issues it)
 *   ans:K:I       the same, then print "ans K:I R" with the marker's answer R
 *                 (its %rax: -38 for ENOSYS, 1396856833 for SBX_MARKER_NO_SITES)
 *   say:TEXT      write TEXT and a newline to stdout (a plain write(2))
 *   touch:PATH    create the file PATH (a canary: as the first step, it
 *                 shows whether the program ran at all)
 *   fork          fork; the child runs the remaining steps; the parent waits
 *                 for it, prints "child exit N" or "child signal N", then runs
 *                 the remaining steps too
 *   thread        start a thread that runs the remaining steps; the main
 *                 thread joins it and exits 0 without running them
 *   exec          execv the remaining steps (argv[0] of the rest is a path)
 *   iouring       io_uring_setup(1, ...); prints "iouring R"
 *   int80-getpid  getpid through int 0x80; prints "int80 R"
 *   int80-mkdir:P mkdir(P, 0700) through int 0x80; prints "int80 R"
 *   ioctl         open /dev/sbx and try LOAD (a bogus blob), ARM (id 1),
 *                 UNLOAD (id 1), INSTALL (id 1, this program), REMOVE (this
 *                 program), LIST and TASKS; prints "ioctl open E load E arm E
 *                 unload E install E remove E list E tasks E" with errno
 *                 values (0 = success)
 *   threads:T:N   start T threads that each issue CB_ENTER 4, LIBC 2,
 *                 CB_EXIT 4 (the example policy's callback) N times; join
 *                 them; prints "threads T"
 *   forks:C       fork C children at once; each runs the remaining steps;
 *                 the parent waits for all, prints "forks C ok K" (K exited 0)
 *                 and exits 0 without running the remaining steps
 *   sleep:S       sleep S seconds
 *   wait:PATH     wait until PATH exists (polls every 10 ms)
 *   loop:N:K:I    issue marker K:I N times; prints "loop N ns/marker X"
 *   pinloop:N     issue N times LIBC 1 from a pinned site (an instrumented
 *                 marker with its .sbx_sites entry, specs/marker-abi.md);
 *                 prints "pinloop N ns/marker X"
 *   sysloop:N     make N getppid() system calls; prints "sysloop N ns/call X"
 *   mkdir:P       mkdir(P, 0700); prints "mkdir R" (0 or -errno)
 *   rawthread-mkdir:P  a thread made with the raw clone system call (56, not
 *                 pthread_create's clone3), which makes mkdir(P, 0700) and
 *                 exits; prints "rawthread mkdir R" (0 or -errno)
 *   mmap-exec     a PROT_READ|PROT_EXEC mapping of the program's own file
 *                 (opened read-only at start); prints "mmap-exec ok" or "mmap-exec E" (errno)
 *   mmap-anon-exec an anonymous PROT_READ|PROT_EXEC mapping; prints
 *                 "mmap-anon-exec ok" or "mmap-anon-exec E"
 *   mmap-rw       an anonymous PROT_READ|PROT_WRITE mapping, silently (exit
 *                 70 if it fails)
 *   exit:N        exit(N)
 *   never:NAME    attempt a call a sandboxed thread may never make (or, for
 *                 the names marked +, one it may), and print "never NAME R"
 *                 with its result (-errno on failure) and what it did:
 *                 init_module, finit_module, delete_module (a module that
 *                 does not exist), kexec_load, kexec_file_load (unload
 *                 requests), bpf (a bogus command), seccomp and prctl-seccomp
 *                 (a filter making the marker 999 return ENOSYS, the attack
 *                 that blinds the monitor), prctl-dispatch (syscall user
 *                 dispatch on, then off), ptrace (attach to and detach from a
 *                 child), process_vm_writev (into our own memory: prints the
 *                 patched word), procmem-self, procmem-parent (open
 *                 /proc/self/mem, /proc/PPID/mem read-write; for self also a
 *                 write through it), personality (READ_IMPLIES_EXEC: prints
 *                 whether a PROT_READ mapping became executable), and the
 *                 harmless prctl-name+, prctl-get-seccomp+,
 *                 personality-query+, personality-same+, procmem-read+
 *   int80-rmmod-force:NAME  delete_module(NAME, O_NONBLOCK|O_TRUNC) through
 *                 int 0x80; prints "int80 R"
 *   comm:HEX      prctl(PR_SET_NAME) to the bytes spelled in hex (two digits
 *                 each, at most 15 bytes): a name with a newline or control
 *                 bytes, which a shell argument cannot carry; prints "comm R"
 * After the last step the program exits 0.
 *
 * Build it with -no-pie so that its data sits below 4 GiB, where 32-bit
 * system calls can address it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../uapi/sbx_ioctl.h"
#include "../uapi/sbx_marker.h"

static int g_self_fd = -1;
static int g_argc;
static char **g_argv;

static long marker(unsigned long kind, unsigned long id)
{
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "0"((long)SBX_MARKER_NR), "D"(kind), "S"(id)
		     : "rcx", "r11", "memory");
	return ret;
}

/*
 * LIBC 1 exactly as dyck-cc instruments it: %rdx names the marker's entry in
 * .sbx_sites, which holds the offset to the syscall, the kind and the id.
 */
static long pinned_libc1(void)
{
	long ret;

	asm volatile("lea 2f(%%rip), %%rdx\n"
		     "1: syscall\n"
		     ".pushsection .sbx_sites,\"a\",@progbits\n"
		     ".balign 16\n"
		     "2: .long 1b - .\n"
		     ".long 1\n"
		     ".long 1\n"
		     ".long 0\n"
		     ".popsection"
		     : "=a"(ret)
		     : "0"((long)SBX_MARKER_NR), "D"(1UL), "S"(1UL)
		     : "rcx", "rdx", "r11", "memory");
	return ret;
}

/*
 * A thread from the raw clone system call, with nothing of libc: the child
 * runs on its own stack, makes mkdir(@path, 0700), stores the result, and
 * exits the thread. The parent waits for it. Returns mkdir's result, or the
 * clone's error.
 */
static long raw_thread_mkdir(const char *path)
{
	static char stack[16384] __attribute__((aligned(16)));
	static volatile long result;
	static volatile int done;
	register long r10 asm("r10") = 0;
	register long r8 asm("r8") = 0;
	register const char *r12 asm("r12") = path;
	register volatile long *r13 asm("r13") = &result;
	register volatile int *r14 asm("r14") = &done;
	long ret;

	done = 0;
	asm volatile("syscall\n"
		     "test %%rax, %%rax\n"
		     "jnz 1f\n"
		     /* The child: registers as the parent's, %%rsp the new stack. */
		     "mov $83, %%eax\n"
		     "mov %%r12, %%rdi\n"
		     "mov $0700, %%esi\n"
		     "syscall\n"
		     "mov %%rax, (%%r13)\n"
		     "movl $1, (%%r14)\n"
		     "mov $60, %%eax\n"
		     "xor %%edi, %%edi\n"
		     "syscall\n"
		     "ud2\n"
		     "1:\n"
		     : "=a"(ret)
		     : "0"((long)SYS_clone),
		       "D"((long)(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				  CLONE_SYSVSEM)),
		       "S"(stack + sizeof(stack)), "d"(0L), "r"(r10), "r"(r8), "r"(r12), "r"(r13),
		       "r"(r14)
		     : "rcx", "r11", "memory");
	if (ret < 0)
		return ret;
	while (!done)
		usleep(1000);
	return result;
}

static long int80(long nr, long a, long b)
{
	long ret;

	asm volatile("int $0x80" : "=a"(ret) : "0"(nr), "b"(a), "c"(b) : "memory");
	return ret;
}

/* Paths for 32-bit syscalls must be addressable with 32 bits (-no-pie). */
static char low_path[256];

static int try_ioctls(void)
{
	struct sbx_ioc_load load = { 0 };
	struct sbx_ioc_arm arm = { 0 };
	struct sbx_ioc_unload unload = { 0 };
	struct sbx_ioc_install install = { 0 };
	struct sbx_ioc_remove remove = { 0 };
	struct sbx_ioc_list list = { 0 };
	struct sbx_ioc_tasks tasks = { 0 };
	static const char bogus[128];
	int fd, self, e_open = 0, e_load, e_arm, e_unload, e_install, e_remove, e_list, e_tasks;

	fd = open(SBX_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e_open = errno;
		printf("ioctl open %d\n", e_open);
		return 0;
	}
	load.blob = (uintptr_t)bogus;
	load.size = sizeof(bogus);
	e_load = ioctl(fd, SBX_IOC_LOAD, &load) ? errno : 0;
	arm.id = 1;
	arm.mode = SBX_MODE_DYCK;
	arm.action = SBX_ACTION_KILL;
	e_arm = ioctl(fd, SBX_IOC_ARM, &arm) ? errno : 0;
	unload.id = 1;
	e_unload = ioctl(fd, SBX_IOC_UNLOAD, &unload) ? errno : 0;
	self = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	install.id = 1;
	install.mode = SBX_MODE_DYCK;
	install.action = SBX_ACTION_KILL;
	install.exe_fd = self;
	e_install = ioctl(fd, SBX_IOC_INSTALL, &install) ? errno : 0;
	remove.exe_fd = self;
	e_remove = ioctl(fd, SBX_IOC_REMOVE, &remove) ? errno : 0;
	e_list = ioctl(fd, SBX_IOC_LIST, &list) ? errno : 0;
	e_tasks = ioctl(fd, SBX_IOC_TASKS, &tasks) ? errno : 0;
	if (self >= 0)
		close(self);
	close(fd);
	printf("ioctl open %d load %d arm %d unload %d install %d remove %d list %d tasks %d\n",
	       e_open, e_load, e_arm, e_unload, e_install, e_remove, e_list, e_tasks);
	return 0;
}

/* A filter that blinds a monitor on sys_enter: the marker returns ENOSYS. */
static struct sock_filter blind_filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), /* seccomp_data.nr */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SBX_MARKER_NR, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static struct sock_fprog blind_prog = {
	.len = sizeof(blind_filter) / sizeof(blind_filter[0]),
	.filter = blind_filter,
};

static volatile unsigned long patched_word = 0x1111;

static long ret_of(long r)
{
	return r < 0 ? -errno : r;
}

/* Is the mapping at @p executable (its line of /proc/self/maps)? */
static int mapped_exec(void *p)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int x = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && (unsigned long)p >= lo &&
		    (unsigned long)p < hi)
			x = perms[2] == 'x';
	}
	fclose(f);
	return x;
}

static void try_never(const char *name)
{
	char extra[128] = "";
	long r;

	if (!strcmp(name, "init_module")) {
		r = ret_of(syscall(__NR_init_module, NULL, 0UL, ""));
	} else if (!strcmp(name, "finit_module")) {
		r = ret_of(syscall(__NR_finit_module, -1, "", 0));
	} else if (!strcmp(name, "delete_module")) {
		r = ret_of(syscall(__NR_delete_module, "sbx_no_such_module", O_NONBLOCK));
	} else if (!strcmp(name, "kexec_load")) {
		r = ret_of(syscall(__NR_kexec_load, 0UL, 0UL, NULL, 0UL));
	} else if (!strcmp(name, "kexec_file_load")) {
		r = ret_of(syscall(__NR_kexec_file_load, -1, -1, 0UL, "", 4UL /* UNLOAD */));
	} else if (!strcmp(name, "bpf")) {
		r = ret_of(syscall(__NR_bpf, -1, NULL, 0));
	} else if (!strcmp(name, "seccomp")) {
		r = ret_of(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &blind_prog));
	} else if (!strcmp(name, "prctl-seccomp")) {
		r = ret_of(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &blind_prog, 0, 0));
	} else if (!strcmp(name, "prctl-dispatch")) {
		static volatile char selector; /* SYSCALL_DISPATCH_FILTER_ALLOW */

		r = ret_of(
			prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1 /* ON */, 0, 0, &selector));
		if (r == 0)
			prctl(59, 0 /* OFF */, 0, 0, 0);
	} else if (!strcmp(name, "ptrace")) {
		pid_t parent = getpid(), child = fork();

		if (child == 0) {
			/* Dies with the parent, even if that was before the prctl. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			for (;;)
				pause();
		}
		r = ret_of(ptrace(PTRACE_ATTACH, child, NULL, NULL));
		if (r == 0) {
			waitpid(child, NULL, __WALL);
			ptrace(PTRACE_DETACH, child, NULL, NULL);
		}
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	} else if (!strcmp(name, "process_vm_writev")) {
		unsigned long value = 0x2222;
		struct iovec local = { &value, sizeof(value) };
		struct iovec remote = { (void *)&patched_word, sizeof(value) };

		r = ret_of(
			syscall(__NR_process_vm_writev, getpid(), &local, 1UL, &remote, 1UL, 0UL));
		snprintf(extra, sizeof(extra), " word %#lx", patched_word);
	} else if (!strcmp(name, "procmem-self") || !strcmp(name, "procmem-parent")) {
		char path[64];
		int self = !strcmp(name, "procmem-self");

		snprintf(path, sizeof(path), "/proc/%d/mem", self ? getpid() : getppid());
		r = ret_of(open(path, O_RDWR | O_CLOEXEC));
		if (r >= 0) {
			if (self) {
				unsigned long value = 0x3333;

				pwrite(r, &value, sizeof(value), (off_t)(uintptr_t)&patched_word);
				snprintf(extra, sizeof(extra), " word %#lx", patched_word);
			}
			close(r);
			r = 0;
		}
	} else if (!strcmp(name, "procmem-read")) {
		r = ret_of(open("/proc/self/mem", O_RDONLY | O_CLOEXEC));
		if (r >= 0) {
			close(r);
			r = 0;
		}
	} else if (!strcmp(name, "personality")) {
		int old = personality(0xffffffff);
		void *p;

		r = ret_of(personality(old | READ_IMPLIES_EXEC));
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		snprintf(extra, sizeof(extra), " read-implies-exec %d",
			 p == MAP_FAILED ? -1 : mapped_exec(p));
		personality(old);
	} else if (!strcmp(name, "personality-query")) {
		r = ret_of(personality(0xffffffff));
	} else if (!strcmp(name, "personality-same")) {
		r = ret_of(personality(personality(0xffffffff)));
	} else if (!strcmp(name, "prctl-name")) {
		r = ret_of(prctl(PR_SET_NAME, "sbx_markers", 0, 0, 0));
	} else if (!strcmp(name, "prctl-get-seccomp")) {
		r = ret_of(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	} else {
		fprintf(stderr, "sbx_markers: unknown never:%s\n", name);
		exit(64);
	}
	printf("never %s %ld%s\n", name, r, extra);
}

/*
 * comm:HEX: the thread's name from hex digits, so that a test can give it
 * a newline and control bytes. Nonzero if HEX is not 1..15 bytes of hex.
 */
static int set_comm_hex(const char *hex)
{
	char name[16] = { 0 };
	size_t len = strlen(hex), i;

	if (len == 0 || len % 2 || len / 2 > sizeof(name) - 1)
		return -1;
	for (i = 0; i < len / 2; i++) {
		char digits[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		unsigned long byte;

		/* strtoul alone would take a sign or a blank. */
		if (!isxdigit((unsigned char)digits[0]) || !isxdigit((unsigned char)digits[1]))
			return -1;
		byte = strtoul(digits, NULL, 16);
		if (byte == 0)
			return -1;
		name[i] = (char)byte;
	}
	printf("comm %ld\n", ret_of(prctl(PR_SET_NAME, name, 0, 0, 0)));
	return 0;
}

static int run(int i);

static unsigned long storm_n;

static void *storm_main(void *arg)
{
	unsigned long j;

	(void)arg;
	for (j = 0; j < storm_n; j++) {
		marker(SBX_MARK_CB_ENTER, 4);
		marker(SBX_MARK_LIBC, 2);
		marker(SBX_MARK_CB_EXIT, 4);
	}
	return NULL;
}

static void *thread_main(void *arg)
{
	run((int)(intptr_t)arg);
	return NULL;
}

static int run(int i)
{
	for (; i < g_argc; i++) {
		const char *s = g_argv[i];
		unsigned long kind, id;
		char *end;

		fflush(stdout);
		if (!strncmp(s, "say:", 4)) {
			printf("%s\n", s + 4);
		} else if (!strncmp(s, "touch:", 6)) {
			int fd = open(s + 6, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

			if (fd < 0) {
				perror(s + 6);
				exit(70);
			}
			close(fd);
		} else if (!strcmp(s, "fork")) {
			pid_t pid = fork();
			int status;

			if (pid < 0) {
				perror("fork");
				exit(70);
			}
			if (pid == 0)
				continue;
			if (waitpid(pid, &status, 0) < 0) {
				perror("waitpid");
				exit(70);
			}
			if (WIFSIGNALED(status))
				printf("child signal %d\n", WTERMSIG(status));
			else
				printf("child exit %d\n", WEXITSTATUS(status));
		} else if (!strcmp(s, "thread")) {
			pthread_t t;

			if (pthread_create(&t, NULL, thread_main, (void *)(intptr_t)(i + 1))) {
				perror("pthread_create");
				exit(70);
			}
			pthread_join(t, NULL);
			fflush(stdout);
			exit(0);
		} else if (!strcmp(s, "exec")) {
			if (i + 1 >= g_argc) {
				fprintf(stderr, "exec: nothing to exec\n");
				exit(64);
			}
			execv(g_argv[i + 1], g_argv + i + 1);
			perror("execv");
			exit(70);
		} else if (!strcmp(s, "iouring")) {
			unsigned char params[120] = { 0 }; /* struct io_uring_params */

			printf("iouring %ld\n", syscall(__NR_io_uring_setup, 1, params));
		} else if (!strcmp(s, "int80-getpid")) {
			printf("int80 %ld\n", int80(20, 0, 0));
		} else if (!strncmp(s, "int80-mkdir:", 12)) {
			snprintf(low_path, sizeof(low_path), "%s", s + 12);
			if ((uintptr_t)low_path > 0xffffffffUL) {
				fprintf(stderr, "int80-mkdir: build with -no-pie\n");
				exit(64);
			}
			printf("int80 %ld\n", int80(39, (long)(uintptr_t)low_path, 0700));
		} else if (!strncmp(s, "never:", 6)) {
			try_never(s + 6);
		} else if (!strncmp(s, "int80-rmmod-force:", 18)) {
			snprintf(low_path, sizeof(low_path), "%s", s + 18);
			printf("int80 %ld\n",
			       int80(129, (long)(uintptr_t)low_path, O_NONBLOCK | O_TRUNC));
		} else if (!strncmp(s, "comm:", 5)) {
			if (set_comm_hex(s + 5))
				goto bad;
		} else if (!strcmp(s, "ioctl")) {
			try_ioctls();
		} else if (!strncmp(s, "threads:", 8)) {
			pthread_t ts[256];
			unsigned long t, nt;

			nt = strtoul(s + 8, &end, 0);
			if (*end != ':' || nt > 256)
				goto bad;
			storm_n = strtoul(end + 1, &end, 0);
			if (*end)
				goto bad;
			for (t = 0; t < nt; t++)
				if (pthread_create(&ts[t], NULL, storm_main, NULL)) {
					perror("pthread_create");
					exit(70);
				}
			for (t = 0; t < nt; t++)
				pthread_join(ts[t], NULL);
			printf("threads %lu\n", nt);
		} else if (!strncmp(s, "forks:", 6)) {
			unsigned long c, nc = strtoul(s + 6, &end, 0), good = 0;
			int status;

			if (*end)
				goto bad;
			for (c = 0; c < nc; c++) {
				pid_t pid = fork();

				if (pid < 0) {
					perror("fork");
					break;
				}
				if (pid == 0) {
					run(i + 1);
					exit(0);
				}
			}
			while (wait(&status) > 0)
				if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
					good++;
			printf("forks %lu ok %lu\n", nc, good);
			exit(0);
		} else if (!strncmp(s, "sleep:", 6)) {
			sleep(atoi(s + 6));
		} else if (!strncmp(s, "wait:", 5)) {
			while (access(s + 5, F_OK))
				usleep(10000);
		} else if (!strncmp(s, "loop:", 5)) {
			unsigned long n, k, j;
			struct timespec t0, t1;
			double ns;

			n = strtoul(s + 5, &end, 0);
			if (*end != ':')
				goto bad;
			k = strtoul(end + 1, &end, 0);
			if (*end != ':')
				goto bad;
			id = strtoul(end + 1, &end, 0);
			if (*end || !n)
				goto bad;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			for (j = 0; j < n; j++)
				marker(k, id);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
			printf("loop %lu ns/marker %.1f\n", n, ns / n);
		} else if (!strncmp(s, "rawthread-mkdir:", 16)) {
			printf("rawthread mkdir %ld\n", raw_thread_mkdir(s + 16));
		} else if (!strncmp(s, "mkdir:", 6)) {
			printf("mkdir %d\n", mkdir(s + 6, 0700) ? -errno : 0);
		} else if (!strcmp(s, "mmap-exec") || !strcmp(s, "mmap-anon-exec") ||
			   !strcmp(s, "mmap-rw")) {
			int exec = strcmp(s, "mmap-rw") != 0;
			int anon = strcmp(s, "mmap-exec") != 0;
			int fd = anon ? -1 : g_self_fd;
			void *p = mmap(NULL, 4096, PROT_READ | (exec ? PROT_EXEC : PROT_WRITE),
				       MAP_PRIVATE | (anon ? MAP_ANONYMOUS : 0), fd, 0);

			if (exec && p == MAP_FAILED)
				printf("%s %d\n", s, errno);
			else if (exec)
				printf("%s ok\n", s);
			else if (p == MAP_FAILED)
				exit(70);
		} else if (!strncmp(s, "pinloop:", 8) || !strncmp(s, "sysloop:", 8)) {
			int pin = s[0] == 'p';
			unsigned long n, j;
			struct timespec t0, t1;
			double ns;

			n = strtoul(s + 8, &end, 0);
			if (*end || !n)
				goto bad;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			for (j = 0; j < n; j++) {
				if (pin)
					pinned_libc1();
				else
					syscall(SYS_getppid);
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
			printf("%s %lu ns/%s %.1f\n", pin ? "pinloop" : "sysloop", n,
			       pin ? "marker" : "call", ns / n);
		} else if (!strncmp(s, "ans:", 4)) {
			kind = strtoul(s + 4, &end, 0);
			if (*end != ':')
				goto bad;
			id = strtoul(end + 1, &end, 0);
			if (*end)
				goto bad;
			printf("ans %lu:%lu %ld\n", kind, id, marker(kind, id));
			/* A later marker may be killed: keep what was printed. */
			fflush(stdout);
		} else if (!strncmp(s, "exit:", 5)) {
			fflush(stdout);
			exit(atoi(s + 5));
		} else {
			kind = strtoul(s, &end, 0);
			if (*end != ':')
				goto bad;
			id = strtoul(end + 1, &end, 0);
			if (*end)
				goto bad;
			marker(kind, id);
		}
		continue;
bad:
		fprintf(stderr, "sbx_markers: bad step '%s'\n", s);
		exit(64);
	}
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Opened in the start window, which may open files: mmap-exec maps it later. */
	g_self_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	g_argc = argc;
	g_argv = argv;
	run(1);
	return 0;
}
