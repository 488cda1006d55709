/* The allocation functions the traced program calls, in front of glibc's.
 * Each passes the call to glibc under the name glibc exports for this
 * purpose (__libc_malloc...), so the heap's layout is the program's own,
 * then records the object; frees retire it. The caller's return address
 * is the allocation (or free) IP, as Memorizer's _RET_IP_.
 *
 * While rt_busy is set (the runtime itself is running, or libc allocates
 * on its behalf) calls pass straight through, untracked. */
/* mmap and mmap64 are both defined below; with 64-bit offsets the headers
 * would make them one symbol. On x86_64 off_t is 64 bits either way. */
#undef _FILE_OFFSET_BITS
#include "rt.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/page.h"
#include "base/mremap.h"
#include "base/syscall.h"

/* the caller, or the C++ code that called operator new or delete */
#define CALLER (rt_caller_ip ? rt_caller_ip : (uintptr_t)__builtin_return_address(0))

static bool tracking(void)
{
	return RT_LOAD(&rt_record_objects) && !rt_busy;
}

static void track(void *p, size_t size, enum rt_allocator allocator, uintptr_t ip)
{
	size_t usable;

	if (!p)
		return;
	rt_busy++;
	usable = malloc_usable_size(p);
	rt_obj_new((uintptr_t)p, size, usable, usable, allocator, ip, rt_now());
	rt_busy--;
}

/* Frees are applied whenever the runtime is not busy, enabled or not: an
 * object left in the index after its memory went back would claim the
 * next object allocated there. */
static void untrack(void *p, uintptr_t ip, uint64_t now)
{
	struct rt_obj *o;

	if (!p || rt_busy || !rt.ready || RT_LOAD(&rt.finished))
		return;
	rt_busy++;
	o = rt_index_lookup((uintptr_t)p);
	if (o && o->va == (uintptr_t)p && o->allocator != RT_ALLOC_MMAP &&
	    o->allocator != RT_ALLOC_GLOBAL)
		rt_obj_free(o, ip, now);
	rt_busy--;
}

RT_EXPORT void *malloc(size_t size)
{
	void *p = __libc_malloc(size);

	if (tracking())
		track(p, size, RT_ALLOC_MALLOC, CALLER);
	return p;
}

RT_EXPORT void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);

	if (tracking())
		track(p, n * size, RT_ALLOC_CALLOC, CALLER);
	return p;
}

RT_EXPORT void free(void *p)
{
	if (p && rt.ready)
		untrack(p, CALLER, rt_now());
	__libc_free(p);
}

/* A realloc is Memorizer's free of the old object and allocation of a new
 * one, moved or not, both at one instant and one IP: that is what lets
 * an analysis (and usm's own DHAT comparison) chain them. */
static void *do_realloc(void *old, size_t size, uintptr_t ip)
{
	void *p;
	uint64_t now = 0;

	if (!old)
		p = __libc_realloc(NULL, size);
	else {
		if (!rt_busy && rt.ready)
			now = rt_now();
		p = __libc_realloc(old, size);
		/* A failed realloc leaves the old object as it was. */
		if (p || size == 0)
			untrack(old, ip, now);
	}
	if (p && tracking()) {
		size_t usable;

		rt_busy++;
		usable = malloc_usable_size(p);
		rt_obj_new((uintptr_t)p, size, usable, usable,
		           old ? RT_ALLOC_REALLOC : RT_ALLOC_MALLOC, ip, old ? now : rt_now());
		rt_busy--;
	}
	return p;
}

RT_EXPORT void *realloc(void *old, size_t size)
{
	return do_realloc(old, size, CALLER);
}

RT_EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return do_realloc(old, total, CALLER);
}

static void *aligned(size_t align, size_t size, uintptr_t ip)
{
	void *p = __libc_memalign(align, size);

	if (tracking())
		track(p, size, RT_ALLOC_MEMALIGN, ip);
	return p;
}

RT_EXPORT void *memalign(size_t align, size_t size)
{
	return aligned(align, size, CALLER);
}

RT_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	/* glibc 2.36 rejects what is not a power of two, as C11 allows */
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, size, CALLER);
}

