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

#endif /* _UAPI_SBX_MARKER_H */
