/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sbx_ioctl.h - the control interface of the sbx_dyck kernel module: the
 * character device /dev/sbx and its ioctls.
 *
 * Specified in specs/kernel-abi.md ("Control interface"). Shared by the module
 * and userspace (C and, through a module map, Swift); it depends only on the
 * kernel's uapi headers <linux/ioctl.h> and <linux/types.h>.
 *
 * Every structure has a fixed size and no implicit padding; the size is part
 * of the ioctl number, so a caller built against another layout gets ENOTTY.
 * Fields named "reserved" and every flag bit not defined here must be zero
 * (EINVAL otherwise), so that later versions can give them a meaning.
 *
 * Who may do what. The device is created with mode 0600 (root only by default).
 * STATUS, LIST, TASKS and POLICIES are allowed to anyone who holds an open
 * descriptor.
 * LOAD, UNLOAD, ARM, READ, INSTALL and REMOVE need both:
 *  - CAP_SYS_ADMIN in the initial user namespace in the credentials of the
 *    file's opener (checked at ioctl time on file->f_cred, so what counts is
 *    the capability the descriptor was opened with, not the caller's), and
 *  - a caller that is not sandboxed: a thread that is armed, enforced or
 *    unconfined (the new image of an enforced process that execed without a
 *    policy, and its descendants: see SBX_EXEC_UNCONFINED) can never load,
 *    unload, arm, read, install or remove, even as root and even with a
 *    descriptor opened by someone else.
 * Otherwise they fail with EPERM. There is no ioctl to disarm or detach: once
 * armed or enforced, a thread stays so until it execs (see SBX_IOC_ARM) or
 * exits.
 */
#ifndef _UAPI_SBX_IOCTL_H
#define _UAPI_SBX_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SBX_DEVICE_NAME "sbx"
#define SBX_DEVICE_PATH "/dev/sbx"

/* The version of this interface, reported by SBX_IOC_STATUS. */
#define SBX_ABI_VERSION 8

#define SBX_IOC_MAGIC 0xDB

/* Enforcement modes (struct sbx_ioc_arm.mode). */
#define SBX_MODE_DYCK 1 /* blob built without SBX_BLOB_F_NFA */
#define SBX_MODE_NFA  2 /* blob built with SBX_BLOB_F_NFA */

/*
 * Exec transitions (struct sbx_ioc_arm.exec, struct sbx_ioc_install.exec): what
 * a successful exec by an enforced thread does (specs/kernel-abi.md, "Exec
 * transitions"). A failed exec changes nothing.
 */
#define SBX_EXEC_REGISTRY   0 /* installed file: its policy; else a violation */
#define SBX_EXEC_DENY	    1 /* every exec is a violation */
#define SBX_EXEC_UNCONFINED 2 /* installed file: its policy; else unconfined */

/* What a violation does (struct sbx_ioc_arm.action). */
#define SBX_ACTION_KILL 1 /* SIGKILL the process; block the syscall */
#define SBX_ACTION_LOG	2 /* record it; the process continues */

/*
 * Reasons of a violation record (struct sbx_violation_record.reason). Values
 * 1..9, 20..22, 27 and 29 are the monitor core's enum sbx_reason
 * (kmod/core/sbx_monitor.h), the others are the module's own.
 */
#define SBX_REASON_UNKNOWN_KIND	     1	/* marker kind not in 1..8 */
#define SBX_REASON_ID_RANGE	     2	/* marker id out of range for its kind */
#define SBX_REASON_NOT_ALLOWED	     3	/* no transition for the marker */
#define SBX_REASON_WRONG_RETURN	     4	/* RET/CB_EXIT does not match the top frame */
#define SBX_REASON_CANNOT_RETURN     5	/* top frame cannot return yet */
#define SBX_REASON_NOT_CALLBACK	     6	/* CB_ENTER of a function that is no callback */
#define SBX_REASON_STACK_OVERFLOW    7	/* push beyond the depth bound (max_depth) */
#define SBX_REASON_NO_SETJMP	     8	/* SJ_RESUME without a matching SJ_SAVE */
#define SBX_REASON_BAD_STATE	     9	/* thread state inconsistent (a bug) */
#define SBX_REASON_COMPAT_SYSCALL    16 /* a 32-bit (int 0x80) or x32 syscall */
#define SBX_REASON_IO_URING	     17 /* io_uring_setup/_enter/_register */
#define SBX_REASON_NO_MEMORY	     18 /* no monitor state for a new thread or child */
#define SBX_REASON_EXE_MISMATCH	     19 /* armed with SBX_ARM_F_EXE, another file was exec'd */
#define SBX_REASON_SYSCALL_WINDOW    20 /* a system call outside its window's set */
#define SBX_REASON_EXEC_MAPPING	     21 /* PROT_EXEC in a window that may not map code */
#define SBX_REASON_UNPINNED	     22 /* a marker not from its pinned site */
#define SBX_REASON_FORBIDDEN_SYSCALL 23 /* a system call never allowed (kernel-abi.md) */
#define SBX_REASON_PROC_MEM_WRITE    24 /* a /proc/<pid>/mem opened for writing */
#define SBX_REASON_EXEC_DENIED	     25 /* an exec the thread's transition refuses */
#define SBX_REASON_EXE_REBUILT	     26 /* installed file whose content changed */
#define SBX_REASON_STORE_FULL	     27 /* no slot for a frame or setjmp record */
#define SBX_REASON_UNRESYNCED	     28 /* log mode: exited or execed still lost */
#define SBX_REASON_BUFFER	     29 /* a bad buffered event, or the buffer faulted */

