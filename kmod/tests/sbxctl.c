// SPDX-License-Identifier: GPL-2.0
/*
 * sbxctl - a small userspace client of /dev/sbx (uapi/sbx_ioctl.h), for the
 * module's tests in a guest. It is a second, independent user of the ABI.
 *
 *   sbxctl status
 *   sbxctl load BLOB [--flags N]     prints the policy id (N: SBX_IOC_LOAD's
 *                                    flags; 1 = SBX_LOAD_F_OWNED: unloaded
 *                                    when sbxctl exits, nothing using it)
 *   sbxctl unload ID
 *   sbxctl read [MAX] [-p ID]        prints and removes violation records
 *                                    (with the frame tags of their stack;
 *                                    -p: only those of policy ID)
 *   sbxctl policies                  POLICIES: a line per loaded policy
 *                                    with its record counters
 *   sbxctl mkblob dyck|nfa|deep|bound|pinned|nfa-bound|resync|names|nfa-names OUT  writes the core tests' example policy,
 *   sbxctl mkblob nfa-pinned OUT TABLE TEXT SITE:KIND:ID...  ... with pins (hex addresses),
 *   sbxctl mkblob buffered|bound-buffered|nfa-buffered OUT TPOFF  the dyck
 *                                    (bound, nfa) example with the event buffer at TPOFF
 *                                    (decimal) from the thread pointer; read
 *                                    and write bufferable, open not
 *                                    or (deep) one whose only function calls
 *                                    itself (site 0) with a stack limit of 64;
 *                                    names and nfa-names: dyck and nfa with
 *                                    the names section (open read write;
 *                                    main a b h cb, main the root)
 *   sbxctl mkblob-big OUT            the dyck example with 300000 symbols
 *                                    (open read write s3 ... s299999) and
 *                                    their names: a valid blob of 3.3 MiB
 *   sbxctl mkblob-bad WHAT OUT       the names example with a malformed names
 *                                    section (WHAT: see bad_names()); written
 *                                    only if the core's validator refuses it
 *                                    with EINVAL too
 *   sbxctl try-load BLOB [--drop]    LOAD, printing the errno (0 = ok); with
 *                                    --drop, setuid(65534) after the open
 *   sbxctl run [-p ID | -b BLOB] [-m dyck|nfa] [-a kill|log] [--no-fork]
 *              [--fail-first] [--twice] [--exe PATH | --exe-fd N]
 *              [--exec registry|deny|unconfined] -- PROG [ARG...]
 *       arm and exec PROG: in a forked child (default; the parent waits and
 *       prints "exit N" or "signal N", and exits with N or 128+N), or in this
 *       process (--no-fork). -b loads BLOB first (and unloads it after the
 *       child, when forking). --fail-first execs a missing file first (the
 *       exec fails, the thread stays armed). --twice arms twice (the second
 *       must fail with EPERM; its errno is printed). --exe binds the arm to
 *       the inode of PATH (opened O_PATH, SBX_ARM_F_EXE); --exe-fd passes
 *       descriptor N as it is. --exec sets the arm's exec transition.
 *   sbxctl install BLOB|ID (--exe PATH | --exe-fd N) [-m dyck|nfa]
 *              [-a kill|log] [--exec registry|deny|unconfined] [--replace]
 *       INSTALL (loading BLOB first if it names a file; unloaded again if
 *       the install fails); prints "install E policy ID dev D ino I" (E the
 *       errno, 0 = ok; exit status 0 only if E is 0), and with --replace
 *       " replaced R" (the policy of the entry replaced, 0 if none).
 *   sbxctl remove --exe PATH | --inode DEV INO
 *       REMOVE; prints "remove E policy ID".
 *   sbxctl list                      LIST; prints "entries N", then a line
 *                                    per entry
 *   sbxctl tasks                     TASKS; prints "tasks N", then a line
 *                                    per thread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stddef.h>
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
#include "../uapi/sbx_marker.h"

static uint32_t parse_mode(const char *s)
{
	return !strcmp(s, "nfa") ? SBX_MODE_NFA : SBX_MODE_DYCK;
}

static uint32_t parse_action(const char *s)
{
	return !strcmp(s, "log") ? SBX_ACTION_LOG : SBX_ACTION_KILL;
}

/* Unknown names give a value the module must refuse (EINVAL). */
static uint32_t parse_exec(const char *s)
{
	if (!strcmp(s, "registry"))
		return SBX_EXEC_REGISTRY;
	if (!strcmp(s, "deny"))
		return SBX_EXEC_DENY;
	if (!strcmp(s, "unconfined"))
		return SBX_EXEC_UNCONFINED;
	return strtoul(s, NULL, 0);
}

