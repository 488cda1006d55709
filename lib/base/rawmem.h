/* Memory that usm's own machinery uses and that the pager never manages.
 *
 * Inside a managed process every anonymous mapping made through libc is
 * registered with userfaultfd and may be evicted; the pager's metadata, its
 * stores and its thread stack must not be, or serving a fault could need the
 * fault it is serving. These functions map memory with raw system calls,
 * never through libc's (hooked) mmap or malloc, and carve it from one
 * reserved address window so that it can be recognised. Thread-safe. */
#ifndef USM_RAWMEM_H
#define USM_RAWMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroed memory of at least `size` bytes, or NULL. Small sizes come from
 * size-class slabs, large ones (> 32 KiB) from whole 64 KiB chunks. */
void *usm_rawmem_alloc(size_t size);

/* Frees memory from usm_rawmem_alloc; `size` must be the size asked for. */
void usm_rawmem_free(void *ptr, size_t size);

/* Grows or shrinks a usm_rawmem_alloc block, keeping its contents. */
void *usm_rawmem_realloc(void *ptr, size_t old_size, size_t new_size);

/* malloc-shaped twins for libraries that free without a size (zstd's
 * ZSTD_customMem, libmemcached's allocators): the size is kept in a 16-byte
 * header in front of the block, which keeps malloc's alignment. */
void *usm_rawmem_malloc(size_t size);
void usm_rawmem_mfree(void *ptr);
void *usm_rawmem_mrealloc(void *ptr, size_t size);

/* True when [addr, addr+len) lies in usm's reserved window. */
bool usm_rawmem_owns(const void *addr, size_t len);

/* The reserved window, for callers that scan the address space. */
void usm_rawmem_window(void **start, size_t *len);

/* What a block of size bytes really takes (its size class, or whole
 * chunks): what a store counts as the memory a block costs. */
size_t usm_rawmem_footprint(size_t size);

/* Bytes of the window mapped read-write now (slabs count whole, free
 * blocks in them included): usm's own memory in this process. */
size_t usm_rawmem_committed(void);

/* In a child after fork(): drops everything allocated before (unmapping the
 * old window) and starts afresh. Only for a child that will not use any
 * memory it got from usm_rawmem before the fork.
 *
 * The allocator's lock is held only by usm's own threads, never across code
 * that can fault on managed memory, so it is not taken around fork(). */
void usm_rawmem_reset_after_fork(void);

#endif