/* Flags of a violation record (struct sbx_violation_record.flags). */
#define SBX_REC_F_MARKER 0x1 /* the event was a marker (syscall 999) */
#define SBX_REC_F_IA32	 0x2 /* the syscall came through the ia32 ABI */
#define SBX_REC_F_X32	 0x4 /* the syscall came through the x32 ABI */
#define SBX_REC_F_KILLED 0x8 /* the process was sent SIGKILL */

/**
 * struct sbx_ioc_load - argument of SBX_IOC_LOAD: load a policy blob.
 * @blob:       in: user address of the blob (specs/kernel-abi.md, "Policy blob").
 * @size:       in: its size in bytes, at most SBX_BLOB_MAX_SIZE (128 MiB).
 * @flags:      in: 0 or SBX_LOAD_F_OWNED (ABI 5).
 * @id:         out: the new policy's id, >= 1, never reused while the module
 *              stays loaded.
 * @blob_flags: out: the blob header's flags (bit 0: SBX_BLOB_F_NFA), so the
 *              caller knows which mode the policy can be armed with.
 * @reserved:   in: zero.
 *
 * The module copies the blob once into kernel memory and validates that copy
 * with sbx_blob_validate(); the policy is then immutable.
 *
 * With SBX_LOAD_F_OWNED the policy belongs to the open file description of
 * /dev/sbx that loaded it: when that is closed (the loader exited or died), the
 * policy is unloaded as soon as nothing uses it (at once, or when its last
 * thread exits or its last registry entry goes). Without it a policy stays
 * loaded until SBX_IOC_UNLOAD.
 *
 * Errors: EPERM (the descriptor was not opened with CAP_SYS_ADMIN, or the
 * caller is sandboxed); EFAULT (the argument or the blob cannot be read, or
 * @id cannot be written back); EINVAL (@flags has a bit other than
 * SBX_LOAD_F_OWNED, @reserved is not zero, or the blob is invalid); E2BIG (@size above SBX_BLOB_MAX_SIZE, or the blob exceeds
 * a cap of its format); ENOSPC (already max_policies policies loaded, or their
 * total size would exceed max_policy_bytes; see the module parameters);
 * ENOMEM (out of memory).
 */
#define SBX_LOAD_F_OWNED 0x1 /* unloaded when the loader's file is closed and unused */

struct sbx_ioc_load {
	__u64 blob;
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 blob_flags;
	__u64 reserved[2];
};

/**
 * struct sbx_ioc_unload - argument of SBX_IOC_UNLOAD: unload an unused policy.
 * @id:    in: the policy's id.
 * @flags: in: zero.
 *
 * Errors: EPERM (as for SBX_IOC_LOAD); EFAULT (the argument cannot be read);
 * EINVAL (@flags not zero); ENOENT (no policy has this id); EBUSY (a thread is
 * armed with the policy or enforced by it; the policy stays loaded).
 */
struct sbx_ioc_unload {
	__u32 id;
	__u32 flags;
};

