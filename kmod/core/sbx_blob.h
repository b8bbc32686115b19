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
#include "../uapi/sbx_marker.h"

#define SBX_BLOB_MAGIC	 0x42584253U /* "SBXB" */
#define SBX_BLOB_VERSION 8U

/* Header flags. Every other bit must be zero. */
#define SBX_BLOB_F_NFA	    0x1U /* the flattened model: sites pass, no stack */
#define SBX_BLOB_F_BOUND    0x2U /* system calls are bound to windows (set sections) */
#define SBX_BLOB_F_PINNED   0x4U /* markers are pinned to their sites (pin section) */
#define SBX_BLOB_F_BUFFERED 0x8U /* the program buffers events (evbuf section) */
#define SBX_BLOB_F_ALL	    (SBX_BLOB_F_NFA | SBX_BLOB_F_BOUND | SBX_BLOB_F_PINNED | SBX_BLOB_F_BUFFERED)

/* Macro-state flags. Every other bit must be zero. */
#define SBX_MSTATE_F_FINAL 0x1U /* holds a final state of its function */
#define SBX_MSTATE_F_ALL   SBX_MSTATE_F_FINAL

/* Transition keys: bit 31 is the label kind, bits 30..0 the symbol or site id. */
#define SBX_KEY_CALL	   0x80000000U
#define SBX_KEY_ID_MASK	   0x7fffffffU
#define SBX_KEY_LIBC(sym)  ((sbx_u32)(sym))
#define SBX_KEY_SITE(site) (SBX_KEY_CALL | (sbx_u32)(site))

/*
 * Caps. A blob over any of them is refused with -SBX_E2BIG, so the kernel never
 * holds more than SBX_BLOB_MAX_SIZE bytes of policy per process image, and never
 * more than SBX_STACK_LIMIT_MAX slots (frame entries and setjmp records) per
 * thread. The logical depth of a thread's stack is bounded separately
 * (max_depth): recursion through one site folds into one entry. 2^23
 * transitions and 128 MiB (2^22 and 64 MiB before): the nfa machine of
 * SQLite's shell with inlining (K=16) has 7,870,931 transitions; the blob is
 * kvmalloc'd with GFP_KERNEL_ACCOUNT, once per policy, and max_policy_bytes
 * bounds all of them (specs/kernel-abi.md, "Caps").
 */
#define SBX_BLOB_MAX_SIZE	(128U << 20)
#define SBX_MAX_SYMBOLS		(1U << 20)
#define SBX_MAX_FUNCTIONS	(1U << 20)
#define SBX_MAX_SITES		(1U << 22)
#define SBX_MAX_CALLBACKS	(1U << 20)
#define SBX_MAX_MSTATES		(1U << 21)
#define SBX_MAX_TRANS		(1U << 23)
#define SBX_STACK_LIMIT_MAX	(1U << 14)
#define SBX_MAX_SETS		(1U << 16)
#define SBX_MAX_PINS		(1U << 22)
#define SBX_STACK_LIMIT_DEFAULT 1024U
#define SBX_MAX_DEPTH_MAX	(1U << 30)
#define SBX_MAX_DEPTH_DEFAULT	(1U << 20)

/*
 * System-call sets: a 512-bit map each (64 bytes), bit n (byte n / 8, bit
 * n % 8) for system call n, 0..509; bit 510 (SBX_SET_BIT_OPEN_WRITE) means the
 * window may open files for writing, bit 511 (SBX_SET_BIT_EXEC_MAP) that it may
 * create executable mappings. Set 0 is empty: the window of program code. See
 * specs/kernel-abi.md, "System-call binding".
 */
#define SBX_SET_SIZE	       64U
#define SBX_SET_NR_MAX	       509U
#define SBX_SET_BIT_OPEN_WRITE 510U
#define SBX_SET_BIT_EXEC_MAP   511U

/*
 * The x86-64 calls whose third argument is a protection: with SBX_PROT_EXEC
 * they need a window with SBX_SET_BIT_EXEC_MAP (the module checks these
 * against <asm/unistd.h> at build time).
 */
#define SBX_NR_MMAP	     9U
#define SBX_NR_MPROTECT	     10U
#define SBX_NR_PKEY_MPROTECT 329U
#define SBX_PROT_WRITE	     0x2U
#define SBX_PROT_EXEC	     0x4U
/*
 * openat (its flags are the third argument) with any of these flags (O_WRONLY,
 * O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE) needs a window whose set has
 * SBX_SET_BIT_OPEN_WRITE; otherwise it only reads.
 */
#define SBX_NR_OPENAT	       257U
#define SBX_OPENAT_WRITE_FLAGS 0x400643U

/* Windows that are not a libc call (struct sbx_thread.window_sym). */
#define SBX_WINDOW_START 0xffffffffU /* from exec to the first marker */
#define SBX_WINDOW_NONE	 0xfffffffeU /* program code: set 0 */

