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

#define RT_CHUNK (4UL << 20)

/* MAP_POPULATE: the runtime fills what it maps at once, and one populating
 * call costs far less than a page fault per page (on a VM especially). */
void *rt_mmap(size_t len)
{
	long p = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p < 0 && p > -4096)
		return NULL;
	return (void *)p;
}

void rt_munmap(void *p, size_t len)
{
	if (p)
		syscall(SYS_munmap, p, len);
}

void *rt_pool_get(struct rt_pool *pool)
{
	void *p;

	pthread_mutex_lock(&pool->lock);
	p = pool->free;
	if (p) {
		pool->free = *(void **)p;
	} else {
		if (pool->chunk + pool->item > pool->chunk_end) {
			char *c = rt_mmap(RT_CHUNK);

			if (!c) {
				pthread_mutex_unlock(&pool->lock);
				return NULL;
			}
			pool->chunk = c;
			pool->chunk_end = c + RT_CHUNK;
		}
		p = pool->chunk;
		pool->chunk += pool->item;
	}
	pthread_mutex_unlock(&pool->lock);
	return p;
}

void rt_pool_put(struct rt_pool *pool, void *p)
{
	pthread_mutex_lock(&pool->lock);
	*(void **)p = pool->free;
	pool->free = p;
	pthread_mutex_unlock(&pool->lock);
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