static const char *exec_name(uint32_t exec)
{
	return exec == SBX_EXEC_REGISTRY   ? "registry" :
	       exec == SBX_EXEC_DENY	   ? "deny" :
	       exec == SBX_EXEC_UNCONFINED ? "unconfined" :
					     "?";
}

/* An O_PATH descriptor of PATH (it need not be readable or executable). */
static int open_path(const char *path)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "sbxctl: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return fd;
}

static int open_dev(void)
{
	int fd = open(SBX_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "sbxctl: %s: %s\n", SBX_DEVICE_PATH, strerror(errno));
		exit(2);
	}
	return fd;
}

/*
 * The whole file, up to one byte past SBX_BLOB_MAX_SIZE (so that the kernel,
 * not a silent truncation here, refuses an oversized blob with E2BIG).
 */
static void *read_file(const char *path, uint32_t *size)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 20, n = 0, got;
	uint8_t *buf = NULL;

	if (!f) {
		fprintf(stderr, "sbxctl: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (;;) {
		buf = realloc(buf, cap);
		if (!buf) {
			fprintf(stderr, "sbxctl: %s: out of memory\n", path);
			exit(2);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n < cap || n > SBX_BLOB_MAX_SIZE)
			break;
		cap *= 2;
	}
	if (ferror(f)) {
		fprintf(stderr, "sbxctl: %s: read error\n", path);
		exit(2);
	}
	fclose(f);
	*size = n > SBX_BLOB_MAX_SIZE ? SBX_BLOB_MAX_SIZE + 1 : (uint32_t)n;
	return buf;
}

static int do_load_flags(int fd, const char *path, uint32_t flags, uint32_t *id)
{
	struct sbx_ioc_load a = { 0 };
	uint32_t size;
	void *blob = read_file(path, &size);

	a.blob = (uintptr_t)blob;
	a.size = size;
	a.flags = flags;
	if (ioctl(fd, SBX_IOC_LOAD, &a))
		return errno;
	*id = a.id;
	return 0;
}

static int do_load(int fd, const char *path, uint32_t *id)
{
	return do_load_flags(fd, path, 0, id);
}

static int cmd_status(void)
{
	struct sbx_ioc_status s;
	int fd = open_dev();

	if (ioctl(fd, SBX_IOC_STATUS, &s)) {
		perror("sbxctl: status");
		return 1;
	}
	printf("abi %u policies %u enforced %u armed %u unconfined %u markers %" PRIu64
	       " violations %" PRIu64 " dropped %" PRIu64 " alloc_failures %" PRIu64
	       " policy_bytes %" PRIu64 " ring %u/%u kills_dropped %" PRIu64 " installed %u\n",
	       s.abi_version, s.nr_policies, s.enforced_tasks, s.armed_tasks, s.unconfined_tasks,
	       (uint64_t)s.markers, (uint64_t)s.violations, (uint64_t)s.records_dropped,
	       (uint64_t)s.alloc_failures, (uint64_t)s.policy_bytes, s.ring_count, s.ring_size,
	       (uint64_t)s.kills_dropped, s.nr_installed);
	return 0;
}

/* read [MAX] [-p ID]: take (and print) records: all, or one policy's. */
static int cmd_read(int argc, char **argv)
{
	struct sbx_violation_record recs[64];
	struct sbx_ioc_read a = { 0 };
	unsigned int i, total = 0, max = 1000000;
	int fd = open_dev();

	for (i = 0; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < (unsigned int)argc) {
			a.flags = SBX_READ_F_POLICY;
			a.policy_id = strtoul(argv[++i], NULL, 0);
		} else {
			max = strtoul(argv[i], NULL, 0);
		}
	}
	while (total < max) {
		a.records = (uintptr_t)recs;
		a.max = max - total < 64 ? max - total : 64;
		if (ioctl(fd, SBX_IOC_READ, &a)) {
			perror("sbxctl: read");
			return 1;
		}
		for (i = 0; i < a.count; i++) {
			const struct sbx_violation_record *r = &recs[i];
			unsigned int j, n = r->depth < SBX_REC_STACK ? r->depth : SBX_REC_STACK;

			printf("seq %" PRIu64 " pid %u tid %u comm %s policy %u reason %u action %u"
			       " nr %u kind %" PRIu64 " id %" PRIu64 " tag %#x mstate %u depth %u"
			       " flags %#x ",
			       (uint64_t)r->seq, r->pid, r->tid, r->comm, r->policy_id, r->reason,
			       r->action, r->syscall_nr, (uint64_t)r->kind, (uint64_t)r->id, r->tag,
			       r->mstate, r->depth, r->flags);
			if (r->reason == SBX_REASON_EXEC_DENIED ||
			    r->reason == SBX_REASON_EXE_REBUILT) {
				printf("path %.64s\n", r->path);
				continue;
			}
			printf("stack ");
			for (j = 0; j < n; j++)
				printf("%s%#x", j ? "," : "", r->stack[j]);
			/* The entries past the depth must be zero. */
			for (j = n; j < SBX_REC_STACK; j++)
				if (r->stack[j])
					printf(" NONZERO@%u", j);
			printf("%s\n", n ? "" : "-");
		}
		total += a.count;
		if (a.count < a.max)
			break;
	}
	printf("records %u dropped %" PRIu64 "\n", total, (uint64_t)a.dropped);
	return 0;
}