/**
 * struct sbx_ioc_arm - argument of SBX_IOC_ARM: enforce a policy on the
 * calling process from its next successful exec on.
 * @id:       in: the policy's id.
 * @mode:     in: SBX_MODE_DYCK or SBX_MODE_NFA; must agree with the blob
 *            (SBX_MODE_NFA if and only if the blob has SBX_BLOB_F_NFA).
 * @action:   in: SBX_ACTION_KILL or SBX_ACTION_LOG.
 * @flags:    in: zero or SBX_ARM_F_EXE.
 * @exe_fd:   in: with SBX_ARM_F_EXE, an open descriptor (O_PATH is enough) of
 *            the regular file the next exec must run; ignored otherwise.
 * @exec:     in: the exec transition of the enforced image and of every
 *            process it forks: SBX_EXEC_REGISTRY (0), SBX_EXEC_DENY or
 *            SBX_EXEC_UNCONFINED. The exec that ends the arm is not one: it
 *            is checked by SBX_ARM_F_EXE alone.
 * @reserved: in: zero.
 *
 * With SBX_ARM_F_EXE the policy is bound to the inode of @exe_fd (its super
 * block's device and inode number, taken at ARM time): when the armed thread
 * next execs successfully and the file exec'd is another inode, the process
 * is killed before its first user instruction and a record with reason
 * SBX_REASON_EXE_MISMATCH is queued (whatever @action is). This closes the
 * window between a userspace check of the program and its exec. The file
 * compared is the one the kernel finally runs: for a "#!" script, its
 * interpreter. Keep @exe_fd open until the exec (O_CLOEXEC), so that its
 * inode number cannot be reused meanwhile.
 *
 * The calling thread becomes *armed* and so sandboxed: it cannot use the
 * privileged ioctls any more. When it next execs successfully, the new image
 * is enforced with the policy from its entry (sbx_thread_init); an exec that
 * fails leaves it armed. Threads and processes it creates while armed are
 * armed alike. Arming holds a reference on the policy (it cannot be unloaded)
 * and on the module (it cannot be removed). The thread's monitor state is
 * allocated here, so the exec itself cannot fail for lack of memory.
 *
 * Errors: EPERM (as for SBX_IOC_LOAD; in particular when the caller is already
 * armed, enforced or unconfined); EFAULT (the argument cannot be read); EINVAL
 * (unknown @mode, @action or @exec, an unknown @flags bit, @reserved not zero);
 * with SBX_ARM_F_EXE: EBADF (@exe_fd is not an open descriptor), EINVAL
 * (@exe_fd is not a regular file); ENOENT (no policy has this id); EINVAL
 * (@mode disagrees with the blob); EBUSY (the calling process has more than
 * one thread); ENOSPC (the policy's task budget, max_tasks_per_policy, is
 * used up); or ENOMEM (out of memory).
 */
struct sbx_ioc_arm {
	__u32 id;
	__u32 mode;
	__u32 action;
	__u32 flags;
	__s32 exe_fd;
	__u32 exec;
	__u64 reserved;
};

/* Flags of struct sbx_ioc_arm. */
#define SBX_ARM_F_EXE 0x1 /* bind to the inode of @exe_fd */

/**
 * struct sbx_ioc_status - result of SBX_IOC_STATUS: the module's state.
 * @abi_version:        SBX_ABI_VERSION of the running module.
 * @nr_policies:        policies loaded.
 * @enforced_tasks:     threads currently enforced.
 * @armed_tasks:        threads currently armed (waiting for their exec).
 * @markers:            markers stepped for enforced threads since load.
 * @violations:         violations detected since load (each one, whether or
 *                      not its record was queued).
 * @records_dropped:    records lost since the module was loaded, of every
 *                      policy (unloaded ones included): log records evicted
 *                      from a full queue or not queued because of their
 *                      policy's rate limit, @kills_dropped, and records still
 *                      unread when their policy was freed after SBX_IOC_UNLOAD.
 *                      Per policy: SBX_IOC_POLICIES.
 * @alloc_failures:     threads and processes killed since load because no
 *                      monitor state could be allocated for them (fail closed).
 * @policy_bytes:       total size of the loaded blobs.
 * @ring_size:          capacity of each policy's queue for log records
 *                      (SBX_QUEUE_SIZE); kill records are not limited by it.
 * @ring_count:         records waiting, in the queues of all loaded policies.
 * @nr_installed:       entries of the per-executable registry (SBX_IOC_INSTALL).
 * @unconfined_tasks:   threads currently unconfined (SBX_EXEC_UNCONFINED): no
 *                      policy, but never privileged.
 * @kills_dropped:      kill records lost since load (part of
 *                      @records_dropped). Only a SBX_REASON_NO_MEMORY record
 *                      of a task that never ran can be lost, when its policy's
 *                      SBX_QUEUE_SIZE slots all hold unread kill records;
 *                      see SBX_IOC_READ.
 * @reserved:           zero.
 *
 * Never fails except with EFAULT (the result cannot be written).
 */
