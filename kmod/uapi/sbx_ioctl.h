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
 * STATUS, LIST and TASKS are allowed to anyone who holds an open descriptor.
 * LOAD, UNLOAD, ARM, READ, INSTALL and REMOVE need both:
 *  - CAP_SYS_ADMIN in the initial user namespace in the credentials of the
 *    file's opener (checked at ioctl time on file->f_cred, so what counts is
 *    the capability the descriptor was opened with, not the caller's), and
 *  - a caller that is not sandboxed: a thread that is armed or enforced can
 *    never load, unload, arm, read, install or remove, even as root and even
 *    with a descriptor opened by someone else.
 * Otherwise they fail with EPERM. There is no ioctl to disarm or detach: once
 * armed or enforced, a thread stays so until it execs (see SBX_IOC_ARM) or
 * exits.
 */
#ifndef _UAPI_SBX_IOCTL_H
#define _UAPI_SBX_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SBX_DEVICE_NAME		"sbx"
#define SBX_DEVICE_PATH		"/dev/sbx"

/* The version of this interface, reported by SBX_IOC_STATUS. */
#define SBX_ABI_VERSION		3

#define SBX_IOC_MAGIC		0xDB

/* Enforcement modes (struct sbx_ioc_arm.mode). */
#define SBX_MODE_DYCK		1	/* blob built without SBX_BLOB_F_NFA */
#define SBX_MODE_NFA		2	/* blob built with SBX_BLOB_F_NFA */

/* What a violation does (struct sbx_ioc_arm.action). */
#define SBX_ACTION_KILL		1	/* SIGKILL the process; block the syscall */
#define SBX_ACTION_LOG		2	/* record it; the process continues */

/*
 * Reasons of a violation record (struct sbx_violation_record.reason). Values
 * 1..9 and 20..22 are the monitor core's enum sbx_reason
 * (kmod/core/sbx_monitor.h), the others are the module's own.
 */
#define SBX_REASON_UNKNOWN_KIND		1	/* marker kind not in 1..8 */
#define SBX_REASON_ID_RANGE		2	/* marker id out of range for its kind */
#define SBX_REASON_NOT_ALLOWED		3	/* no transition for the marker */
#define SBX_REASON_WRONG_RETURN		4	/* RET/CB_EXIT does not match the top frame */
#define SBX_REASON_CANNOT_RETURN	5	/* top frame cannot return yet */
#define SBX_REASON_NOT_CALLBACK		6	/* CB_ENTER of a function that is no callback */
#define SBX_REASON_STACK_OVERFLOW	7	/* push beyond the stack limit */
#define SBX_REASON_NO_SETJMP		8	/* SJ_RESUME without a matching SJ_SAVE */
#define SBX_REASON_BAD_STATE		9	/* thread state inconsistent (a bug) */
#define SBX_REASON_COMPAT_SYSCALL	16	/* a 32-bit (int 0x80) or x32 syscall */
#define SBX_REASON_IO_URING		17	/* io_uring_setup/_enter/_register */
#define SBX_REASON_NO_MEMORY		18	/* no monitor state for a new thread or child */
#define SBX_REASON_EXE_MISMATCH		19	/* armed with SBX_ARM_F_EXE, another file was exec'd */
#define SBX_REASON_SYSCALL_WINDOW	20	/* a system call outside its window's set */
#define SBX_REASON_EXEC_MAPPING		21	/* PROT_EXEC in a window that may not map code */
#define SBX_REASON_UNPINNED		22	/* a marker not from its pinned site */
#define SBX_REASON_FORBIDDEN_SYSCALL	23	/* a system call never allowed (kernel-abi.md) */
#define SBX_REASON_PROC_MEM_WRITE	24	/* a /proc/<pid>/mem opened for writing */

