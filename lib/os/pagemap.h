/* The raw page-table interfaces: /proc/PID/pagemap and PAGEMAP_SCAN. */
#ifndef USM_OS_PAGEMAP_H
#define USM_OS_PAGEMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
#define USM_PM_PRESENT   (1ULL << 63)
#define USM_PM_SWAPPED   (1ULL << 62)
#define USM_PM_FILE      (1ULL << 61)
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

/* True when the PAGEMAP_SCAN ioctl (Linux 6.7+) works on this pagemap fd. */
bool usm_os_pagemap_scan_supported(int fd);

#endif
