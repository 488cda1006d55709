/* The life of an object: created at allocation, kept after its free (a
 * CAPMAP shows dead objects, as Memorizer's kmap does) until a
 * clear_dead_objs or clear_printed_list drops it. All objects sit in one
 * of 16 lists, chosen by the allocating thread so that threads rarely
 * share a list lock; a dump walks them all. */
#include "rt.h"

#include <string.h>

#define NLISTS 16
#define NNAMES 1024

struct list {
	pthread_mutex_t lock;
	struct rt_obj *head;
} __attribute__((aligned(64)));

static struct list lists[NLISTS] = {
        [0 ... NLISTS - 1] = {PTHREAD_MUTEX_INITIALIZER, NULL},
};
static struct rt_pool obj_pool = RT_POOL_INIT(sizeof(struct rt_obj));

/* Process names (the CAPMAP's process field), interned: objects keep a
 * 16-bit id instead of 16 bytes each. Id 0 is "?" when the table is full. */
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static char names[NNAMES][16] = {"?"};
static unsigned nnames = 1;

uint16_t rt_name_intern(const char *raw)
{
	char name[16];
	uint16_t id = 0;
	size_t i;

	/* The CAPMAP is comma-separated and line-based: a thread name may
	 * hold anything, the process field may not (docs/capmap.md). */
	for (i = 0; i < 15 && raw[i]; i++)
		name[i] = raw[i] == ',' || (unsigned char)raw[i] < 0x20 || raw[i] == 0x7f ? '_'
		                                                                          : raw[i];
	name[i] = 0;
	if (!i)
		return 0;
	pthread_mutex_lock(&names_lock);
	for (unsigned n = 1; n < nnames; n++)
		if (!strncmp(names[n], name, 15)) {
			id = (uint16_t)n;
			goto out;
		}
	if (nnames < NNAMES) {
		strncpy(names[nnames], name, 15);
		id = (uint16_t)nnames++;
	}
out:
	pthread_mutex_unlock(&names_lock);
	return id;
}

const char *rt_name(uint16_t id)
{
	return id < NNAMES ? names[id] : "?";
}

struct rt_obj *rt_obj_new(uintptr_t va, size_t size, size_t extent, size_t cache,
                          enum rt_allocator allocator, uintptr_t ip, uint64_t now)
{
	struct rt_obj *o = rt_pool_get(&obj_pool);
	struct list *l;
	uint32_t gen;
	pid_t tid = rt_gettid();

	if (!o)
		return NULL;
	gen = o->gen;
	*o = (struct rt_obj){
	        .gen = gen + 1,
	        .va = va,
	        .size = size,
	        .extent = extent ? extent : 1,
	        .cache = cache,
	        .alloc_ip = ip,
	        .alloc_ns = now,
	        .tid = tid,
	        .name_id = rt_thread_name_id(),
	        .allocator = (uint8_t)allocator,
	};
	o->list_shard = (uint8_t)((unsigned)tid % NLISTS);
	rt_index_insert(o);
	/* Published to lookups only once complete: the state goes last. */
	__atomic_store_n(&o->state, RT_OBJ_LIVE, __ATOMIC_RELEASE);

	l = &lists[o->list_shard];
	pthread_mutex_lock(&l->lock);
	o->next = l->head;
	if (l->head)
		l->head->prev = o;
	l->head = o;
	pthread_mutex_unlock(&l->lock);
	return o;
}

void rt_obj_free(struct rt_obj *o, uintptr_t ip, uint64_t now)
{
	struct list *l = &lists[o->list_shard];

	rt_index_remove(o);
	pthread_mutex_lock(&l->lock);
	o->free_ip = ip;
	o->free_ns = now;
	RT_STORE(&o->state, RT_OBJ_DEAD);
	/* the inline fast path's slots hold the generation: none hits now */
	RT_STORE(&o->gen, o->gen + 1);
	pthread_mutex_unlock(&l->lock);
	rt_obj_drop_table(o);
}

void rt_obj_set_extent(struct rt_obj *o, size_t extent)
{
	size_t old = o->extent;

	/* Growing in place cannot reach another live object: the allocator
	 * gave these bytes to this one. */
	if (extent > old) {
		RT_STORE(&o->extent, extent);
		rt_index_extend(o, old);
	}
}

static void release(struct rt_obj *o)
{
	rt_obj_release_counters(o);
	RT_STORE(&o->state, RT_OBJ_UNUSED);
	rt_pool_put(&obj_pool, o);
}

void rt_objs_clear(bool printed_only)
{
	for (int i = 0; i < NLISTS; i++) {
		struct list *l = &lists[i];
		struct rt_obj *o, *next, *drop = NULL;

		pthread_mutex_lock(&l->lock);
		for (o = l->head; o; o = next) {
			next = o->next;
			if (o->state == RT_OBJ_LIVE || (printed_only && o->state != RT_OBJ_PRINTED))
				continue;
			if (o->prev)
				o->prev->next = o->next;
			else
				l->head = o->next;
			if (o->next)
				o->next->prev = o->prev;
			o->next = drop;
			drop = o;
		}
		pthread_mutex_unlock(&l->lock);
		for (o = drop; o; o = next) {
			next = o->next;
			release(o);
		}
	}
}

void rt_objs_walk(rt_obj_fn fn, void *arg)
{
	for (int i = 0; i < NLISTS; i++) {
		pthread_mutex_lock(&lists[i].lock);
		for (struct rt_obj *o = lists[i].head; o; o = o->next)
			fn(o, arg);
		pthread_mutex_unlock(&lists[i].lock);
	}
}

void rt_objs_atfork(int phase)
{
	if (phase == RT_FORK_PREPARE) {
		pthread_mutex_lock(&names_lock);
		for (int i = 0; i < NLISTS; i++)
			pthread_mutex_lock(&lists[i].lock);
		rt_pool_lock(&obj_pool);
	} else if (phase == RT_FORK_PARENT) {
		rt_pool_unlock(&obj_pool);
		for (int i = 0; i < NLISTS; i++)
			pthread_mutex_unlock(&lists[i].lock);
		pthread_mutex_unlock(&names_lock);
	} else {
		rt_pool_reinit(&obj_pool);
		for (int i = 0; i < NLISTS; i++)
			pthread_mutex_init(&lists[i].lock, NULL);
		pthread_mutex_init(&names_lock, NULL);
	}
}
