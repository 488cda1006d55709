/* usm's private memory: a reserved address window (PROT_NONE, no swap
 * reservation) from which chunks are committed with raw mmap system calls.
 * Small blocks come from size classes, each chunk a slab of one class with
 * its own free list; a slab whose blocks are all free goes back to the
 * kernel (but for one kept per class), so that memory the mem store freed
 * in one class is not held for it forever. Large blocks get their own
 * committed chunks, returned when freed. See lib/base/rawmem.h for why
 * this exists. */
#include "base/rawmem.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "os/vm.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "base/syscall.h"

#define WINDOW_SIZE   (64ULL << 30)   /* address space only; committed on use */
#define CHUNK_SIZE    (64u << 10)     /* unit of commit, and the large-block cutoff */
#define MAX_SMALL     (32u << 10)     /* larger goes whole-chunk */
#define NCLASSES      39              /* size_class(MAX_SMALL) + 1 */

struct free_block {
	struct free_block *next;
};

/* A run of free chunks in the window, kept in a small sorted array-free
 * singly linked list (large frees are rare: metadata arrays, store slabs). */
struct free_run {
	struct free_run *next;
	size_t chunks;
};

/* A chunk's slab record, kept apart from the chunk (in slab_table, at the
 * window's start) so that blocks keep their natural alignment. */
struct slab {
	struct slab *prev, *next; /* in its class's list of slabs with a free block */
	struct free_block *free;
	uint32_t live;            /* blocks handed out */
	uint32_t cls;
};

#define WINDOW_CHUNKS (WINDOW_SIZE / CHUNK_SIZE)
#define TABLE_BYTES   (WINDOW_CHUNKS * sizeof(struct slab))  /* whole chunks */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *window;
static size_t window_used;            /* bump pointer, bytes */
static struct slab *slab_table;       /* one per chunk; pages touched on use */
static struct slab *partial[NCLASSES];
static struct free_run *free_runs;
/* Chunks mapped read-write now: what usm's own memory costs the process,
 * which the pager's budget counts. Written under the lock, read without. */
static _Atomic size_t committed_chunks;

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
	if (raw_mmap(w, TABLE_BYTES, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE) == MAP_FAILED) {
		usm_os_munmap(w, WINDOW_SIZE);
		return -1;
	}
	window = w;
	slab_table = w;
	window_used = TABLE_BYTES;
	return 0;
}

/* Under ASan (the tests' build): committed memory is new memory. The raw
 * munmap of a window reset after fork is not seen by ASan, so the shadow of
 * a thread stack that lived at an address (a parent's pager thread) would
 * otherwise still mark the chunk committed there in the child. */
static void unpoison(void *p, size_t len)
{
#if defined(__SANITIZE_ADDRESS__)
	ASAN_UNPOISON_MEMORY_REGION(p, len);
#else
	(void)p, (void)len;
#endif
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
	committed_chunks += chunks;
	unpoison(p, len);
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
	committed_chunks -= chunks;
}

/* Size classes: 16, 32 and 64 bytes, then four steps per power of two
 * (2^k times 1.25, 1.5, 1.75, 2), so that a block wastes at most a fifth
 * of itself: the mem store's compressed pages, of every length up to a
 * page, are most of what is allocated. Every class is a multiple of 16
 * bytes; the powers of two keep their natural alignment. */
static unsigned size_class(size_t size)
{
	unsigned k = 6;
	size_t step;

	if (size <= 64)
		return size <= 16 ? 0 : size <= 32 ? 1 : 2;
	while (((size_t)2 << k) < size)
		k++; /* now 2^k < size <= 2^(k+1) */
	step = (size_t)1 << (k - 2);
	return 3 + (k - 6) * 4 + (unsigned)((size - ((size_t)1 << k) + step - 1) / step) - 1;
}

static size_t class_size(unsigned c)
{
	unsigned k = 6 + (c - 3) / 4, q = (c - 3) % 4 + 1;

	return c < 3 ? (size_t)16 << c : ((size_t)1 << k) + q * ((size_t)1 << (k - 2));
}

static struct slab *slab_of(const void *p)
{
	return &slab_table[((const char *)p - window) / CHUNK_SIZE];
}

static char *chunk_of(const struct slab *s)
{
	return window + (size_t)(s - slab_table) * CHUNK_SIZE;
}

static void slab_unlink(struct slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		partial[s->cls] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void slab_push(struct slab *s)
{
	s->prev = NULL;
	s->next = partial[s->cls];
	if (s->next)
		s->next->prev = s;
	partial[s->cls] = s;
}

/* A new slab of class c, all its blocks free; caller holds the lock. */
static struct slab *slab_new(unsigned c)
{
	char *chunk = commit_chunks(1);
	size_t bs = class_size(c);
	struct slab *s;

	if (!chunk)
		return NULL;
	s = slab_of(chunk);
	*s = (struct slab){ .cls = c };
	for (size_t off = CHUNK_SIZE / bs * bs; off >= bs; off -= bs) {
		struct free_block *b = (void *)(chunk + off - bs);
		b->next = s->free;
		s->free = b;
	}
	slab_push(s);
	return s;
}

size_t usm_rawmem_footprint(size_t size)
{
	if (size == 0)
		size = 1;
	if (size > MAX_SMALL)
		return (size + CHUNK_SIZE - 1) / CHUNK_SIZE * CHUNK_SIZE;
	return class_size(size_class(size));
}

void *usm_rawmem_alloc(size_t size)
{
	void *p = NULL;

	if (size == 0)
		size = 1;
	pthread_mutex_lock(&lock);
	if (size > MAX_SMALL) {
		p = commit_chunks((size + CHUNK_SIZE - 1) / CHUNK_SIZE);
	} else {
		unsigned c = size_class(size);
		struct slab *s = partial[c] ? partial[c] : slab_new(c);
		if (s) {
			struct free_block *b = s->free;
			s->free = b->next;
			s->live++;
			if (!s->free)
				slab_unlink(s);
			p = b;
			memset(p, 0, class_size(c));
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
	if (size > MAX_SMALL) {
		release_chunks(ptr, (size + CHUNK_SIZE - 1) / CHUNK_SIZE);
	} else {
		struct free_block *b = ptr;
		struct slab *s = slab_of(ptr);
		if (!s->free)
			slab_push(s); /* it was full */
		b->next = s->free;
		s->free = b;
		/* empty: back to the kernel, unless it is the class's only slab
		 * with room (the next allocation would commit one again) */
		if (--s->live == 0 && (s->prev || s->next)) {
			slab_unlink(s);
			release_chunks(chunk_of(s), 1);
		}
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

size_t usm_rawmem_committed(void)
{
	return committed_chunks * CHUNK_SIZE;
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
	slab_table = NULL;
	memset(partial, 0, sizeof(partial));
	free_runs = NULL;
	committed_chunks = 0;
}
