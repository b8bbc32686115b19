// SPDX-License-Identifier: GPL-2.0
/*
 * sbx_blob.c - validation of policy blobs (specs/kernel-abi.md).
 *
 * A blob comes from userspace and is untrusted: every field is checked before
 * anything is indexed with it, counts are capped before they are multiplied,
 * and the section layout is fixed, so there is exactly one valid encoding of a
 * given machine. Validation reads each byte at most a few times and allocates
 * nothing.
 */
#include "sbx_blob.h"
#include "sbx_le.h"
#include "sbx_monitor.h"
#include "../uapi/sbx_marker.h"

/* Every call 0..509, writing opens and code mappings. */
const sbx_u8 sbx_all_calls[SBX_SET_SIZE] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

#define HDR(p, field)	sbx_le32((p) + __builtin_offsetof(struct sbx_blob_header, field))
#define HDR64(p, field) sbx_le64((p) + __builtin_offsetof(struct sbx_blob_header, field))

static int sbx_check_header(const sbx_u8 *p, sbx_u64 size, struct sbx_policy_view *v)
{
	sbx_u64 off;

	if (size > SBX_BLOB_MAX_SIZE)
		return -SBX_E2BIG;
	if (size < SBX_BLOB_HEADER_SIZE)
		return -SBX_EINVAL;
	if (HDR(p, magic) != SBX_BLOB_MAGIC || HDR(p, version) != SBX_BLOB_VERSION ||
	    HDR(p, header_size) != SBX_BLOB_HEADER_SIZE)
		return -SBX_EINVAL;
	v->flags = HDR(p, flags);
	if (v->flags & ~SBX_BLOB_F_ALL)
		return -SBX_EINVAL;
	if (HDR(p, total_size) != size)
		return -SBX_EINVAL;

	v->stack_limit = HDR(p, stack_limit);
	v->max_depth = HDR(p, max_depth);
	v->nr_symbols = HDR(p, nr_symbols);
	v->nr_functions = HDR(p, nr_functions);
	v->nr_sites = HDR(p, nr_sites);
	v->nr_callbacks = HDR(p, nr_callbacks);
	v->nr_mstates = HDR(p, nr_mstates);
	v->nr_trans = HDR(p, nr_trans);
	v->initial_mstate = HDR(p, initial_mstate);
	v->thread_mstate = HDR(p, thread_mstate);
	v->nr_sets = HDR(p, nr_sets);
	v->start_set = HDR(p, start_set);
	v->ambient_set = HDR(p, ambient_set);
	v->nr_pins = HDR(p, nr_pins);
	v->pin_table_vaddr = HDR64(p, pin_table_vaddr);
	v->text_vaddr = HDR64(p, text_vaddr);

	if (v->nr_sets > SBX_MAX_SETS || v->nr_pins > SBX_MAX_PINS)
		return -SBX_E2BIG;
	if (v->flags & SBX_BLOB_F_BOUND) {
		if (!v->nr_sets || v->start_set >= v->nr_sets || v->ambient_set >= v->nr_sets)
			return -SBX_EINVAL;
	} else if (v->nr_sets || v->start_set || v->ambient_set) {
		return -SBX_EINVAL;
	}
	if (v->flags & SBX_BLOB_F_PINNED) {
		/* The table's last byte must not wrap around the address space. */
		if (!v->nr_pins ||
		    v->pin_table_vaddr > ~0ULL - ((sbx_u64)SBX_BLOB_PIN_SIZE * v->nr_pins - 1))
			return -SBX_EINVAL;
	} else if (v->nr_pins || v->pin_table_vaddr || v->text_vaddr) {
		return -SBX_EINVAL;
	}

	if (v->stack_limit > SBX_STACK_LIMIT_MAX || v->max_depth > SBX_MAX_DEPTH_MAX ||
	    v->nr_symbols > SBX_MAX_SYMBOLS || v->nr_functions > SBX_MAX_FUNCTIONS ||
	    v->nr_sites > SBX_MAX_SITES || v->nr_callbacks > SBX_MAX_CALLBACKS ||
	    v->nr_mstates > SBX_MAX_MSTATES || v->nr_trans > SBX_MAX_TRANS)
		return -SBX_E2BIG;
	if (v->stack_limit == 0 || v->max_depth == 0 || v->nr_functions == 0 ||
	    v->nr_callbacks > v->nr_functions || v->initial_mstate >= v->nr_mstates ||
	    v->thread_mstate >= v->nr_mstates)
		return -SBX_EINVAL;
	/* The counts are capped, so these sums cannot overflow 64 bits. */
	off = SBX_BLOB_HEADER_SIZE;
	if (HDR(p, mstates_off) != off)
		return -SBX_EINVAL;
	off += (sbx_u64)SBX_BLOB_MSTATE_SIZE * v->nr_mstates;
	if (HDR(p, trans_off) != off)
		return -SBX_EINVAL;
	off += (sbx_u64)SBX_BLOB_TRANS_SIZE * v->nr_trans;
	if (HDR(p, sites_off) != off)
		return -SBX_EINVAL;
	/* An NFA blob keeps the site ids' range but has no site section. */
	if (!(v->flags & SBX_BLOB_F_NFA))
		off += (sbx_u64)SBX_BLOB_SITE_SIZE * v->nr_sites;
	if (HDR(p, callbacks_off) != off)
		return -SBX_EINVAL;
	off += (sbx_u64)SBX_BLOB_CALLBACK_SIZE * v->nr_callbacks;
	if (HDR(p, sets_off) != off)
		return -SBX_EINVAL;
	off += (sbx_u64)SBX_SET_SIZE * v->nr_sets;
	if (HDR(p, symsets_off) != off)
		return -SBX_EINVAL;
	if (v->flags & SBX_BLOB_F_BOUND)
		off += (sbx_u64)4 * v->nr_symbols;
	if (HDR(p, pins_off) != off)
		return -SBX_EINVAL;
	off += (sbx_u64)SBX_BLOB_PIN_SIZE * v->nr_pins;
	if (HDR(p, resync_off) != off)
		return -SBX_EINVAL;
	off += (sbx_u64)SBX_BLOB_RESYNC_SIZE * v->nr_mstates;
	if (v->flags & SBX_BLOB_F_BUFFERED)
		off += SBX_BLOB_EVBUF_HDR_SIZE + (sbx_u64)4 * ((v->nr_symbols + 31) / 32);
	/* The names section, if any, runs to the end (checked by sbx_check_names()). */
	if (off + HDR(p, names_size) != size)
		return -SBX_EINVAL;

	v->mstates = p + HDR(p, mstates_off);
	v->trans = p + HDR(p, trans_off);
	v->sites = p + HDR(p, sites_off);
	v->callbacks = p + HDR(p, callbacks_off);
	v->sets = p + HDR(p, sets_off);
	v->symsets = p + HDR(p, symsets_off);
	v->pins = p + HDR(p, pins_off);
	v->resync = p + HDR(p, resync_off);
	if (v->flags & SBX_BLOB_F_BOUND) {
		v->none_map = v->sets;
		v->ambient_map = v->sets + (sbx_u64)SBX_SET_SIZE * v->ambient_set;
	} else {
		v->none_map = sbx_all_calls;
		v->ambient_map = sbx_all_calls;
	}
	v->pin_bytes = (sbx_u64)SBX_BLOB_PIN_SIZE * v->nr_pins;
	v->callees = NULL;
	v->name_offs = NULL;
	v->name_area = NULL;
	v->nr_names = 0;
	v->root_function = SBX_NAME_NONE;
	v->nr_callees = 0;
	v->bufferable = NULL;
	v->evbuf_tpoff = 0;
	return 0;
}