/**
 * struct sbx_blob_header - the first 128 bytes of a policy blob.
 * @magic:          SBX_BLOB_MAGIC, bytes "SBXB".
 * @version:        SBX_BLOB_VERSION.
 * @header_size:    sizeof(struct sbx_blob_header) = 128.
 * @flags:          SBX_BLOB_F_*; unknown bits are refused.
 * @total_size:     size of the whole blob in bytes; equals the size loaded.
 * @stack_limit:    slots per thread, shared by frame entries (root included)
 *                  and setjmp records: 1..SBX_STACK_LIMIT_MAX.
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
 * @mstates_off:    offset of the macro-state section: 128.
 * @trans_off:      mstates_off + 12 * nr_mstates.
 * @sites_off:      trans_off + 8 * nr_trans.
 * @callbacks_off:  sites_off + 4 * nr_sites (sites_off with SBX_BLOB_F_NFA).
 * @nr_sets:        system-call sets: 1..SBX_MAX_SETS with SBX_BLOB_F_BOUND,
 *                  else 0.
 * @sets_off:       callbacks_off + 8 * nr_callbacks.
 * @symsets_off:    sets_off + 64 * nr_sets: with SBX_BLOB_F_BOUND one u32 per
 *                  symbol, the index of its set (< nr_sets).
 * @start_set:      the set of the window from exec to the first marker;
 *                  < nr_sets (0 without SBX_BLOB_F_BOUND).
 * @ambient_set:    the set allowed in every window; < nr_sets, without the
 *                  SBX_SET_BIT_EXEC_MAP and SBX_SET_BIT_OPEN_WRITE bits (0
 *                  without SBX_BLOB_F_BOUND).
 * @nr_pins:        pinned marker sites: 1..SBX_MAX_PINS with
 *                  SBX_BLOB_F_PINNED, else 0.
 * @pins_off:       symsets_off + 4 * nr_symbols (symsets_off without
 *                  SBX_BLOB_F_BOUND).
 * @max_depth:      the bound on a thread's logical stack depth (frames,
 *                  root included, counting each folded frame):
 *                  1..SBX_MAX_DEPTH_MAX.
 * @pin_table_vaddr: the link-time address of the executable's .sbx_sites
 *                  section (entry i at pin_table_vaddr + 16 * i); 0 without
 *                  SBX_BLOB_F_PINNED.
 * @text_vaddr:     the lowest p_vaddr of the executable's PF_X PT_LOAD
 *                  segments: the load bias is mm->start_code - text_vaddr;
 *                  0 without SBX_BLOB_F_PINNED.
 * @resync_off:     pins_off + 16 * nr_pins: the resynchronisation section,
 *                  one u32 per macro-state (struct sbx_blob_resync).
 * @names_size:     the size in bytes of the optional names section, which
 *                  starts at resync_off + 4 * nr_mstates + E (struct
 *                  sbx_blob_names): 0 for a blob without names. E is the
 *                  size of the event-buffer section (struct sbx_blob_evbuf)
 *                  that follows the resynchronisation section with
 *                  SBX_BLOB_F_BUFFERED: 16 + 4 * ((nr_symbols + 31) / 32);
 *                  0 without. The blob's total_size is resync_off +
 *                  4 * nr_mstates + E + names_size.
 *
 * sbx_blob_validate() returns -SBX_E2BIG when the blob is larger than
 * SBX_BLOB_MAX_SIZE, a count exceeds its SBX_MAX_* cap, @stack_limit exceeds
 * SBX_STACK_LIMIT_MAX or @max_depth exceeds SBX_MAX_DEPTH_MAX; -SBX_EINVAL for
 * anything else that is not exactly as
 * described here: short blob, wrong magic, unknown version, header size or flag,
 * @total_size different from the size loaded, a section
 * offset other than the one given, an index out of range, unsorted transitions,
 * a call key with SBX_BLOB_F_NFA, a set 0 that is not empty, an ambient set
 * with the exec-map or open-write bit, a set index out of range, a pin whose kind is not a
 * marker kind or whose id is out of range for its kind, a pin table whose
 * addresses would wrap around, a resynchronisation entry that is neither
 * SBX_RESYNC_NONE nor a macro-state whose own entry is itself, a
 * thread_mstate entry other than SBX_RESYNC_NONE, an event-buffer section
 * that is not exactly as struct sbx_blob_evbuf describes, or a names section
 * that is not exactly as struct sbx_blob_names describes.
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
	sbx_u32 nr_sets;
	sbx_u32 sets_off;
	sbx_u32 symsets_off;
	sbx_u32 start_set;
	sbx_u32 ambient_set;
	sbx_u32 nr_pins;
	sbx_u32 pins_off;
	sbx_u32 max_depth;
	sbx_u64 pin_table_vaddr;
	sbx_u64 text_vaddr;
	sbx_u32 resync_off;
	sbx_u32 names_size;
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
 * struct sbx_blob_resync - the resynchronisation entry of one macro-state
 * (4 bytes), indexed by macro-state (specs/kernel-abi.md, "Log mode").
 * @any: the macro-state whose frontier is every state of the functions that
 *       this macro-state's frontier is in (the "any" macro-state of its
 *       function group), or SBX_RESYNC_NONE: the empty frontier, or a group
 *       the writer left out (its closure was over the writer's budget).
 *       Otherwise < nr_mstates, and the entry of the any macro-state is
 *       itself (-SBX_EINVAL otherwise). Only log mode reads it: a thread
 *       that lost its place resumes at the target of a LIBC key from @any.
 */