/* Flags of a violation record (struct sbx_violation_record.flags). */
#define SBX_REC_F_MARKER	0x1	/* the event was a marker (syscall 999) */
#define SBX_REC_F_IA32		0x2	/* the syscall came through the ia32 ABI */
#define SBX_REC_F_X32		0x4	/* the syscall came through the x32 ABI */
#define SBX_REC_F_KILLED	0x8	/* the process was sent SIGKILL */

/**
 * struct sbx_ioc_load - argument of SBX_IOC_LOAD: load a policy blob.
 * @blob:       in: user address of the blob (specs/kernel-abi.md, "Policy blob").
 * @size:       in: its size in bytes, at most SBX_BLOB_MAX_SIZE (64 MiB).
 * @flags:      in: zero.
 * @id:         out: the new policy's id, >= 1, never reused while the module
 *              stays loaded.
 * @blob_flags: out: the blob header's flags (bit 0: SBX_BLOB_F_NFA), so the
 *              caller knows which mode the policy can be armed with.
 * @reserved:   in: zero.
 *
 * The module copies the blob once into kernel memory and validates that copy
 * with sbx_blob_validate(); the policy is then immutable.
 *
 * Errors: EPERM (the descriptor was not opened with CAP_SYS_ADMIN, or the
 * caller is sandboxed); EFAULT (the argument or the blob cannot be read, or
 * @id cannot be written back); EINVAL (@flags or @reserved not zero, or the
 * blob is invalid); E2BIG (@size above SBX_BLOB_MAX_SIZE, or the blob exceeds
 * a cap of its format); ENOSPC (already max_policies policies loaded, or their
 * total size would exceed max_policy_bytes; see the module parameters);
 * ENOMEM (out of memory).
 */
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
 * @reserved0: in: zero.
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
 * armed or enforced); EFAULT (the argument cannot be read); EINVAL (unknown
 * @mode or @action, an unknown @flags bit, @reserved0 or @reserved not zero);
 * with SBX_ARM_F_EXE: EBADF (@exe_fd is not an open descriptor), EINVAL
 * (@exe_fd is not a regular file); ENOENT (no policy has this id); EINVAL
 * (@mode disagrees with the blob); EBUSY (the calling process has more than
 * one thread); ENOSPC (the policy's task budget, max_tasks_per_policy, is
 * used up); ENOMEM (out of memory); or the error of registering the sys_enter
 * tracepoint probe.
 */
struct sbx_ioc_arm {
	__u32 id;
	__u32 mode;
	__u32 action;
	__u32 flags;
	__s32 exe_fd;
	__u32 reserved0;
	__u64 reserved;
};

/* Flags of struct sbx_ioc_arm. */
#define SBX_ARM_F_EXE		0x1	/* bind to the inode of @exe_fd */