static int sbx_check_trans(const struct sbx_policy_view *v, sbx_u32 first, sbx_u32 count)
{
	sbx_u32 i, key, id, prev = 0;

	for (i = 0; i < count; i++) {
		const sbx_u8 *t = v->trans + (sbx_u64)SBX_BLOB_TRANS_SIZE * (first + i);

		key = sbx_le32(t);
		if (i && key <= prev)
			return -SBX_EINVAL;
		prev = key;
		id = key & SBX_KEY_ID_MASK;
		if (key & SBX_KEY_CALL) {
			/* The flattened model has no call edges. */
			if ((v->flags & SBX_BLOB_F_NFA) || id >= v->nr_sites)
				return -SBX_EINVAL;
		} else if (id >= v->nr_symbols) {
			return -SBX_EINVAL;
		}
		if (sbx_le32(t + 4) >= v->nr_mstates)
			return -SBX_EINVAL;
	}
	return 0;
}

static int sbx_check_mstates(const struct sbx_policy_view *v)
{
	sbx_u32 i, first, count, next = 0;
	int err;

	for (i = 0; i < v->nr_mstates; i++) {
		const sbx_u8 *m = v->mstates + (sbx_u64)SBX_BLOB_MSTATE_SIZE * i;

		first = sbx_le32(m);
		count = sbx_le32(m + 4);
		if (first != next || count > v->nr_trans - first)
			return -SBX_EINVAL;
		if (sbx_le32(m + 8) & ~SBX_MSTATE_F_ALL)
			return -SBX_EINVAL;
		err = sbx_check_trans(v, first, count);
		if (err)
			return err;
		next = first + count;
	}
	if (next != v->nr_trans)
		return -SBX_EINVAL;

	/* A new thread's frontier is empty: no transition, not final. */
	{
		const sbx_u8 *m = v->mstates + (sbx_u64)SBX_BLOB_MSTATE_SIZE * v->thread_mstate;

		if (sbx_le32(m + 4) || sbx_le32(m + 8))
			return -SBX_EINVAL;
	}
	return 0;
}

