// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_trace.c - the ptrace loop behind `sbx record` (see sbx_trace.h and
 * specs/trace-format.md).
 *
 * The program is forked and attached with PTRACE_SEIZE before it execs, so
 * its new tasks are auto-attached "seized" too: group-stops then show up as
 * PTRACE_EVENT_STOP and can be parked with PTRACE_LISTEN, which keeps job
 * control working under the tracer.
 *
 * Every task is resumed with PTRACE_SYSCALL, so it stops at each system call
 * entry and exit. Every entry after the start produces an event: a marker
 * (SBX_MARKER_NR through the 64-bit ABI) or a system call (its number and
 * third argument, which the kernel's binding checks); an exit stop costs
 * waitpid, one PTRACE_GET_SYSCALL_INFO and the restart. Nothing is ever
 * written to the tracee, but for the event buffer of a program built with
 * buffered events (specs/marker-abi.md, "Buffered events"): at each entry
 * stop its appended events are read, in the order the kernel's drain takes
 * them, reported as markers before the stop's own event, and cleared, as
 * the monitor would.
 *
 * A new task's first stop and its creator's fork/clone event arrive in
 * either order. The new task is held stopped until both are seen, so that
 * its creation line always precedes its own lines in the trace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbx_trace.h"

#define SBX_PTRACE_OPTIONS                                                   \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |  \
	 PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)

#define SBX_SYSCALL_STOP (SIGTRAP | 0x80)

extern char **environ;

enum sbx_task_state {
	/* Announced by its creator's event; its first stop not seen yet. */
	SBX_TASK_NEW = 1,
	/* Announced and running (the program's first task starts here). */
	SBX_TASK_RUNNING,
	/* Stopped at its first stop; its creator's event not seen yet. */
	SBX_TASK_HELD,
	/* Ended before its creator's event was seen; status kept. */
	SBX_TASK_HELD_DEAD,
	/* Ended by an exec in its process, already reported; to be reaped. */
	SBX_TASK_GONE,
};

struct sbx_task {
	pid_t tid;		/* 0: free slot */
	pid_t tgid;
	pid_t held_parent;	/* HELD*: process the creator belongs to */
	int state;
	int status;		/* HELD_DEAD: wait status */
	/* Its image's event buffer: 0 not looked up yet, 1 none, 2 at tpoff. */
	int evbuf;
	int64_t tpoff;
};

/* Open addressing, linear probing, backward-shift deletion. */
struct sbx_task_table {
	struct sbx_task *slots;
	size_t cap;		/* a power of two */
	size_t used;
};

struct sbx_event_queue {
	struct sbx_trace_event *items;
	size_t cap;
	size_t head;
	size_t tail;
};

struct sbx_tracer {
	struct sbx_task_table tasks;
	struct sbx_event_queue queue;
	pid_t main_pid;
	int main_status;
	bool started;		/* START was reported */
	bool done;
	int exec_err_fd;	/* read end: execve's errno from the child */
	size_t nlive;		/* NEW, RUNNING and GONE tasks: will report */
	size_t nheld;		/* HELD and HELD_DEAD tasks */
	/* START/EXEC path of the current batch; one exec per batch at most. */
	char path[4096];
	uint32_t path_len;
	struct sigaction old_int, old_quit, old_term, old_hup;
};

/*
 * Signal forwarding. A handler may run on any thread of the caller, so it
 * forwards by itself instead of waking the loop; sbx_forward_pid is cleared
 * as soon as the program's main thread is reaped, so that a reused pid is
 * never signalled.
 */
static volatile sig_atomic_t sbx_forward_pid;

/* waitpid(-1) and the signal actions are process-wide: one tracer at most. */
static int sbx_tracer_active;

