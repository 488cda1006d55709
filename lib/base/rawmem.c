/* usm's private memory: a reserved address window (PROT_NONE, no swap
 * reservation) from which chunks are committed with raw mmap system calls.
 * Small blocks come from power-of-two size classes with free lists; large
 * blocks get their own committed chunk, returned to the window's free list
 * of chunks when freed. See lib/base/rawmem.h for why this exists. */
#include "base/rawmem.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "os/vm.h"

#include "base/syscall.h"

#define WINDOW_SIZE   (64ULL << 30)   /* address space only; committed on use */
#define CHUNK_SIZE    (64u << 10)     /* unit of commit, and the large-block cutoff */
#define MIN_CLASS     4               /* 16 bytes */
#define MAX_CLASS     15              /* 32 KiB: larger goes whole-chunk */

struct free_block {
	struct free_block *next;
};

/* A run of free chunks in the window, kept in a small sorted array-free
 * singly linked list (large frees are rare: metadata arrays, store slabs). */
struct free_run {
	struct free_run *next;
	size_t chunks;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *window;
static size_t window_used;            /* bump pointer, bytes */
static struct free_block *classes[MAX_CLASS + 1];
static struct free_run *free_runs;

static void *raw_mmap(void *addr, size_t len, int prot, int flags)
{
	long r = usm_os_mmap(addr, len, prot, flags, -1, 0);
	return usm_syscall_failed(r) ? MAP_FAILED : (void *)r;
}

static int window_init(void)
{
	if (window)
		return 0;
	void *w = raw_mmap(NULL, WINDOW_SIZE, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	if (w == MAP_FAILED)
		return -1;
	window = w;
	return 0;
}

/* Commits `chunks` contiguous chunks; caller holds the lock. */
static void *commit_chunks(size_t chunks)
{
	size_t len = chunks * CHUNK_SIZE;
	struct free_run **pp, *run;
	char *p = NULL;

	if (window_init() < 0)
		return NULL;
	for (pp = &free_runs; (run = *pp); pp = &run->next) {
		if (run->chunks < chunks)
			continue;
		/* take the tail of the run, so its header stays in place */
		run->chunks -= chunks;
		p = (char *)run + run->chunks * CHUNK_SIZE;
		if (run->chunks == 0)
			*pp = run->next;
		break;
	}
	if (!p) {
		if (window_used + len > WINDOW_SIZE)
			return NULL;
		p = window + window_used;
		window_used += len;
	}
	if (raw_mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED) ==
	    MAP_FAILED)
		return NULL;
	return p;
}

/* Returns chunks to the window; the memory goes back to the kernel. */
static void release_chunks(void *p, size_t chunks)
{
	struct free_run *run = p;

	raw_mmap(p, chunks * CHUNK_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE);
	run->chunks = chunks;
	run->next = free_runs;
	free_runs = run;
}

static unsigned size_class(size_t size)
{
	unsigned c = MIN_CLASS;

	while (((size_t)1 << c) < size)
		c++;
	return c;
}

void *usm_rawmem_alloc(size_t size)
{
	void *p = NULL;

	if (size == 0)
		size = 1;
	pthread_mutex_lock(&lock);
	if (size > ((size_t)1 << MAX_CLASS)) {
		p = commit_chunks((size + CHUNK_SIZE - 1) / CHUNK_SIZE);
	} else {
		unsigned c = size_class(size);
		if (!classes[c]) {
			char *chunk = commit_chunks(1);
			if (chunk) {
				size_t bs = (size_t)1 << c;
				for (size_t off = 0; off + bs <= CHUNK_SIZE; off += bs) {
					struct free_block *b = (void *)(chunk + off);
					b->next = classes[c];
					classes[c] = b;
				}
			}
		}
		if (classes[c]) {
			struct free_block *b = classes[c];
			classes[c] = b->next;
			p = b;
			memset(p, 0, (size_t)1 << c);
		}
	}
	pthread_mutex_unlock(&lock);
	return p;
}

void usm_rawmem_free(void *ptr, size_t size)
{
	if (!ptr)
		return;
	if (size == 0)
		size = 1;
	pthread_mutex_lock(&lock);
	if (size > ((size_t)1 << MAX_CLASS)) {
		release_chunks(ptr, (size + CHUNK_SIZE - 1) / CHUNK_SIZE);
	} else {
		struct free_block *b = ptr;
		unsigned c = size_class(size);
		b->next = classes[c];
		classes[c] = b;
	}
	pthread_mutex_unlock(&lock);
}

void *usm_rawmem_realloc(void *ptr, size_t old_size, size_t new_size)
{
	void *p = usm_rawmem_alloc(new_size);

	if (!p)
		return NULL;
	if (ptr) {
		memcpy(p, ptr, old_size < new_size ? old_size : new_size);
		usm_rawmem_free(ptr, old_size);
	}
	return p;
}

#define SIZED_HEADER 16

void *usm_rawmem_malloc(size_t size)
{
	size_t *p;

	if (size > SIZE_MAX - SIZED_HEADER)
		return NULL;
	p = usm_rawmem_alloc(size + SIZED_HEADER);
	if (!p)
		return NULL;
	*p = size + SIZED_HEADER;
	return (char *)p + SIZED_HEADER;
}

void usm_rawmem_mfree(void *ptr)
{
	size_t *p;

	if (!ptr)
		return;
	p = (size_t *)((char *)ptr - SIZED_HEADER);
	usm_rawmem_free(p, *p);
}

void *usm_rawmem_mrealloc(void *ptr, size_t size)
{
	size_t *old;
	void *p;

	if (!ptr)
		return usm_rawmem_malloc(size);
	old = (size_t *)((char *)ptr - SIZED_HEADER);
	p = usm_rawmem_malloc(size);
	if (!p)
		return NULL;
	memcpy(p, ptr, *old - SIZED_HEADER < size ? *old - SIZED_HEADER : size);
	usm_rawmem_free(old, *old);
	return p;
}

bool usm_rawmem_owns(const void *addr, size_t len)
{
	const char *a = addr;

	return window && a >= window && a + len <= window + WINDOW_SIZE;
}

void usm_rawmem_window(void **start, size_t *len)
{
	pthread_mutex_lock(&lock);
	window_init();
	pthread_mutex_unlock(&lock);
	*start = window;
	*len = window ? WINDOW_SIZE : 0;
}

void usm_rawmem_reset_after_fork(void)
{
	/* The parent's pager thread may have been inside the allocator at the
	 * fork: nothing of the old window can be trusted, and the child needs
	 * nothing from it. */
	if (window)
		usm_os_munmap(window, WINDOW_SIZE);
	pthread_mutex_init(&lock, NULL);
	window = NULL;
	window_used = 0;
	memset(classes, 0, sizeof(classes));
	free_runs = NULL;
}