/*
 * One function f, one libc symbol: f0 -call 0-> f0, f0 final; site 0 calls f.
 * Macro-states: 0 {} (new thread), 1 {f0}F. CALL 0 nests up to the depth
 * bound (100), beyond the 64 slots: the recursion folds; LIBC 0 is never
 * allowed.
 */
static void mkblob_deep(struct tb_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->stack_limit = 64;
	s->max_depth = 100;
	s->nr_symbols = 1;
	s->nr_functions = 1;
	s->initial = 1;
	s->thread = 0;
	s->nr_mstates = 2;
	s->mstates[1].flags = SBX_MSTATE_F_FINAL;
	s->mstates[1].nr_trans = 1;
	s->mstates[1].trans[0].key = SBX_KEY_SITE(0);
	s->mstates[1].trans[0].target = 1;
	s->nr_sites = 1;
	s->sites[0] = 1;
}

/* Every call but mkdir (83), and code mappings, into set @set. */
static void add_all_but_mkdir(struct tb_spec *s, uint32_t set)
{
	uint32_t i;

	for (i = 0; i <= SBX_SET_NR_MAX; i++)
		if (i != 83)
			tb_set_add(s, set, i);
	tb_set_add(s, set, SBX_SET_BIT_EXEC_MAP);
	tb_set_add(s, set, SBX_SET_BIT_OPEN_WRITE);
}

/*
 * The example with system-call binding (specs/kernel-abi.md): set 1 ambient
 * {mmap, mprotect, munmap, brk, rt_sigreturn, exit, exit_group}; set 2 the
 * start window, every call but mkdir, writing opens and code mappings; write (symbol 2) may
 * write, open and read (0, 1) may read and openat.
 */
static void mkblob_bound(struct tb_spec *s)
{
	static const uint32_t ambient[] = { 9, 10, 11, 12, 15, 60, 231 };
	uint32_t i;

	tb_example(s);
	s->flags |= SBX_BLOB_F_BOUND;
	s->nr_sets = 5;
	for (i = 0; i < sizeof(ambient) / sizeof(ambient[0]); i++)
		tb_set_add(s, 1, ambient[i]);
	add_all_but_mkdir(s, 2);
	tb_set_add(s, 3, 1);
	tb_set_add(s, 4, 0);
	tb_set_add(s, 4, 257);
	s->symsets[0] = 4;
	s->symsets[1] = 4;
	s->symsets[2] = 3;
	s->start_set = 2;
	s->ambient_set = 1;
}

/* The bound example with a pin table that sbx_markers' markers never match. */
static void mkblob_pinned(struct tb_spec *s)
{
	mkblob_bound(s);
	s->flags |= SBX_BLOB_F_PINNED;
	s->nr_pins = 1;
	s->pins[0].vaddr = 0x1000;
	s->pins[0].kind = SBX_MARK_CALL;
	s->pins[0].id = 0;
	s->pin_table_vaddr = 0x2000;
	s->text_vaddr = 0x1000;
}

/*
 * The nfa example (LIBC 1 loops) with every system call but mkdir in every
 * window: what a binding costs, not what it refuses (kmod/tests/guest-bench.sh).
 */
static void mkblob_nfa_bound(struct tb_spec *s)
{
	uint32_t i;

	tb_example_nfa(s);
	s->flags |= SBX_BLOB_F_BOUND;
	s->nr_sets = 3;
	tb_set_add(s, 1, 12);
	add_all_but_mkdir(s, 2);
	for (i = 0; i < s->nr_symbols; i++)
		s->symsets[i] = 2;
	s->start_set = 2;
	s->ambient_set = 1;
}

