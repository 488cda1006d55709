/* The table of managed regions: sorted by address, each with a two-level
 * array of per-page records so that a sparse region costs little. Regions
 * are split, moved and dropped as the program unmaps and remaps memory. */
#include "pager/pager_impl.h"

#include <string.h>
#include <unistd.h>

#include "base/rawmem.h"

#include "os/pagemap.h"

static size_t find_index(struct usm_pager *p, uint64_t addr)
{
	/* first region whose start is > addr, minus one */
	size_t lo = 0, hi = p->nregions;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->regions[mid]->start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct region *region_find(struct usm_pager *p, uint64_t addr)
{
	size_t i = find_index(p, addr);

	if (i == 0)
		return NULL;
	struct region *r = p->regions[i - 1];
	return addr < region_end(r) ? r : NULL;
}

struct region *region_next(struct usm_pager *p, uint64_t addr)
{
	struct region *r = region_find(p, addr);
	size_t i;

	if (r)
		return r;
	i = find_index(p, addr);
	return i < p->nregions ? p->regions[i] : NULL;
}

static uint64_t leaves_for(uint64_t npages)
{
	return (npages + LEAF_PAGES - 1) / LEAF_PAGES;
}

/* Puts r in the table at its place by start address, growing the table. */
static void table_insert(struct usm_pager *p, struct region *r)
{
	if (p->nregions == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		p->regions = usm_rawmem_realloc(p->regions, p->cap * sizeof(*p->regions),
						cap * sizeof(*p->regions));
		if (!p->regions)
			pager_fatal(p, "out of memory for the region table");
		p->cap = cap;
	}
	size_t i = find_index(p, r->start);
	memmove(&p->regions[i + 1], &p->regions[i], (p->nregions - i) * sizeof(*p->regions));
	p->regions[i] = r;
	p->nregions++;
	p->st.regions = p->nregions;
}

struct region *region_insert(struct usm_pager *p, uint64_t start, uint64_t npages)
{
	struct region *r = usm_rawmem_alloc(sizeof(*r));

	if (!r)
		pager_fatal(p, "out of memory for page records");
	r->start = start;
	r->npages = npages;
	/* a region that continues another (brk, a split, mremap growing it)
	 * continues its access pattern: it starts with the same block */
	struct region *below = start ? region_find(p, start - 1) : NULL;
	r->block_pages = below && region_end(below) == start
				 ? below->block_pages
				 : (uint32_t)(p->cfg.fault_size / USM_PAGE_SIZE);
	r->nleaves = leaves_for(npages);
	r->leaves = usm_rawmem_alloc(r->nleaves * sizeof(*r->leaves));
	if (!r->leaves)
		pager_fatal(p, "out of memory for page records");
	table_insert(p, r);
	p->st.managed_bytes += npages * USM_PAGE_SIZE;
	return r;
}

struct mpage *region_page(struct region *r, uint64_t index, bool create)
{
	struct mpage **leaf = r->leaves[index / LEAF_PAGES];

	if (!leaf) {
		if (!create)
			return NULL;
		leaf = usm_rawmem_alloc(LEAF_PAGES * sizeof(*leaf));
		if (!leaf)
			return NULL;
		r->leaves[index / LEAF_PAGES] = leaf;
	}
	struct mpage *m = leaf[index % LEAF_PAGES];
	if (!m && create) {
		m = usm_rawmem_alloc(sizeof(*m));
		if (!m)
			return NULL;
		m->region = r;
		m->index = index;
		leaf[index % LEAF_PAGES] = m;
	}
	return m;
}

/* Forgets a page: out of the policy and the budget, its copy dropped. The
 * record itself is freed by the caller. */
void page_forget(struct usm_pager *p, struct mpage *m)
{
	if (m->state == PAGE_RESIDENT) {
		usm_policy_removed(p->policy, &m->node);
		p->resident_pages--;
	}
	if (m->pinned) {
		m->pinned = false;
		p->pinned_pages--;
	}
	usm_store_drop(p->store, m->copy);
	m->copy = 0;
	m->state = 0;
}

static void remove_at(struct usm_pager *p, size_t i)
{
	memmove(&p->regions[i], &p->regions[i + 1], (p->nregions - i - 1) * sizeof(*p->regions));
	p->nregions--;
	p->st.regions = p->nregions;
}

static void region_free(struct usm_pager *p, struct region *r)
{
	for (uint64_t l = 0; l < r->nleaves; l++) {
		struct mpage **leaf = r->leaves[l];
		if (!leaf)
			continue;
		for (unsigned k = 0; k < LEAF_PAGES; k++) {
			if (leaf[k]) {
				page_forget(p, leaf[k]);
				usm_rawmem_free(leaf[k], sizeof(*leaf[k]));
			}
		}
		usm_rawmem_free(leaf, LEAF_PAGES * sizeof(*leaf));
	}
	p->st.managed_bytes -= r->npages * USM_PAGE_SIZE;
	usm_rawmem_free(r->leaves, r->nleaves * sizeof(*r->leaves));
	usm_rawmem_free(r, sizeof(*r));
}

/* Makes addr a region boundary, moving the tail's page records into a new
 * region. Page records keep their identity (the policy's links stay valid). */
static void split_at(struct usm_pager *p, uint64_t addr)
{
	struct region *r = region_find(p, addr);

	if (!r || r->start == addr)
		return;
	uint64_t k = (addr - r->start) / USM_PAGE_SIZE;
	uint64_t tail = r->npages - k;
	p->st.managed_bytes -= tail * USM_PAGE_SIZE; /* region_insert counts it again */
	struct region *t = region_insert(p, addr, tail);
	t->sequential = r->sequential;
	for (uint64_t i = k; i < r->npages; i++) {
		struct mpage *m = region_page(r, i, false);
		if (!m)
			continue;
		r->leaves[i / LEAF_PAGES][i % LEAF_PAGES] = NULL;
		struct mpage **leaf = t->leaves[(i - k) / LEAF_PAGES];
		if (!leaf) {
			leaf = usm_rawmem_alloc(LEAF_PAGES * sizeof(*leaf));
			if (!leaf)
				pager_fatal(p, "out of memory for page records");
			t->leaves[(i - k) / LEAF_PAGES] = leaf;
		}
		leaf[(i - k) % LEAF_PAGES] = m;
		m->region = t;
		m->index = i - k;
	}
	/* free the head's leaves that now hold nothing */
	uint64_t keep = leaves_for(k);
	for (uint64_t l = keep; l < r->nleaves; l++) {
		if (r->leaves[l])
			usm_rawmem_free(r->leaves[l], LEAF_PAGES * sizeof(*r->leaves[l]));
		r->leaves[l] = NULL;
	}
	r->npages = k;
}

void region_drop_range(struct usm_pager *p, uint64_t start, uint64_t len)
{
	split_at(p, start);
	split_at(p, start + len);
	size_t i = find_index(p, start);
	if (i > 0 && p->regions[i - 1]->start == start)
		i--;
	while (i < p->nregions && p->regions[i]->start < start + len) {
		struct region *r = p->regions[i];
		remove_at(p, i);
		region_free(p, r);
	}
}

/* The range stays mapped and managed, but its contents are gone (the
 * program dropped them with madvise): its pages read as zeros again. */
void region_forget_pages(struct usm_pager *p, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;

	for (uint64_t a = usm_page_down(start); a < end;) {
		struct region *r = region_find(p, a);
		if (!r) { /* skip to the next region, if any starts before end */
			size_t i = find_index(p, a);
			if (i == p->nregions)
				break;
			a = p->regions[i]->start;
			continue;
		}
		uint64_t stop = end < region_end(r) ? end : region_end(r);
		for (; a < stop; a += USM_PAGE_SIZE) {
			uint64_t i = (a - r->start) / USM_PAGE_SIZE;
			struct mpage *m = region_page(r, i, false);
			if (m) {
				page_forget(p, m);
				r->leaves[i / LEAF_PAGES][i % LEAF_PAGES] = NULL;
				usm_rawmem_free(m, sizeof(*m));
			}
		}
	}
}

void region_move_range(struct usm_pager *p, uint64_t from, uint64_t to, uint64_t len)
{
	struct region *moved[64];
	size_t n = 0;

	split_at(p, from);
	split_at(p, from + len);
	size_t i = find_index(p, from);
	if (i > 0 && p->regions[i - 1]->start == from)
		i--;
	while (i < p->nregions && p->regions[i]->start < from + len) {
		/* one mremap moves one mapping, which holds one region or a
		 * few; past this bound the records could not follow it, and
		 * the program is stopped rather than given zeros */
		if (n == sizeof(moved) / sizeof(moved[0]))
			pager_fatal(p, "mremap moved more than %zu managed regions", n);
		moved[n++] = p->regions[i];
		remove_at(p, i);
	}
	/* whatever was at the destination is gone (MREMAP_FIXED unmaps it) */
	region_drop_range(p, to, len);
	for (size_t k = 0; k < n; k++) {
		struct region *r = moved[k];
		r->start = r->start - from + to;
		table_insert(p, r);
	}
}

/* A page found present that the pager did not fill: counted as resident
 * and dirty, since it has no copy (or its copy is stale). */
void page_adopt(struct usm_pager *p, struct region *r, uint64_t index)
{
	struct mpage *m = region_page(r, index, true);

	if (!m)
		pager_fatal(p, "out of memory for page records");
	if (m->state == PAGE_RESIDENT)
		return;
	usm_store_drop(p->store, m->copy);
	m->copy = 0;
	m->state = PAGE_RESIDENT;
	m->dirty = true;
	p->resident_pages++;
	usm_policy_inserted(p->policy, &m->node);
}

/* Pages already present when a range is registered (touched before the
 * tagger started, or populated by the kernel) are counted as resident and
 * dirty: they have no copy yet. */
void region_adopt_present(struct usm_pager *p, struct region *r)
{
	int fd = usm_os_pagemap_open(0);
	uint64_t entries[512];

	if (fd < 0)
		return;
	for (uint64_t i = 0; i < r->npages; i += 512) {
		uint64_t n = r->npages - i < 512 ? r->npages - i : 512;
		if (usm_os_pagemap_read(fd, r->start + i * USM_PAGE_SIZE, entries, n) < 0)
			break;
		for (uint64_t k = 0; k < n; k++) {
			if (!(entries[k] & USM_PM_PRESENT))
				continue;
			page_adopt(p, r, i + k);
		}
	}
	close(fd);
}
