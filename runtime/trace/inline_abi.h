/* The contract between the usm trace pass (runtime/tracepass/, the code it
 * emits at every load and store) and the runtime (inline.c): names, the
 * slot layout and the site numbering. C, read by both. docs/trace.md.
 *
 * Every access site of a module has a number k (0..n-1); its module
 * constructor asks the runtime for a base, so its sites are base + k in
 * one process-wide numbering. Each thread has a block: a header (its
 * stack's bounds), then one slot per site. A slot remembers the last
 * object that site touched in this thread: its range, its generation and
 * the counter to add to. The emitted code, per access of address a:
 *
 *   if (!USM_TRACE_ON) skip;                         one global flag
 *   b = USM_TRACE_BLOCK; if (!b) USM_TRACE_THREAD(), reload b, none: skip;
 *   s = &b->slots[base + k];
 *   if (a - s->start < s->len && *s->gen_at == s->gen) ++*s->count;
 *   else if (a - b->stack_lo < b->stack_len) skip;   own stack: no object
 *   else slow: USM_TRACE_LOAD/STORE(a, base + k)    the runtime counts, fills s
 */
#ifndef USM_TRACE_INLINE_ABI_H
#define USM_TRACE_INLINE_ABI_H

#include <stdint.h>

#define USM_TRACE_ON       "__usm_trace_on"       /* int: count accesses now */
#define USM_TRACE_BLOCK    "__usm_trace_block"    /* initial-exec TLS pointer */
#define USM_TRACE_LOAD     "__usm_trace_load"     /* void (uintptr_t a, uint64_t site) */
#define USM_TRACE_STORE    "__usm_trace_store"    /* the same for a store */
#define USM_TRACE_REGISTER "__usm_trace_sites"    /* uint64_t (uint64_t n): the base */
#define USM_TRACE_THREAD   "__usm_trace_thread"   /* void (void): make this thread's block */

/* Sites numbered beyond this have no slot (their base is this value until
 * the module registers, and when the numbering is full): always the slow
 * path, still counted exactly. A thread's block reserves room for twice
 * as many slots, so even those index mapped zeros (a miss). */
#define USM_TRACE_MAX_SITES (1UL << 20)

struct usm_trace_slot {
	uintptr_t start;
	uint64_t *count;   /* the reads or the writes of (object, site, thread) */
	uint32_t *gen_at;  /* the object's generation, bumped at its free */
	uint32_t len;      /* the object's extent, at most UINT32_MAX */
	uint32_t gen;
};

struct usm_trace_block {
	uintptr_t stack_lo, stack_len;
	uintptr_t pad[2]; /* the header is one slot's size */
	struct usm_trace_slot slots[];
};

#endif
