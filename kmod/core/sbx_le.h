/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sbx_le.h - little-endian loads from a policy blob.
 *
 * A blob is a byte string in userspace's layout; it may sit at any
 * alignment. These helpers read it byte by byte, which is correct on every
 * architecture and compiles to a single load on x86-64.
 */
#ifndef _SBX_LE_H
#define _SBX_LE_H

#include "sbx_types.h"

static inline sbx_u32 sbx_le32(const sbx_u8 *p)
{
	return (sbx_u32)p[0] | (sbx_u32)p[1] << 8 | (sbx_u32)p[2] << 16 | (sbx_u32)p[3] << 24;
}

static inline sbx_u64 sbx_le64(const sbx_u8 *p)
{
	return (sbx_u64)sbx_le32(p) | (sbx_u64)sbx_le32(p + 4) << 32;
}

#endif /* _SBX_LE_H */
