/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sbx_trace.h - the ptrace loop behind `sbx record`.
 *
 * Runs a program under ptrace and hands out, one at a time, the events of
 * specs/trace-format.md: marker system calls, every other system call, forks,
 * new threads, execs and exits. SbxTrace turns them into trace lines. The loop only observes: it
 * never changes a register, a result or a signal of the program.
 *
 * This is C because ptrace(2) is variadic, which Swift cannot call.
 */
#ifndef SBX_TRACE_H
#define SBX_TRACE_H

#include <stdint.h>

/* The marker numbers, so that Swift and C read them from one place. */
#include <sbx_marker.h>

enum sbx_trace_event_type {
	/* The program's first exec succeeded: pid, path. */
	SBX_TRACE_EV_START = 1,
	/* A marker system call: pid, tid, kind, id. */
	SBX_TRACE_EV_MARKER = 2,
	/* A new process: pid and tid of the creator, child = its pid. */
	SBX_TRACE_EV_FORK = 3,
	/* A new thread: pid, tid of the creator, child = the new tid. */
	SBX_TRACE_EV_THREAD = 4,
	/* Thread tid of pid executed path; pid's only thread is now pid. */
	SBX_TRACE_EV_EXEC = 5,
	/* Thread tid of pid ended: exit_signal != 0 if killed, else exit_code. */
	SBX_TRACE_EV_EXIT = 6,
	/*
	 * Not a trace line: task child (of process pid, 0 if unknown) was
	 * detached untraced because its creator died before reporting it.
	 */
	SBX_TRACE_EV_LOST = 7,
	/*
	 * Any other system call entered by an announced thread after the
	 * start: pid, tid, kind = its number, id = its third argument,
	 * ia32 != 0 if it came through the 32-bit ABI.
	 */
	SBX_TRACE_EV_SYSCALL = 8,
};

struct sbx_trace_event {
	int type;
	int32_t pid;
	int32_t tid;
	int32_t child;
	uint64_t kind;
	uint64_t id;
	int32_t exit_code;
	int32_t exit_signal;
	/* SYSCALL: entered through the ia32 ABI (int 0x80, sysenter, ...). */
	int32_t ia32;
	/* START, EXEC: not NUL-terminated; valid until the next call. */
	const char *path;
	uint32_t path_len;
};

/* What went wrong when sbx_tracer_start or sbx_tracer_next fails. */
enum sbx_trace_error_stage {
	/* The program could not be executed; err is execve's errno (0: it
	 * ended before its exec, e.g. killed). */
	SBX_TRACE_ERR_EXEC = 1,
	/* The kernel refused to trace the program (PTRACE_SEIZE). */
	SBX_TRACE_ERR_PTRACE = 2,
	/* pipe, fork, waitpid or memory failed; what names the call. */
	SBX_TRACE_ERR_SYSTEM = 3,
};

struct sbx_trace_error {
	int stage;
	int err;
	const char *what;
};

struct sbx_tracer;

/*
 * Forks, execs path with argv (and the caller's environment) under ptrace.
 * Returns 0 and the tracer in *out, or -1 with *error filled.
 * While a tracer exists, SIGINT and SIGQUIT are ignored by the caller (the
 * terminal sends them to the program too) and SIGTERM and SIGHUP are
 * forwarded to the program.
 */
int sbx_tracer_start(const char *path, char *const argv[],
		     struct sbx_tracer **out, struct sbx_trace_error *error);

/*
 * The next event: 1 with *ev filled, 0 when every traced task has ended,
 * -1 with *error filled.
 */
int sbx_tracer_next(struct sbx_tracer *t, struct sbx_trace_event *ev,
		    struct sbx_trace_error *error);

/* The wait status of the program's main thread; valid once next gave 0. */
int sbx_tracer_status(const struct sbx_tracer *t);

/* Kills what is still traced, reaps it and restores the signal actions. */
void sbx_tracer_free(struct sbx_tracer *t);

#endif /* SBX_TRACE_H */
