/* Counting loads and stores per object and per (access IP, thread): the
 * slow path behind access.h, each object's table of counters, and the life
 * of the per-thread state.
 *
 * A counter is created once per (object, IP, thread) and then only its
 * thread increments it (relaxed stores; a dump reads concurrently). Each
 * object finds its counters in a small open-addressing table of its own:
 * the object's memory is already in cache when the lookup starts, and a
 * table goes back to its pool when its object is freed, so nothing needs
 * purging. Readers take no lock; a table is replaced, never changed in
 * place, when it grows. Tables and counters come from pools whose memory
 * is never returned, so a reader holding an old table reads stale but
 * valid slots: it trusts what it read only if the object still has that
 * table afterwards (table_find). */
#include "access.h"

#include "base/page.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

__thread struct rt_thread *rt_self RT_TLS;
RT_EXPORT __thread struct usm_trace_block *rt_block RT_TLS;

/* Room for twice the numbered sites: a site of a module not yet numbered
 * (base USM_TRACE_MAX_SITES) indexes zeros, a miss. Reserved, not
 * committed: only the slots of sites this thread ran take memory. */
#define BLOCK_SIZE                                                                                 \
	(sizeof(struct usm_trace_block) + 2 * USM_TRACE_MAX_SITES * sizeof(struct usm_trace_slot))

#define NCLASSES 14 /* tables of 4 << 0 .. 4 << 13 slots (512 KiB) */
#define TABLE(k) RT_POOL_INIT(sizeof(struct rt_table) + (4UL << (k)) * sizeof(struct rt_slot))

static struct rt_pool access_pool = RT_POOL_INIT(sizeof(struct rt_access));
static struct rt_pool thread_pool = RT_POOL_INIT(sizeof(struct rt_thread));
static struct rt_pool table_pools[NCLASSES] = {
        TABLE(0), TABLE(1), TABLE(2), TABLE(3),  TABLE(4),  TABLE(5),  TABLE(6),
        TABLE(7), TABLE(8), TABLE(9), TABLE(10), TABLE(11), TABLE(12), TABLE(13),
};
/* An object's lock holds the fork generation it was taken in: a child
 * bumps the generation, and a lock of an older one was held by a thread
 * the child does not have, so it is free to take. */
static uint32_t lock_gen = 1;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *p)
{
	struct rt_thread *t = p;

	rt_busy++;
	rt_self = NULL;
	rt_block = NULL;
	rt_munmap(t->block, BLOCK_SIZE);
	rt_munmap(t->pairs, RT_PAIR_SIZE * sizeof(*t->pairs));
	rt_pool_put(&thread_pool, t);
	rt_pool_thread_exit();
	rt_busy--;
}

static void make_key(void)
{
	pthread_key_create(&thread_key, thread_exit);
}

static void thread_name(struct rt_thread *t)
{
	char name[17] = "";

	prctl(PR_GET_NAME, name);
	t->name_id = rt_name_intern(name);
}

static void thread_stack(struct rt_thread *t)
{
	pthread_attr_t attr;
	void *lo;
	size_t len;

	if (pthread_getattr_np(pthread_self(), &attr))
		return;
	if (!pthread_attr_getstack(&attr, &lo, &len)) {
		t->stack_lo = (uintptr_t)lo;
		t->stack_len = len;
	}
	pthread_attr_destroy(&attr);
}

struct rt_thread *rt_thread_get(void)
{
	struct rt_thread *t = rt_self;

	if (t || !rt.ready)
		return t;
	rt_busy++;
	t = rt_pool_get(&thread_pool);
	if (t) {
		memset(t, 0, sizeof(*t));
		t->pairs = rt_mmap(RT_PAIR_SIZE * sizeof(*t->pairs));
		t->block = rt_reserve(BLOCK_SIZE);
		if (!t->pairs || !t->block) {
			rt_munmap(t->pairs, RT_PAIR_SIZE * sizeof(*t->pairs));
			rt_munmap(t->block, BLOCK_SIZE);
			rt_pool_put(&thread_pool, t);
			rt_busy--;
			return NULL;
		}
		t->tid = rt_gettid();
		thread_name(t);
		thread_stack(t);
		t->block->stack_lo = t->stack_lo;
		t->block->stack_len = t->stack_len;
		pthread_once(&thread_key_once, make_key);
		pthread_setspecific(thread_key, t);
		rt_self = t;
		rt_block = t->block;
	}
	rt_busy--;
	return t;
}

uint16_t rt_thread_name_id(void)
{
	struct rt_thread *t = rt_thread_get();

	return t ? t->name_id : 0;
}

static size_t pair_hash(const struct rt_obj *o, uintptr_t ip)
{
	uint64_t h = ((uintptr_t)o >> 4) * 0x9E3779B97F4A7C15ULL ^ ip * 0xC2B2AE3D27D4EB4FULL;

	return (size_t)(h ^ (h >> 29));
}

