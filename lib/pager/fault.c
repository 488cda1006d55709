/* Serving faults. A missing fault fills its block with as few ioctls as the
 * pages allow: runs of never-touched pages with UFFDIO_ZEROPAGE (a read) or
 * a UFFDIO_COPY of zeros (a write), runs of evicted pages with one
 * UFFDIO_COPY from their copies. An evicted page comes back write-protected,
 * so that it can be dropped again without a write unless a write fault marks
 * it dirty. A page that took such a write fault comes back writable and
 * dirty for its next WRITE_SCORE_MAX residencies, which saves the fault on
 * pages that are written every time; then it comes back protected again, so
 * a page that stops being written is noticed. A write-protect fault marks
 * the page dirty and lifts the protection. */
#include "pager/pager_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "os/uffd.h"

enum fill_kind { FILL_SKIP, FILL_ZERO, FILL_COPY, FILL_COPY_WRITABLE };

static enum fill_kind kind_of(const struct mpage *m)
{
	/* a poisoned page is never filled: UFFDIO_COPY would replace the
	 * marker with zeros */
	if (m && (m->state == PAGE_RESIDENT || m->state == PAGE_POISONED))
		return FILL_SKIP;
	if (m && m->state == PAGE_EVICTED && m->copy)
		return m->write_score ? FILL_COPY_WRITABLE : FILL_COPY;
	return FILL_ZERO;
}

static void mark_resident(struct usm_pager *p, struct region *r, uint64_t index, bool clean,
			  bool prefetch)
{
	struct mpage *m = region_page(r, index, true);

	if (!m)
		pager_fatal(p, "out of memory for page records");
	if (m->state == PAGE_RESIDENT)
		return;
	if (m->state == PAGE_EVICTED)
		p->st.refaults += !prefetch;
	else
		p->st.first_touch += !prefetch;
	p->st.prefetched += prefetch;
	m->state = PAGE_RESIDENT;
	m->dirty = !clean;
	m->wp = clean;
	if (!clean) {
		usm_store_drop(p->store, m->copy);
		m->copy = 0;
	}
	p->resident_pages++;
	/* the budget is held off around fork and mremap (docs/run.md): those
	 * peaks are the documented slack, kept apart from the budget's */
	uint64_t *peak = p->evict_hold ? &p->st.peak_resident_held : &p->st.peak_resident;
	if (p->resident_pages * USM_PAGE_SIZE > *peak)
		*peak = p->resident_pages * USM_PAGE_SIZE;
	usm_policy_inserted(p->policy, &m->node);
}

/* The store could not return m's copy. Without UFFDIO_POISON the process
 * is stopped, since the waiting thread can be given nothing but wrong
 * data. With it the page gets a poison marker, which wakes the waiter
 * into a SIGBUS (an EFAULT if the touch was inside a system call): the
 * program dies where it reads the lost page, as with a memory error the
 * hardware reports, and not from its pager. Only the first such page is
 * said on stderr, in one line: a store that is gone loses whole runs of
 * pages at once; the rest are counted (poisoned_pages). */
static void store_read_failed(struct usm_pager *p, struct mpage *m, int err)
{
	const char *detail = usm_store_error(p->store);
	char what[400];

	snprintf(what, sizeof(what), "cannot read the evicted page at 0x%" PRIx64 " back from the "
		 "store %s (%s)%s%s", page_addr(m), usm_store_describe(p->store), strerror(-err),
		 detail[0] ? ": " : "", detail);
	if (!p->poison)
		pager_fatal(p, "%s: stopping rather than returning wrong data", what);
	/* said first: the SIGBUS the poison wakes may end the process, this
	 * thread with it */
	if (p->st.poisoned == 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s: the program gets SIGBUS there rather than wrong data",
			 what);
		pager_say(msg);
	}
	usm_store_sync(p->store); /* as pager_fatal: all sent before the process may end */
	int rc = usm_os_uffd_poison(p->uffd, page_addr(m), USM_PAGE_SIZE);
	if (rc < 0)
		pager_fatal(p, "%s, nor poison it (%s): stopping rather than returning wrong data",
			    what, strerror(-rc));
	usm_store_drop(p->store, m->copy);
	m->copy = 0;
	m->state = PAGE_POISONED;
	p->st.poisoned++;
}