static int sbx_check_sites(const struct sbx_policy_view *v)
{
	sbx_u32 i;

	if (v->flags & SBX_BLOB_F_NFA)
		return 0;
	for (i = 0; i < v->nr_sites; i++)
		if (sbx_le32(v->sites + (sbx_u64)SBX_BLOB_SITE_SIZE * i) >= v->nr_mstates)
			return -SBX_EINVAL;
	return 0;
}

static int sbx_check_callbacks(const struct sbx_policy_view *v)
{
	sbx_u32 i, function, prev = 0;

	for (i = 0; i < v->nr_callbacks; i++) {
		const sbx_u8 *c = v->callbacks + (sbx_u64)SBX_BLOB_CALLBACK_SIZE * i;

		function = sbx_le32(c);
		if (function >= v->nr_functions || (i && function <= prev))
			return -SBX_EINVAL;
		if (sbx_le32(c + 4) >= v->nr_mstates)
			return -SBX_EINVAL;
		prev = function;
	}
	return 0;
}

static int sbx_check_sets(const struct sbx_policy_view *v)
{
	const sbx_u8 *ambient;
	sbx_u32 i;

	if (!(v->flags & SBX_BLOB_F_BOUND))
		return 0;
	/* Set 0 is the window of program code: nothing beyond the ambient set. */
	for (i = 0; i < SBX_SET_SIZE; i++)
		if (v->sets[i])
			return -SBX_EINVAL;
	ambient = v->sets + (sbx_u64)SBX_SET_SIZE * v->ambient_set;
	if (ambient[SBX_SET_BIT_EXEC_MAP / 8] & (1U << (SBX_SET_BIT_EXEC_MAP % 8)) ||
	    ambient[SBX_SET_BIT_OPEN_WRITE / 8] & (1U << (SBX_SET_BIT_OPEN_WRITE % 8)))
		return -SBX_EINVAL;
	for (i = 0; i < v->nr_symbols; i++)
		if (sbx_le32(v->symsets + (sbx_u64)4 * i) >= v->nr_sets)
			return -SBX_EINVAL;
	return 0;
}

/* The id range of a marker kind, or 0 for a kind that is not one. */
static sbx_u64 sbx_kind_ids(const struct sbx_policy_view *v, sbx_u32 kind)
{
	switch (kind) {
	case SBX_MARK_LIBC:
		return v->nr_symbols;
	case SBX_MARK_CALL:
	case SBX_MARK_RET:
	case SBX_MARK_TAIL:
		return v->nr_sites;
	case SBX_MARK_CB_ENTER:
	case SBX_MARK_CB_EXIT:
		return v->nr_functions;
	case SBX_MARK_SJ_SAVE:
	case SBX_MARK_SJ_RESUME:
		return (sbx_u64)SBX_MARK_ID_MAX + 1;
	}
	return 0;
}

static int sbx_check_pins(const struct sbx_policy_view *v)
{
	sbx_u32 i;

	for (i = 0; i < v->nr_pins; i++) {
		const sbx_u8 *e = v->pins + (sbx_u64)SBX_BLOB_PIN_SIZE * i;

		if (sbx_le32(e + 12) >= sbx_kind_ids(v, sbx_le32(e + 8)))
			return -SBX_EINVAL;
	}
	return 0;
}