struct sbx_ioc_status {
	__u32 abi_version;
	__u32 nr_policies;
	__u32 enforced_tasks;
	__u32 armed_tasks;
	__u64 markers;
	__u64 violations;
	__u64 records_dropped;
	__u64 alloc_failures;
	__u64 policy_bytes;
	__u32 ring_size;
	__u32 ring_count;
	__u32 nr_installed;
	__u32 unconfined_tasks;
	__u64 kills_dropped;
	__u64 reserved[2];
};

/* Slots of each policy's record queue (struct sbx_ioc_status.ring_size). */
#define SBX_QUEUE_SIZE 128
/* Log records queued per policy and second, at most (a burst of this many). */
#define SBX_QUEUE_RATE 100

/* Frames of a violation record's stack (struct sbx_violation_record.stack). */
#define SBX_REC_STACK 16

/**
 * struct sbx_violation_record - one violation, as read by SBX_IOC_READ.
 * @seq:        sequence number of the violation, from 1, in order of
 *              detection; a gap means records were dropped.
 * @time_ns:    when it was detected, CLOCK_BOOTTIME in nanoseconds.
 * @pid:        the process (thread group id), in the initial pid namespace.
 * @tid:        the thread, in the initial pid namespace.
 * @comm:       the thread's command name, NUL-terminated.
 * @policy_id:  the policy enforced on the thread.
 * @reason:     SBX_REASON_*.
 * @action:     the thread's SBX_ACTION_*.
 * @syscall_nr: the system call: SBX_MARKER_NR (999) for a marker, else its
 *              number in its ABI (the 32-bit number for ia32; with
 *              __X32_SYSCALL_BIT for x32). For SBX_REASON_NO_MEMORY and
 *              SBX_REASON_EXE_MISMATCH: 0. For a refused buffered event
 *              (SBX_REC_F_MARKER with @kind and @id the event's) and for
 *              SBX_REASON_BUFFER: the system call at whose entry the thread's
 *              event buffer was drained (999 when that was a marker).
 * @kind:       the marker's kind (%rdi) as issued, or the buffered event's;
 *              0 when not a marker (and for a buffer that faulted).
 * @id:         the marker's id (%rsi) as issued; for SBX_REASON_SYSCALL_WINDOW,
 *              SBX_REASON_EXEC_MAPPING and SBX_REASON_EXEC_DENIED the window
 *              the call was made in: the symbol id of the last LIBC marker
 *              (for an exec, the libc function that execed), SBX_WINDOW_START
 *              (0xffffffff) or SBX_WINDOW_NONE (0xfffffffe); for
 *              SBX_REASON_UNRESYNCED the number of markers the thread made
 *              unchecked since the violation that made it lost; else 0.
 * @tag:        the top frame's tag (kmod/core/sbx_monitor.h: 0 root,
 *              0x40000000 | site, 0x80000000 | function) before the event.
 * @mstate:     the top frame's macro-state before the event.
 * @depth:      the logical stack depth before the event (frames folded by
 *              recursion each count), root frame included (so
 *              >= 1 for a marker; 0 for SBX_REASON_NO_MEMORY,
 *              SBX_REASON_EXE_MISMATCH and SBX_REASON_EXE_REBUILT, whose tag,
 *              mstate and stack are 0).
 * @flags:      SBX_REC_F_*.
 * @reserved:   for SBX_REASON_SYSCALL_WINDOW and SBX_REASON_EXEC_MAPPING the
 *              call's third argument (the protection of mmap and mprotect);
 *              for SBX_REASON_UNPINNED the marker's address relative to the
 *              executable's load bias (the link-time address of the syscall
 *              instruction it came from); for SBX_REASON_EXEC_DENIED the
 *              thread's exec transition (SBX_EXEC_*); for SBX_REASON_BUFFER
 *              with @kind 0 the address of the buffer that faulted; else zero.
 * @stack:      the tags of the thread's frames before the event, from the top
 *              down (a folded frame repeated): stack[i] is the tag of logical
 *              frame depth-1-i, for
 *              i < min(@depth, SBX_REC_STACK) (so stack[0] == @tag); the
 *              other entries are zero. Not for SBX_REASON_EXEC_DENIED and
 *              SBX_REASON_EXE_REBUILT, which have @path instead.
 * @path:       for SBX_REASON_EXEC_DENIED and SBX_REASON_EXE_REBUILT: the
 *              file the exec ran (for a script, its interpreter), as d_path()
 *              names it, NUL-terminated and NUL-padded; a path of more than
 *              63 bytes is cut to "..." and its last 60 bytes.
 *
 * SBX_REASON_UNRESYNCED (ABI 6) is no violation of its own: a log-mode
 * thread that a violation left lost (specs/kernel-abi.md, "Log mode") exited
 * or execed before it resynchronised, after at least one marker went
 * unchecked (a forked child counts only its own, from the fork). It has @syscall_nr 0, @kind 0, @flags
 * 0, @id the markers that went unchecked, and @tag, @mstate, @depth and
 * @stack the thread's frames as kept (the failing frame on top); it is a log
 * record (rate-limited and evictable like any) and, like every record, takes
 * a @seq and counts in the violations counters. Made at an exec, its @comm is
 * already the new image's (as for SBX_REASON_EXEC_DENIED).
 *
 * For SBX_REASON_EXEC_DENIED, @syscall_nr is the exec's (59 execve, 322
 * execveat), @comm already the new image's, and @tag, @mstate and @depth
 * describe the frame that execed. SBX_REASON_EXE_REBUILT has @syscall_nr 0
 * and the policy of the entry, or, when the thread that execed was enforced,
 * that thread's policy (so that its supervisor reads the record).
 */