static void sbx_forward_signal(int sig)
{
	int saved = errno;
	pid_t pid = sbx_forward_pid;

	if (pid > 0) {
		kill(pid, sig);
	} else {
		/* The program has ended: the signal ends the recording. */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	errno = saved;
}

static void sbx_set_error(struct sbx_trace_error *error, int stage, int err,
			  const char *what)
{
	if (!error)
		return;
	error->stage = stage;
	error->err = err;
	error->what = what;
}

/* Task table */

static size_t sbx_task_hash(pid_t tid, size_t cap)
{
	return ((uint32_t)tid * 0x9E3779B1u) & (cap - 1);
}

static struct sbx_task *sbx_task_find(struct sbx_task_table *table, pid_t tid)
{
	size_t i;

	if (!table->cap)
		return NULL;
	for (i = sbx_task_hash(tid, table->cap);; i = (i + 1) & (table->cap - 1)) {
		if (table->slots[i].tid == tid)
			return &table->slots[i];
		if (!table->slots[i].tid)
			return NULL;
	}
}

static int sbx_task_grow(struct sbx_task_table *table)
{
	size_t cap = table->cap ? table->cap * 2 : 64;
	struct sbx_task *slots = calloc(cap, sizeof(*slots));
	size_t i, j;

	if (!slots)
		return -1;
	for (i = 0; i < table->cap; i++) {
		if (!table->slots[i].tid)
			continue;
		j = sbx_task_hash(table->slots[i].tid, cap);
		while (slots[j].tid)
			j = (j + 1) & (cap - 1);
		slots[j] = table->slots[i];
	}
	free(table->slots);
	table->slots = slots;
	table->cap = cap;
	return 0;
}

/* A new entry for tid (which must not be in the table), or NULL. */
static struct sbx_task *sbx_task_add(struct sbx_task_table *table, pid_t tid)
{
	size_t i;

	/* At most half full, so probe sequences stay short. */
	if ((table->used + 1) * 2 > table->cap && sbx_task_grow(table))
		return NULL;
	i = sbx_task_hash(tid, table->cap);
	while (table->slots[i].tid)
		i = (i + 1) & (table->cap - 1);
	memset(&table->slots[i], 0, sizeof(table->slots[i]));
	table->slots[i].tid = tid;
	table->used++;
	return &table->slots[i];
}

/* Invalidates every pointer into the table. */
static void sbx_task_remove(struct sbx_task_table *table, struct sbx_task *task)
{
	size_t mask = table->cap - 1;
	size_t hole = (size_t)(task - table->slots);
	size_t i = hole;
	size_t home;

	for (;;) {
		i = (i + 1) & mask;
		if (!table->slots[i].tid)
			break;
		home = sbx_task_hash(table->slots[i].tid, table->cap);
		/* Move the entry back unless its home lies in (hole, i]. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			table->slots[hole] = table->slots[i];
			hole = i;
		}
	}
	table->slots[hole].tid = 0;
	table->used--;
}

/* Event queue: filled by one wait status, drained before the next wait. */

static struct sbx_trace_event *sbx_queue_push(struct sbx_tracer *t, int type,
					      pid_t pid, pid_t tid)
{
	struct sbx_event_queue *q = &t->queue;
	struct sbx_trace_event *ev;

	if (q->tail == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct sbx_trace_event *items;

		items = realloc(q->items, cap * sizeof(*items));
		if (!items)
			return NULL;
		q->items = items;
		q->cap = cap;
	}
	ev = &q->items[q->tail++];
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->pid = pid;
	ev->tid = tid;
	return ev;
}

/* /proc helpers */

/* Tgid and PPid of a task from /proc/TID/status; -1 if it is gone. */
static int sbx_read_ids(pid_t tid, pid_t *tgid, pid_t *ppid)
{
	char name[64];
	char buf[2048];
	char *p;
	ssize_t n;
	int fd;
	int ret = -1;

	snprintf(name, sizeof(name), "/proc/%d/status", (int)tid);
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	if (!p)
		goto out;
	*tgid = (pid_t)strtol(p + 6, NULL, 10);
	p = strstr(buf, "\nPPid:");
	if (!p)
		goto out;
	*ppid = (pid_t)strtol(p + 6, NULL, 10);
	ret = 0;
out:
	close(fd);
	return ret;
}

/* The executable of pid into t->path, as /proc/PID/exe names it. */
static void sbx_read_exe(struct sbx_tracer *t, pid_t pid)
{
	char name[64];
	ssize_t n;

	snprintf(name, sizeof(name), "/proc/%d/exe", (int)pid);
	n = readlink(name, t->path, sizeof(t->path));
	if (n <= 0 || n == (ssize_t)sizeof(t->path)) {
		/* Unknown or too long: a placeholder that no file system has. */
		memcpy(t->path, "?", 1);
		n = 1;
	}
	t->path_len = (uint32_t)n;
}

/* Restarts */

/*
 * Errors are ignored on purpose: ESRCH means the task was killed meanwhile,
 * and its death is reported by waitpid like any other exit.
 */
static void sbx_resume(pid_t tid, int sig)
{
	ptrace(PTRACE_SYSCALL, tid, NULL, (void *)(long)sig);
}

/* Events */

static int sbx_push_exit(struct sbx_tracer *t, pid_t tgid, pid_t tid,
			 int status)
{
	struct sbx_trace_event *ev;

	ev = sbx_queue_push(t, SBX_TRACE_EV_EXIT, tgid, tid);
	if (!ev)
		return -1;
	if (WIFSIGNALED(status))
		ev->exit_signal = WTERMSIG(status);
	else
		ev->exit_code = WEXITSTATUS(status);
	return 0;
}

static bool sbx_process_alive(struct sbx_tracer *t, pid_t tgid)
{
	size_t i;

	for (i = 0; i < t->tasks.cap; i++) {
		struct sbx_task *task = &t->tasks.slots[i];

		if (!task->tid || task->tgid != tgid)
			continue;
		if (task->state == SBX_TASK_NEW ||
		    task->state == SBX_TASK_RUNNING ||
		    task->state == SBX_TASK_GONE)
			return true;
	}
	return false;
}

/*
 * Held tasks whose creator can no longer report them: the creator's process
 * has ended (its creator was killed inside fork or clone), or nothing else
 * is left that could report (all: otherwise waitpid would wait forever).
 * A held task is detached untraced and reported as LOST; one that already
 * died is dropped. Neither gets a trace line.
 */
static int sbx_release_orphans(struct sbx_tracer *t, bool all)
{
	size_t i = 0;

	while (t->nheld && i < t->tasks.cap) {
		struct sbx_task *task = &t->tasks.slots[i];
		struct sbx_trace_event *ev;

		/*
		 * A task that died before its first stop has no known
		 * parent (0): its creator's event may still come, so it is
		 * kept to the end.
		 */
		if (!task->tid || (task->state != SBX_TASK_HELD &&
				   task->state != SBX_TASK_HELD_DEAD) ||
		    (!all && (!task->held_parent ||
			      sbx_process_alive(t, task->held_parent)))) {
			i++;
			continue;
		}
		if (task->state == SBX_TASK_HELD) {
			ev = sbx_queue_push(t, SBX_TRACE_EV_LOST,
					    task->held_parent, 0);
			if (!ev)
				return -1;
			ev->child = task->tid;
			ptrace(PTRACE_DETACH, task->tid, NULL, NULL);
		}
		t->nheld--;
		/* Removal shifts a later entry into slot i: look at it again. */
		sbx_task_remove(&t->tasks, task);
	}
	return 0;
}

static int sbx_handle_exit(struct sbx_tracer *t, pid_t tid, int status)
{
	struct sbx_task *task = sbx_task_find(&t->tasks, tid);
	pid_t tgid;

	if (!task) {
		/*
		 * A new task killed before its first stop; its creator's
		 * event may still come. (Or a child of the caller that is no
		 * tracee: then nothing refers to it and it is dropped.)
		 */
		task = sbx_task_add(&t->tasks, tid);
		if (!task)
			return -1;
		task->state = SBX_TASK_HELD_DEAD;
		task->status = status;
		task->tgid = tid;
		task->held_parent = 0;
		t->nheld++;
		return 0;
	}

	switch (task->state) {
	case SBX_TASK_HELD:
		task->state = SBX_TASK_HELD_DEAD;
		task->status = status;
		return 0;
	case SBX_TASK_HELD_DEAD:
		return 0;
	case SBX_TASK_GONE:
		t->nlive--;
		sbx_task_remove(&t->tasks, task);
		return 0;
	default:
		break;
	}

	tgid = task->tgid;
	if (tid == t->main_pid) {
		sbx_forward_pid = 0;
		t->main_status = status;
		if (!t->started) {
			/* Never exec'd: not a trace, an error of the caller's. */
			t->nlive--;
			sbx_task_remove(&t->tasks, task);
			return 1;
		}
	}
	if (sbx_push_exit(t, tgid, tid, status))
		return -1;
	t->nlive--;
	sbx_task_remove(&t->tasks, task);
	if (t->nheld && !sbx_process_alive(t, tgid))
		return sbx_release_orphans(t, false);
	return 0;
}

/* The creator's side of fork, vfork and clone. */
static int sbx_handle_clone(struct sbx_tracer *t, struct sbx_task *creator,
			    pid_t tid)
{
	unsigned long msg = 0;
	pid_t tgid = creator->tgid;
	pid_t child, child_tgid, ppid;
	struct sbx_trace_event *ev;
	struct sbx_task *task;
	bool thread;

	if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) || !msg)
		return 0;	/* killed meanwhile */
	child = (pid_t)msg;
	task = sbx_task_find(&t->tasks, child);
	/*
	 * A thread shares its creator's tgid; a process (fork, vfork, clone
	 * without CLONE_THREAD) is its own. /proc tells both cases apart,
	 * whichever clone flavour or ABI made the task.
	 */
	if (task && task->state == SBX_TASK_HELD)
		thread = task->tgid != child;
	else if (sbx_read_ids(child, &child_tgid, &ppid) == 0)
		thread = child_tgid != child;
	else
		thread = false;	/* dead: a killed thread is dropped below */

	ev = sbx_queue_push(t, thread ? SBX_TRACE_EV_THREAD : SBX_TRACE_EV_FORK,
			    tgid, tid);
	if (!ev)
		return -1;
	ev->child = child;
	child_tgid = thread ? tgid : child;

	if (!task) {
		task = sbx_task_add(&t->tasks, child);
		if (!task)
			return -1;
		task->state = SBX_TASK_NEW;
		task->tgid = child_tgid;
		t->nlive++;
		return 0;
	}
	switch (task->state) {
	case SBX_TASK_HELD:
		task->state = SBX_TASK_RUNNING;
		task->tgid = child_tgid;
		t->nheld--;
		t->nlive++;
		sbx_resume(child, 0);
		return 0;
	case SBX_TASK_HELD_DEAD:
		if (sbx_push_exit(t, child_tgid, child, task->status))
			return -1;
		t->nheld--;
		sbx_task_remove(&t->tasks, task);
		return 0;
	default:
		/* A tid still in use cannot be handed out again. */
		return 0;
	}
}

/*
 * A successful exec by thread old_tid of process tgid, which is now that
 * process's only thread, with tid tgid. The process's other threads are
 * dead by now (the kernel reports them as exit 0, or not at all for a
 * replaced leader): each gets its exit line here, before the exec line, and
 * later reports of them are dropped.
 */
static int sbx_handle_exec(struct sbx_tracer *t, pid_t tgid)
{
	unsigned long msg = 0;
	pid_t old_tid;
	struct sbx_trace_event *ev;
	struct sbx_task *task;
	size_t i;

	if (ptrace(PTRACE_GETEVENTMSG, tgid, NULL, &msg))
		return 0;	/* killed meanwhile */
	old_tid = msg ? (pid_t)msg : tgid;
	sbx_read_exe(t, tgid);

	if (!t->started && tgid == t->main_pid) {
		t->started = true;
		ev = sbx_queue_push(t, SBX_TRACE_EV_START, tgid, tgid);
		if (!ev)
			return -1;
		ev->path = t->path;
		ev->path_len = t->path_len;
		return 0;
	}

	i = 0;
	while (i < t->tasks.cap) {
		task = &t->tasks.slots[i];
		if (!task->tid || task->tgid != tgid || task->tid == old_tid) {
			i++;
			continue;
		}
		switch (task->state) {
		case SBX_TASK_NEW:
		case SBX_TASK_RUNNING:
			if (sbx_push_exit(t, tgid, task->tid, 0))
				return -1;
			/* The replaced leader is never reported: reused. */
			task->state = task->tid == tgid ? SBX_TASK_RUNNING :
							  SBX_TASK_GONE;
			break;
		case SBX_TASK_HELD:
			/*
			 * Its creator was another thread, now dead: it can
			 * never be announced. It dies too; drop its report.
			 */
			task->state = SBX_TASK_GONE;
			t->nheld--;
			t->nlive++;
			break;
		case SBX_TASK_HELD_DEAD:
			t->nheld--;
			/* Shifts a later entry into slot i: look again. */
			sbx_task_remove(&t->tasks, task);
			continue;
		default:
			break;
		}
		i++;
	}
	if (old_tid != tgid) {
		task = sbx_task_find(&t->tasks, old_tid);
		if (task) {
			t->nlive--;
			sbx_task_remove(&t->tasks, task);
		}
		task = sbx_task_find(&t->tasks, tgid);
		if (!task) {
			task = sbx_task_add(&t->tasks, tgid);
			if (!task)
				return -1;
			t->nlive++;
		}
		task->state = SBX_TASK_RUNNING;
		task->tgid = tgid;
	}
	/* A new image: its event buffer (if any) is looked up again. */
	task = sbx_task_find(&t->tasks, tgid);
	if (task)
		task->evbuf = 0;
	ev = sbx_queue_push(t, SBX_TRACE_EV_EXEC, tgid, old_tid);
	if (!ev)
		return -1;
	ev->path = t->path;
	ev->path_len = t->path_len;
	return 0;
}

/* The first stop of a task nobody has announced yet. */
static int sbx_hold(struct sbx_tracer *t, pid_t tid)
{
	struct sbx_task *task;
	pid_t tgid = tid, ppid = 0;

	task = sbx_task_add(&t->tasks, tid);
	if (!task)
		return -1;
	task->state = SBX_TASK_HELD;
	if (sbx_read_ids(tid, &tgid, &ppid) == 0) {
		task->tgid = tgid;
		/* A thread's creator is in its own process. */
		task->held_parent = tgid != tid ? tgid : ppid;
	} else {
		task->tgid = tid;
	}
	t->nheld++;
	return 0;
}

static bool sbx_is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

/*
 * The buffered-events section of the executable of task tid: 2 with *tpoff
 * set when it has a valid one (16 bytes: version 1, SBX_EVBUF_CAP, tpoff),
 * else 1. Read from /proc/TID/exe's section headers (ELF64, little-endian).
 */
static int sbx_evbuf_lookup(pid_t tid, int64_t *tpoff)
{
	char name[64];
	unsigned char eh[64], sh[64], data[16];
	uint64_t shoff, stroff = 0, off;
	uint16_t shentsize, shnum, shstrndx, i;
	char sname[sizeof(".sbx_evbuf")];
	int fd, found = 1;

	snprintf(name, sizeof(name), "/proc/%d/exe", (int)tid);
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	if (pread(fd, eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh, "\177ELF\2\1", 6) != 0)
		goto out;
	memcpy(&shoff, eh + 0x28, 8);
	memcpy(&shentsize, eh + 0x3a, 2);
	memcpy(&shnum, eh + 0x3c, 2);
	memcpy(&shstrndx, eh + 0x3e, 2);
	if (shentsize != 64 || shstrndx >= shnum)
		goto out;
	if (pread(fd, sh, 64, (off_t)(shoff + (uint64_t)shstrndx * 64)) != 64)
		goto out;
	memcpy(&stroff, sh + 0x18, 8);
	for (i = 0; i < shnum; i++) {
		uint32_t nameoff;
		uint64_t size;

		if (pread(fd, sh, 64, (off_t)(shoff + (uint64_t)i * 64)) != 64)
			goto out;
		memcpy(&nameoff, sh, 4);
		if (pread(fd, sname, sizeof(sname), (off_t)(stroff + nameoff)) !=
			    (ssize_t)sizeof(sname) ||
		    memcmp(sname, ".sbx_evbuf", sizeof(sname)) != 0)
			continue;
		memcpy(&off, sh + 0x18, 8);
		memcpy(&size, sh + 0x20, 8);
		if (size != sizeof(data) ||
		    pread(fd, data, sizeof(data), (off_t)off) != (ssize_t)sizeof(data))
			goto out;
		if (data[0] != 1 || data[1] || data[2] || data[3] ||
		    data[4] != SBX_EVBUF_CAP || data[5] || data[6] || data[7])
			goto out;
		memcpy(tpoff, data + 8, 8);
		found = 2;
		goto out;
	}
out:
	close(fd);
	return found;
}

/*
 * Reports and clears the appended events of task tid, as the kernel's drain
 * takes them: slots 0..count-1 that are not 0, then count, count+1, ... while
 * not 0; every slot taken zeroed and count set to 0. A buffer that cannot be
 * read or written is left alone (the monitor would kill the thread: the
 * trace then lacks its events, which a check of the trace reports).
 */
static int sbx_evbuf_drain(struct sbx_tracer *t, struct sbx_task *task,
			   pid_t tid)
{
	struct sbx_evbuf buf;
	struct iovec local, remote;
	struct sbx_trace_event *ev;
	unsigned long fs_base;
	uint64_t taken[SBX_EVBUF_CAP];
	unsigned int c, i, n = 0;
	pid_t tgid = task->tgid;

	errno = 0;
	fs_base = (unsigned long)ptrace(PTRACE_PEEKUSER, tid,
					(void *)offsetof(struct user_regs_struct,
							 fs_base),
					NULL);
	if (errno)
		return 0;
	local.iov_base = &buf;
	local.iov_len = sizeof(buf);
	remote.iov_base = (void *)(fs_base + (unsigned long)task->tpoff);
	remote.iov_len = sizeof(buf);
	if (process_vm_readv(tid, &local, 1, &remote, 1, 0) !=
	    (ssize_t)sizeof(buf))
		return 0;
	c = buf.count < SBX_EVBUF_CAP ? buf.count : SBX_EVBUF_CAP;
	for (i = 0; i < c; i++)
		if (buf.ev[i])
			taken[n++] = buf.ev[i];
	for (i = c; i < SBX_EVBUF_CAP && buf.ev[i]; i++)
		taken[n++] = buf.ev[i];
	if (!n && !buf.count)
		return 0;
	/* Cleared before anything is reported: the tracee is stopped. */
	memset(&buf, 0, sizeof(buf));
	if (process_vm_writev(tid, &local, 1, &remote, 1, 0) !=
	    (ssize_t)sizeof(buf))
		return 0;
	for (i = 0; i < n; i++) {
		ev = sbx_queue_push(t, SBX_TRACE_EV_MARKER, tgid, tid);
		if (!ev)
			return -1;
		ev->kind = taken[i] >> 32;
		ev->id = taken[i] & 0xffffffffULL;
	}
	return 0;
}

static int sbx_handle_stop(struct sbx_tracer *t, pid_t tid, int status)
{
	int sig = WSTOPSIG(status);
	int event = (unsigned int)status >> 16;
	struct sbx_task *task;
	int ret = 0;

	if (sig == SBX_SYSCALL_STOP) {
		struct __ptrace_syscall_info info;
		struct sbx_trace_event *ev;

		/*
		 * The hot path: one call tells entry from exit, and a 32-bit
		 * (int 0x80) system call from a 64-bit one (x32 calls are
		 * 64-bit ones with bit 30 in the number, as the kernel's
		 * sys_enter tracepoint sees them).
		 */
		if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info),
			   &info) > 0 &&
		    info.op == PTRACE_SYSCALL_INFO_ENTRY && t->started) {
			bool ia32 = info.arch != AUDIT_ARCH_X86_64;
			bool marker = !ia32 && info.entry.nr == SBX_MARKER_NR;

			task = sbx_task_find(&t->tasks, tid);
			/*
			 * Only announced, live threads have lines, and only
			 * after the start (the recorder's child's own execve
			 * is not the program's).
			 */
			if (task && task->state == SBX_TASK_RUNNING) {
				if (!task->evbuf)
					task->evbuf = sbx_evbuf_lookup(
						tid, &task->tpoff);
				if (task->evbuf == 2 && !ia32 &&
				    sbx_evbuf_drain(t, task, tid))
					return -1;
				ev = sbx_queue_push(t, marker ? SBX_TRACE_EV_MARKER :
								SBX_TRACE_EV_SYSCALL,
						    task->tgid, tid);
				if (!ev)
					return -1;
				if (marker) {
					ev->kind = info.entry.args[0];
					ev->id = info.entry.args[1];
				} else {
					ev->kind = info.entry.nr;
					ev->id = info.entry.args[2];
					ev->ia32 = ia32;
				}
			}
		}
		sbx_resume(tid, 0);
		return 0;
	}

	task = sbx_task_find(&t->tasks, tid);
	if (task && task->state == SBX_TASK_HELD_DEAD) {
		/* A dead task does not stop: its tid was handed out again. */
		t->nheld--;
		sbx_task_remove(&t->tasks, task);
		task = NULL;
	}
	if (!task)
		return sbx_hold(t, tid);
	if (task->state == SBX_TASK_NEW) {
		/* Its first stop, after its creator's event. */
		task->state = SBX_TASK_RUNNING;
		sbx_resume(tid, 0);
		return 0;
	}
	if (task->state != SBX_TASK_RUNNING)
		return 0;	/* a held task stays stopped */

	switch (event) {
	case 0:
		/* Signal-delivery-stop: deliver the signal unchanged. */
		sbx_resume(tid, sig);
		return 0;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		ret = sbx_handle_clone(t, task, tid);
		break;
	case PTRACE_EVENT_EXEC:
		ret = sbx_handle_exec(t, tid);
		break;
	case PTRACE_EVENT_STOP:
		if (sbx_is_stop_signal(sig)) {
			/*
			 * Group-stop: stay stopped until SIGCONT, which is
			 * reported as another PTRACE_EVENT_STOP (SIGTRAP).
			 */
			ptrace(PTRACE_LISTEN, tid, NULL, NULL);
			return 0;
		}
		break;
	default:
		break;
	}
	sbx_resume(tid, 0);
	return ret;
}

