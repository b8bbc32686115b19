// SPDX-License-Identifier: GPL-2.0
/*
 * sbxctl - a small userspace client of /dev/sbx (uapi/sbx_ioctl.h), for the
 * module's tests in a guest. It is a second, independent user of the ABI.
 *
 *   sbxctl status
 *   sbxctl load BLOB                 prints the policy id
 *   sbxctl unload ID
 *   sbxctl read [MAX]                prints and removes violation records
 *   sbxctl mkblob dyck|nfa OUT       writes the core tests' example policy
 *   sbxctl try-load BLOB [--drop]    LOAD, printing the errno (0 = ok); with
 *                                    --drop, setuid(65534) after the open
 *   sbxctl run [-p ID | -b BLOB] [-m dyck|nfa] [-a kill|log] [--no-fork]
 *              [--fail-first] [--twice] -- PROG [ARG...]
 *       arm and exec PROG: in a forked child (default; the parent waits and
 *       prints "exit N" or "signal N", and exits with N or 128+N), or in this
 *       process (--no-fork). -b loads BLOB first (and unloads it after the
 *       child, when forking). --fail-first execs a missing file first (the
 *       exec fails, the thread stays armed). --twice arms twice (the second
 *       must fail with EPERM; its errno is printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../uapi/sbx_ioctl.h"
#include "../core/sbx_blob.h"
#include "../core/tests/blob_build.h"

static int open_dev(void)
{
	int fd = open(SBX_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "sbxctl: %s: %s\n", SBX_DEVICE_PATH, strerror(errno));
		exit(2);
	}
	return fd;
}

static void *read_file(const char *path, uint32_t *size)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[SBX_BLOB_MAX_SIZE / 64];
	size_t n;

	if (!f) {
		fprintf(stderr, "sbxctl: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	*size = n;
	return buf;
}

static int do_load(int fd, const char *path, uint32_t *id)
{
	struct sbx_ioc_load a = { 0 };
	uint32_t size;
	void *blob = read_file(path, &size);

	a.blob = (uintptr_t)blob;
	a.size = size;
	if (ioctl(fd, SBX_IOC_LOAD, &a))
		return errno;
	*id = a.id;
	return 0;
}

static int cmd_status(void)
{
	struct sbx_ioc_status s;
	int fd = open_dev();

	if (ioctl(fd, SBX_IOC_STATUS, &s)) {
		perror("sbxctl: status");
		return 1;
	}
	printf("abi %u policies %u enforced %u armed %u markers %" PRIu64
	       " violations %" PRIu64 " dropped %" PRIu64 " alloc_failures %" PRIu64
	       " policy_bytes %" PRIu64 " ring %u/%u\n",
	       s.abi_version, s.nr_policies, s.enforced_tasks, s.armed_tasks, (uint64_t)s.markers,
	       (uint64_t)s.violations, (uint64_t)s.records_dropped, (uint64_t)s.alloc_failures,
	       (uint64_t)s.policy_bytes, s.ring_count, s.ring_size);
	return 0;
}

static int cmd_read(unsigned int max)
{
	struct sbx_violation_record recs[64];
	struct sbx_ioc_read a = { 0 };
	unsigned int i, total = 0;
	int fd = open_dev();

	while (total < max) {
		a.records = (uintptr_t)recs;
		a.max = max - total < 64 ? max - total : 64;
		if (ioctl(fd, SBX_IOC_READ, &a)) {
			perror("sbxctl: read");
			return 1;
		}
		for (i = 0; i < a.count; i++) {
			const struct sbx_violation_record *r = &recs[i];

			printf("seq %" PRIu64 " pid %u tid %u comm %s policy %u reason %u action %u"
			       " nr %u kind %" PRIu64 " id %" PRIu64 " tag %#x mstate %u depth %u"
			       " flags %#x\n",
			       (uint64_t)r->seq, r->pid, r->tid, r->comm, r->policy_id, r->reason,
			       r->action, r->syscall_nr, (uint64_t)r->kind, (uint64_t)r->id, r->tag,
			       r->mstate, r->depth, r->flags);
		}
		total += a.count;
		if (a.count < a.max)
			break;
	}
	printf("records %u dropped %" PRIu64 "\n", total, (uint64_t)a.dropped);
	return 0;
}

static int cmd_mkblob(const char *mode, const char *out)
{
	static uint8_t buf[65536];
	struct sbx_policy_view view;
	struct tb_spec spec;
	size_t n;
	FILE *f;
	int ret;

	if (!strcmp(mode, "dyck"))
		tb_example(&spec);
	else if (!strcmp(mode, "nfa"))
		tb_example_nfa(&spec);
	else
		return 64;
	n = tb_build(&spec, buf, sizeof(buf));
	ret = sbx_blob_validate(buf, n, &view);
	if (ret) {
		fprintf(stderr, "sbxctl: the example blob does not validate (%d)\n", ret);
		return 1;
	}
	f = fopen(out, "wb");
	if (!f || fwrite(buf, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "sbxctl: %s: %s\n", out, strerror(errno));
		return 3;
	}
	return 0;
}

static int cmd_try_load(const char *path, int drop)
{
	uint32_t id = 0;
	int fd = open_dev(), err;

	if (drop && (setgroups(0, NULL) || setgid(65534) || setuid(65534))) {
		perror("sbxctl: drop");
		return 1;
	}
	err = do_load(fd, path, &id);
	printf("load %d id %u\n", err, id);
	return 0;
}

/* LOAD with a size one byte over the cap: the module must refuse it (E2BIG)
 * before it reads anything. */