struct sbx_violation_record {
	__u64 seq;
	__u64 time_ns;
	__u32 pid;
	__u32 tid;
	char comm[16];
	__u32 policy_id;
	__u32 reason;
	__u32 action;
	__u32 syscall_nr;
	__u64 kind;
	__u64 id;
	__u32 tag;
	__u32 mstate;
	__u32 depth;
	__u32 flags;
	__u64 reserved;
	union {
		__u32 stack[SBX_REC_STACK];
		char path[4 * SBX_REC_STACK];
	};
};

/**
 * struct sbx_ioc_read - argument of SBX_IOC_READ: take violation records.
 * @records:  in: user address of an array of @max struct sbx_violation_record.
 * @max:      in: its capacity in records (0 is allowed: only @dropped and the
 *            count are reported).
 * @count:    out: records written; they are removed from their queues.
 * @dropped:  out: with SBX_READ_F_POLICY, the policy's dropped counter
 *            (struct sbx_policy_entry.dropped; 0 if no policy has the id);
 *            otherwise the records_dropped counter of SBX_IOC_STATUS.
 * @policy_id: in: with SBX_READ_F_POLICY, take only the records of this
 *            policy; zero otherwise.
 * @flags:    in: zero or SBX_READ_F_POLICY.
 *
 * Each loaded policy has its own queue of records and its own rate limit, so
 * what one sandbox does never costs another its records:
 *  - a kill record (SBX_REC_F_KILLED) is never evicted and never rate
 *    limited: it stays queued until it is read or its policy is unloaded. Its
 *    storage is reserved with the thread state of the thread it is about (a
 *    state whose kill record is unread stays allocated, and counts against
 *    max_tasks_per_policy, until the record is read), so queueing it needs no
 *    memory. The one exception is a SBX_REASON_NO_MEMORY record about a task
 *    that never ran (no state could be had for it): it takes one of the
 *    policy's SBX_QUEUE_SIZE slots, evicting the oldest log record if need
 *    be, and is lost (counted in kills_dropped) only when all the slots hold
 *    such unread records;
 *  - a log record takes a free slot of its policy's queue; in a full queue it
 *    evicts the policy's oldest log record; beyond SBX_QUEUE_RATE log records
 *    per second (per policy) it is not queued. Both losses are counted in
 *    the policy's dropped counter.
 *
 * With SBX_READ_F_POLICY, the oldest records of that policy, oldest first (by
 * @seq). Without it, the records of every loaded policy, policy by policy in
 * order of id, each policy's oldest first (sort by @seq for the global order).
 * Never blocks. Records are removed only once copied: on EFAULT the records
 * not delivered stay queued (@count tells how many were). Readers are
 * serialised. The records of a policy go with it: SBX_IOC_UNLOAD discards
 * those still unread (counted in records_dropped).
 *
 * Errors: EPERM (as for SBX_IOC_LOAD); EFAULT (the argument or the array
 * cannot be accessed); EINVAL (unknown flag, or @policy_id not zero without
 * SBX_READ_F_POLICY); ENOMEM.
 */
struct sbx_ioc_read {
	__u64 records;
	__u32 max;
	__u32 count;
	__u64 dropped;
	__u32 policy_id;
	__u32 flags;
};

/* Flags of struct sbx_ioc_read. */
#define SBX_READ_F_POLICY 0x1 /* only the records of @policy_id */

