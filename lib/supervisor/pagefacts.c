/* Page facts of a range: PAGEMAP_SCAN's categories where the kernel has
 * them (holes skipped in the kernel), pagemap entries for what only they
 * tell (exclusive, frame numbers) or on kernels before 6.7. */
#include <usm/pagefacts.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/page.h"
#include "os/pagemap.h"

#define SCAN_REGIONS 512
#define READ_CHUNK   4096 /* pagemap entries per read */

#define FROM_SCAN                                                                                  \
	(USM_PAGE_PRESENT | USM_PAGE_SWAPPED | USM_PAGE_FILE | USM_PAGE_ZERO | USM_PAGE_HUGE |     \
	 USM_PAGE_SOFT_DIRTY | USM_PAGE_WRITTEN)
#define FROM_ENTRY                                                                                 \
	(USM_PAGE_PRESENT | USM_PAGE_SWAPPED | USM_PAGE_FILE | USM_PAGE_EXCLUSIVE |                \
	 USM_PAGE_SOFT_DIRTY | USM_PAGE_WRITTEN)

struct builder {
	struct usm_page_run *runs;
	size_t cap, n;
	unsigned known;
};

/* Adds one run, merged with the last when they continue each other.
 * False when the vector is full (nothing added). */
static bool add(struct builder *b, uint64_t start, uint64_t end, unsigned facts, uint64_t pfn)
{
	struct usm_page_run *last = b->n ? &b->runs[b->n - 1] : NULL;

	facts &= b->known & ~USM_PAGE_PFN;
	if (!(b->known & USM_PAGE_PFN) || !(facts & USM_PAGE_PRESENT))
		pfn = 0;
	if (last && last->end == start && last->facts == facts &&
	    (!pfn || pfn == last->pfn + (last->end - last->start) / USM_PAGE_SIZE)) {
		last->end = end;
		return true;
	}
	if (b->n == b->cap)
		return false;
	b->runs[b->n++] =
	        (struct usm_page_run){.start = start, .end = end, .facts = facts, .pfn = pfn};
	return true;
}

static unsigned from_categories(uint64_t c)
{
	return ((c & USM_PAGE_IS_PRESENT) ? USM_PAGE_PRESENT : 0) |
	       ((c & USM_PAGE_IS_SWAPPED) ? USM_PAGE_SWAPPED : 0) |
	       ((c & USM_PAGE_IS_FILE) ? USM_PAGE_FILE : 0) |
	       ((c & USM_PAGE_IS_PFNZERO) ? USM_PAGE_ZERO : 0) |
	       ((c & USM_PAGE_IS_HUGE) ? USM_PAGE_HUGE : 0) |
	       ((c & USM_PAGE_IS_SOFT_DIRTY) ? USM_PAGE_SOFT_DIRTY : 0) |
	       ((c & USM_PAGE_IS_WRITTEN) ? USM_PAGE_WRITTEN : 0);
}

static unsigned from_entry(uint64_t e)
{
	return ((e & USM_PM_PRESENT) ? USM_PAGE_PRESENT : 0) |
	       ((e & USM_PM_SWAPPED) ? USM_PAGE_SWAPPED : 0) |
	       ((e & USM_PM_FILE) ? USM_PAGE_FILE : 0) |
	       ((e & USM_PM_EXCLUSIVE) ? USM_PAGE_EXCLUSIVE : 0) |
	       ((e & USM_PM_SOFTDIRTY) ? USM_PAGE_SOFT_DIRTY : 0) |
	       ((e & USM_PM_UFFD_WP) ? 0 : USM_PAGE_WRITTEN);
}

static unsigned kpage_facts(int kpf, uint64_t pfn)
{
	uint64_t f;

	if (usm_os_kpageflags_read(kpf, pfn, &f, 1))
		return 0;
	return ((f & USM_KPF_ZERO_PAGE) ? USM_PAGE_ZERO : 0) |
	       ((f & (USM_KPF_THP | USM_KPF_HUGE)) ? USM_PAGE_HUGE : 0);
}