/*
 * Each entry is SBX_RESYNC_NONE or an any macro-state, whose own entry is
 * itself: so the monitor never follows more than one entry.
 */
static int sbx_check_resync(const struct sbx_policy_view *v)
{
	sbx_u32 i, any;

	for (i = 0; i < v->nr_mstates; i++) {
		any = sbx_le32(v->resync + (sbx_u64)SBX_BLOB_RESYNC_SIZE * i);
		if (any == SBX_RESYNC_NONE)
			continue;
		if (any >= v->nr_mstates ||
		    sbx_le32(v->resync + (sbx_u64)SBX_BLOB_RESYNC_SIZE * any) != any)
			return -SBX_EINVAL;
	}
	/* The empty frontier is in no function: nothing to resume in. */
	if (sbx_le32(v->resync + (sbx_u64)SBX_BLOB_RESYNC_SIZE * v->thread_mstate) !=
	    SBX_RESYNC_NONE)
		return -SBX_EINVAL;
	return 0;
}

/*
 * The event-buffer section (struct sbx_blob_evbuf) at @e, with
 * SBX_BLOB_F_BUFFERED: its size was counted by sbx_check_header().
 */
static int sbx_check_evbuf(struct sbx_policy_view *v, const sbx_u8 *e)
{
	sbx_u32 nr_words = (v->nr_symbols + 31) / 32, last;
	sbx_u64 tpoff;

	if (!(v->flags & SBX_BLOB_F_BUFFERED))
		return 0;
	tpoff = sbx_le64(e);
	/* Negative: -tpoff (mod 2^64) is the distance below the thread pointer. */
	if (-tpoff < SBX_EVBUF_SIZE || -tpoff > SBX_EVBUF_TPOFF_MAX || tpoff % 8)
		return -SBX_EINVAL;
	if (sbx_le32(e + 8) != SBX_EVBUF_CAP || sbx_le32(e + 12) != nr_words)
		return -SBX_EINVAL;
	/* No bit beyond the last symbol. */
	if (v->nr_symbols % 32) {
		last = sbx_le32(e + SBX_BLOB_EVBUF_HDR_SIZE + (sbx_u64)4 * (nr_words - 1));
		if (last >> (v->nr_symbols % 32))
			return -SBX_EINVAL;
	}
	v->evbuf_tpoff = tpoff;
	v->bufferable = e + SBX_BLOB_EVBUF_HDR_SIZE;
	return 0;
}

/*
 * The names section (struct sbx_blob_names), @size bytes at @s: its counts
 * must be the blob's, every callee and the root a function or SBX_NAME_NONE,
 * and the string area exactly the names in order, each 1..SBX_NAME_LEN_MAX
 * printable bytes and a NUL, ending with the section. So the kernel log can
 * print any name with %s: it is bounded, terminated and has no control byte.
 */
static int sbx_check_names(struct sbx_policy_view *v, const sbx_u8 *s, sbx_u64 size)
{
	sbx_u64 fixed, area_size, pos, start;
	sbx_u32 i, f, nr_names, nr_callees;
	const sbx_u8 *area;

	if (!size)
		return 0;
	if (size < SBX_BLOB_NAMES_HDR_SIZE)
		return -SBX_EINVAL;
	nr_names = sbx_le32(s);
	nr_callees = sbx_le32(s + 8);
	/* Both counts are capped (header), so the sums fit 64 bits. */
	if (nr_names != (sbx_u64)v->nr_symbols + v->nr_functions)
		return -SBX_EINVAL;
	if (nr_callees != ((v->flags & SBX_BLOB_F_NFA) ? 0 : v->nr_sites))
		return -SBX_EINVAL;
	f = sbx_le32(s + 4);
	if (f != SBX_NAME_NONE && f >= v->nr_functions)
		return -SBX_EINVAL;
	fixed = SBX_BLOB_NAMES_HDR_SIZE + (sbx_u64)4 * nr_callees + (sbx_u64)4 * nr_names;
	if (size < fixed)
		return -SBX_EINVAL;
	for (i = 0; i < nr_callees; i++) {
		f = sbx_le32(s + SBX_BLOB_NAMES_HDR_SIZE + (sbx_u64)4 * i);
		if (f != SBX_NAME_NONE && f >= v->nr_functions)
			return -SBX_EINVAL;
	}
	area = s + fixed;
	area_size = size - fixed;
	pos = 0;
	for (i = 0; i < nr_names; i++) {
		if (sbx_le32(s + SBX_BLOB_NAMES_HDR_SIZE + (sbx_u64)4 * (nr_callees + i)) != pos)
			return -SBX_EINVAL;
		start = pos;
		while (pos < area_size && area[pos] >= 0x21 && area[pos] <= 0x7e &&
		       pos - start < SBX_NAME_LEN_MAX)
			pos++;
		/* Empty, over the cap, a byte out of range, or no NUL in the area. */
		if (pos == start || pos >= area_size || area[pos])
			return -SBX_EINVAL;
		pos++;
	}
	if (pos != area_size)
		return -SBX_EINVAL;
	v->nr_names = nr_names;
	v->root_function = sbx_le32(s + 4);
	v->nr_callees = nr_callees;
	v->callees = s + SBX_BLOB_NAMES_HDR_SIZE;
	v->name_offs = v->callees + (sbx_u64)4 * nr_callees;
	v->name_area = area;
	return 0;
}