/**
 * struct sbx_ioc_install - argument of SBX_IOC_INSTALL: enforce a policy on
 * every exec of one executable, by any process (the per-executable registry).
 * @id:        in: the policy's id.
 * @mode:      in: SBX_MODE_DYCK or SBX_MODE_NFA, agreeing with the blob.
 * @action:    in: SBX_ACTION_KILL or SBX_ACTION_LOG.
 * @flags:     in: zero or SBX_INSTALL_F_REPLACE.
 * @exe_fd:    in: an open descriptor (O_PATH is enough) of the executable, a
 *             regular file.
 * @exec:      in: the exec transition of the processes the entry enforces
 *             (SBX_EXEC_REGISTRY, SBX_EXEC_DENY, SBX_EXEC_UNCONFINED).
 * @dev:       out: the device of the inode's super block (kernel dev_t,
 *             encoded as by new_encode_dev(), as stat(2)'s st_dev).
 * @ino:       out: the inode number.
 * @replaced:  in: zero; out: with SBX_INSTALL_F_REPLACE, the policy of the
 *             entry that was replaced (its use is dropped: SBX_IOC_UNLOAD can
 *             follow), or 0 if the inode had none.
 * @reserved1: in: zero.
 * @reserved:  in: zero.
 *
 * The module reads the whole file (through a read-only open of @exe_fd's path,
 * with writes to the inode denied meanwhile) and keeps its SHA-256 and a
 * stamp of the inode (size, mtime, ctime) in the entry. From then on, every
 * successful exec of that inode by a thread that is not armed is enforced
 * with the policy, with @mode, @action and @exec, from the new image's entry,
 * exactly as after SBX_IOC_ARM, provided the file still has that content: an
 * exec whose inode's stamp differs has the file hashed again before the new
 * image runs (in the exec'ing thread, on its way back to user mode), and a
 * different digest kills the process with a SBX_REASON_EXE_REBUILT record
 * (whatever @action is). An enforced or unconfined thread that execs an
 * installed file leaves its old state and takes the entry's policy, unless
 * its transition is SBX_EXEC_DENY. (An armed thread keeps what it was armed
 * with.) The entry holds a use of the policy (SBX_IOC_UNLOAD fails with EBUSY
 * until the entry is removed); it costs other processes nothing until an
 * exec matches it (only then does the thread get the syscall tracing flag,
 * specs/kernel-abi.md "The tracing flag"). It stays until
 * SBX_IOC_REMOVE, a replacement, or the module is unloaded; it does not pin
 * the module.
 *
 * With SBX_INSTALL_F_REPLACE an existing entry of the inode is replaced in one
 * step (an exec meanwhile finds the old entry or the new one, never none);
 * threads it enforces stay enforced with the old policy. Without an entry the
 * flag changes nothing.
 *
 * The file matched is the one the kernel finally runs (for a "#!" script,
 * its interpreter). Other files with the same content (copies) are not
 * covered; hard links are.
 *
 * Errors: EPERM (as for SBX_IOC_LOAD); EFAULT (the argument cannot be read or
 * written back; in the latter case the entry is removed again); EINVAL
 * (unknown @mode, @action or @exec, an unknown @flags bit, @mode disagrees
 * with the blob, a reserved field or @replaced not zero, or @exe_fd is not a
 * regular file); EBADF (@exe_fd is not an open descriptor); ETXTBSY (the file
 * is open for writing); EINTR (a fatal signal while reading it); ENOENT (no
 * policy has this id); EEXIST (the inode already has an entry, without
 * SBX_INSTALL_F_REPLACE); ENOSPC (already SBX_MAX_INSTALLED entries); ENOMEM
 * (out of memory); or the error of opening or reading the file (e.g. EIO).
 */
struct sbx_ioc_install {
	__u32 id;
	__u32 mode;
	__u32 action;
	__u32 flags;
	__s32 exe_fd;
	__u32 exec;
	__u64 dev;
	__u64 ino;
	__u32 replaced;
	__u32 reserved1;
	__u64 reserved;
};

/* Flags of struct sbx_ioc_install. */
#define SBX_INSTALL_F_REPLACE 0x1 /* replace the inode's entry, if any */

/* At most this many registry entries. */
#define SBX_MAX_INSTALLED 256

