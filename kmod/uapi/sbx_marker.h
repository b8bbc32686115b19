/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sbx_marker.h - the marker system call ABI shared by instrumented programs,
 * the sbx_dyck kernel module and the sbx userspace tools.
 *
 * Specified in specs/marker-abi.md. Included by C code in the kernel and in
 * userspace; it depends on no other header.
 */
#ifndef _UAPI_SBX_MARKER_H
#define _UAPI_SBX_MARKER_H

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
#define SBX_MARK_LIBC      1
#define SBX_MARK_CALL      2
#define SBX_MARK_RET       3
#define SBX_MARK_CB_ENTER  4
#define SBX_MARK_CB_EXIT   5
#define SBX_MARK_TAIL      6
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
#define SBX_SITES_SECTION ".sbx_sites"
#define SBX_SITE_ENTRY_SIZE 16

#endif /* _UAPI_SBX_MARKER_H */