/* The event buffer at @tpoff: read (1) and write (2) bufferable, open (0) not. */
static int mkblob_buffered(struct tb_spec *s, int argc, char **argv)
{
	char *end;

	if (argc != 1)
		return -1;
	s->flags |= SBX_BLOB_F_BUFFERED;
	s->evbuf_tpoff = strtoll(argv[0], &end, 10);
	s->bufferable[0] = 1U << 1 | 1U << 2;
	return *end ? -1 : 0;
}

/* Pins from the command line: TABLE TEXT then SITE:KIND:ID... (hex addresses). */
static int parse_pins(struct tb_spec *s, int argc, char **argv)
{
	int i;

	if (argc < 3 || argc - 2 > TB_MAX)
		return -1;
	s->flags |= SBX_BLOB_F_PINNED;
	s->pin_table_vaddr = strtoull(argv[0], NULL, 16);
	s->text_vaddr = strtoull(argv[1], NULL, 16);
	for (i = 2; i < argc; i++) {
		char *end;

		s->pins[i - 2].vaddr = strtoull(argv[i], &end, 16);
		if (*end != ':')
			return -1;
		s->pins[i - 2].kind = strtoul(end + 1, &end, 0);
		if (*end != ':')
			return -1;
		s->pins[i - 2].id = strtoul(end + 1, &end, 0);
		if (*end)
			return -1;
	}
	s->nr_pins = argc - 2;
	return 0;
}

static int cmd_mkblob(const char *mode, const char *out, int argc, char **argv)
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
	else if (!strcmp(mode, "deep"))
		mkblob_deep(&spec);
	else if (!strcmp(mode, "bound") || !strcmp(mode, "bound-buffered"))
		mkblob_bound(&spec);
	else if (!strcmp(mode, "buffered"))
		tb_example(&spec);
	else if (!strcmp(mode, "nfa-buffered"))
		tb_example_nfa(&spec);
	else if (!strcmp(mode, "pinned"))
		mkblob_pinned(&spec);
	else if (!strcmp(mode, "nfa-bound") || !strcmp(mode, "nfa-pinned"))
		mkblob_nfa_bound(&spec);
	else if (!strcmp(mode, "resync"))
		tb_resync_example(&spec);
	else if (!strcmp(mode, "names") || !strcmp(mode, "nfa-names")) {
		if (mode[0] == 'n' && mode[1] == 'f')
			tb_example_nfa(&spec);
		else
			tb_example(&spec);
		tb_example_names(&spec);
	} else
		return 64;
	if (strstr(mode, "buffered")) {
		if (mkblob_buffered(&spec, argc, argv))
			return 64;
	} else if (!strcmp(mode, "nfa-pinned") ? parse_pins(&spec, argc, argv) : argc) {
		return 64;
	}
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

/*
 * The 32-bit fields of struct sbx_blob_header by name, so that the guest tests
 * corrupt a blob field by field ("set-header BLOB initial_mstate N") instead of
 * writing bytes at offsets copied from the header.
 */
#define HEADER_FIELD(f) { #f, offsetof(struct sbx_blob_header, f) }
static const struct {
	const char *name;
	size_t off;
} header_fields[] = {
	HEADER_FIELD(magic),	      HEADER_FIELD(version),	   HEADER_FIELD(header_size),
	HEADER_FIELD(flags),	      HEADER_FIELD(total_size),	   HEADER_FIELD(stack_limit),
	HEADER_FIELD(nr_symbols),     HEADER_FIELD(nr_functions),  HEADER_FIELD(nr_sites),
	HEADER_FIELD(nr_callbacks),   HEADER_FIELD(nr_mstates),	   HEADER_FIELD(nr_trans),
	HEADER_FIELD(initial_mstate), HEADER_FIELD(thread_mstate), HEADER_FIELD(mstates_off),
	HEADER_FIELD(trans_off),      HEADER_FIELD(sites_off),	   HEADER_FIELD(callbacks_off),
	HEADER_FIELD(nr_sets),	      HEADER_FIELD(sets_off),	   HEADER_FIELD(symsets_off),
	HEADER_FIELD(start_set),      HEADER_FIELD(ambient_set),   HEADER_FIELD(nr_pins),
	HEADER_FIELD(pins_off),	      HEADER_FIELD(max_depth),	   HEADER_FIELD(resync_off),
	HEADER_FIELD(names_size),
};

/* header BLOB: every 32-bit header field, "NAME VALUE", in header order. */
static int cmd_header(const char *path)
{
	struct sbx_blob_header h;
	uint32_t v;
	size_t i;
	FILE *f = fopen(path, "rb");

	if (!f || fread(&h, sizeof(h), 1, f) != 1) {
		fprintf(stderr, "sbxctl: %s: no blob header\n", path);
		if (f)
			fclose(f);
		return 3;
	}
	fclose(f);
	for (i = 0; i < sizeof(header_fields) / sizeof(header_fields[0]); i++) {
		memcpy(&v, (char *)&h + header_fields[i].off, sizeof(v));
		printf("%s %u\n", header_fields[i].name, v);
	}
	return 0;
}