/**
 * struct sbx_ioc_remove - argument of SBX_IOC_REMOVE: remove a registry entry.
 * @flags:     in: zero or SBX_REMOVE_F_INODE.
 * @exe_fd:    in: without SBX_REMOVE_F_INODE, a descriptor of the executable
 *             (O_PATH is enough); ignored with it.
 * @dev:       in: with SBX_REMOVE_F_INODE, the entry's @dev (as reported by
 *             SBX_IOC_INSTALL and SBX_IOC_LIST), so that an entry can be
 *             removed after its file was deleted; zero without it.
 * @ino:       in: with SBX_REMOVE_F_INODE, the entry's @ino; zero without it.
 * @policy_id: out: the policy the entry used (now unused by it).
 * @reserved0: in: zero.
 *
 * Threads already enforced through the entry stay enforced. When the call
 * returns, the entry no longer holds its policy (SBX_IOC_UNLOAD can follow).
 *
 * Errors: EPERM (as for SBX_IOC_LOAD); EFAULT (the argument cannot be read,
 * or @policy_id cannot be written back: the entry is removed all the same);
 * EINVAL (unknown flag, @reserved0 not zero, or @dev or @ino not zero without
 * SBX_REMOVE_F_INODE); EBADF (bad @exe_fd); ENOENT (no entry for the inode).
 */
struct sbx_ioc_remove {
	__u32 flags;
	__s32 exe_fd;
	__u64 dev;
	__u64 ino;
	__u32 policy_id;
	__u32 reserved0;
};

/* Flags of struct sbx_ioc_remove. */
#define SBX_REMOVE_F_INODE 0x1 /* name the entry by @dev and @ino */

/**
 * struct sbx_install_entry - one registry entry, as listed by SBX_IOC_LIST.
 * @dev:       the inode's device (as struct sbx_ioc_install.dev).
 * @ino:       the inode number.
 * @policy_id: the policy.
 * @mode:      SBX_MODE_*.
 * @action:    SBX_ACTION_*.
 * @processes: processes (thread groups) enforced now that the entry
 *             started: their enforced threads whose pid is their tgid (a
 *             process forked from one of them counts; one that left the
 *             entry's policy by exec does not).
 * @execs:     execs enforced through the entry since it was installed.
 * @exec:      the entry's exec transition, SBX_EXEC_*.
 * @refused:   execs of the inode refused since it was installed because its
 *             content was no longer the one installed (SBX_REASON_EXE_REBUILT).
 */
struct sbx_install_entry {
	__u64 dev;
	__u64 ino;
	__u32 policy_id;
	__u32 mode;
	__u32 action;
	__u32 processes;
	__u64 execs;
	__u32 exec;
	__u32 refused;
};

/**
 * struct sbx_ioc_list - argument of SBX_IOC_LIST: the registry.
 * @entries:  in: user address of an array of @max struct sbx_install_entry.
 * @max:      in: its capacity (0 is allowed: only @count is reported).
 * @count:    out: the number of entries; min(@count, @max) are written, in
 *            order of installation.
 * @reserved: in: zero.
 *
 * Allowed to anyone holding a descriptor (as SBX_IOC_STATUS).
 *
 * Errors: EFAULT; EINVAL (@reserved not zero); ENOMEM.
 */
struct sbx_ioc_list {
	__u64 entries;
	__u32 max;
	__u32 count;
	__u64 reserved;
};

/* Thread states (struct sbx_task_entry.state). */
#define SBX_STATE_ARMED	     1
#define SBX_STATE_ENFORCED   2
#define SBX_STATE_UNCONFINED 3 /* no policy, never privileged */

/* Flags of struct sbx_task_entry. */
#define SBX_TASK_F_KILLED    0x1 /* a violation killed the process */
#define SBX_TASK_F_LOST	     0x2 /* log mode: resynchronising */
#define SBX_TASK_F_INSTALLED 0x4 /* enforced through a registry entry */

/**
 * struct sbx_task_entry - one armed or enforced thread, as listed by
 * SBX_IOC_TASKS.
 * @pid:        thread group id, in the initial pid namespace.
 * @tid:        thread id, in the initial pid namespace.
 * @policy_id:  its policy (0 when unconfined).
 * @state:      SBX_STATE_ARMED, SBX_STATE_ENFORCED or SBX_STATE_UNCONFINED.
 * @mode:       SBX_MODE_* (from the policy's blob; 0 when unconfined).
 * @action:     SBX_ACTION_* (0 when unconfined).
 * @markers:    markers the thread made while enforced (not counting those of
 *              the thread it was forked from).
 * @violations: violations of the thread.
 * @flags:      SBX_TASK_F_*.
 * @comm:       the command name, NUL-terminated.
 * @reserved:   zero.
 */
struct sbx_task_entry {
	__u32 pid;
	__u32 tid;
	__u32 policy_id;
	__u32 state;
	__u32 mode;
	__u32 action;
	__u64 markers;
	__u32 violations;
	__u32 flags;
	char comm[16];
	__u64 reserved;
};

