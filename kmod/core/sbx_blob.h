/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sbx_blob.h - the binary policy blob that userspace loads into the monitor.
 *
 * Specified in specs/kernel-abi.md ("Policy blob"). A blob is a compiled Dyck
 * (or flattened NFA) policy: a deterministic machine over macro-states, each a
 * set of (function, state) pairs the monitor's frontier can be. Marker ids are
 * always those of the Dyck policy the program was instrumented for: an NFA blob
 * (SBX_BLOB_F_NFA) keeps its site count, has no site section and no call keys,
 * and lets CALL/RET/TAIL of a valid site pass without effect. Every multi-byte
 * number is little-endian; the structures below document the layout and are
 * never overlaid on a blob (the reader loads fields byte by byte, so a blob may
 * sit at any alignment).
 */
#ifndef _SBX_BLOB_H
#define _SBX_BLOB_H

#include "sbx_types.h"

#define SBX_BLOB_MAGIC		0x42584253U	/* "SBXB" */
#define SBX_BLOB_VERSION	2U

/* Header flags. Every other bit must be zero. */
#define SBX_BLOB_F_NFA		0x1U	/* the flattened model: sites pass, no stack */
#define SBX_BLOB_F_ALL		SBX_BLOB_F_NFA

/* Macro-state flags. Every other bit must be zero. */
#define SBX_MSTATE_F_FINAL	0x1U	/* holds a final state of its function */
#define SBX_MSTATE_F_ALL	SBX_MSTATE_F_FINAL

/* Transition keys: bit 31 is the label kind, bits 30..0 the symbol or site id. */
#define SBX_KEY_CALL		0x80000000U
#define SBX_KEY_ID_MASK		0x7fffffffU
#define SBX_KEY_LIBC(sym)	((sbx_u32)(sym))
#define SBX_KEY_SITE(site)	(SBX_KEY_CALL | (sbx_u32)(site))

/*
 * Caps. A blob over any of them is refused with -SBX_E2BIG, so the kernel never
 * holds more than SBX_BLOB_MAX_SIZE bytes of policy per process image, and never
 * more than SBX_STACK_LIMIT_MAX frames per thread.
 */
#define SBX_BLOB_MAX_SIZE	(64U << 20)
#define SBX_MAX_SYMBOLS		(1U << 20)
#define SBX_MAX_FUNCTIONS	(1U << 20)
#define SBX_MAX_SITES		(1U << 22)
#define SBX_MAX_CALLBACKS	(1U << 20)
#define SBX_MAX_MSTATES		(1U << 21)
#define SBX_MAX_TRANS		(1U << 22)
#define SBX_STACK_LIMIT_MAX	(1U << 14)
#define SBX_STACK_LIMIT_DEFAULT	1024U

/**
 * struct sbx_blob_header - the first 80 bytes of a policy blob.
 * @magic:          SBX_BLOB_MAGIC, bytes "SBXB".
 * @version:        SBX_BLOB_VERSION.
 * @header_size:    sizeof(struct sbx_blob_header) = 80.
 * @flags:          SBX_BLOB_F_*; unknown bits are refused.
 * @total_size:     size of the whole blob in bytes; equals the size loaded.
 * @stack_limit:    frames per thread, root frame included: 1..SBX_STACK_LIMIT_MAX.
 * @nr_symbols:     LIBC ids are 0..nr_symbols-1.
 * @nr_functions:   CB_ENTER/CB_EXIT ids are 0..nr_functions-1; at least 1.
 * @nr_sites:       CALL/RET/TAIL ids are 0..nr_sites-1; entries of the site
 *                  section, which is empty with SBX_BLOB_F_NFA.
 * @nr_callbacks:   entries of the callback section.
 * @nr_mstates:     entries of the macro-state section; at least 1.
 * @nr_trans:       entries of the transition section.
 * @initial_mstate: the root frame's macro-state at process start (exec).
 * @thread_mstate:  the root frame's macro-state of a new thread: the empty
 *                  frontier, a macro-state without transitions or flags.
 * @mstates_off:    offset of the macro-state section: 80.
 * @trans_off:      mstates_off + 12 * nr_mstates.
 * @sites_off:      trans_off + 8 * nr_trans.
 * @callbacks_off:  sites_off + 4 * nr_sites (sites_off with SBX_BLOB_F_NFA);
 *                  and total_size is callbacks_off + 8 * nr_callbacks.
 * @reserved:       zero.
 *
 * sbx_blob_validate() returns -SBX_E2BIG when the blob is larger than
 * SBX_BLOB_MAX_SIZE, a count exceeds its SBX_MAX_* cap or @stack_limit exceeds
 * SBX_STACK_LIMIT_MAX; -SBX_EINVAL for anything else that is not exactly as
 * described here: short blob, wrong magic, unknown version, header size or flag,
 * @total_size different from the size loaded, non-zero reserved field, a section
 * offset other than the one given, an index out of range, unsorted transitions,
 * a call key with SBX_BLOB_F_NFA.
 */