RT_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (align % sizeof(void *) || (align & (align - 1)) || align == 0)
		return EINVAL;
	p = aligned(align, size, CALLER);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

RT_EXPORT void *valloc(size_t size)
{
	void *p = __libc_valloc(size);

	if (tracking())
		track(p, size, RT_ALLOC_MEMALIGN, CALLER);
	return p;
}

RT_EXPORT void *pvalloc(size_t size)
{
	void *p = __libc_pvalloc(size);

	if (tracking())
		track(p, size, RT_ALLOC_MEMALIGN, CALLER);
	return p;
}

/* glibc's, found past this library: the symbol is interposed below. */
static size_t (*real_usable_size)(void *);

RT_EXPORT size_t malloc_usable_size(void *p)
{
	struct rt_obj *o;
	size_t n;

	if (!real_usable_size) {
		rt_busy++;
		real_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
		rt_busy--;
	}
	n = real_usable_size ? real_usable_size(p) : 0;
	/* The program may now use every usable byte: count accesses there
	 * as this object's. (The runtime's own calls are busy and skip this.) */
	if (p && !rt_busy && rt.ready) {
		rt_busy++;
		o = rt_index_lookup((uintptr_t)p);
		if (o && o->va == (uintptr_t)p)
			rt_obj_set_extent(o, n);
		rt_busy--;
	}
	return n;
}

/* Anonymous mappings are objects too (allocator "mmap"); file mappings
 * are not memory the program allocated. glibc's malloc maps its big
 * chunks through an internal call that never reaches here, so they stay
 * malloc objects. */
static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	/* syscall(2) has set errno and returned -1 */
	return usm_syscall_failed(r) ? MAP_FAILED : (void *)r;
}

static void unmap_range(uintptr_t start, size_t len, uintptr_t ip)
{
	uint64_t now;

	if (rt_busy || !rt.ready || RT_LOAD(&rt.finished))
		return;
	rt_busy++;
	now = rt_now();
	/* Objects are found by their first byte: a partial unmap that removes
	 * an object's start retires the object. */
	for (uintptr_t a = start; a < start + len;) {
		struct rt_obj *o = rt_index_lookup(a);

		if (o && o->allocator == RT_ALLOC_MMAP && o->va >= start) {
			a = o->va + o->size;
			rt_obj_free(o, ip, now);
		} else {
			a = usm_page_down(a) + USM_PAGE_SIZE;
		}
	}
	rt_busy--;
}

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, uintptr_t ip)
{
	void *p;

	/* MAP_FIXED over tracked mappings replaces them */
	if ((flags & MAP_FIXED) && addr)
		unmap_range((uintptr_t)addr, len, ip);
	p = raw_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && (flags & MAP_ANONYMOUS) && tracking()) {
		rt_busy++;
		rt_obj_new((uintptr_t)p, len, len, 0, RT_ALLOC_MMAP, ip, rt_now());
		rt_busy--;
	}
	return p;
}

RT_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off, CALLER);
}

RT_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off, CALLER);
}

RT_EXPORT int munmap(void *addr, size_t len)
{
	long r;

	unmap_range((uintptr_t)addr, len, CALLER);
	r = syscall(SYS_munmap, addr, len);
	return (int)r;
}

RT_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr;
	uintptr_t ip = CALLER;
	struct rt_obj *o = NULL;
	long r;

	USM_MREMAP_NEW_ADDR(flags, new_addr);
	if (!rt_busy && rt.ready) {
		rt_busy++;
		o = rt_index_lookup((uintptr_t)old);
		rt_busy--;
	}
	r = syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	if (r == -1)
		return MAP_FAILED;
	/* A tracked mapping that moved or changed size is a new object, as a
	 * realloc is. */
	if (o && o->va == (uintptr_t)old && o->allocator == RT_ALLOC_MMAP) {
		uint64_t now = rt_now();

		rt_busy++;
		rt_obj_free(o, ip, now);
		if (RT_LOAD(&rt_record_objects))
			rt_obj_new((uintptr_t)r, new_len, new_len, 0, RT_ALLOC_MMAP, ip, now);
		rt_busy--;
	}
	return (void *)r;
}
