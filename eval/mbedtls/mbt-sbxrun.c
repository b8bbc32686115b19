/*
 * mbt-sbxrun - a stand-in for `sbx run`, with its interface, for developing and
 * testing the mbed TLS evaluation before `sbx run` exists. Runs in the guest only.
 *
 *   mbt-sbxrun [--mode dyck|nfa] [--policy P] [--action kill|log]
 *              [--json-report FILE] -- PROG [ARGS...]
 *
 * The policy P (default PROG.dyck) must have been compiled beforehand on the host
 * into P.MODE.blob (`sbx blob P -o P.MODE.blob --mode MODE`, fetch-build.sh does),
 * because compiling an nfa blob takes seconds to minutes and would swamp the
 * measurement. Loads the blob into /dev/sbx, forks, arms the child (mode, action)
 * and execs PROG in it, passes SIGTERM/SIGINT/SIGHUP on, waits (wait4), reads the
 * violation records and unloads the policy.
 *
 * Exit status as `sbx run`: the program's status (128+N for signal N); 100 when the
 * monitor killed it (report on stderr); 101 no /dev/sbx; 102 policy blob missing or
 * refused; 104 arming refused. The JSON report (--json-report) has `sbx run`'s
 * fields status, killed, violations, plus what the evaluation measures: markers
 * (the module's global marker counter across the run: exact only while no other
 * sandboxed process runs), wall_ns, utime_us, stime_us (the program's, from wait4),
 * and "standin": true.
 *
 *   mbt-sbxrun status     the module's counters (one line)
 *   mbt-sbxrun read       take the violation records: one line each, then
 *                         "records N dropped D"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sbx_ioctl.h"

static volatile pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static int open_dev(void)
{
	int fd = open(SBX_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "mbt-sbxrun: %s: %s\n", SBX_DEVICE_PATH, strerror(errno));
		exit(101);
	}
	return fd;
}

static void *slurp(const char *path, uint32_t *size)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "mbt-sbxrun: %s: %s\n", path, strerror(errno));
		exit(102);
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf || read(fd, buf, st.st_size) != st.st_size) {
		fprintf(stderr, "mbt-sbxrun: %s: cannot read\n", path);
		exit(102);
	}
	close(fd);
	*size = st.st_size;
	return buf;
}

static uint64_t status_markers(int fd, uint64_t *violations)
{
	struct sbx_ioc_status s;

	memset(&s, 0, sizeof(s));
	ioctl(fd, SBX_IOC_STATUS, &s);
	*violations = s.violations;
	return s.markers;
}

static int ctl(const char *what)
{
	static struct sbx_violation_record recs[256];
	struct sbx_ioc_status s;
	struct sbx_ioc_read rd;
	unsigned int i, total = 0;
	int fd = open_dev();

	if (!strcmp(what, "status")) {
		memset(&s, 0, sizeof(s));
		if (ioctl(fd, SBX_IOC_STATUS, &s)) {
			perror("mbt-sbxrun: status");
			return 1;
		}
		printf("abi %u policies %u enforced %u armed %u markers %" PRIu64 " violations %" PRIu64
		       " dropped %" PRIu64 " alloc_failures %" PRIu64 "\n", s.abi_version, s.nr_policies,
		       s.enforced_tasks, s.armed_tasks, (uint64_t)s.markers, (uint64_t)s.violations,
		       (uint64_t)s.records_dropped, (uint64_t)s.alloc_failures);
		return 0;
	}
	memset(&rd, 0, sizeof(rd));
	do {
		rd.records = (uintptr_t)recs;
		rd.max = 256;
		if (ioctl(fd, SBX_IOC_READ, &rd)) {
			perror("mbt-sbxrun: read");
			return 1;
		}
		for (i = 0; i < rd.count; i++)
			printf("violation pid %u tid %u comm %.16s policy %u reason %u kind %" PRIu64 " id %" PRIu64
			       " tag %#x mstate %u depth %u flags %#x\n", recs[i].pid, recs[i].tid, recs[i].comm,
			       recs[i].policy_id, recs[i].reason, (uint64_t)recs[i].kind, (uint64_t)recs[i].id,
			       recs[i].tag, recs[i].mstate, recs[i].depth, recs[i].flags);
		total += rd.count;
	} while (rd.count == 256);
	printf("records %u dropped %" PRIu64 "\n", total, (uint64_t)rd.dropped);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = "dyck", *policy = NULL, *action = "kill", *json = NULL;
	struct sbx_ioc_load load;
	struct sbx_ioc_arm arm;
	struct sbx_ioc_unload unload;
	struct sbx_ioc_read rd;
	static struct sbx_violation_record recs[256];
	struct sigaction sa;
	struct timespec t0, t1;
	struct rusage ru;
	char blob_path[4096], default_policy[4096];
	uint64_t m0, m1, v0, v1;
	uint32_t size;
	void *blob;
	int i, fd, status, code, killed = 0, own = 0;
	FILE *f;

	if (argc == 2 && (!strcmp(argv[1], "status") || !strcmp(argv[1], "read")))
		return ctl(argv[1]);
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i], **dst = NULL;

		if (!strncmp(a, "--mode", 6))
			dst = &mode;
		else if (!strncmp(a, "--policy", 8))
			dst = &policy;
		else if (!strncmp(a, "--action", 8))
			dst = &action;
		else if (!strncmp(a, "--json-report", 13))
			dst = &json;
		if (!dst) {
			fprintf(stderr, "mbt-sbxrun: unknown option %s\n", a);
			return 2;
		}
		if (strchr(a, '='))
			*dst = strchr(a, '=') + 1;
		else if (i + 1 < argc)
			*dst = argv[++i];
	}
	if (i + 1 >= argc || (strcmp(mode, "dyck") && strcmp(mode, "nfa"))) {
		fprintf(stderr, "usage: mbt-sbxrun [--mode dyck|nfa] [--policy P] [--action kill|log]"
				" [--json-report FILE] -- PROG [ARGS...]\n");
		return 2;
	}
	argv += i + 1;
	if (!policy) {
		snprintf(default_policy, sizeof(default_policy), "%s.dyck", argv[0]);
		policy = default_policy;
	}
	snprintf(blob_path, sizeof(blob_path), "%s.%s.blob", policy, mode);
	blob = slurp(blob_path, &size);

	fd = open_dev();
	memset(&load, 0, sizeof(load));
	load.blob = (uintptr_t)blob;
	load.size = size;
	if (ioctl(fd, SBX_IOC_LOAD, &load)) {
		fprintf(stderr, "mbt-sbxrun: load %s: %s\n", blob_path, strerror(errno));
		return 102;
	}
	m0 = status_markers(fd, &v0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	child = fork();
	if (child < 0) {
		perror("mbt-sbxrun: fork");
		return 70;
	}
	if (child == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		memset(&arm, 0, sizeof(arm));
		arm.id = load.id;
		arm.mode = strcmp(mode, "nfa") ? SBX_MODE_DYCK : SBX_MODE_NFA;
		arm.action = strcmp(action, "log") ? SBX_ACTION_KILL : SBX_ACTION_LOG;
		if (ioctl(fd, SBX_IOC_ARM, &arm)) {
			fprintf(stderr, "mbt-sbxrun: arm: %s\n", strerror(errno));
			_exit(104);
		}
		close(fd);
		execv(argv[0], argv);
		fprintf(stderr, "mbt-sbxrun: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd); /* an open descriptor pins the module */
	while (wait4(child, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("mbt-sbxrun: wait4");
			return 70;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);

	fd = open_dev();
	m1 = status_markers(fd, &v1);
	memset(&rd, 0, sizeof(rd));
	rd.records = (uintptr_t)recs;
	rd.max = 256;
	if (ioctl(fd, SBX_IOC_READ, &rd))
		rd.count = 0;
	for (i = 0; i < (int)rd.count; i++) {
		if (recs[i].policy_id != load.id)
			continue;
		own++;
		if (recs[i].flags & SBX_REC_F_KILLED)
			killed = 1;
		fprintf(stderr, "mbt-sbxrun: violation: pid %u tid %u (%.16s) reason %u kind %" PRIu64
			" id %" PRIu64 " tag %#x mstate %u depth %u%s\n",
			recs[i].pid, recs[i].tid, recs[i].comm, recs[i].reason, (uint64_t)recs[i].kind,
			(uint64_t)recs[i].id, recs[i].tag, recs[i].mstate, recs[i].depth,
			recs[i].flags & SBX_REC_F_KILLED ? ", killed" : "");
	}
	memset(&unload, 0, sizeof(unload));
	unload.id = load.id;
	for (i = 0; i < 50 && ioctl(fd, SBX_IOC_UNLOAD, &unload) && errno == EBUSY; i++)
		usleep(100000); /* forked children may still be running */
	if (json) {
		f = fopen(json, "w");
		if (f) {
			fprintf(f, "{\"standin\": true, \"status\": %d, \"killed\": %s, \"markers\": %" PRIu64
				", \"violations_counter\": %" PRIu64 ", \"wall_ns\": %" PRIu64
				", \"utime_us\": %" PRIu64 ", \"stime_us\": %" PRIu64 ", \"violations\": [",
				code, killed ? "true" : "false", m1 - m0, v1 - v0,
				(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ull + t1.tv_nsec - t0.tv_nsec),
				(uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
				(uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
			for (i = 0; i < (int)rd.count; i++)
				fprintf(f, "%s{\"policy\": %u, \"own\": %s, \"pid\": %u, \"tid\": %u, \"comm\": \"%.16s\","
					" \"reason\": %u, \"kind\": %" PRIu64 ", \"id\": %" PRIu64 ", \"tag\": %u,"
					" \"mstate\": %u, \"depth\": %u, \"flags\": %u}",
					i ? ", " : "", recs[i].policy_id, recs[i].policy_id == load.id ? "true" : "false",
					recs[i].pid, recs[i].tid, recs[i].comm, recs[i].reason, (uint64_t)recs[i].kind,
					(uint64_t)recs[i].id, recs[i].tag, recs[i].mstate, recs[i].depth, recs[i].flags);
			fprintf(f, "]}\n");
			fclose(f);
		}
	}
	if (killed) {
		fprintf(stderr, "mbt-sbxrun: %s killed by the monitor (%d violation record%s)\n",
			argv[0], own, own == 1 ? "" : "s");
		return 100;
	}
	return code;
}