/* Fills one run of same-kind pages [first, first+count) of r. Part of a
 * run may already be present (-EEXIST: the program raced us through a page
 * the kernel filled, or the range crosses into another mapping): such
 * pages are adopted as they are and the rest is filled page by page. */
static int fill_run(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
		    enum fill_kind kind, enum fill_flags flags)
{
	uint64_t addr = r->start + first * USM_PAGE_SIZE, len = count * USM_PAGE_SIZE, done = 0;
	int rc;

	if (kind == FILL_COPY || kind == FILL_COPY_WRITABLE) {
		/* the run's copies in one batch: one multi-get on a network store */
		for (uint64_t i = 0; i < count; i++) {
			struct mpage *m = region_page(r, first + i, false);
			p->io[i] = (struct usm_store_io){ .data = p->fill_buf + i * USM_PAGE_SIZE,
							  .len = m->copy_len, .addr = page_addr(m),
							  .handle = m->copy };
		}
		size_t bad = 0;
		rc = usm_store_get_batch(p->store, p->io, count, &bad);
		if (rc < 0 && p->poison && count > 1) {
			/* page by page: what the store still returns is filled */
			for (uint64_t i = 0; i < count; i++)
				fill_run(p, r, first + i, 1, kind, flags);
			return 0;
		}
		if (rc < 0) {
			store_read_failed(p, region_page(r, first + bad, false), rc);
			return rc;
		}
		for (uint64_t i = 0; i < count; i++) {
			uint8_t *dst = p->fill_buf + i * USM_PAGE_SIZE;
			if (p->io[i].len < USM_PAGE_SIZE)
				memset(dst + p->io[i].len, 0, USM_PAGE_SIZE - p->io[i].len);
			p->st.bytes_from_store += p->io[i].len;
		}
		do {
			rc = usm_os_uffd_copy(p->uffd, addr, p->fill_buf, len, kind == FILL_COPY,
					      &done);
		} while (rc == -EAGAIN && done == 0);
	} else if (flags & FILL_WRITE) {
		/* real zeroed pages: the zero page would cost the writer a
		 * second, copy-on-write fault in the kernel */
		do {
			rc = usm_os_uffd_copy(p->uffd, addr, p->zero_buf, len, false, &done);
		} while (rc == -EAGAIN && done == 0);
	} else {
		do {
			rc = usm_os_uffd_zeropage(p->uffd, addr, len, &done);
		} while (rc == -EAGAIN && done == 0);
	}
	uint64_t filled = done / USM_PAGE_SIZE;
	if (rc == 0)
		filled = count;
	for (uint64_t i = 0; i < filled; i++)
		mark_resident(p, r, first + i, kind == FILL_COPY, flags & FILL_PREFETCH);
	if (rc == 0)
		return 0;
	if (count > 1 || filled > 0) {
		/* retry the rest one page at a time, each within its mapping */
		for (uint64_t i = filled; i < count; i++)
			fill_run(p, r, first + i, 1, kind, flags);
		return 0;
	}
	if (rc == -EEXIST) {
		page_adopt(p, r, first); /* present without our knowing */
		return 0;
	}
	/* -ENOENT, -EFAULT: the mapping went away or is not registered; a
	 * thread waiting on it is woken and sees what the kernel gives it */
	usm_os_uffd_wake(p->uffd, addr, USM_PAGE_SIZE);
	return rc;
}

int fill_range(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
	       enum fill_flags flags)
{
	uint64_t need = 0;

	for (uint64_t i = 0; i < count; i++)
		need += kind_of(region_page(r, first + i, false)) != FILL_SKIP;
	if (need == 0)
		return 0;
	evict_make_room(p, need);

	uint64_t i = 0;
	while (i < count) {
		enum fill_kind k = kind_of(region_page(r, first + i, false));
		uint64_t j = i + 1;
		while (j < count && kind_of(region_page(r, first + j, false)) == k)
			j++;
		if (k != FILL_SKIP)
			fill_run(p, r, first + i, j - i, k, flags);
		i = j;
	}
	return 0;
}

/* The block a fault fills adapts per region: a fault where a sequential run
 * would fault next (just past the last fill, prefetch included) doubles
 * it, up to fault_size; any other fault halves it, down to one page. So a
 * scan soon fills fault_size blocks, and scattered faults (a hash table,
 * a strided walk) fill only the page they need instead of the 16 pages of
 * a 64 KiB block, most of which would be evicted unused and push out what
 * was in use. A fixed fault_size (usm run --fixed-page-size) never adapts. */
