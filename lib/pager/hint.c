/* What the program says of its memory (usm_hint, include/usm/hint.h),
 * acted on in the pager thread, for the managed pages of a range:
 *   WILLNEED    evicted pages come back now, as far as the budget allows
 *   SEQUENTIAL  every fault in the range's regions fills ahead
 *   COLD        resident pages are evicted now
 *   PIN         pages are made resident and leave the policy (never
 *               evicted), at most half the limit; UNPIN gives them back */
#include "pager/pager_impl.h"

#include <errno.h>

#include "proto/proto.h"

typedef void (*range_fn)(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
			 void *ctx);

/* Calls fn for each managed part of [start, start+len). */
static void each_part(struct usm_pager *p, uint64_t start, uint64_t len, range_fn fn, void *ctx)
{
	uint64_t end = start + len;

	for (struct region *r = region_next(p, start); r && r->start < end;
	     r = region_next(p, region_end(r))) {
		uint64_t from = start > r->start ? start : r->start;
		uint64_t to = end < region_end(r) ? end : region_end(r);
		fn(p, r, (from - r->start) / USM_PAGE_SIZE, (to - from) / USM_PAGE_SIZE, ctx);
	}
}

static uint64_t chunk_pages(const struct usm_pager *p)
{
	return p->fill_buf_size / USM_PAGE_SIZE; /* what one fill may copy at once */
}

static void will_need(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
		       void *ctx)
{
	/* more than the budget would evict what the hint just filled */
	uint64_t room = count;

	if (p->limit_pages)
		room = p->low_pages > p->pinned_pages ? p->low_pages - p->pinned_pages : 0;

	for (uint64_t i = 0; i < count && i < room; i += chunk_pages(p)) {
		uint64_t n = count - i < chunk_pages(p) ? count - i : chunk_pages(p);
		bool evicted = false;
		for (uint64_t k = 0; k < n && !evicted; k++) {
			struct mpage *m = region_page(r, first + i + k, false);
			evicted = m && m->state == PAGE_EVICTED;
		}
		if (evicted) /* never-touched pages stay untouched */
			fill_range(p, r, first + i, n, FILL_PREFETCH);
	}
}

static void sequential(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
		        void *ctx)
{
	r->sequential = true;
}

static void cold(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
		  void *ctx)
{
	struct mpage **v = (struct mpage **)p->victims;
	size_t n = 0;

	for (uint64_t i = 0; i < count; i++) {
		struct mpage *m = region_page(r, first + i, false);
		if (!m || m->state != PAGE_RESIDENT || m->pinned)
			continue;
		usm_policy_removed(p->policy, &m->node);
		v[n++] = m;
		if (n == p->cfg.batch) {
			evict_pages(p, v, n);
			n = 0;
		}
	}
	evict_pages(p, v, n);
}

static void pin(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
		 void *ctx)
{
	for (uint64_t i = 0; i < count; i += chunk_pages(p)) {
		uint64_t n = count - i < chunk_pages(p) ? count - i : chunk_pages(p);
		fill_range(p, r, first + i, n, 0);
		for (uint64_t k = 0; k < n; k++) {
			struct mpage *m = region_page(r, first + i + k, false);
			if (!m || m->state != PAGE_RESIDENT || m->pinned)
				continue;
			usm_policy_removed(p->policy, &m->node);
			m->pinned = true;
			p->pinned_pages++;
		}
	}
}

static void unpin(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
		   void *ctx)
{
	for (uint64_t i = 0; i < count; i++) {
		struct mpage *m = region_page(r, first + i, false);
		if (!m || !m->pinned)
			continue;
		m->pinned = false;
		p->pinned_pages--;
		usm_policy_inserted(p->policy, &m->node);
	}
}

static void count_unpinned(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
			   void *ctx)
{
	uint64_t *pages = ctx;

	for (uint64_t i = 0; i < count; i++) {
		struct mpage *m = region_page(r, first + i, false);
		*pages += !(m && m->pinned);
	}
}

long hint_apply(struct usm_pager *p, uint64_t addr, uint64_t len, int kind)
{
	uint64_t unpinned = 0;

	switch (kind) {
	case USM_HINT_WILLNEED:
		each_part(p, addr, len, will_need, NULL);
		return 0;
	case USM_HINT_SEQUENTIAL:
		each_part(p, addr, len, sequential, NULL);
		return 0;
	case USM_HINT_COLD:
		if (!p->evict_hold)
			each_part(p, addr, len, cold, NULL);
		return 0;
	case USM_HINT_PIN:
		each_part(p, addr, len, count_unpinned, &unpinned);
		if (p->limit_pages && (p->pinned_pages + unpinned) * 2 > p->limit_pages)
			return -ENOMEM;
		each_part(p, addr, len, pin, NULL);
		return 0;
	case USM_HINT_UNPIN:
		each_part(p, addr, len, unpin, NULL);
		return 0;
	}
	return -EINVAL;
}
