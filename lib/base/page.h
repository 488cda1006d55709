/* The base page and rounding to it (as mimalloc keeps _mi_align_up):
 * header only, for libusm, the runtimes and the tools alike.
 *
 * A "page" in usm is always this 4 KiB base page. The pager's unit of
 * filling and eviction, a multiple of it, is the "fault block"
 * (usm_pager_config.fault_size; `usm run --page-size` for the user). */
#ifndef USM_BASE_PAGE_H
#define USM_BASE_PAGE_H

#include <stdint.h>

#define USM_PAGE_SHIFT 12
#define USM_PAGE_SIZE  (1ULL << USM_PAGE_SHIFT)

/* x rounded up / down to a multiple of align, a power of two. */
static inline uint64_t usm_align_up(uint64_t x, uint64_t align)
{
	return (x + align - 1) & ~(align - 1);
}

static inline uint64_t usm_align_down(uint64_t x, uint64_t align)
{
	return x & ~(align - 1);
}

static inline uint64_t usm_page_up(uint64_t x)
{
	return usm_align_up(x, USM_PAGE_SIZE);
}

static inline uint64_t usm_page_down(uint64_t x)
{
	return usm_align_down(x, USM_PAGE_SIZE);
}

/* Bytes rounded up to whole pages, saturating instead of wrapping: an
 * amount near UINT64_MAX (a "no limit") stays the largest page multiple. */
static inline uint64_t usm_page_up_sat(uint64_t bytes)
{
	if (bytes > UINT64_MAX - (USM_PAGE_SIZE - 1))
		return usm_page_down(UINT64_MAX);
	return usm_page_up(bytes);
}

#endif