/* set-header BLOB FIELD VALUE: overwrite one 32-bit header field in place. */
static int cmd_set_header(const char *path, const char *name, const char *value)
{
	uint32_t v = strtoul(value, NULL, 0);
	size_t i;
	int fd;

	for (i = 0; i < sizeof(header_fields) / sizeof(header_fields[0]); i++)
		if (!strcmp(header_fields[i].name, name))
			break;
	if (i == sizeof(header_fields) / sizeof(header_fields[0])) {
		fprintf(stderr, "sbxctl: no header field %s\n", name);
		return 64;
	}
	fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, &v, sizeof(v), header_fields[i].off) != sizeof(v)) {
		fprintf(stderr, "sbxctl: %s: %s\n", path, strerror(errno));
		return 3;
	}
	close(fd);
	return 0;
}

/*
 * The names example (tb_example_names) spoilt one way, in @b (its blob of
 * *@n bytes): what the kernel must refuse, each with EINVAL. Returns -1 for
 * an unknown @what.
 */
static int bad_names(const char *what, uint8_t *b, size_t *n)
{
	/* Head 12, 5 callees, 8 offsets: the string area "open\0read\0..." at 64. */
	size_t no = tb_get32(b + 120) + 4 * tb_get32(b + 40), area = no + 12 + 4 * 5 + 4 * 8;

	if (!strcmp(what, "escape"))
		b[area + 1] = 0x1b; /* "o\x1ben" */
	else if (!strcmp(what, "newline"))
		b[area + 1] = '\n';
	else if (!strcmp(what, "space"))
		b[area + 1] = ' ';
	else if (!strcmp(what, "high"))
		b[area + 1] = 0xc3;
	else if (!strcmp(what, "unterminated"))
		b[*n - 1] = 'x'; /* "cbx": no NUL before the end */
	else if (!strcmp(what, "trailing")) {
		/* One byte more after the last NUL, counted in both sizes. */
		b[(*n)++] = 0;
		tb_put32(b + 16, *n);
		tb_put32(b + 124, tb_get32(b + 124) + 1);
	} else if (!strcmp(what, "cut")) {
		/* The section ends inside its head. */
		*n = no + 8;
		tb_put32(b + 16, *n);
		tb_put32(b + 124, 8);
	} else if (!strcmp(what, "size"))
		tb_put32(b + 124, tb_get32(b + 124) + 4); /* past the end of the blob */
	else if (!strcmp(what, "count"))
		tb_put32(b + no, 7); /* nr_names: 3 + 5 = 8 */
	else if (!strcmp(what, "callees"))
		tb_put32(b + no + 8, 4); /* nr_callees: nr_sites = 5 */
	else if (!strcmp(what, "root"))
		tb_put32(b + no + 4, 5); /* 5 functions */
	else if (!strcmp(what, "callee"))
		tb_put32(b + no + 12 + 4 * 2, 5);
	else if (!strcmp(what, "offset"))
		tb_put32(b + no + 12 + 4 * 5 + 4 * 1, 4); /* name 1 starts at 5 */
	else if (!strcmp(what, "empty")) {
		/* "open" becomes "" and "\0\0\0\0" is left: offsets are wrong. */
		memset(b + area, 0, 4);
	} else
		return -1;
	return 0;
}

/* The example with SBX_BIG_SYMBOLS symbols, all named: read_file() past 1 MiB. */
#define SBX_BIG_SYMBOLS 300000U