static size_t slot_hash(uintptr_t ip, pid_t tid)
{
	uint64_t h = (ip ^ ((uint64_t)(uint32_t)tid << 40)) * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 32);
}

static int table_class(const struct rt_table *tb)
{
	return __builtin_ctz(tb->cap) - 2;
}

static void obj_lock(struct rt_obj *o)
{
	uint32_t gen = RT_LOAD(&lock_gen), held;

	for (;;) {
		held = RT_LOAD(&o->lock);
		if (held != gen && __atomic_compare_exchange_n(&o->lock, &held, gen, false,
		                                               __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		sched_yield();
	}
}

static void obj_unlock(struct rt_obj *o)
{
	__atomic_store_n(&o->lock, 0, __ATOMIC_RELEASE);
}

static bool is_mine(const struct rt_access *a, uintptr_t ip, pid_t tid)
{
	return RT_LOAD(&a->ip) == ip && RT_LOAD(&a->tid) == tid;
}

/* (ip, tid)'s counter in o's table, without a lock. Another thread may
 * replace the table meanwhile (it grew) and its pool give the old one to
 * another object: what was read counts only if o still has the table
 * when the search is done (tables only grow, so o never gets one back).
 * Then *sure: a NULL means there is none, as only thread tid adds one. */
static struct rt_access *table_find(struct rt_obj *o, uintptr_t ip, pid_t tid, bool *sure)
{
	struct rt_table *tb = __atomic_load_n(&o->table, __ATOMIC_ACQUIRE);
	struct rt_access *found = NULL;
	size_t mask, i;

	if (tb) {
		mask = tb->cap - 1;
		i = slot_hash(ip, tid) & mask;
		for (size_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
			struct rt_access *a = __atomic_load_n(&tb->slots[i].acc, __ATOMIC_ACQUIRE);

			if (!a)
				break;
			if (RT_LOAD(&tb->slots[i].ip) == ip && is_mine(a, ip, tid)) {
				found = a;
				break;
			}
		}
	}
	/* A table that could not grow: the rest are only in the list. */
	if (!found && RT_LOAD(&o->table_full)) {
		for (struct rt_access *a = __atomic_load_n(&o->accesses, __ATOMIC_ACQUIRE); a;
		     a = a->next)
			if (is_mine(a, ip, tid)) {
				found = a;
				break;
			}
	}
	*sure = __atomic_load_n(&o->table, __ATOMIC_ACQUIRE) == tb;
	return *sure ? found : NULL;
}

static void table_put_slot(struct rt_table *tb, struct rt_access *a)
{
	size_t mask = tb->cap - 1, i = slot_hash(a->ip, a->tid) & mask;

	while (tb->slots[i].acc)
		i = (i + 1) & mask;
	RT_STORE(&tb->slots[i].ip, a->ip);
	__atomic_store_n(&tb->slots[i].acc, a, __ATOMIC_RELEASE);
	tb->n++;
}

/* Under the object's lock: room for one more counter, or false when the
 * table is at its largest. At most three quarters full. */
static bool table_room(struct rt_obj *o)
{
	struct rt_table *old = o->table, *tb;
	int k = old ? table_class(old) + 1 : 0;

	if (old && (old->n + 1) * 4 <= old->cap * 3)
		return true;
	if (k >= NCLASSES)
		return false;
	tb = rt_pool_get(&table_pools[k]);
	if (!tb)
		return false;
	memset(tb->slots, 0, (4UL << k) * sizeof(struct rt_slot));
	tb->cap = 4U << k;
	tb->n = 0;
	if (old)
		for (uint32_t i = 0; i < old->cap; i++)
			if (old->slots[i].acc)
				table_put_slot(tb, old->slots[i].acc);
	__atomic_store_n(&o->table, tb, __ATOMIC_RELEASE);
	if (old)
		rt_pool_put(&table_pools[table_class(old)], old);
	return true;
}

/* Adds (ip, tid)'s counter to o, unless a search under the lock finds it
 * (needed only when the lock-free one was not sure). */
static struct rt_access *counter_new(struct rt_obj *o, uintptr_t ip, pid_t tid, bool sure)
{
	struct rt_access *a = NULL;

	obj_lock(o);
	if (!sure)
		a = table_find(o, ip, tid, &sure);
	/* freed meanwhile (a program racing its own free): nothing to count */
	if (a || RT_LOAD(&o->state) != RT_OBJ_LIVE)
		goto out;
	a = rt_pool_get(&access_pool);
	if (!a)
		goto out;
	*a = (struct rt_access){.ip = ip, .tid = tid, .next = o->accesses};
	__atomic_store_n(&o->accesses, a, __ATOMIC_RELEASE);
	if (table_room(o))
		table_put_slot(o->table, a);
	else
		RT_STORE(&o->table_full, 1);
out:
	obj_unlock(o);
	return a;
}

/* A dead object gets no new counters, so the table that finds them goes
 * back to its pool at once (the dump reads the list): the tables in use
 * are those of live objects only, and stay warm in the cache. */
void rt_obj_drop_table(struct rt_obj *o)
{
	struct rt_table *tb;

	obj_lock(o);
	tb = o->table;
	__atomic_store_n(&o->table, NULL, __ATOMIC_RELEASE);
	obj_unlock(o);
	if (tb)
		rt_pool_put(&table_pools[table_class(tb)], tb);
}

/* Of a dead object (its table went at its free). */
void rt_obj_release_counters(struct rt_obj *o)
{
	struct rt_access *a = __atomic_exchange_n(&o->accesses, NULL, __ATOMIC_ACQ_REL);

	while (a) {
		struct rt_access *next = a->next;

		rt_pool_put(&access_pool, a);
		a = next;
	}
}

/* Counts one access of t at addr from ip; NULL when no object is there
 * (or no counter could be made), else the counter, and *op its object. */
static struct rt_access *count(struct rt_thread *t, uintptr_t addr, int is_write, uintptr_t ip,
                               struct rt_obj **op)
{
	struct rt_pair_ent *pair;
	struct rt_ipc_ent *e;
	struct rt_access *a;
	struct rt_obj *o;

	if (addr - t->stack_lo < t->stack_len)
		return NULL;
	o = rt_index_lookup(addr);
	if (!o)
		return NULL;
	pair = &t->pairs[pair_hash(o, ip) & (RT_PAIR_SIZE - 1)];
	if (pair->obj == o && pair->ip == ip && pair->acc && RT_LOAD(&o->gen) == pair->gen) {
		a = pair->acc;
	} else {
		bool sure;

		a = table_find(o, ip, t->tid, &sure);
		if (!a)
			a = counter_new(o, ip, t->tid, sure);
		if (!a)
			return NULL;
		pair->obj = o;
		pair->ip = ip;
		pair->acc = a;
		pair->gen = o->gen;
	}
	if (is_write)
		RT_STORE(&a->writes, a->writes + 1);
	else
		RT_STORE(&a->reads, a->reads + 1);
	e = &t->ipc[(ip ^ (ip >> 8)) & (RT_IPC_SIZE - 1)];
	e->ip = ip;
	e->obj = o;
	e->acc = a;
	e->gen = o->gen;
	*op = o;
	return a;
}

void rt_access_slow(uintptr_t addr, int is_write, uintptr_t ip)
{
	struct rt_thread *t = rt_thread_get();
	struct rt_obj *o;

	if (!t)
		return;
	rt_busy++;
	count(t, addr, is_write, ip, &o);
	rt_busy--;
}

void rt_access_site(uintptr_t addr, int is_write, uintptr_t ip, uint64_t site)
{
	struct rt_thread *t;
	struct rt_access *a;
	struct rt_obj *o;

	if (!RT_LOAD(&rt_record_accesses) || RT_UNLIKELY(rt_busy))
		return;
	t = rt_thread_get();
	if (!t)
		return;
	rt_busy++;
	a = count(t, addr, is_write, ip, &o);
	if (a && site < USM_TRACE_MAX_SITES) {
		struct usm_trace_slot *s = &t->block->slots[site];
		size_t extent = RT_LOAD(&o->extent);

		s->start = o->va;
		s->len = extent < UINT32_MAX ? (uint32_t)extent : UINT32_MAX;
		s->count = is_write ? &a->writes : &a->reads;
		s->gen_at = &o->gen;
		s->gen = RT_LOAD(&o->gen);
	}
	rt_busy--;
}

void rt_access_atfork(int phase)
{
	if (phase == RT_FORK_CHILD)
		RT_STORE(&lock_gen, lock_gen + 1 ? lock_gen + 1 : 1);
	for (int k = 0; k < NCLASSES; k++) {
		if (phase == RT_FORK_PREPARE)
			rt_pool_lock(&table_pools[k]);
		else if (phase == RT_FORK_PARENT)
			rt_pool_unlock(&table_pools[k]);
		else
			rt_pool_reinit(&table_pools[k]);
	}
	if (phase == RT_FORK_PREPARE) {
		rt_pool_lock(&access_pool);
		rt_pool_lock(&thread_pool);
	} else if (phase == RT_FORK_PARENT) {
		rt_pool_unlock(&thread_pool);
		rt_pool_unlock(&access_pool);
	} else {
		rt_pool_reinit(&access_pool);
		rt_pool_reinit(&thread_pool);
	}
}

void rt_thread_atfork_child(void)
{
	struct rt_thread *t = rt_self;

	/* The child is a new thread id: its counts go to new counters, so the
	 * caches pointing at the parent's must go. */
	if (!t)
		return;
	t->tid = rt_gettid();
	memset(t->ipc, 0, sizeof(t->ipc));
	memset(t->pairs, 0, RT_PAIR_SIZE * sizeof(*t->pairs));
	/* zero pages again, the header kept */
	madvise((char *)t->block + USM_PAGE_SIZE, BLOCK_SIZE - USM_PAGE_SIZE, MADV_DONTNEED);
	memset(t->block->slots, 0, USM_PAGE_SIZE - sizeof(*t->block));
}