/**
 * struct sbx_ioc_status - result of SBX_IOC_STATUS: the module's state.
 * @abi_version:        SBX_ABI_VERSION of the running module.
 * @nr_policies:        policies loaded.
 * @enforced_tasks:     threads currently enforced.
 * @armed_tasks:        threads currently armed (waiting for their exec).
 * @markers:            markers stepped for enforced threads since load.
 * @violations:         violations detected since load (each one, whether or
 *                      not its record was queued).
 * @records_dropped:    records lost since load: overwritten in the full ring
 *                      (drop-oldest) or not queued because of the rate limit.
 * @alloc_failures:     threads and processes killed since load because no
 *                      monitor state could be allocated for them (fail closed).
 * @policy_bytes:       total size of the loaded blobs.
 * @ring_size:          capacity of the violation ring, in records.
 * @ring_count:         records waiting in the ring.
 * @nr_installed:       entries of the per-executable registry (SBX_IOC_INSTALL).
 * @reserved0:          zero.
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
	__u32 reserved0;
	__u64 reserved[3];
};

/* Frames of a violation record's stack (struct sbx_violation_record.stack). */
#define SBX_REC_STACK		16

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
 *              SBX_REASON_EXE_MISMATCH: 0.
 * @kind:       the marker's kind (%rdi) as issued; 0 when not a marker.
 * @id:         the marker's id (%rsi) as issued; for SBX_REASON_SYSCALL_WINDOW
 *              and SBX_REASON_EXEC_MAPPING the window the call was made in:
 *              the symbol id of the last LIBC marker, SBX_WINDOW_START
 *              (0xffffffff) or SBX_WINDOW_NONE (0xfffffffe); else 0.
 * @tag:        the top frame's tag (kmod/core/sbx_monitor.h: 0 root,
 *              0x40000000 | site, 0x80000000 | function) before the event.
 * @mstate:     the top frame's macro-state before the event.
 * @depth:      the stack depth before the event, root frame included (so
 *              >= 1 for a marker; 0 for SBX_REASON_NO_MEMORY and
 *              SBX_REASON_EXE_MISMATCH, whose tag, mstate and stack are 0).
 * @flags:      SBX_REC_F_*.
 * @reserved:   for SBX_REASON_SYSCALL_WINDOW and SBX_REASON_EXEC_MAPPING the
 *              call's third argument (the protection of mmap and mprotect);
 *              for SBX_REASON_UNPINNED the marker's address relative to the
 *              executable's load bias (the link-time address of the syscall
 *              instruction it came from); else zero.
 * @stack:      the tags of the thread's frames before the event, from the top
 *              down: stack[i] is the tag of frame depth-1-i, for
 *              i < min(@depth, SBX_REC_STACK) (so stack[0] == @tag); the
 *              other entries are zero.
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
	__u32 stack[SBX_REC_STACK];
};

/**
 * struct sbx_ioc_read - argument of SBX_IOC_READ: take violation records.
 * @records:  in: user address of an array of @max struct sbx_violation_record.
 * @max:      in: its capacity in records (0 is allowed: only @dropped and the
 *            count are reported).
 * @count:    out: records written, oldest first; they are removed from the ring.
 * @dropped:  out: the records_dropped counter of SBX_IOC_STATUS.
 * @policy_id: in: with SBX_READ_F_POLICY, take only the records of this
 *            policy (the others stay queued, in order); zero otherwise.
 * @flags:    in: zero or SBX_READ_F_POLICY.
 *
 * Never blocks. Records are removed only once copied: on EFAULT the ring is
 * unchanged. Readers are serialised. SBX_READ_F_POLICY lets several
 * supervisors (one `sbx run` per program) share the ring without taking each
 * other's records.
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
#define SBX_READ_F_POLICY	0x1	/* only the records of @policy_id */

/**
 * struct sbx_ioc_install - argument of SBX_IOC_INSTALL: enforce a policy on
 * every exec of one executable, by any process (the per-executable registry).
 * @id:        in: the policy's id.
 * @mode:      in: SBX_MODE_DYCK or SBX_MODE_NFA, agreeing with the blob.
 * @action:    in: SBX_ACTION_KILL or SBX_ACTION_LOG.
 * @flags:     in: zero.
 * @exe_fd:    in: an open descriptor (O_PATH is enough) of the executable, a
 *             regular file.
 * @reserved0: in: zero.
 * @dev:       out: the device of the inode's super block (kernel dev_t,
 *             encoded as by new_encode_dev(), as stat(2)'s st_dev).
 * @ino:       out: the inode number.
 * @reserved:  in: zero.
 *
 * From then on, every successful exec of that inode by a thread that is not
 * armed is enforced with the policy, with @mode and @action, from the new
 * image's entry, exactly as after SBX_IOC_ARM; an enforced thread that execs
 * it leaves its old policy and takes this one. (An armed thread keeps what it
 * was armed with.) The entry holds a use of the policy (SBX_IOC_UNLOAD fails
 * with EBUSY until the entry is removed) and keeps sys_enter attached. It
 * stays until SBX_IOC_REMOVE or the module is unloaded; it does not pin the
 * module.
 *
 * The file matched is the one the kernel finally runs (for a "#!" script,
 * its interpreter). Other files with the same content (copies) are not
 * covered; hard links are.
 *
 * Errors: EPERM (as for SBX_IOC_LOAD); EFAULT (the argument cannot be read or
 * written back; in the latter case the entry is removed again); EINVAL
 * (unknown @mode or @action, @mode disagrees with the blob, @flags or a
 * reserved field not zero, or @exe_fd is not a regular file); EBADF (@exe_fd
 * is not an open descriptor); ENOENT (no policy has this id); EEXIST (the
 * inode already has an entry); ENOSPC (already SBX_MAX_INSTALLED entries);
 * ENOMEM (out of memory); or the error of registering the sys_enter
 * tracepoint probe.
 */