struct sbx_blob_header {
	sbx_u32 magic;
	sbx_u32 version;
	sbx_u32 header_size;
	sbx_u32 flags;
	sbx_u32 total_size;
	sbx_u32 stack_limit;
	sbx_u32 nr_symbols;
	sbx_u32 nr_functions;
	sbx_u32 nr_sites;
	sbx_u32 nr_callbacks;
	sbx_u32 nr_mstates;
	sbx_u32 nr_trans;
	sbx_u32 initial_mstate;
	sbx_u32 thread_mstate;
	sbx_u32 mstates_off;
	sbx_u32 trans_off;
	sbx_u32 sites_off;
	sbx_u32 callbacks_off;
	sbx_u32 reserved[2];
};

/**
 * struct sbx_blob_mstate - one macro-state (12 bytes).
 * @first_trans: index of its first transition; equals the sum of nr_trans of
 *               all earlier macro-states (transitions are stored in macro-state
 *               order, without gaps).
 * @nr_trans:    number of its transitions.
 * @flags:       SBX_MSTATE_F_*; unknown bits are refused (-SBX_EINVAL).
 */
struct sbx_blob_mstate {
	sbx_u32 first_trans;
	sbx_u32 nr_trans;
	sbx_u32 flags;
};

/**
 * struct sbx_blob_trans - one transition (8 bytes).
 * @key:    SBX_KEY_LIBC(symbol) or SBX_KEY_SITE(site); within a macro-state
 *          keys are strictly ascending (so every LIBC key precedes every CALL
 *          key); symbol < nr_symbols, site < nr_sites, no SBX_KEY_SITE with
 *          SBX_BLOB_F_NFA (-SBX_EINVAL otherwise).
 * @target: the macro-state after the event (for a CALL key: the caller's
 *          continuation); < nr_mstates.
 */
struct sbx_blob_trans {
	sbx_u32 key;
	sbx_u32 target;
};

/**
 * struct sbx_blob_site - one call site (4 bytes), indexed by site id; none
 * with SBX_BLOB_F_NFA.
 * @entered: the macro-state of a frame pushed by CALL (or installed by TAIL):
 *           the initial states of the site's callees; < nr_mstates.
 */
struct sbx_blob_site {
	sbx_u32 entered;
};

/**
 * struct sbx_blob_callback - one callback (8 bytes).
 * @function: function index, the CB_ENTER/CB_EXIT id (with SBX_BLOB_F_NFA too);
 *            strictly ascending over the section, < nr_functions.
 * @entered:  the macro-state of a frame pushed by CB_ENTER: the function's
 *            initial state (with SBX_BLOB_F_NFA: its flattened root's);
 *            < nr_mstates.
 */
struct sbx_blob_callback {
	sbx_u32 function;
	sbx_u32 entered;
};

_Static_assert(sizeof(struct sbx_blob_header) == 80, "blob header size");
_Static_assert(sizeof(struct sbx_blob_mstate) == 12, "macro-state size");
_Static_assert(sizeof(struct sbx_blob_trans) == 8, "transition size");
_Static_assert(sizeof(struct sbx_blob_site) == 4, "site size");
_Static_assert(sizeof(struct sbx_blob_callback) == 8, "callback size");

#define SBX_BLOB_HEADER_SIZE	80U
#define SBX_BLOB_MSTATE_SIZE	12U
#define SBX_BLOB_TRANS_SIZE	8U
#define SBX_BLOB_SITE_SIZE	4U
#define SBX_BLOB_CALLBACK_SIZE	8U

/**
 * struct sbx_policy_view - a validated blob, as the monitor steps it.
 * @mstates:   the macro-state section (points into the blob).
 * @trans:     the transition section.
 * @sites:     the site section (empty with SBX_BLOB_F_NFA).
 * @callbacks: the callback section.
 * @flags ... @thread_mstate: the header fields of the same names.
 *
 * A view borrows the blob's memory: the blob must stay alive and unchanged as
 * long as the view is used. Filled only by sbx_blob_validate().
 */
struct sbx_policy_view {
	const sbx_u8 *mstates;
	const sbx_u8 *trans;
	const sbx_u8 *sites;
	const sbx_u8 *callbacks;
	sbx_u32 flags;
	sbx_u32 stack_limit;
	sbx_u32 nr_symbols;
	sbx_u32 nr_functions;
	sbx_u32 nr_sites;
	sbx_u32 nr_callbacks;
	sbx_u32 nr_mstates;
	sbx_u32 nr_trans;
	sbx_u32 initial_mstate;
	sbx_u32 thread_mstate;
};

int sbx_blob_validate(const void *data, sbx_u64 size, struct sbx_policy_view *out);

#endif /* _SBX_BLOB_H */
