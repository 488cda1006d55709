// SPDX-License-Identifier: GPL-2.0
/*
 * Identical-page detection, as KSM does it: a 64-bit hash of every page,
 * sort by hash, then memcmp inside each run of equal hashes. Pages are
 * never compared by frame, so one page mapped twice is a group of two.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/xxhash.h>

#include "memory_info.h"

/*
 * A random seed for each snapshot: xxh64 is not collision resistant, and a
 * process filling pages with precomputed collisions would otherwise make the
 * memcmp step quadratic.
 */
void mi_store_init(struct mi_store *s)
{
	void *p = kmap_local_page(ZERO_PAGE(0));

	memset(s, 0, sizeof(*s));
	s->seed = get_random_u64();
	s->zero_hash = xxh64(p, PAGE_SIZE, s->seed);	/* the zero page's */
	kunmap_local(p);
}

static u64 mi_page_hash(const struct mi_store *s, struct page *page)
{
	void *p;
	u64 h;

	if (!page)
		return s->zero_hash;
	p = kmap_local_page(page);
	h = xxh64(p, PAGE_SIZE, s->seed);
	kunmap_local(p);
	return h;
}

/* Byte-for-byte equality; NULL is the zero page. */
static bool mi_page_same(struct page *a, struct page *b)
{
	void *pa, *pb;
	bool same;

	if (a == b)
		return true;
	if (!a || !b) {
		pa = kmap_local_page(a ? a : b);
		same = !memchr_inv(pa, 0, PAGE_SIZE);
		kunmap_local(pa);
		return same;
	}
	pa = kmap_local_page(a);
	pb = kmap_local_page(b);
	same = !memcmp(pa, pb, PAGE_SIZE);
	kunmap_local(pb);
	kunmap_local(pa);
	return same;
}

/*
 * Make room for @extra more entries. Called only where sleeping is allowed
 * (never under a page-table lock); the array grows by doubling, so memory is
 * bounded by twice the number of readable present pages of one name.
 */
int mi_store_reserve(struct mi_store *s, size_t extra)
{
	struct mi_hent *n;
	size_t cap;

	if (s->len + extra <= s->cap)
		return 0;
	if (s->no_alloc)
		return -ENOMEM;	/* the caller reserved too little: fail safe */
	cap = max3(s->cap * 2, s->len + extra, (size_t)1024);
	if (mi_fail_alloc())
		return -ENOMEM;
	n = kvmalloc_array(cap, sizeof(*n), GFP_KERNEL | __GFP_NOWARN);
	if (!n)
		return -ENOMEM;
	if (s->len)
		memcpy(n, s->ent, s->len * sizeof(*n));
	kvfree(s->ent);
	s->ent = n;
	s->cap = cap;
	return 0;
}

/* Append @page (reference already taken, or NULL for the zero page). */
void mi_store_add(struct mi_store *s, struct page *page)
{
	s->ent[s->len].hash = mi_page_hash(s, page);
	s->ent[s->len].page = page;
	s->len++;
}

/* Drop the references of entries [keep, len) and forget them. */
void mi_store_release(struct mi_store *s, size_t keep)
{
	size_t i;

	for (i = keep; i < s->len; i++) {
		if (s->ent[i].page)
			put_page(s->ent[i].page);
		if ((i & 1023) == 1023)
			cond_resched();
	}
	s->len = keep;
}

void mi_store_free(struct mi_store *s)
{
	mi_store_release(s, 0);
	kvfree(s->ent);
	s->ent = NULL;
	s->cap = 0;
}

static int mi_hent_cmp(const void *a, const void *b)
{
	const struct mi_hent *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	/* Same frame next to each other: mi_page_same() then skips the memcmp. */
	if (x->page != y->page)
		return (unsigned long)x->page < (unsigned long)y->page ? -1 : 1;
	return 0;
}

/*
 * Count the pages whose contents occur at least twice and the number of such
 * contents. Entries with equal hashes are partitioned into exact-content
 * classes: each class's first entry is its representative and members are
 * swapped next to it. The store's order changes; its references are kept.
 */
void mi_dedup(struct mi_store *s, unsigned long *may_be_shared,
	      unsigned long *nb_group)
{
	struct mi_hent *e = s->ent;
	size_t i, j, k, m, size;

	*may_be_shared = 0;
	*nb_group = 0;
	if (s->len < 2)
		return;
	sort(e, s->len, sizeof(*e), mi_hent_cmp, NULL);

	for (i = 0; i < s->len; i = j) {
		for (j = i + 1; j < s->len && e[j].hash == e[i].hash; j++)
			;
		for (k = i; k < j; k += size) {
			size = 1;
			for (m = k + 1; m < j; m++) {
				if (mi_page_same(e[k].page, e[m].page)) {
					swap(e[k + size], e[m]);
					size++;
				}
				if (((m - k) & 255) == 0)
					cond_resched();
			}
			if (size >= 2) {
				*may_be_shared += size;
				(*nb_group)++;
			}
		}
		cond_resched();
	}
}