/**
 * sbx_blob_symbol_name - the name of libc symbol @sym, for the kernel log.
 * @v:   a validated view.
 * @sym: a symbol id (a LIBC marker's id, or a window's symbol).
 *
 * Return: a NUL-terminated name of 1..SBX_NAME_LEN_MAX printable bytes, or
 * NULL when the blob has no names or @sym is not a symbol.
 */
const char *sbx_blob_symbol_name(const struct sbx_policy_view *v, sbx_u64 sym)
{
	if (!v->nr_names || sym >= v->nr_symbols)
		return NULL;
	return (const char *)v->name_area + sbx_le32(v->name_offs + 4 * sym);
}

/**
 * sbx_blob_frame_name - the name of the function running in a frame.
 * @v:   a validated view.
 * @tag: the frame's tag: the root's function, a site's only callee, a
 *       callback's function.
 *
 * Return: as sbx_blob_symbol_name(), NULL when the blob has no names, the
 * site has several callees or the tag names nothing in range.
 */
const char *sbx_blob_frame_name(const struct sbx_policy_view *v, sbx_u32 tag)
{
	sbx_u32 id = tag & SBX_FRAME_ID_MASK, f;

	if (!v->nr_names)
		return NULL;
	switch (tag & SBX_FRAME_KIND_MASK) {
	case SBX_FRAME_ROOT:
		f = id ? SBX_NAME_NONE : v->root_function;
		break;
	case SBX_FRAME_SITE:
		f = id < v->nr_callees ? sbx_le32(v->callees + (sbx_u64)4 * id) : SBX_NAME_NONE;
		break;
	case SBX_FRAME_CALLBACK:
		f = id;
		break;
	default:
		return NULL;
	}
	if (f >= v->nr_functions)
		return NULL;
	return (const char *)v->name_area +
	       sbx_le32(v->name_offs + (sbx_u64)4 * ((sbx_u64)v->nr_symbols + f));
}

/**
 * sbx_blob_validate - check a policy blob and describe it for stepping.
 * @data: the blob, at any alignment; @size bytes are readable.
 * @size: its size in bytes.
 * @out:  filled on success only; it points into @data.
 *
 * Return: 0 if the blob is valid; -SBX_E2BIG if it is over a cap (size,
 * a count or the stack limit); -SBX_EINVAL if it is malformed in any other way
 * (see struct sbx_blob_header).
 */
int sbx_blob_validate(const void *data, sbx_u64 size, struct sbx_policy_view *out)
{
	struct sbx_policy_view v;
	int err;

	if (!data || !out)
		return -SBX_EINVAL;
	err = sbx_check_header(data, size, &v);
	if (!err)
		err = sbx_check_mstates(&v);
	if (!err)
		err = sbx_check_sites(&v);
	if (!err)
		err = sbx_check_callbacks(&v);
	if (!err)
		err = sbx_check_sets(&v);
	if (!err)
		err = sbx_check_pins(&v);
	if (!err)
		err = sbx_check_resync(&v);
	if (!err)
		err = sbx_check_evbuf(&v, v.resync + (sbx_u64)SBX_BLOB_RESYNC_SIZE * v.nr_mstates);
	if (!err)
		err = sbx_check_names(
			&v, (const sbx_u8 *)data + size - HDR((const sbx_u8 *)data, names_size),
			HDR((const sbx_u8 *)data, names_size));
	if (err)
		return err;
	*out = v;
	return 0;
}