struct sbx_ioc_install {
	__u32 id;
	__u32 mode;
	__u32 action;
	__u32 flags;
	__s32 exe_fd;
	__u32 reserved0;
	__u64 dev;
	__u64 ino;
	__u64 reserved[2];
};

/* At most this many registry entries. */
#define SBX_MAX_INSTALLED	256

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
#define SBX_REMOVE_F_INODE	0x1	/* name the entry by @dev and @ino */

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
 * @reserved:  zero.
 */
struct sbx_install_entry {
	__u64 dev;
	__u64 ino;
	__u32 policy_id;
	__u32 mode;
	__u32 action;
	__u32 processes;
	__u64 execs;
	__u64 reserved;
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
#define SBX_STATE_ARMED		1
#define SBX_STATE_ENFORCED	2

/* Flags of struct sbx_task_entry. */
#define SBX_TASK_F_KILLED	0x1	/* a violation killed the process */
#define SBX_TASK_F_LOST		0x2	/* log mode: resynchronising */
#define SBX_TASK_F_INSTALLED	0x4	/* enforced through a registry entry */

/**
 * struct sbx_task_entry - one armed or enforced thread, as listed by
 * SBX_IOC_TASKS.
 * @pid:        thread group id, in the initial pid namespace.
 * @tid:        thread id, in the initial pid namespace.
 * @policy_id:  its policy.
 * @state:      SBX_STATE_ARMED or SBX_STATE_ENFORCED.
 * @mode:       SBX_MODE_* (from the policy's blob).
 * @action:     SBX_ACTION_*.
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
 * @count:    out: the number of armed and enforced threads; min(@count, @max)
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

#define SBX_IOC_LOAD	_IOWR(SBX_IOC_MAGIC, 0x01, struct sbx_ioc_load)
#define SBX_IOC_UNLOAD	_IOW(SBX_IOC_MAGIC, 0x02, struct sbx_ioc_unload)
#define SBX_IOC_ARM	_IOW(SBX_IOC_MAGIC, 0x03, struct sbx_ioc_arm)
#define SBX_IOC_STATUS	_IOR(SBX_IOC_MAGIC, 0x04, struct sbx_ioc_status)
/*
 * READ was number 0x05 in version 1, whose records were 96 bytes: the record
 * array's size is not part of the ioctl number, so the number changed with
 * the record, and a version 1 reader gets ENOTTY instead of an overrun.
 */
#define SBX_IOC_READ	_IOWR(SBX_IOC_MAGIC, 0x0a, struct sbx_ioc_read)
#define SBX_IOC_INSTALL	_IOWR(SBX_IOC_MAGIC, 0x06, struct sbx_ioc_install)
#define SBX_IOC_REMOVE	_IOWR(SBX_IOC_MAGIC, 0x07, struct sbx_ioc_remove)
#define SBX_IOC_LIST	_IOWR(SBX_IOC_MAGIC, 0x08, struct sbx_ioc_list)
#define SBX_IOC_TASKS	_IOWR(SBX_IOC_MAGIC, 0x09, struct sbx_ioc_tasks)

#endif /* _UAPI_SBX_IOCTL_H */
