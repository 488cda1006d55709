/* The budget. The limit counts all the memory usm keeps for the process:
 * its resident managed pages and usm's own memory (usm_rawmem: the mem
 * store's compressed blocks and the pager's records). The mem store may
 * hold up to its share of the limit; past that its blocks go to its file
 * tier. When a fill would pass what is left for resident pages, the policy picks victims
 * and they are evicted in address-ordered runs: write-protected first, so
 * that a thread writing to one waits (its fault is served after the
 * eviction, from the copy just made, and its write lands); then what is
 * dirty is read through /proc/self/mem and put in the store (all-zero pages
 * need no copy); a clean page with a copy is just dropped; last the run is
 * dropped with MADV_DONTNEED. A run of clean pages with copies skips the
 * protection and the read: a clean page has been protected since it came
 * back, so nothing was written to it. */
#include "pager/pager_impl.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "base/rawmem.h"
#include "os/uffd.h"
#include "os/vm.h"

static struct mpage *as_page(struct usm_policy_node *n)
{
	return (struct mpage *)n; /* the node is the record's first member */
}

static bool before(const struct mpage *a, const struct mpage *b)
{
	return page_addr(a) < page_addr(b);
}

/* Victims arrive nearly sorted (policies hand out neighbours together):
 * insertion sort, which also needs no allocation. */
static void sort_by_address(struct mpage **v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct mpage *x = v[i];
		size_t j = i;
		while (j > 0 && before(x, v[j - 1])) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static bool all_zero(const struct usm_pager *p, const uint8_t *b)
{
	return memcmp(b, p->zero_buf, USM_PAGE_SIZE) == 0;
}

/* Clean with a copy: the store has what the page holds (and the page is
 * write-protected: fault.c marks a page clean only with its protection). */
static bool kept(const struct mpage *m)
{
	return !m->dirty && m->copy;
}

/* Decides what an evicted page needs: nothing (clean with a copy, or all
 * zeros), or a new copy, queued in p->io for the run's one store batch. */
static void plan_save(struct usm_pager *p, struct mpage *m, uint8_t *data, size_t *queued)
{
	if (m->wp_faulted)
		m->write_score = WRITE_SCORE_MAX;
	else if (m->write_score)
		m->write_score--;
	m->wp_faulted = false;
	if (kept(m)) {
		p->st.evictions_clean++;
		return;
	}
	usm_store_drop(p->store, m->copy);
	m->copy = 0;
	m->copy_len = 0;
	if (all_zero(p, data))
		return;
	p->io[(*queued)++] = (struct usm_store_io){ .data = data, .len = USM_PAGE_SIZE,
						    .addr = page_addr(m) };
}

/* Puts the run's new copies in one batch (a network store's one round). */
static void save_run(struct usm_pager *p, struct mpage **run, size_t n, size_t queued)
{
	if (queued == 0)
		return;
	if (!p->store_used && p->cfg.store_first_put) {
		int first = p->cfg.store_first_put();
		if (first < 0)
			pager_fatal(p, "cannot record that pages go to the store %s: %s",
				    usm_store_describe(p->store), strerror(-first));
	}
	p->store_used = true;
	int rc = usm_store_put_batch(p->store, p->io, queued);
	if (rc < 0) {
		const char *detail = usm_store_error(p->store);
		pager_fatal(p, "cannot write an evicted page to the store %s (%s)%s%s",
			    usm_store_describe(p->store), rc == -ENOSPC ? "store full" : strerror(-rc),
			    detail[0] ? ": " : "", detail);
	}
	size_t k = 0;
	for (size_t i = 0; i < n && k < queued; i++) {
		if (page_addr(run[i]) != p->io[k].addr)
			continue;
		run[i]->copy = p->io[k].handle;
		run[i]->copy_len = USM_PAGE_SIZE;
		p->st.bytes_to_store += USM_PAGE_SIZE;
		k++;
	}
}

static void drop_run(struct usm_pager *p, struct mpage **run, size_t n)
{
	usm_os_madvise((void *)(uintptr_t)page_addr(run[0]), n * USM_PAGE_SIZE, MADV_DONTNEED);
	for (size_t i = 0; i < n; i++) {
		run[i]->state = PAGE_EVICTED;
		run[i]->dirty = false;
		run[i]->wp = false;
	}
	p->resident_pages -= n;
	p->st.evictions += n;
}

static void evict_run(struct usm_pager *p, struct mpage **run, size_t n)
{
	uint64_t addr = page_addr(run[0]), len = n * USM_PAGE_SIZE;

	if (kept(run[0])) { /* and so are the others: evict_pages made the run */
		size_t queued = 0;
		for (size_t i = 0; i < n; i++)
			plan_save(p, run[i], NULL, &queued);
		drop_run(p, run, n);
		return;
	}
	if (usm_os_uffd_writeprotect(p->uffd, addr, len, true, false) < 0) {
		if (n == 1) {
			/* without the protection a write could be lost: keep it
			 * (never evicted, so not a refault when it goes back) */
			run[0]->node.evicted_at = 0;
			usm_policy_inserted(p->policy, &run[0]->node);
			return;
		}
		for (size_t i = 0; i < n; i++)
			evict_run(p, run + i, 1);
		return;
	}
	if (usm_os_read_self(p->memfd, addr, p->evict_buf, len) < 0) {
		if (n > 1) {
			for (size_t i = 0; i < n; i++)
				evict_run(p, run + i, 1);
			return;
		}
		/* unreadable: the page is no longer mapped (unmapped behind our
		 * back by a raw system call); forget it */
		run[0]->state = PAGE_EVICTED;
		p->resident_pages--;
		usm_store_drop(p->store, run[0]->copy);
		run[0]->copy = 0;
		return;
	}
	size_t queued = 0;
	for (size_t i = 0; i < n; i++)
		plan_save(p, run[i], p->evict_buf + i * USM_PAGE_SIZE, &queued);
	save_run(p, run, n, queued);
	drop_run(p, run, n);
}

void evict_pages(struct usm_pager *p, struct mpage **v, size_t n)
{
	sort_by_address(v, n);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && j - i < EVICT_RUN_PAGES && v[j]->region == v[i]->region &&
		       v[j]->index == v[j - 1]->index + 1 && kept(v[j]) == kept(v[i]))
			j++;
		evict_run(p, v + i, j - i);
		i = j;
	}
}