static int cmd_mkblob_big(const char *out)
{
	static const char *const functions[] = { "main", "a", "b", "h", "cb" };
	static const uint32_t callees[] = { 1, 2, 3, 3, 3 };
	uint32_t i, n = SBX_BIG_SYMBOLS + 5, pos = 0, no, head;
	struct sbx_policy_view view;
	struct tb_spec spec;
	size_t size, cap;
	uint8_t *buf;
	char name[16];
	FILE *f;
	int ret;

	tb_example(&spec);
	cap = 65536 + 12 + 4 * 5 + 4 * (size_t)n + 16 * (size_t)n;
	buf = calloc(1, cap);
	if (!buf)
		return 1;
	no = tb_build(&spec, buf, 65536);
	/* Without SBX_BLOB_F_BOUND no section depends on nr_symbols. */
	tb_put32(buf + 24, SBX_BIG_SYMBOLS);
	tb_put32(buf + no, n);
	tb_put32(buf + no + 4, 0);
	tb_put32(buf + no + 8, 5);
	for (i = 0; i < 5; i++)
		tb_put32(buf + no + 12 + 4 * i, callees[i]);
	head = no + 12 + 4 * 5;
	for (i = 0; i < n; i++) {
		const char *s = name;
		size_t len;

		if (i < 3)
			s = i == 0 ? "open" : i == 1 ? "read" : "write";
		else if (i < SBX_BIG_SYMBOLS)
			snprintf(name, sizeof(name), "s%u", i);
		else
			s = functions[i - SBX_BIG_SYMBOLS];
		len = strlen(s) + 1;
		tb_put32(buf + head + 4 * i, pos);
		memcpy(buf + head + 4 * (size_t)n + pos, s, len);
		pos += len;
	}
	size = head + 4 * (size_t)n + pos;
	tb_put32(buf + 16, size);
	tb_put32(buf + 124, size - no);
	ret = sbx_blob_validate(buf, size, &view);
	if (ret) {
		fprintf(stderr, "sbxctl: the big blob does not validate (%d)\n", ret);
		free(buf);
		return 1;
	}
	f = fopen(out, "wb");
	ret = !f || fwrite(buf, 1, size, f) != size || fclose(f);
	if (ret)
		fprintf(stderr, "sbxctl: %s: %s\n", out, strerror(errno));
	free(buf);
	return ret ? 3 : 0;
}