static int cmd_try_oversized(void)
{
	static uint8_t small[64];
	struct sbx_ioc_load a = { 0 };
	int fd = open_dev();

	a.blob = (uintptr_t)small;
	a.size = SBX_BLOB_MAX_SIZE + 1;
	printf("load %d\n", ioctl(fd, SBX_IOC_LOAD, &a) ? errno : 0);
	return 0;
}

static int arm(int fd, uint32_t id, uint32_t mode, uint32_t action)
{
	struct sbx_ioc_arm a = { 0 };

	a.id = id;
	a.mode = mode;
	a.action = action;
	return ioctl(fd, SBX_IOC_ARM, &a) ? errno : 0;
}

static int cmd_run(int argc, char **argv)
{
	uint32_t id = 0, mode = SBX_MODE_DYCK, action = SBX_ACTION_KILL;
	int fork_child = 1, fail_first = 0, twice = 0, loaded = 0, fd, i, err, status;
	const char *blob = NULL;
	pid_t pid;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < argc)
			id = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-b") && i + 1 < argc)
			blob = argv[++i];
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			mode = !strcmp(argv[++i], "nfa") ? SBX_MODE_NFA : SBX_MODE_DYCK;
		else if (!strcmp(argv[i], "-a") && i + 1 < argc)
			action = !strcmp(argv[++i], "log") ? SBX_ACTION_LOG : SBX_ACTION_KILL;
		else if (!strcmp(argv[i], "--no-fork"))
			fork_child = 0;
		else if (!strcmp(argv[i], "--fail-first"))
			fail_first = 1;
		else if (!strcmp(argv[i], "--twice"))
			twice = 1;
		else
			return 64;
	}
	if (i + 1 >= argc)
		return 64;
	argv += i + 1;

	fd = open_dev();
	if (blob) {
		err = do_load(fd, blob, &id);
		if (err) {
			fprintf(stderr, "sbxctl: load %s: %s\n", blob, strerror(err));
			return 2;
		}
		loaded = 1;
	}
	fflush(stdout);
	pid = fork_child ? fork() : 0;
	if (pid < 0) {
		perror("sbxctl: fork");
		return 70;
	}
	if (pid == 0) {
		err = arm(fd, id, mode, action);
		if (err) {
			fprintf(stderr, "sbxctl: arm: %s\n", strerror(err));
			_exit(2);
		}
		if (twice)
			printf("second arm %d\n", arm(fd, id, mode, action));
		fflush(stdout);
		if (fail_first) {
			char *none[] = { "/nonexistent/sbx-missing", NULL };

			execv(none[0], none);
		}
		execv(argv[0], argv);
		fprintf(stderr, "sbxctl: exec %s: %s\n", argv[0], strerror(errno));
		_exit(70);
	}
	/* An open descriptor pins the module: do not hold one while waiting. */
	close(fd);
	if (waitpid(pid, &status, 0) < 0) {
		perror("sbxctl: waitpid");
		return 70;
	}
	if (loaded) {
		struct sbx_ioc_unload u = { .id = id };

		fd = open_dev();
		if (ioctl(fd, SBX_IOC_UNLOAD, &u))
			fprintf(stderr, "sbxctl: unload %u: %s\n", id, strerror(errno));
	}
	if (WIFSIGNALED(status)) {
		printf("signal %d\n", WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	printf("exit %d\n", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

static int usage(void)
{
	fprintf(stderr, "usage: sbxctl status | load BLOB | unload ID | read [MAX] |"
			" mkblob dyck|nfa OUT | try-load BLOB [--drop] | try-oversized |"
			" run [-p ID|-b BLOB] [-m MODE] [-a ACTION] [--no-fork] [--fail-first]"
			" [--twice] -- PROG [ARG...]\n");
	return 64;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "status"))
		return cmd_status();
	if (!strcmp(argv[1], "load") && argc == 3) {
		uint32_t id;
		int err = do_load(open_dev(), argv[2], &id);

		if (err) {
			fprintf(stderr, "sbxctl: load: %s\n", strerror(err));
			return 1;
		}
		printf("%u\n", id);
		return 0;
	}
	if (!strcmp(argv[1], "unload") && argc == 3) {
		struct sbx_ioc_unload u = { .id = strtoul(argv[2], NULL, 0) };

		if (ioctl(open_dev(), SBX_IOC_UNLOAD, &u)) {
			printf("unload %d\n", errno);
			return 1;
		}
		printf("unload 0\n");
		return 0;
	}
	if (!strcmp(argv[1], "read"))
		return cmd_read(argc > 2 ? strtoul(argv[2], NULL, 0) : 1000000);
	if (!strcmp(argv[1], "mkblob") && argc == 4)
		return cmd_mkblob(argv[2], argv[3]);
	if (!strcmp(argv[1], "try-load") && argc >= 3)
		return cmd_try_load(argv[2], argc > 3 && !strcmp(argv[3], "--drop"));
	if (!strcmp(argv[1], "try-oversized"))
		return cmd_try_oversized();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	return usage();
}
