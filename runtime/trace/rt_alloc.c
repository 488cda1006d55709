/* Memory for the runtime's own structures. It comes from raw mmap
 * syscalls, never from malloc or from the interposed mmap, so recording an
 * allocation can never allocate through the program's allocator again.
 * Pools hand out fixed-size items that are never returned to the kernel:
 * a stale pointer to an object (a thread's lookup cache) stays safe to
 * read after the object is recycled. */
#include "rt.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/syscall.h"

#define RT_CHUNK (4UL << 20)

static void *map(size_t len, int flags)
{
	long p = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (usm_syscall_failed(p))
		return NULL;
	return (void *)p;
}

/* MAP_POPULATE: the runtime fills what it maps at once, and one populating
 * call costs far less than a page fault per page (on a VM especially). */
void *rt_mmap(size_t len)
{
	return map(len, MAP_POPULATE);
}

void *rt_reserve(size_t len)
{
	return map(len, MAP_NORESERVE);
}

void rt_munmap(void *p, size_t len)
{
	if (p)
		syscall(SYS_munmap, p, len);
}

/* Per-thread caches: a free list and a slice of fresh memory per pool. A
 * cache trades items with its pool in batches of about 64 KiB. */
#define RT_NPOOLS   20 /* 17 pools today; any beyond take the locked path */
#define BATCH_BYTES (64UL << 10)

struct pool_cache {
	void *free;
	size_t nfree;
	char *bump, *bump_end;
};

static __thread struct pool_cache caches[RT_NPOOLS] RT_TLS;
static struct rt_pool *pools[RT_NPOOLS]; /* by id - 1 */
static int npools;

static size_t batch(const struct rt_pool *pool)
{
	size_t n = BATCH_BYTES / pool->item;

	return n ? n : 1;
}

/* The pool's cache slot, chosen at its first use (NULL past RT_NPOOLS). */
static struct pool_cache *cache_of(struct rt_pool *pool)
{
	int id = __atomic_load_n(&pool->id, __ATOMIC_ACQUIRE);

	if (RT_UNLIKELY(!id)) {
		pthread_mutex_lock(&pool->lock);
		id = pool->id;
		if (!id) {
			id = __atomic_add_fetch(&npools, 1, __ATOMIC_RELAXED);
			if (id <= RT_NPOOLS)
				pools[id - 1] = pool;
			__atomic_store_n(&pool->id, id, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&pool->lock);
	}
	return id <= RT_NPOOLS ? &caches[id - 1] : NULL;
}

/* Under the pool's lock: fresh memory for n items, from the current chunk
 * or a new one. */
static char *carve(struct rt_pool *pool, size_t n)
{
	char *p;

	if (pool->chunk + n * pool->item > pool->chunk_end) {
		size_t len = n * pool->item > RT_CHUNK ? n * pool->item : RT_CHUNK;
		char *c = rt_mmap(len);

		if (!c)
			return NULL;
		pool->chunk = c;
		pool->chunk_end = c + len;
	}
	p = pool->chunk;
	pool->chunk += n * pool->item;
	return p;
}

static void *refill(struct rt_pool *pool, struct pool_cache *c)
{
	size_t n = batch(pool);
	void *p;

	pthread_mutex_lock(&pool->lock);
	if (pool->free) {
		/* up to a batch of given-back items, the first for the caller */
		void *last = p = pool->free;
		size_t taken = 1;

		for (; taken < n && *(void **)last; taken++)
			last = *(void **)last;
		pool->free = *(void **)last;
		*(void **)last = NULL;
		c->free = *(void **)p;
		c->nfree = taken - 1;
	} else {
		p = carve(pool, n);
		if (p) {
			c->bump = (char *)p + pool->item;
			c->bump_end = (char *)p + n * pool->item;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return p;
}

void *rt_pool_get(struct rt_pool *pool)
{
	struct pool_cache *c = cache_of(pool);
	void *p;

	if (RT_UNLIKELY(!c)) {
		pthread_mutex_lock(&pool->lock);
		p = pool->free;
		if (p)
			pool->free = *(void **)p;
		else
			p = carve(pool, 1);
		pthread_mutex_unlock(&pool->lock);
		return p;
	}
	p = c->free;
	if (p) {
		c->free = *(void **)p;
		c->nfree--;
		return p;
	}
	if (c->bump + pool->item <= c->bump_end) {
		p = c->bump;
		c->bump += pool->item;
		return p;
	}
	return refill(pool, c);
}

/* Gives n items of list (NULL-terminated) back to the pool; returns the rest. */
static void *give_back(struct rt_pool *pool, void *list, size_t n)
{
	void *first = list, *last = list;

	for (size_t i = 1; i < n && *(void **)last; i++)
		last = *(void **)last;
	list = *(void **)last;
	pthread_mutex_lock(&pool->lock);
	*(void **)last = pool->free;
	pool->free = first;
	pthread_mutex_unlock(&pool->lock);
	return list;
}

void rt_pool_put(struct rt_pool *pool, void *p)
{
	struct pool_cache *c = cache_of(pool);

	if (RT_UNLIKELY(!c)) {
		pthread_mutex_lock(&pool->lock);
		*(void **)p = pool->free;
		pool->free = p;
		pthread_mutex_unlock(&pool->lock);
		return;
	}
	*(void **)p = c->free;
	c->free = p;
	/* a thread that frees what others allocate must not hoard it */
	if (++c->nfree > 2 * batch(pool)) {
		c->free = give_back(pool, c->free, batch(pool));
		c->nfree -= batch(pool);
	}
}

void rt_pool_thread_exit(void)
{
	int n = __atomic_load_n(&npools, __ATOMIC_RELAXED);

	for (int i = 0; i < n && i < RT_NPOOLS; i++) {
		struct pool_cache *c = &caches[i];
		struct rt_pool *pool = pools[i];

		if (!pool) /* its id is being given out right now: never used here */
			continue;
		while (c->bump + pool->item <= c->bump_end) {
			*(void **)c->bump = c->free;
			c->free = c->bump;
			c->bump += pool->item;
		}
		if (c->free)
			give_back(pool, c->free, SIZE_MAX);
		c->free = NULL;
		c->nfree = 0;
	}
}

void rt_pool_lock(struct rt_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
}

void rt_pool_unlock(struct rt_pool *pool)
{
	pthread_mutex_unlock(&pool->lock);
}

void rt_pool_reinit(struct rt_pool *pool)
{
	pthread_mutex_init(&pool->lock, NULL);
}