/**
 * struct sbx_ioc_tasks - argument of SBX_IOC_TASKS: the sandboxed threads.
 * @entries:  in: user address of an array of @max struct sbx_task_entry.
 * @max:      in: its capacity (0 is allowed).
 * @count:    out: the number of armed, enforced and unconfined threads;
 *            min(@count, @max)
 *            are written, in no particular order. A snapshot: threads may
 *            come and go while it is taken.
 * @reserved: in: zero.
 *
 * Allowed to anyone holding a descriptor (as SBX_IOC_STATUS).
 *
 * Errors: EFAULT; EINVAL (@reserved not zero); ENOMEM.
 */
struct sbx_ioc_tasks {
	__u64 entries;
	__u32 max;
	__u32 count;
	__u64 reserved;
};

/**
 * struct sbx_policy_entry - one loaded policy and its record queue, as listed
 * by SBX_IOC_POLICIES.
 * @id:           the policy's id.
 * @blob_flags:   the blob header's flags (SBX_BLOB_F_NFA, ...).
 * @size:         the blob's size in bytes.
 * @users:        thread states in the task table, registry entries and arms
 *                or installs in progress that use it (SBX_IOC_UNLOAD fails
 *                with EBUSY while not zero).
 * @violations:   violations recorded for it since it was loaded (each one,
 *                whether or not its record was queued).
 * @dropped:      its records lost: log records evicted from its full queue
 *                or not queued because of its rate limit, and
 *                @kills_dropped.
 * @dropped_rate: of @dropped, the log records refused by the rate limit.
 * @queued:       its records waiting to be read.
 * @queued_kills: of @queued, the kill records.
 * @queue_size:   SBX_QUEUE_SIZE, the slots for its log records.
 * @kills_dropped: its kill records lost (see SBX_IOC_READ; 0 unless more than
 *                SBX_QUEUE_SIZE tasks that never ran were killed, unread).
 * @reserved:     zero.
 */
struct sbx_policy_entry {
	__u32 id;
	__u32 blob_flags;
	__u32 size;
	__u32 users;
	__u64 violations;
	__u64 dropped;
	__u64 dropped_rate;
	__u32 queued;
	__u32 queued_kills;
	__u32 queue_size;
	__u32 kills_dropped;
	__u64 reserved;
};

/**
 * struct sbx_ioc_policies - argument of SBX_IOC_POLICIES: the loaded
 * policies and their record queues.
 * @entries:  in: user address of an array of @max struct sbx_policy_entry.
 * @max:      in: its capacity (0 is allowed: only @count is reported).
 * @count:    out: the number of loaded policies; min(@count, @max) are
 *            written, in order of id. A snapshot: policies may come and go
 *            while it is taken.
 * @reserved: in: zero.
 *
 * Allowed to anyone holding a descriptor (as SBX_IOC_STATUS).
 *
 * Errors: EFAULT; EINVAL (@reserved not zero); ENOMEM.
 */
struct sbx_ioc_policies {
	__u64 entries;
	__u32 max;
	__u32 count;
	__u64 reserved;
};

#define SBX_IOC_LOAD   _IOWR(SBX_IOC_MAGIC, 0x01, struct sbx_ioc_load)
#define SBX_IOC_UNLOAD _IOW(SBX_IOC_MAGIC, 0x02, struct sbx_ioc_unload)
#define SBX_IOC_ARM    _IOW(SBX_IOC_MAGIC, 0x03, struct sbx_ioc_arm)
#define SBX_IOC_STATUS _IOR(SBX_IOC_MAGIC, 0x04, struct sbx_ioc_status)
/*
 * READ was number 0x05 in version 1, whose records were 96 bytes: the record
 * array's size is not part of the ioctl number, so the number changed with
 * the record, and a version 1 reader gets ENOTTY instead of an overrun.
 */
#define SBX_IOC_READ	 _IOWR(SBX_IOC_MAGIC, 0x0a, struct sbx_ioc_read)
#define SBX_IOC_INSTALL	 _IOWR(SBX_IOC_MAGIC, 0x06, struct sbx_ioc_install)
#define SBX_IOC_REMOVE	 _IOWR(SBX_IOC_MAGIC, 0x07, struct sbx_ioc_remove)
#define SBX_IOC_LIST	 _IOWR(SBX_IOC_MAGIC, 0x08, struct sbx_ioc_list)
#define SBX_IOC_TASKS	 _IOWR(SBX_IOC_MAGIC, 0x09, struct sbx_ioc_tasks)
#define SBX_IOC_POLICIES _IOWR(SBX_IOC_MAGIC, 0x10, struct sbx_ioc_policies)

#endif /* _UAPI_SBX_IOCTL_H */
