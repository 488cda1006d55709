/* Large pages: ask the kernel to back a range with transparent huge pages
 * and see how much of it is. */
#ifndef USM_HUGEPAGE_H
#define USM_HUGEPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The system's THP setting (/sys/kernel/mm/transparent_hugepage/enabled). */
enum usm_huge_mode {
	USM_HUGE_NEVER = 1,   /* no huge pages, MADV_COLLAPSE aside */
	USM_HUGE_MADVISE = 2, /* huge pages where asked for (usm_huge_request) */
	USM_HUGE_ALWAYS = 3,  /* huge pages wherever they fit */
};

/* The setting, or -EOPNOTSUPP for a kernel without THP, or -errno. */
int usm_huge_mode(void);

/* The huge page size (2 MiB on x86-64), 0 without THP. */
uint64_t usm_huge_page_size(void);

/* Flags of usm_huge_request. */
enum {
	/* Also collapse the range's present pages into huge pages now
	 * (MADV_COLLAPSE, Linux 6.1+), whatever the system setting, instead
	 * of leaving it to later faults and khugepaged. Synchronous: costs
	 * a copy of every collapsed huge page. */
	USM_HUGE_COLLAPSE = 1u << 0,
};

/* Asks for huge pages on [addr, addr + len) (page-aligned; only the whole
 * huge pages inside it can be huge) with MADV_HUGEPAGE: new faults there
 * allocate a huge page where the setting is "madvise" or "always", and
 * khugepaged may collapse what is already there. Returns 0 or a negative
 * errno: -EINVAL (unaligned, empty, unknown flag, or a mapping the kernel
 * refuses), -EOPNOTSUPP (no THP in the kernel; with USM_HUGE_COLLAPSE also
 * a kernel without MADV_COLLAPSE), -ENOMEM (part of the range unmapped, or
 * no memory for a collapse), -EAGAIN (a collapse found pages busy: retry).
 * The advice stays even when the collapse fails. */
int usm_huge_request(void *addr, size_t len, unsigned int flags);

struct usm_huge_info {
	uint64_t bytes;       /* the range's length */
	uint64_t huge_bytes;  /* of it, anonymous memory mapped by huge pages */
	bool advised;         /* every mapping of the range has MADV_HUGEPAGE */
	/* huge_bytes comes from the AnonHugePages of each mapping, a count
	 * for the whole mapping: it is exact when the range covers each
	 * mapping it touches whole (usm_huge_request makes its range one
	 * mapping unless a neighbour has the same flags); otherwise each
	 * mapping counts at most its overlap with the range, and exact is
	 * false. */
	bool exact;
};

/* Fills *info for [addr, addr + len) (page-aligned) from
 * /proc/self/smaps. Returns 0 or a negative errno (-EINVAL for a bad
 * range, -ENOMEM, or what reading smaps failed with). */
int usm_huge_query(const void *addr, size_t len, struct usm_huge_info *info);

#endif