/* Child side of sbx_tracer_start: async-signal-safe calls only. */
static void sbx_child(const char *path, char *const argv[], int go_fd,
		      int err_fd)
{
	char byte;
	ssize_t n;
	int err;

	/* Wait until the parent has seized us, so the exec is traced. */
	do {
		n = read(go_fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(127);
	execve(path, argv, environ);
	err = errno;
	if (write(err_fd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

static void sbx_install_signals(struct sbx_tracer *t)
{
	struct sigaction ignore, forward;

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	memset(&forward, 0, sizeof(forward));
	forward.sa_handler = sbx_forward_signal;
	sigemptyset(&forward.sa_mask);
	forward.sa_flags = SA_RESTART;

	sigaction(SIGINT, &ignore, &t->old_int);
	sigaction(SIGQUIT, &ignore, &t->old_quit);
	sigaction(SIGTERM, &forward, &t->old_term);
	sigaction(SIGHUP, &forward, &t->old_hup);
}

int sbx_tracer_start(const char *path, char *const argv[],
		     struct sbx_tracer **out, struct sbx_trace_error *error)
{
	struct sbx_tracer *t;
	struct sbx_task *task;
	int go[2] = { -1, -1 };
	int err_pipe[2] = { -1, -1 };
	pid_t pid;
	int err;

	*out = NULL;
	if (__atomic_exchange_n(&sbx_tracer_active, 1, __ATOMIC_ACQ_REL)) {
		sbx_set_error(error, SBX_TRACE_ERR_SYSTEM, EBUSY,
			      "another recording in this process");
		return -1;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		__atomic_store_n(&sbx_tracer_active, 0, __ATOMIC_RELEASE);
		sbx_set_error(error, SBX_TRACE_ERR_SYSTEM, ENOMEM, "calloc");
		return -1;
	}
	t->exec_err_fd = -1;
	if (pipe2(go, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
		sbx_set_error(error, SBX_TRACE_ERR_SYSTEM, errno, "pipe2");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		sbx_set_error(error, SBX_TRACE_ERR_SYSTEM, errno, "fork");
		goto fail;
	}
	if (pid == 0) {
		close(go[1]);
		close(err_pipe[0]);
		sbx_child(path, argv, go[0], err_pipe[1]);
	}
	close(go[0]);
	go[0] = -1;
	close(err_pipe[1]);
	err_pipe[1] = -1;

	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)SBX_PTRACE_OPTIONS)) {
		err = errno;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		sbx_set_error(error, SBX_TRACE_ERR_PTRACE, err, "ptrace");
		goto fail;
	}
	t->main_pid = pid;
	task = sbx_task_add(&t->tasks, pid);
	if (!task) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		sbx_set_error(error, SBX_TRACE_ERR_SYSTEM, ENOMEM, "malloc");
		goto fail;
	}
	task->state = SBX_TASK_RUNNING;
	task->tgid = pid;
	t->nlive = 1;
	t->exec_err_fd = err_pipe[0];
	sbx_forward_pid = pid;
	sbx_install_signals(t);

	/* Closing without writing would make the child give up. */
	if (write(go[1], "g", 1) != 1) {
		/* The child then exits 127 and next() reports it. */
	}
	close(go[1]);
	*out = t;
	return 0;

fail:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	if (err_pipe[0] >= 0)
		close(err_pipe[0]);
	if (err_pipe[1] >= 0)
		close(err_pipe[1]);
	free(t->tasks.slots);
	free(t);
	__atomic_store_n(&sbx_tracer_active, 0, __ATOMIC_RELEASE);
	return -1;
}

static int sbx_exec_error(struct sbx_tracer *t, struct sbx_trace_error *error)
{
	int err = 0;
	ssize_t n;

	do {
		n = read(t->exec_err_fd, &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(err))
		err = 0;
	sbx_set_error(error, SBX_TRACE_ERR_EXEC, err, "execve");
	return -1;
}

int sbx_tracer_next(struct sbx_tracer *t, struct sbx_trace_event *ev,
		    struct sbx_trace_error *error)
{
	int status, ret;
	pid_t tid;

	for (;;) {
		if (t->queue.head < t->queue.tail) {
			*ev = t->queue.items[t->queue.head++];
			return 1;
		}
		t->queue.head = 0;
		t->queue.tail = 0;
		if (t->done)
			return 0;
		if (!t->nlive) {
			/*
			 * Nothing left that reports. Held tasks can no longer
			 * be announced. Not waiting for ECHILD keeps the loop
			 * off the caller's other children.
			 */
			if (t->nheld && sbx_release_orphans(t, true))
				goto nomem;
			t->done = true;
			continue;
		}

		tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD) {
				t->done = true;
				continue;
			}
			sbx_set_error(error, SBX_TRACE_ERR_SYSTEM, errno,
				      "waitpid");
			return -1;
		}
		if (WIFSTOPPED(status))
			ret = sbx_handle_stop(t, tid, status);
		else if (WIFEXITED(status) || WIFSIGNALED(status))
			ret = sbx_handle_exit(t, tid, status);
		else
			ret = 0;
		if (ret > 0)
			return sbx_exec_error(t, error);
		if (ret < 0)
			goto nomem;
	}
nomem:
	sbx_set_error(error, SBX_TRACE_ERR_SYSTEM, ENOMEM, "malloc");
	return -1;
}

int sbx_tracer_status(const struct sbx_tracer *t)
{
	return t->main_status;
}

void sbx_tracer_free(struct sbx_tracer *t)
{
	size_t i;

	if (!t)
		return;
	/*
	 * After a failure, tasks may remain: they must not outlive the
	 * recording. A HELD_DEAD tid is already reaped and may belong to
	 * someone else by now: never signalled.
	 */
	for (i = 0; i < t->tasks.cap; i++) {
		struct sbx_task *task = &t->tasks.slots[i];

		if (task->tid && task->state != SBX_TASK_HELD_DEAD)
			kill(task->tid, SIGKILL);
	}
	for (i = 0; i < t->tasks.cap; i++) {
		struct sbx_task *task = &t->tasks.slots[i];

		if (!task->tid || task->state == SBX_TASK_HELD_DEAD)
			continue;
		while (waitpid(task->tid, NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	sbx_forward_pid = 0;
	sigaction(SIGINT, &t->old_int, NULL);
	sigaction(SIGQUIT, &t->old_quit, NULL);
	sigaction(SIGTERM, &t->old_term, NULL);
	sigaction(SIGHUP, &t->old_hup, NULL);
	if (t->exec_err_fd >= 0)
		close(t->exec_err_fd);
	free(t->tasks.slots);
	free(t->queue.items);
	free(t);
	__atomic_store_n(&sbx_tracer_active, 0, __ATOMIC_RELEASE);
}