/* Entry by entry over [start, end): pages neither present nor swapped are
 * skipped. `base` holds facts of the whole span (from a scan region) that
 * the entries do not tell. Returns 0, 1 when the vector filled (*stop is
 * the first page left out) or a negative errno. */
static int by_entries(struct builder *b, int fd, int kpf, uint64_t start, uint64_t end,
                      unsigned base, bool scanned, uint64_t *entries, uint64_t *stop)
{
	for (uint64_t addr = start; addr < end;) {
		size_t n = (end - addr) / USM_PAGE_SIZE;
		int err;

		if (n > READ_CHUNK)
			n = READ_CHUNK;
		err = usm_os_pagemap_read(fd, addr, entries, n);
		if (err)
			return err;
		for (size_t i = 0; i < n; i++) {
			uint64_t e = entries[i], a = addr + i * USM_PAGE_SIZE;
			uint64_t pfn = (e & USM_PM_PRESENT) ? e & USM_PM_PFN_MASK : 0;
			unsigned facts;

			if (!(e & (USM_PM_PRESENT | USM_PM_SWAPPED)))
				continue;
			facts = from_entry(e);
			if (scanned) /* the scan's view, with what only entries tell */
				facts = (base & ~USM_PAGE_EXCLUSIVE) | (facts & USM_PAGE_EXCLUSIVE);
			else if (kpf >= 0 && pfn)
				facts |= kpage_facts(kpf, pfn);
			if (!add(b, a, a + USM_PAGE_SIZE, facts, pfn)) {
				*stop = a;
				return 1;
			}
		}
		addr += n * USM_PAGE_SIZE;
	}
	return 0;
}

static int by_scan(struct builder *b, int fd, uint64_t start, uint64_t end, bool entries_too,
                   uint64_t *entries, uint64_t *stop)
{
	struct usm_os_pm_region *vec = malloc(SCAN_REGIONS * sizeof(*vec));
	const struct usm_os_pm_scan q = {
	        .category_anyof_mask = USM_PAGE_IS_PRESENT | USM_PAGE_IS_SWAPPED,
	        .return_mask = USM_PAGE_IS_PRESENT | USM_PAGE_IS_SWAPPED | USM_PAGE_IS_FILE |
	                       USM_PAGE_IS_PFNZERO | USM_PAGE_IS_HUGE | USM_PAGE_IS_SOFT_DIRTY |
	                       USM_PAGE_IS_WRITTEN,
	};
	int err = 0;

	if (!vec)
		return -ENOMEM;
	for (uint64_t addr = start; addr < end && !err;) {
		uint64_t walk_end = end;
		int n = usm_os_pagemap_scan(fd, addr, end, &q, vec, SCAN_REGIONS, &walk_end);

		if (n < 0) {
			err = n;
			break;
		}
		for (int i = 0; i < n && !err; i++) {
			unsigned facts = from_categories(vec[i].categories);

			if (entries_too) {
				err = by_entries(b, fd, -1, vec[i].start, vec[i].end, facts, true,
				                 entries, stop);
			} else if (!add(b, vec[i].start, vec[i].end, facts, 0)) {
				*stop = vec[i].start;
				err = 1;
			}
		}
		if (!err && walk_end <= addr)
			err = -EIO;
		addr = walk_end;
	}
	free(vec);
	return err;
}

