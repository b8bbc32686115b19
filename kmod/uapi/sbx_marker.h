/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sbx_marker.h - the marker system call ABI shared by instrumented programs,
 * the sbx_dyck kernel module and the sbx userspace tools.
 *
 * Specified in specs/marker-abi.md. Included by C code in the kernel and in
 * userspace; it depends only on <linux/types.h> (struct sbx_evbuf), which the
 * freestanding monitor core (kmod/core), which includes no system header,
 * replaces with its own fixed-width types.
 */
#ifndef _UAPI_SBX_MARKER_H
#define _UAPI_SBX_MARKER_H

#ifdef _SBX_TYPES_H
/* The same types as the kernel's (asm-generic/int-ll64.h): a C11 redefinition. */
typedef sbx_u32 __u32;
typedef sbx_u64 __u64;
#else
#include <linux/types.h>
#endif

/*
 * The marker system call number on x86-64. No kernel assigns it, so without the
 * monitor it fails with -ENOSYS and has no effect.
 */
#define SBX_MARKER_NR 999

/*
 * Kinds of marker, passed in %rdi. The id, passed in %rsi, is interpreted per kind.
 * %rdx holds the address of the marker's pinned-site entry (below).
 *
 * @SBX_MARK_LIBC:      a libc call is about to be made; id = symbol id in the
 *                      policy's symbol table.
 * @SBX_MARK_CALL:      an instrumented call site is about to call; id = site id.
 * @SBX_MARK_RET:       the call at an instrumented site has returned; id = site id.
 * @SBX_MARK_CB_ENTER:  libc is entering a program callback; id = the callback's
 *                      function index in the policy.
 * @SBX_MARK_CB_EXIT:   that callback is returning to libc; id = function index.
 * @SBX_MARK_TAIL:      an instrumented site makes a musttail call: the callee
 *                      replaces the current invocation; id = site id.
 * @SBX_MARK_SJ_SAVE:   setjmp returned directly (0); id = setjmp call number.
 * @SBX_MARK_SJ_RESUME: setjmp returned through longjmp (non-zero); id = setjmp
 *                      call number.
 */
#define SBX_MARK_LIBC	   1
#define SBX_MARK_CALL	   2
#define SBX_MARK_RET	   3
#define SBX_MARK_CB_ENTER  4
#define SBX_MARK_CB_EXIT   5
#define SBX_MARK_TAIL	   6
#define SBX_MARK_SJ_SAVE   7
#define SBX_MARK_SJ_RESUME 8

#define SBX_MARK_KIND_MAX SBX_MARK_SJ_RESUME

/* Ids are 32-bit; the upper half of %rsi must be zero. */
#define SBX_MARK_ID_MAX 0xffffffffUL

/*
 * Pinned sites. Every marker is the sequence
 *
 *	lea  ENTRY(%rip), %rdx
 *	syscall
 *
 * with %rax = SBX_MARKER_NR, %rdi = kind, %rsi = id, and %rdx = the run-time address
 * of the marker's entry in the executable's SBX_SITES_SECTION. An entry is
 * SBX_SITE_ENTRY_SIZE bytes, aligned to its size, four little-endian 32-bit words:
 *
 *	s32 offset;	site (the syscall instruction) minus the entry's address
 *	u32 kind;	the kind the marker must carry in %rdi
 *	u32 id;		the id it must carry in %rsi
 *	u32 reserved;	0
 *
 * With B the executable's load bias and IP the address after the syscall, a monitor
 * accepts the marker only if %rdx - B lies inside the section, 16-aligned relative
 * to its start, and the entry's site (entry + offset) is IP - 2 - B, with the
 * entry's kind and id equal to %rdi and %rsi. See specs/marker-abi.md.
 */
/*
 * The answer to a marker: the value the syscall leaves in %rax.
 *
 * @SBX_MARKER_KEEP:      -ENOSYS (-38): keep issuing every marker. What every
 *                        kernel returns for system call 999 (no module, a thread
 *                        that is not enforced, a dyck-mode thread, the ptrace
 *                        recorder), so it is never an instruction to skip.
 * @SBX_MARKER_NO_SITES:  the answer of the module to an allowed CALL, RET or TAIL
 *                        marker of a thread enforced in nfa mode (while the
 *                        module parameter nfa_site_answer is on): this process
 *                        image's CALL, RET and TAIL markers change nothing, the
 *                        program may stop issuing them. Any other value means
 *                        SBX_MARKER_KEEP.
 *
 * Instrumented code keeps one byte per process image, SBX_SKIP_SITES_SYMBOL
 * (0 at exec): a CALL, RET or TAIL marker is skipped while it is non-zero, and
 * sets it to 1 when answered SBX_MARKER_NO_SITES. The byte is never trusted:
 * the monitor checks the markers it receives exactly as before, so a corrupted
 * byte can only remove markers from what it sees (specs/marker-abi.md,
 * "Answers").
 */
#define SBX_MARKER_KEEP	      (-38L)
#define SBX_MARKER_NO_SITES   0x53425801L
#define SBX_SKIP_SITES_SYMBOL "__sbx_skip_sites"

#define SBX_SITES_SECTION   ".sbx_sites"
#define SBX_SITE_ENTRY_SIZE 16

/*
 * Buffered events (specs/marker-abi.md, "Buffered events"; specs/kernel-abi.md,
 * "Buffered events"). A program built with dyck-cc --dyck-buffer appends the
 * events of bufferable libc calls and of its sites to this per-thread buffer
 * instead of issuing markers; the monitor replays it at the thread's next
 * system call. One per thread: the TLS object SBX_EVBUF_SYMBOL, found through
 * the executable's SBX_EVBUF_SECTION (16 bytes: u32 format version
 * SBX_EVBUF_FORMAT, u32 capacity SBX_EVBUF_CAP, s64 the object's local-exec
 * TLS offset from the thread pointer, all little-endian).
 */
/* The definition as the design gives it, byte for byte. */
/* clang-format off */
#define SBX_EVBUF_CAP 32
struct sbx_evbuf {            /* thread-local, zero-initialised */
	__u32 count;          /* hint: 1 + index of the last append */
	__u32 reserved;       /* 0 */
	__u64 ev[SBX_EVBUF_CAP]; /* 0 = free slot; else (u64)kind << 32 | id */
};
/* clang-format on */

/* The layout as numbers: count at byte 0, reserved at 4, ev[i] at 8 + 8 * i. */
#define SBX_EVBUF_COUNT_OFFSET 0
#define SBX_EVBUF_EV_OFFSET    8

#define SBX_EVBUF_SYMBOL       "__sbx_evbuf"
#define SBX_EVBUF_SECTION      ".sbx_evbuf"
#define SBX_EVBUF_SECTION_SIZE 16
#define SBX_EVBUF_FORMAT       1

#endif /* _UAPI_SBX_MARKER_H */
