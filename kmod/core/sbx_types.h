/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sbx_types.h - fixed-width types and error numbers for the freestanding
 * monitor core.
 *
 * The core is compiled into the kernel module, into userspace tests and
 * fuzzers, and into the sbx tool. It includes no kernel or libc header: the
 * types come from the compiler's predefined macros and carry an sbx_ prefix
 * so that they never clash with the kernel's u8..u64. sbx_u64 is unsigned
 * long long, as the kernel's u64 is (asm-generic/int-ll64.h), rather than
 * __UINT64_TYPE__ (unsigned long on x86-64), so that the two are the same type.
 */
#ifndef _SBX_TYPES_H
#define _SBX_TYPES_H

typedef __UINT8_TYPE__ sbx_u8;
typedef __UINT16_TYPE__ sbx_u16;
typedef __UINT32_TYPE__ sbx_u32;
typedef unsigned long long sbx_u64;

_Static_assert(sizeof(sbx_u8) == 1, "sbx_u8");
_Static_assert(sizeof(sbx_u16) == 2, "sbx_u16");
_Static_assert(sizeof(sbx_u32) == 4, "sbx_u32");
_Static_assert(sizeof(sbx_u64) == 8, "sbx_u64");

#ifndef NULL
#define NULL ((void *)0)
#endif

/*
 * Error numbers returned (negated) by the core. The values are Linux's, so
 * the module may return them to userspace unchanged: -SBX_EINVAL == -EINVAL.
 */
#define SBX_E2BIG  7
#define SBX_EINVAL 22

#endif /* _SBX_TYPES_H */
