/* What the stack-overflow victims share (stack.c and bufd.c): the ROP gadgets the
 * attacks chain and the checksum of a post's body. One copy, so that the two
 * services differ only in how they reach libc (stdio in stack.c, the bufferable
 * system-call wrappers in bufd.c).
 *
 * ROP GADGETS ARE COMPILED IN ON PURPOSE (never called): the attacks chain them
 * instead of searching libc for equivalents, which exist there too. This is allowed
 * by the suite's rules (issue 14, "Tests / Attack suite"). attacks.py finds them by
 * their gadget_* symbols. EXTRA is a victim's own gadgets (a string of asm lines),
 * placed before gadget_syscall.
 */
#ifndef VICTIM_H
#define VICTIM_H

#include <stddef.h>

#define VICTIM_ROP_GADGETS(EXTRA)                                     \
	__asm__(".text\n"                                             \
		".p2align 4\n"                                        \
		".type rop_gadgets,@function\n"                       \
		"rop_gadgets:\n"                                      \
		"gadget_pop_rdi: pop %rdi\n ret\n"                    \
		"gadget_pop_rsi: pop %rsi\n ret\n"                    \
		"gadget_pop_rdx: pop %rdx\n ret\n"                    \
		"gadget_pop_rax: pop %rax\n ret\n"                    \
		"gadget_pop_r10: pop %r10\n ret\n"                    \
		"gadget_pop_r8: pop %r8\n ret\n"                      \
		"gadget_write_rsi_to_rdi: mov %rsi, (%rdi)\n ret\n"   \
		"gadget_mov_rax_to_rbx: mov %rax, %rbx\n ret\n"       \
		"gadget_mov_rbx_to_rdi: mov %rbx, %rdi\n ret\n" EXTRA \
		"gadget_syscall: syscall\n ret\n"                     \
		"gadget_ret: ret\n"                                   \
		".size rop_gadgets, .-rop_gadgets\n")

/* FNV-1a of a post's body: what the service answers (the attacks never rely on it). */
static unsigned checksum(const unsigned char *p, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#endif