int usm_pagefacts(const struct usm_pagefacts_query *q, struct usm_page_run *runs, size_t cap,
                  uint64_t *next, unsigned *known)
{
	unsigned want = q->want ? q->want & USM_PAGE_ALL : USM_PAGE_ALL;
	struct builder b = {.runs = runs, .cap = cap};
	uint64_t stop = q->end, *entries = NULL;
	bool scan, entries_too, pfns;
	int fd, kpf = -1, err;

	if (!cap || q->start >= q->end || q->start % USM_PAGE_SIZE || q->end % USM_PAGE_SIZE)
		return -EINVAL;
	fd = usm_os_pagemap_open(q->pid);
	if (fd < 0)
		return fd;
	scan = !(q->without & USM_PAGEFACTS_WITHOUT_SCAN) && usm_os_pagemap_scan_supported(fd);
	entries_too = !scan || (want & (USM_PAGE_EXCLUSIVE | USM_PAGE_PFN));
	/* the reader's privilege decides, whoever the target is */
	pfns = entries_too && usm_os_pagemap_shows_pfn();
	if (scan) {
		b.known = FROM_SCAN | (entries_too ? USM_PAGE_EXCLUSIVE : 0);
	} else {
		b.known = FROM_ENTRY;
		if (pfns && (want & (USM_PAGE_ZERO | USM_PAGE_HUGE))) {
			kpf = usm_os_kpageflags_open();
			if (kpf >= 0)
				b.known |= USM_PAGE_ZERO | USM_PAGE_HUGE;
		}
	}
	if (pfns)
		b.known |= USM_PAGE_PFN;
	b.known &= want;
	err = entries_too && !(entries = malloc(READ_CHUNK * sizeof(*entries))) ? -ENOMEM : 0;
	if (!err && scan)
		err = by_scan(&b, fd, q->start, q->end, entries_too, entries, &stop);
	else if (!err)
		err = by_entries(&b, fd, kpf, q->start, q->end, 0, false, entries, &stop);
	free(entries);
	if (kpf >= 0)
		close(kpf);
	close(fd);
	if (err < 0)
		return err;
	*next = err ? stop : q->end;
	if (known)
		*known = b.known;
	return (int)b.n;
}

static void count_run(const struct usm_page_run *r, struct usm_page_counts *c)
{
	uint64_t pages = (r->end - r->start) / USM_PAGE_SIZE;
	bool present = r->facts & USM_PAGE_PRESENT;

	c->present += present ? pages : 0;
	c->swapped += (r->facts & USM_PAGE_SWAPPED) ? pages : 0;
	c->anon += present && !(r->facts & (USM_PAGE_FILE | USM_PAGE_ZERO)) ? pages : 0;
	c->file += present && (r->facts & USM_PAGE_FILE) ? pages : 0;
	c->exclusive += present && (r->facts & USM_PAGE_EXCLUSIVE) ? pages : 0;
	c->zero += (r->facts & USM_PAGE_ZERO) ? pages : 0;
	c->huge += present && (r->facts & USM_PAGE_HUGE) ? pages : 0;
	c->soft_dirty += (r->facts & USM_PAGE_SOFT_DIRTY) ? pages : 0;
	c->written += (r->facts & USM_PAGE_WRITTEN) ? pages : 0;
}

int usm_pagefacts_walk(const struct usm_pagefacts_query *q, usm_page_runs_fn fn, void *ctx,
                       unsigned *known)
{
	enum { RUNS = 4096 };
	struct usm_page_run *runs = malloc(RUNS * sizeof(*runs));
	struct usm_pagefacts_query part = *q;
	int err = 0;

	if (!runs)
		return -ENOMEM;
	while (!err && part.start < part.end) {
		uint64_t next;
		unsigned told = 0;
		int n = usm_pagefacts(&part, runs, RUNS, &next, &told);

		if (n < 0) {
			err = n;
			break;
		}
		if (known)
			*known = told;
		err = fn(ctx, runs, (size_t)n, told);
		part.start = next;
	}
	free(runs);
	return err;
}

static int count_runs(void *ctx, const struct usm_page_run *runs, size_t n, unsigned known)
{
	(void)known;
	for (size_t i = 0; i < n; i++)
		count_run(&runs[i], ctx);
	return 0;
}

int usm_pagefacts_count(const struct usm_pagefacts_query *q, struct usm_page_counts *c,
                        unsigned *known)
{
	return usm_pagefacts_walk(q, count_runs, c, known);
}
