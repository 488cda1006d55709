/* Page facts: what the page table says about each page of a range of this
 * process or another one, in one vectorised call (PAGEMAP_SCAN where the
 * kernel has it, /proc/PID/pagemap otherwise). */
#ifndef USM_PAGEFACTS_H
#define USM_PAGEFACTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mapped to a frame */
#define USM_PAGE_PRESENT (1u << 0)
/* in swap (a userfaultfd write-protect marker on an unpopulated page shows as
 * swapped too: the kernel reports it so) */
#define USM_PAGE_SWAPPED (1u << 1)
/* a file page or shared anonymous (shmem); clear: private anonymous */
#define USM_PAGE_FILE (1u << 2)
/* mapped by this process only */
#define USM_PAGE_EXCLUSIVE (1u << 3)
/* the shared zero page */
#define USM_PAGE_ZERO (1u << 4)
/* part of a huge page (THP or hugetlb) */
#define USM_PAGE_HUGE (1u << 5)
/* written since the last clear_refs 4 */
#define USM_PAGE_SOFT_DIRTY (1u << 6)
/* not userfaultfd write-protected: in a range under async write-protect,
 * written since it was last protected */
#define USM_PAGE_WRITTEN (1u << 7)
/* (want and known only) frame numbers */
#define USM_PAGE_PFN (1u << 8)
#define USM_PAGE_ALL ((1u << 9) - 1)

/* Kernel features to do without (tests of the fallback). */
#define USM_PAGEFACTS_WITHOUT_SCAN (1u << 0) /* read pagemap entries instead */

struct usm_pagefacts_query {
	pid_t pid;          /* 0: this process; else needs ptrace access */
	uint64_t start, end; /* page-aligned, start < end */
	unsigned want;      /* USM_PAGE_* facts asked for; 0 = all */
	unsigned without;   /* USM_PAGEFACTS_WITHOUT_* */
};

/* A run of consecutive pages with the same facts (and, when frame numbers
 * are known, consecutive frames). */
struct usm_page_run {
	uint64_t start, end; /* [start, end) */
	uint32_t facts;      /* USM_PAGE_*, only those both wanted and known */
	uint64_t pfn;        /* frame of start when USM_PAGE_PFN is known and
			      * the run is present; else 0 */
};

/* Fills up to cap runs for the pages of [q->start, q->end) that are present
 * or swapped, in ascending order; the other pages of the range are neither
 * (absent). Returns the number of runs and sets *next to the address the
 * runs cover up to: q->end, or less when cap runs filled up (call again
 * from *next). *known (if not NULL) gets the facts this call could tell on
 * this kernel with this caller's privilege: PAGEMAP_SCAN tells all but
 * EXCLUSIVE and PFN, pagemap all but ZERO and HUGE, which it tells only
 * when frame numbers are visible (CAP_SYS_ADMIN) and /proc/kpageflags is
 * readable; asking for EXCLUSIVE or PFN adds pagemap reads of the pages
 * found. Errors: -EINVAL a bad range or cap 0, -ENOENT no such process,
 * -ESRCH the process exited (a zombie), -EACCES/-EPERM no access to its
 * pagemap, -ENOMEM. */
int usm_pagefacts(const struct usm_pagefacts_query *q, struct usm_page_run *runs, size_t cap,
		  uint64_t *next, unsigned *known);

/* Calls fn with the runs of all of [q->start, q->end), a vector at a
 * time, in as many usm_pagefacts calls as it takes (known: as there, for
 * the last call). Stops at fn's first non-zero return and returns it;
 * else 0 or usm_pagefacts' errors. */
typedef int (*usm_page_runs_fn)(void *ctx, const struct usm_page_run *runs, size_t n,
				unsigned known);
int usm_pagefacts_walk(const struct usm_pagefacts_query *q, usm_page_runs_fn fn, void *ctx,
		       unsigned *known);

/* How many pages of a range have each fact: a mapping's summary, as smaps
 * shows one but read from the page table. Counts of facts not known (see
 * usm_pagefacts) stay 0. */
struct usm_page_counts {
	uint64_t present;    /* mapped to a frame, the zero page included */
	uint64_t swapped;    /* smaps Swap */
	/* present private anonymous, not the zero page (smaps Anonymous; smaps
	 * Rss is present - zero) */
	uint64_t anon;
	uint64_t file;       /* present file or shmem */
	uint64_t exclusive;  /* present and mapped by this process only */
	uint64_t zero;       /* mapped to the shared zero page */
	uint64_t huge;       /* present as part of a huge page */
	uint64_t soft_dirty; /* soft-dirty (present or swapped) */
	uint64_t written;    /* not userfaultfd write-protected (present or swapped) */
};

/* Counts the pages of [q->start, q->end) per fact (usm_pagefacts_walk).
 * Adds to *c (so a caller sums mappings
 * into a total by passing the same counts); *known as usm_pagefacts.
 * Returns 0 or usm_pagefacts' errors. */
int usm_pagefacts_count(const struct usm_pagefacts_query *q, struct usm_page_counts *c,
			unsigned *known);

#endif
