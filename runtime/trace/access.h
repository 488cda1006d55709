/* The per-thread state behind counting, and the fast path every
 * instrumented load and store takes (inlined into the callbacks).
 *
 * A thread keeps a small cache indexed by access IP: an IP that touched an
 * object last time usually touches the same one again (a loop over an
 * array), and then the count costs a few compares and one add. Accesses
 * to the thread's own stack are dropped before that. Otherwise
 * rt_access_slow() finds the object (the index) and its counter for this
 * IP and thread (a per-thread cache, then the object's own table). */
#ifndef USM_TRACE_ACCESS_H
#define USM_TRACE_ACCESS_H

#include "inline_abi.h"
#include "rt.h"

#define RT_IPC_SIZE 256

struct rt_ipc_ent {
	uintptr_t ip;
	struct rt_obj *obj;
	struct rt_access *acc;
	uint32_t gen;
};

/* A second-level cache of (object, IP) -> counter, small enough to stay
 * in the core's caches, in front of the object's own table. */
#define RT_PAIR_SIZE 8192

struct rt_pair_ent {
	struct rt_obj *obj;
	uintptr_t ip;
	struct rt_access *acc;
	uint32_t gen;
};

struct rt_thread {
	pid_t tid;
	uint16_t name_id;
	/* this thread's stack: accesses there are never to an object */
	uintptr_t stack_lo, stack_len;
	struct rt_pair_ent *pairs;
	struct usm_trace_block *block; /* the trace pass's slots (inline_abi.h) */
	struct rt_ipc_ent ipc[RT_IPC_SIZE];
};

extern __thread struct rt_thread *rt_self RT_TLS;
/* t->block of this thread, read by the code the trace pass emits */
extern __thread struct usm_trace_block *rt_block __asm__("__usm_trace_block") RT_TLS;

void rt_access_slow(uintptr_t addr, int is_write, uintptr_t ip);
/* This thread's state (made on first use), NULL until the runtime is ready. */
struct rt_thread *rt_thread_get(void);
/* The trace pass's slow path: counts like rt_access_slow, then fills the
 * site's slot of this thread so the next access there counts inline. */
void rt_access_site(uintptr_t addr, int is_write, uintptr_t ip, uint64_t site);

static inline void rt_access_fast(uintptr_t addr, int is_write, uintptr_t ip)
{
	struct rt_thread *t;
	struct rt_ipc_ent *e;
	struct rt_obj *o;

	if (!RT_LOAD(&rt_record_accesses))
		return;
	if (RT_UNLIKELY(rt_busy))
		return;
	t = rt_self;
	if (RT_LIKELY(t != NULL)) {
		/* a third of an interpreter's accesses: its own stack, never an object */
		if (addr - t->stack_lo < t->stack_len)
			return;
		e = &t->ipc[(ip ^ (ip >> 8)) & (RT_IPC_SIZE - 1)];
		o = e->obj;
		if (e->ip == ip && o && RT_LOAD(&o->gen) == e->gen &&
		    RT_LOAD(&o->state) == RT_OBJ_LIVE && addr - o->va < RT_LOAD(&o->extent)) {
			if (is_write)
				RT_STORE(&e->acc->writes, e->acc->writes + 1);
			else
				RT_STORE(&e->acc->reads, e->acc->reads + 1);
			return;
		}
	}
	rt_access_slow(addr, is_write, ip);
}

#endif