static void evict_batch(struct usm_pager *p, size_t want)
{
	size_t n = usm_policy_pick(p->policy, p->victims, want);
	struct mpage **v = (struct mpage **)p->victims;

	for (size_t i = 0; i < n; i++)
		v[i] = as_page(p->victims[i]);
	evict_pages(p, v, n);
}

static void evict_down_to(struct usm_pager *p, uint64_t target)
{
	while (p->resident_pages > target) {
		uint64_t want = p->resident_pages - target;
		uint64_t before_pages = p->resident_pages;
		evict_batch(p, want < p->cfg.batch ? want : p->cfg.batch);
		if (p->resident_pages == before_pages)
			break; /* nothing left to evict (or all of it pinned) */
	}
}

/* usm's memory in the process: what rawmem has committed, less the zero
 * buffer, which is never written (the kernel's zero page backs it). */
static uint64_t own_memory(const struct usm_pager *p)
{
	uint64_t committed = usm_rawmem_committed();

	return committed > p->fill_buf_size ? committed - p->fill_buf_size : 0;
}

/* The resident pages the limit leaves once usm's own memory is counted,
 * never fewer than half the limit, so that the program always moves on:
 * with the store's share at most half the limit too, what usm holds past
 * the limit is at most its metadata (docs/run.md). */
uint64_t evict_resident_budget(const struct usm_pager *p)
{
	uint64_t own = own_memory(p) / USM_PAGE_SIZE;
	uint64_t floor = p->limit_pages / 2;

	return p->limit_pages > own + floor ? p->limit_pages - own : floor;
}

/* The store's share of the limit less the metadata: the two together stay
 * inside the share while the metadata fits in it. */
static void cap_store(struct usm_pager *p, uint64_t own, uint64_t store_memory)
{
	uint64_t share = p->limit_pages * USM_PAGE_SIZE / 100 * p->cfg.store_share_pct;
	uint64_t metadata = own > store_memory ? own - store_memory : 0;

	if (p->limit_pages)
		usm_store_set_memory_cap(p->store, share > metadata ? share - metadata : 1);
}

/* The peaks of what usm holds for the process, taken before each fill:
 * resident (with need, the fill's pages), the store in memory and on disk,
 * and usm's own memory besides the store (metadata). */
static void note_peaks(struct usm_pager *p, uint64_t need)
{
	struct usm_store_stats st;
	uint64_t own = own_memory(p);
	uint64_t total = (p->resident_pages + need) * USM_PAGE_SIZE + own;

	usm_store_stats(p->store, &st);
	cap_store(p, own, st.bytes_in_memory);
	if (total > p->st.peak_total)
		p->st.peak_total = total;
	if (st.bytes_in_memory > p->st.peak_store_memory)
		p->st.peak_store_memory = st.bytes_in_memory;
	if (st.bytes_on_disk > p->st.peak_store_disk)
		p->st.peak_store_disk = st.bytes_on_disk;
	if (own > st.bytes_in_memory && own - st.bytes_in_memory > p->st.peak_metadata)
		p->st.peak_metadata = own - st.bytes_in_memory;
}

void evict_make_room(struct usm_pager *p, uint64_t need)
{
	uint64_t budget, low;

	note_peaks(p, need);
	if (!p->limit_pages || p->evict_hold)
		return;
	budget = evict_resident_budget(p);
	if (p->resident_pages + need <= budget)
		return;
	low = budget * p->cfg.low_pct / 100;
	evict_down_to(p, low > need ? low - need : 0);
}

/* A new limit (usmd grew or shrank this process's share): a lower one is
 * met before the caller hears back, so that the frames are really free
 * when usmd hands them to another process. */
void evict_set_limit(struct usm_pager *p, uint64_t limit_bytes)
{
	p->limit_pages = limit_bytes / USM_PAGE_SIZE;
	p->low_pages = p->limit_pages * p->cfg.low_pct / 100;
	if (p->store)
		cap_store(p, own_memory(p), usm_store_memory_bytes(p->store));
	if (p->limit_pages && !p->evict_hold)
		evict_down_to(p, evict_resident_budget(p));
}

/* For "clock": pages whose referenced bit the hand cleared are
 * write-protected, so that their next write is seen as an access. Runs of
 * neighbours take one ioctl. */
void evict_rearm(void *ctx, struct usm_policy_node **nodes, size_t n)
{
	struct usm_pager *p = ctx;
	struct mpage **v = (struct mpage **)nodes;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct mpage *m = as_page(nodes[i]);
		if (m->state == PAGE_RESIDENT && !m->wp)
			v[k++] = m;
	}
	sort_by_address(v, k);
	for (size_t i = 0; i < k;) {
		size_t j = i + 1;
		while (j < k && v[j]->region == v[i]->region && v[j]->index == v[j - 1]->index + 1)
			j++;
		if (usm_os_uffd_writeprotect(p->uffd, page_addr(v[i]), (j - i) * USM_PAGE_SIZE,
					     true, false) == 0)
			for (size_t q = i; q < j; q++)
				v[q]->wp = true;
		i = j;
	}
}