static int cmd_mkblob_bad(const char *what, const char *out)
{
	static uint8_t buf[65536];
	struct sbx_policy_view view;
	struct tb_spec spec;
	size_t n;
	FILE *f;
	int ret;

	tb_example(&spec);
	tb_example_names(&spec);
	n = tb_build(&spec, buf, sizeof(buf));
	if (bad_names(what, buf, &n))
		return 64;
	ret = sbx_blob_validate(buf, n, &view);
	if (ret != -SBX_EINVAL) {
		fprintf(stderr, "sbxctl: the %s blob is not refused with EINVAL (%d)\n", what, ret);
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

/* @exe_fd < -1: no binding; else SBX_ARM_F_EXE with it. */
static int arm(int fd, uint32_t id, uint32_t mode, uint32_t action, int exe_fd, uint32_t exec)
{
	struct sbx_ioc_arm a = { 0 };

	a.id = id;
	a.mode = mode;
	a.action = action;
	a.exec = exec;
	if (exe_fd >= -1) {
		a.flags = SBX_ARM_F_EXE;
		a.exe_fd = exe_fd;
	}
	return ioctl(fd, SBX_IOC_ARM, &a) ? errno : 0;
}

static int cmd_run(int argc, char **argv)
{
	uint32_t id = 0, mode = SBX_MODE_DYCK, action = SBX_ACTION_KILL, exec = SBX_EXEC_REGISTRY;
	int fork_child = 1, fail_first = 0, twice = 0, loaded = 0, fd, i, err, status;
	const char *blob = NULL, *exe = NULL;
	int exe_fd = -2;
	pid_t pid;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < argc)
			id = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-b") && i + 1 < argc)
			blob = argv[++i];
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			mode = parse_mode(argv[++i]);
		else if (!strcmp(argv[i], "-a") && i + 1 < argc)
			action = parse_action(argv[++i]);
		else if (!strcmp(argv[i], "--exe") && i + 1 < argc)
			exe = argv[++i];
		else if (!strcmp(argv[i], "--exe-fd") && i + 1 < argc)
			exe_fd = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--exec") && i + 1 < argc)
			exec = parse_exec(argv[++i]);
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
		/* Kept open (close-on-exec) until the exec. */
		if (exe)
			exe_fd = open_path(exe);
		err = arm(fd, id, mode, action, exe_fd, exec);
		if (err) {
			fprintf(stderr, "sbxctl: arm: %s\n", strerror(err));
			_exit(2);
		}
		if (twice)
			printf("second arm %d\n", arm(fd, id, mode, action, -2, exec));
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

static int cmd_install(int argc, char **argv)
{
	struct sbx_ioc_install a = { 0 };
	int fd, i, err, loaded = 0, exe_fd = -2;
	struct stat st;
	char *end;

	if (argc < 1)
		return 64;
	a.mode = SBX_MODE_DYCK;
	a.action = SBX_ACTION_KILL;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--exe") && i + 1 < argc)
			exe_fd = open_path(argv[++i]);
		else if (!strcmp(argv[i], "--exe-fd") && i + 1 < argc)
			exe_fd = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			a.mode = parse_mode(argv[++i]);
		else if (!strcmp(argv[i], "-a") && i + 1 < argc)
			a.action = parse_action(argv[++i]);
		else if (!strcmp(argv[i], "--exec") && i + 1 < argc)
			a.exec = parse_exec(argv[++i]);
		else if (!strcmp(argv[i], "--replace"))
			a.flags |= SBX_INSTALL_F_REPLACE;
		else
			return 64;
	}
	if (exe_fd < -1)
		return 64;
	a.exe_fd = exe_fd;
	fd = open_dev();
	if (!stat(argv[0], &st) && S_ISREG(st.st_mode)) {
		err = do_load(fd, argv[0], &a.id);
		if (err) {
			fprintf(stderr, "sbxctl: load %s: %s\n", argv[0], strerror(err));
			return 2;
		}
		loaded = 1;
	} else {
		a.id = strtoul(argv[0], &end, 0);
		if (*end)
			return 64;
	}
	err = ioctl(fd, SBX_IOC_INSTALL, &a) ? errno : 0;
	printf("install %d policy %u dev %" PRIu64 " ino %" PRIu64, err, a.id, (uint64_t)a.dev,
	       (uint64_t)a.ino);
	if (a.flags & SBX_INSTALL_F_REPLACE)
		printf(" replaced %u", a.replaced);
	printf("\n");
	if (err && loaded) {
		struct sbx_ioc_unload u = { .id = a.id };

		ioctl(fd, SBX_IOC_UNLOAD, &u);
	}
	return err ? 1 : 0;
}

static int cmd_remove(int argc, char **argv)
{
	struct sbx_ioc_remove a = { 0 };
	int err;

	if (argc == 2 && !strcmp(argv[0], "--exe")) {
		a.exe_fd = open_path(argv[1]);
	} else if (argc == 3 && !strcmp(argv[0], "--inode")) {
		a.flags = SBX_REMOVE_F_INODE;
		a.exe_fd = -1;
		a.dev = strtoull(argv[1], NULL, 0);
		a.ino = strtoull(argv[2], NULL, 0);
	} else {
		return 64;
	}
	err = ioctl(open_dev(), SBX_IOC_REMOVE, &a) ? errno : 0;
	printf("remove %d policy %u\n", err, a.policy_id);
	return err ? 1 : 0;
}

static const char *mode_name(uint32_t mode)
{
	return mode == SBX_MODE_DYCK ? "dyck" : mode == SBX_MODE_NFA ? "nfa" : "?";
}

static const char *action_name(uint32_t action)
{
	return action == SBX_ACTION_KILL ? "kill" : action == SBX_ACTION_LOG ? "log" : "?";
}

static int cmd_list(void)
{
	static struct sbx_install_entry es[SBX_MAX_INSTALLED];
	struct sbx_ioc_list a = { 0 };
	unsigned int i, n;

	a.entries = (uintptr_t)es;
	a.max = SBX_MAX_INSTALLED;
	if (ioctl(open_dev(), SBX_IOC_LIST, &a)) {
		printf("list %d\n", errno);
		return 1;
	}
	printf("entries %u\n", a.count);
	n = a.count < a.max ? a.count : a.max;
	for (i = 0; i < n; i++)
		printf("dev %" PRIu64 " ino %" PRIu64 " policy %u mode %s action %s"
		       " processes %u execs %" PRIu64 " exec %s refused %u\n",
		       (uint64_t)es[i].dev, (uint64_t)es[i].ino, es[i].policy_id,
		       mode_name(es[i].mode), action_name(es[i].action), es[i].processes,
		       (uint64_t)es[i].execs, exec_name(es[i].exec), es[i].refused);
	return 0;
}

static int cmd_tasks(void)
{
	struct sbx_ioc_tasks a = { 0 };
	struct sbx_task_entry *ts = NULL;
	unsigned int i, n;
	int fd = open_dev();

	/* Ask for the count, then for that many (and some slack). */
	if (ioctl(fd, SBX_IOC_TASKS, &a)) {
		printf("tasks %d\n", errno);
		return 1;
	}
	a.max = a.count + 64;
	ts = calloc(a.max, sizeof(*ts));
	if (!ts) {
		perror("sbxctl: tasks");
		return 1;
	}
	a.entries = (uintptr_t)ts;
	if (ioctl(fd, SBX_IOC_TASKS, &a)) {
		printf("tasks %d\n", errno);
		return 1;
	}
	printf("tasks %u\n", a.count);
	n = a.count < a.max ? a.count : a.max;
	for (i = 0; i < n; i++)
		printf("pid %u tid %u policy %u state %s mode %s action %s markers %" PRIu64
		       " violations %u flags %#x comm %.16s%s\n",
		       ts[i].pid, ts[i].tid, ts[i].policy_id,
		       ts[i].state == SBX_STATE_ENFORCED   ? "enforced" :
		       ts[i].state == SBX_STATE_ARMED	   ? "armed" :
		       ts[i].state == SBX_STATE_UNCONFINED ? "unconfined" :
							     "?",
		       mode_name(ts[i].mode), action_name(ts[i].action), (uint64_t)ts[i].markers,
		       ts[i].violations, ts[i].flags, ts[i].comm, ts[i].reserved ? " NONZERO" : "");
	free(ts);
	return 0;
}

static int cmd_policies(void)
{
	struct sbx_policy_entry es[256];
	struct sbx_ioc_policies a = { 0 };
	unsigned int i, n;

	a.entries = (uintptr_t)es;
	a.max = 256;
	if (ioctl(open_dev(), SBX_IOC_POLICIES, &a)) {
		printf("policies %d\n", errno);
		return 1;
	}
	printf("policies %u\n", a.count);
	n = a.count < a.max ? a.count : a.max;
	for (i = 0; i < n; i++)
		printf("policy %u flags %#x size %u users %u violations %" PRIu64
		       " dropped %" PRIu64 " dropped_rate %" PRIu64
		       " queued %u kills %u size %u kills_dropped %u%s\n",
		       es[i].id, es[i].blob_flags, es[i].size, es[i].users,
		       (uint64_t)es[i].violations, (uint64_t)es[i].dropped,
		       (uint64_t)es[i].dropped_rate, es[i].queued, es[i].queued_kills,
		       es[i].queue_size, es[i].kills_dropped, es[i].reserved ? " NONZERO" : "");
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: sbxctl status | load BLOB | unload ID | read [MAX] [-p ID] | policies |"
		" mkblob dyck|nfa|deep|bound|pinned|nfa-bound|resync|names|nfa-names OUT | mkblob nfa-pinned OUT TABLE TEXT SITE:KIND:ID... |"
		" mkblob-big OUT | mkblob-bad WHAT OUT | header BLOB | set-header BLOB FIELD VALUE | try-load BLOB [--drop] | try-oversized |"
		" run [-p ID|-b BLOB] [-m MODE] [-a ACTION] [--no-fork] [--fail-first]"
		" [--twice] [--exe PATH|--exe-fd N] [--exec T] -- PROG [ARG...] |"
		" install BLOB|ID --exe PATH|--exe-fd N [-m MODE] [-a ACTION] [--exec T]"
		" [--replace] |"
		" remove --exe PATH|--inode DEV INO | list | tasks\n");
	return 64;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "status"))
		return cmd_status();
	if (!strcmp(argv[1], "load") && (argc == 3 || argc == 5)) {
		uint32_t id, flags = 0;
		int err;

		/* load BLOB --flags N: SBX_IOC_LOAD's flags, as given (1: OWNED). */
		if (argc == 5) {
			if (strcmp(argv[3], "--flags"))
				return usage();
			flags = strtoul(argv[4], NULL, 0);
		}
		err = do_load_flags(open_dev(), argv[2], flags, &id);

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
		return cmd_read(argc - 2, argv + 2);
	if (!strcmp(argv[1], "policies"))
		return cmd_policies();
	if (!strcmp(argv[1], "mkblob") && argc >= 4)
		return cmd_mkblob(argv[2], argv[3], argc - 4, argv + 4);
	if (!strcmp(argv[1], "header") && argc == 3)
		return cmd_header(argv[2]);
	if (!strcmp(argv[1], "set-header") && argc == 5)
		return cmd_set_header(argv[2], argv[3], argv[4]);
	if (!strcmp(argv[1], "mkblob-big") && argc == 3)
		return cmd_mkblob_big(argv[2]);
	if (!strcmp(argv[1], "mkblob-bad") && argc == 4)
		return cmd_mkblob_bad(argv[2], argv[3]);
	if (!strcmp(argv[1], "try-load") && argc >= 3)
		return cmd_try_load(argv[2], argc > 3 && !strcmp(argv[3], "--drop"));
	if (!strcmp(argv[1], "try-oversized"))
		return cmd_try_oversized();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (!strcmp(argv[1], "install"))
		return cmd_install(argc - 2, argv + 2);
	if (!strcmp(argv[1], "remove"))
		return cmd_remove(argc - 2, argv + 2);
	if (!strcmp(argv[1], "list"))
		return cmd_list();
	if (!strcmp(argv[1], "tasks"))
		return cmd_tasks();
	return usage();
}