struct sbx_blob_resync {
	sbx_u32 any;
};

#define SBX_RESYNC_NONE 0xffffffffU

/**
 * struct sbx_blob_evbuf - the event-buffer section (16 bytes), present only
 * with SBX_BLOB_F_BUFFERED, right after the resynchronisation section
 * (specs/kernel-abi.md, "Buffered events"). It is followed by @nr_words u32
 * bit words: bit s % 32 of word s / 32 set means LIBC events of symbol s may
 * come from the buffer (the symbol is bufferable); bits of no symbol are 0.
 * @tpoff:    the local-exec TLS offset of the executable's struct sbx_evbuf
 *            (the .sbx_evbuf section's): the thread's buffer is at its
 *            FS base + @tpoff. A negative 64-bit two's complement number,
 *            a multiple of 8, with -SBX_EVBUF_TPOFF_MAX <= @tpoff <=
 *            -sizeof(struct sbx_evbuf): x86-64's executable TLS lies below
 *            the thread pointer.
 * @cap:      SBX_EVBUF_CAP (the only capacity this ABI knows).
 * @nr_words: (nr_symbols + 31) / 32.
 *
 * Anything else is refused with -SBX_EINVAL.
 */
struct sbx_blob_evbuf {
	sbx_u64 tpoff;
	sbx_u32 cap;
	sbx_u32 nr_words;
};

#define SBX_BLOB_EVBUF_HDR_SIZE 16U
#define SBX_EVBUF_TPOFF_MAX	(1ULL << 30)
#define SBX_EVBUF_SIZE		(8U + 8U * SBX_EVBUF_CAP)

/**
 * struct sbx_blob_names - the head of the optional names section (12 bytes),
 * for the kernel log's violation line only (specs/kernel-abi.md, "Names");
 * it never changes what is enforced. It is followed by:
 *
 *  - @nr_callees u32 callee entries, indexed by site: the function index of
 *    the site's only callee (< nr_functions), or SBX_NAME_NONE for a site
 *    with several callees or none;
 *  - @nr_names u32 name offsets: the offset of name i from the start of the
 *    string area; name i is symbol i for i < nr_symbols, else function
 *    i - nr_symbols;
 *  - the string area, to the end of the section: the names in order, each
 *    1..SBX_NAME_LEN_MAX bytes in 0x21..0x7e (printable ASCII, no space)
 *    followed by one NUL, without gaps: offset 0 is 0, offset i + 1 is the
 *    end of name i plus one, and the last NUL is the section's last byte.
 *
 * @nr_names:      nr_symbols + nr_functions.
 * @root_function: the function of the root frame (the entry function,
 *                 < nr_functions), or SBX_NAME_NONE.
 * @nr_callees:    nr_sites in dyck mode; 0 with SBX_BLOB_F_NFA (which never
 *                 pushes a site frame).
 *
 * Anything else is refused with -SBX_EINVAL, so every name the kernel prints
 * is bounded, NUL-terminated and free of control characters.
 */
struct sbx_blob_names {
	sbx_u32 nr_names;
	sbx_u32 root_function;
	sbx_u32 nr_callees;
};

#define SBX_NAME_NONE		0xffffffffU
#define SBX_NAME_LEN_MAX	127U
#define SBX_BLOB_NAMES_HDR_SIZE 12U

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

/**
 * struct sbx_blob_pin - one pinned marker site (16 bytes), entry i of the
 * executable's .sbx_sites table (specs/marker-abi.md, "Pinned sites").
 * @site_vaddr: link-time address of the marker's syscall instruction.
 * @kind:       its kind, 1..SBX_MARK_KIND_MAX.
 * @id:         its id, in range for the kind (LIBC < nr_symbols, CALL, RET
 *              and TAIL < nr_sites, CB_ENTER and CB_EXIT < nr_functions).
 */
struct sbx_blob_pin {
	sbx_u64 site_vaddr;
	sbx_u32 kind;
	sbx_u32 id;
};

