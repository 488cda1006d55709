/* The raw page-table interfaces: /proc/PID/pagemap, PAGEMAP_SCAN,
 * /proc/PID/clear_refs and /proc/kpageflags. */
#ifndef USM_OS_PAGEMAP_H
#define USM_OS_PAGEMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
#define USM_PM_PRESENT   (1ULL << 63)
#define USM_PM_SWAPPED   (1ULL << 62)
#define USM_PM_FILE      (1ULL << 61)
#define USM_PM_UFFD_WP   (1ULL << 57)
#define USM_PM_EXCLUSIVE (1ULL << 56)
#define USM_PM_SOFTDIRTY (1ULL << 55)
#define USM_PM_PFN_MASK  ((1ULL << 55) - 1)

/* Opens /proc/PID/pagemap (pid 0 = self) read-only. Returns fd or -errno. */
int usm_os_pagemap_open(pid_t pid);

/* Reads the entries of `count` pages starting at virtual address `addr`.
 * Returns 0 or a negative errno: -ESRCH when the process has exited (its
 * pagemap then reads as empty), -EIO on another short read. */
int usm_os_pagemap_read(int fd, uint64_t addr, uint64_t *entries, size_t count);

/* Calls fn(ctx, start, end) for each maximal run [start, end) of present
 * pages (page-table entry present: bit 63 of pagemap) in [start, end),
 * in ascending order. With `scan` it asks PAGEMAP_SCAN (Linux 6.7+, see
 * usm_os_pagemap_scan_supported), which skips empty page tables instead
 * of copying 8 bytes for every absent page; otherwise it reads the
 * entries in large chunks. Stops at fn's first non-zero return and
 * returns it; else 0 or a negative errno. */
typedef int (*usm_os_present_fn)(void *ctx, uint64_t start, uint64_t end);
int usm_os_pagemap_for_each_present(int fd, uint64_t start, uint64_t end, bool scan,
				    usm_os_present_fn fn, void *ctx);

/* True when pagemap entries show frame numbers to this process (they read
 * as 0 without CAP_SYS_ADMIN): looks at a present page of its own stack. */
bool usm_os_pagemap_shows_pfn(void);

/* True when the PAGEMAP_SCAN ioctl (Linux 6.7+) works on this pagemap fd. */
bool usm_os_pagemap_scan_supported(int fd);

/* PAGEMAP_SCAN's page categories (include/uapi/linux/fs.h, Linux 6.7+;
 * the kernel's ABI, defined here for the 6.1 uapi headers of Debian 12). */
#define USM_PAGE_IS_WPALLOWED  (1ULL << 0) /* VMA registered for async uffd-wp */
#define USM_PAGE_IS_WRITTEN    (1ULL << 1) /* pte not uffd-write-protected */
#define USM_PAGE_IS_FILE       (1ULL << 2)
#define USM_PAGE_IS_PRESENT    (1ULL << 3)
#define USM_PAGE_IS_SWAPPED    (1ULL << 4) /* a uffd-wp marker shows as swapped too */
#define USM_PAGE_IS_PFNZERO    (1ULL << 5)
#define USM_PAGE_IS_HUGE       (1ULL << 6)
#define USM_PAGE_IS_SOFT_DIRTY (1ULL << 7)
#define USM_PAGE_IS_ALL        ((1ULL << 8) - 1)

/* PAGEMAP_SCAN flags: write-protect the matched pages in the same walk
 * (atomically with reporting them), and fail with -EPERM instead of
 * silently matching nothing when a VMA in the range is not registered
 * for async write-protect. */
#define USM_PM_SCAN_WP_MATCHING   (1ULL << 0)
#define USM_PM_SCAN_CHECK_WPASYNC (1ULL << 1)

struct usm_os_pm_region {
	uint64_t start, end, categories; /* the kernel's struct page_region */
};

struct usm_os_pm_scan {
	uint64_t flags;              /* USM_PM_SCAN_* */
	uint64_t category_mask;      /* every one of these categories ... */
	uint64_t category_inverted;  /* ... (these ones inverted first) */
	uint64_t category_anyof_mask; /* ... and at least one of these */
	uint64_t return_mask;        /* categories reported in each region */
};

/* One PAGEMAP_SCAN over [start, end): fills up to vec_len regions of
 * pages matching q (adjacent pages with equal reported categories form
 * one region) and sets *walk_end to where the walk stopped, end unless
 * the vector filled up: the caller goes on from there. Returns the
 * number of regions or a negative errno (-ENOTTY before Linux 6.7). */
int usm_os_pagemap_scan(int fd, uint64_t start, uint64_t end, const struct usm_os_pm_scan *q,
			struct usm_os_pm_region *vec, size_t vec_len, uint64_t *walk_end);

/* Writes `what` to /proc/PID/clear_refs (pid 0 = self): 4 clears every
 * soft-dirty bit of the whole process (Documentation/admin-guide/mm/
 * soft-dirty.rst), not of a range. Returns 0 or a negative errno. */
#define USM_CLEAR_REFS_SOFT_DIRTY 4
int usm_os_clear_refs(pid_t pid, int what);
/* 0 when this process may write that clear_refs (checked by opening it,
 * which clears nothing), else a negative errno. */
int usm_os_clear_refs_access(pid_t pid);
/* Whether the kernel keeps soft-dirty bits (CONFIG_MEM_SOFT_DIRTY): a page
 * written in a fresh mapping reads soft-dirty. Clears nothing. */
bool usm_os_soft_dirty_supported(void);

/* /proc/kpageflags (root only): the flags of `count` frames from `pfn`. */
#define USM_KPF_HUGE      (1ULL << 17)
#define USM_KPF_THP       (1ULL << 22)
#define USM_KPF_ZERO_PAGE (1ULL << 24)
int usm_os_kpageflags_open(void);
int usm_os_kpageflags_read(int fd, uint64_t pfn, uint64_t *flags, size_t count);

#endif