static uint64_t adapt_block(struct usm_pager *p, struct region *r, bool sequential)
{
	uint32_t most = (uint32_t)(p->cfg.fault_size / USM_PAGE_SIZE);

	if (p->cfg.fixed_fault_size || r->sequential)
		r->block_pages = most;
	else if (sequential)
		r->block_pages = r->block_pages * 2 < most ? r->block_pages * 2 : most;
	else if (r->block_pages > 1)
		r->block_pages /= 2;
	return (uint64_t)r->block_pages * USM_PAGE_SIZE;
}

/* What a missing fault fills: a first touch gets its whole block (first
 * touches come in runs), as the shared zero page for a read and as zeroed
 * pages for a write; a refault of an evicted page gets just that page,
 * since eviction scatters what random access needs, unless it continues a
 * sequential run, which gets the block and `prefetch` blocks ahead. A run
 * continues only at the page just past the last fill: a window around it
 * took a 64 KiB stride, or the scattered faults of a hash table, for a scan
 * and filled 80 pages for the one wanted. */
void fault_missing(struct usm_pager *p, uint64_t addr, bool write)
{
	struct region *r = region_find(p, addr);

	if (!r) {
		usm_os_uffd_wake(p->uffd, usm_page_down(addr), USM_PAGE_SIZE);
		return;
	}
	uint64_t page = usm_page_down(addr);
	bool sequential = r->sequential || page == p->next_seq_addr;
	uint64_t fs = adapt_block(p, r, sequential);
	uint64_t start = addr - addr % fs, end = start + fs;
	struct mpage *m = region_page(r, (page - r->start) / USM_PAGE_SIZE, false);
	bool refault = m && m->state == PAGE_EVICTED;

	if (refault && !sequential) {
		start = page;
		end = page + USM_PAGE_SIZE;
	}
	if (start < r->start)
		start = r->start;
	if (end > region_end(r))
		end = region_end(r);
	enum fill_flags for_write = write ? FILL_WRITE : 0;
	fill_range(p, r, (start - r->start) / USM_PAGE_SIZE, (end - start) / USM_PAGE_SIZE, for_write);

	uint64_t ahead = end;
	if (sequential && p->cfg.prefetch) {
		ahead = end + p->cfg.prefetch * fs;
		if (ahead > region_end(r))
			ahead = region_end(r);
		if (ahead > end)
			fill_range(p, r, (end - r->start) / USM_PAGE_SIZE,
				   (ahead - end) / USM_PAGE_SIZE, FILL_PREFETCH | for_write);
	}
	p->next_seq_addr = ahead;
}

void fault_wp(struct usm_pager *p, uint64_t addr)
{
	uint64_t page = usm_page_down(addr);
	struct region *r = region_find(p, page);
	struct mpage *m = r ? region_page(r, (page - r->start) / USM_PAGE_SIZE, false) : NULL;

	if (!m || m->state != PAGE_RESIDENT) {
		/* evicted while the writer waited: fill it again, which wakes it */
		fault_missing(p, addr, true);
		return;
	}
	p->st.first_write_faults++;
	m->dirty = true;
	m->wp_faulted = true;
	m->wp = false;
	usm_policy_accessed(p->policy, &m->node);
	if (usm_os_uffd_writeprotect(p->uffd, page, USM_PAGE_SIZE, false, true) < 0)
		usm_os_uffd_wake(p->uffd, page, USM_PAGE_SIZE);
}

/* Before a fork: every evicted page comes back, whatever the budget. */
void fill_all_evicted(struct usm_pager *p)
{
	for (size_t i = 0; i < p->nregions; i++) {
		struct region *r = p->regions[i];
		for (uint64_t k = 0; k < r->npages;) {
			struct mpage *m = region_page(r, k, false);
			/* pages evicted as zeros read as zeros in the child too */
			enum fill_kind kind = kind_of(m);
			if (kind != FILL_COPY && kind != FILL_COPY_WRITABLE) {
				k++;
				continue;
			}
			uint64_t max = p->fill_buf_size / USM_PAGE_SIZE, n = 1;
			while (k + n < r->npages && n < max &&
			       kind_of(region_page(r, k + n, false)) == kind)
				n++;
			/* not fill_range: it would make room, and evictions are held */
			fill_run(p, r, k, n, kind, FILL_PREFETCH);
			k += n;
		}
	}
}