_Static_assert(sizeof(struct sbx_blob_header) == 128, "blob header size");
_Static_assert(sizeof(struct sbx_blob_pin) == 16, "pin size");
_Static_assert(sizeof(struct sbx_blob_mstate) == 12, "macro-state size");
_Static_assert(sizeof(struct sbx_blob_trans) == 8, "transition size");
_Static_assert(sizeof(struct sbx_blob_site) == 4, "site size");
_Static_assert(sizeof(struct sbx_blob_resync) == 4, "resync size");
_Static_assert(sizeof(struct sbx_blob_callback) == 8, "callback size");
_Static_assert(sizeof(struct sbx_blob_names) == 12, "names head size");
_Static_assert(sizeof(struct sbx_blob_evbuf) == 16, "evbuf head size");

#define SBX_BLOB_HEADER_SIZE   128U
#define SBX_BLOB_PIN_SIZE      16U
#define SBX_BLOB_MSTATE_SIZE   12U
#define SBX_BLOB_TRANS_SIZE    8U
#define SBX_BLOB_SITE_SIZE     4U
#define SBX_BLOB_CALLBACK_SIZE 8U
#define SBX_BLOB_RESYNC_SIZE   4U

/**
 * struct sbx_policy_view - a validated blob, as the monitor steps it.
 * @mstates:   the macro-state section (points into the blob).
 * @trans:     the transition section.
 * @sites:     the site section (empty with SBX_BLOB_F_NFA).
 * @callbacks: the callback section.
 * @sets:      the system-call sets (empty without SBX_BLOB_F_BOUND).
 * @symsets:   the symbols' set indices (empty without SBX_BLOB_F_BOUND).
 * @pins:      the pinned sites (empty without SBX_BLOB_F_PINNED).
 * @resync:    the resynchronisation section (one entry per macro-state).
 * @none_map:  the bit map of the window of program code (set 0); without
 *             SBX_BLOB_F_BOUND a map that allows every call.
 * @ambient_map: the bit map of the ambient set; without SBX_BLOB_F_BOUND the
 *             same map that allows every call.
 * @pin_bytes: 16 * @nr_pins, the size of the pin section.
 * @callees:   the names section's callee entries (NULL without names).
 * @name_offs: its name offsets (NULL without names).
 * @name_area: its string area (NULL without names).
 * @nr_names:  its nr_names; 0 without names.
 * @root_function: its root_function; SBX_NAME_NONE without names.
 * @nr_callees: its nr_callees; 0 without names.
 * @bufferable: the event-buffer section's bit words (NULL without
 *             SBX_BLOB_F_BUFFERED).
 * @evbuf_tpoff: its tpoff (0 without SBX_BLOB_F_BUFFERED).
 * @flags ... @text_vaddr: the header fields of the same names.
 *
 * A view borrows the blob's memory: the blob must stay alive and unchanged as
 * long as the view is used. Filled only by sbx_blob_validate().
 */
struct sbx_policy_view {
	const sbx_u8 *mstates;
	const sbx_u8 *trans;
	const sbx_u8 *sites;
	const sbx_u8 *callbacks;
	const sbx_u8 *sets;
	const sbx_u8 *symsets;
	const sbx_u8 *pins;
	const sbx_u8 *resync;
	const sbx_u8 *none_map;
	const sbx_u8 *ambient_map;
	const sbx_u8 *callees;
	const sbx_u8 *name_offs;
	const sbx_u8 *name_area;
	const sbx_u8 *bufferable;
	sbx_u64 evbuf_tpoff;
	sbx_u64 pin_bytes;
	sbx_u32 nr_names;
	sbx_u32 root_function;
	sbx_u32 nr_callees;
	sbx_u32 flags;
	sbx_u32 stack_limit;
	sbx_u32 max_depth;
	sbx_u32 nr_symbols;
	sbx_u32 nr_functions;
	sbx_u32 nr_sites;
	sbx_u32 nr_callbacks;
	sbx_u32 nr_mstates;
	sbx_u32 nr_trans;
	sbx_u32 initial_mstate;
	sbx_u32 thread_mstate;
	sbx_u32 nr_sets;
	sbx_u32 start_set;
	sbx_u32 ambient_set;
	sbx_u32 nr_pins;
	sbx_u64 pin_table_vaddr;
	sbx_u64 text_vaddr;
};

/* The window map of an unbound blob: every call 0..510 and code mappings. */
extern const sbx_u8 sbx_all_calls[SBX_SET_SIZE];

int sbx_blob_validate(const void *data, sbx_u64 size, struct sbx_policy_view *out);
const char *sbx_blob_symbol_name(const struct sbx_policy_view *v, sbx_u64 sym);
const char *sbx_blob_frame_name(const struct sbx_policy_view *v, sbx_u32 tag);

#endif /* _SBX_BLOB_H */
