/* The live-object index: which object holds an address, in O(1), read
 * without a lock from any number of threads.
 *
 * A shadow map, as ASan keeps one: every 16-byte granule of the address
 * space has a slot that points at the live object covering it. glibc's
 * malloc hands out 16-aligned blocks with a chunk header between any two,
 * instrumented globals are 32-aligned with a redzone after, mappings are
 * page-aligned: no two live objects share a granule. A page that one
 * object covers whole is written once, in a per-page slot, so a big
 * mapping costs a slot per page, not per granule.
 *
 * The map is two levels: a table of 4 MiB regions (256 MiB of address
 * space reserved, never populated beyond what is used), each region a
 * page array and a granule array made on first use and never freed, so a
 * reader never sees one go away. A writer owns the range it writes (the
 * allocator gave it those bytes); a lookup checks the object it found
 * (live, address inside), so a slot read during a change is harmless. */
#include "rt.h"

#include "base/page.h"

#define GRANULE_SHIFT 4
#define REGION_SHIFT  22
#define ADDR_BITS     47
#define NREGIONS      (1UL << (ADDR_BITS - REGION_SHIFT))
#define REGION_PAGES  (1UL << (REGION_SHIFT - USM_PAGE_SHIFT))
#define REGION_GRANS  (1UL << (REGION_SHIFT - GRANULE_SHIFT))

struct region {
	struct rt_obj *pages[REGION_PAGES];
	struct rt_obj *granules[REGION_GRANS];
};

static struct region **regions; /* set up before any thread but the first runs */

bool rt_index_init(void)
{
	if (!regions)
		regions = rt_reserve(NREGIONS * sizeof(*regions));
	return regions != NULL;
}

/* The region of addr, made if need be (for writers), or NULL. */
static struct region *region_get(uintptr_t addr, bool make)
{
	struct region **t = regions;
	struct region *r, *mine;
	uintptr_t i = addr >> REGION_SHIFT;

	if (!t || i >= NREGIONS)
		return NULL;
	r = __atomic_load_n(&t[i], __ATOMIC_ACQUIRE);
	if (r || !make)
		return r;
	mine = rt_reserve(sizeof(*mine));
	if (!mine)
		return NULL;
	if (!__atomic_compare_exchange_n(&t[i], &r, mine, false, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE)) {
		rt_munmap(mine, sizeof(*mine));
		return r;
	}
	return mine;
}

static bool covers(const struct rt_obj *o, uintptr_t addr)
{
	return RT_LOAD(&o->state) == RT_OBJ_LIVE && addr - o->va < RT_LOAD(&o->extent);
}

struct rt_obj *rt_index_lookup(uintptr_t addr)
{
	struct region *r = region_get(addr, false);
	struct rt_obj *o;

	if (!r)
		return NULL;
	o = RT_LOAD(&r->pages[(addr >> USM_PAGE_SHIFT) & (REGION_PAGES - 1)]);
	if (!o)
		o = RT_LOAD(&r->granules[(addr >> GRANULE_SHIFT) & (REGION_GRANS - 1)]);
	return o && covers(o, addr) ? o : NULL;
}

/* What a range change does to each slot: set it to the new object (and
 * say which other object held it), or clear it if it still names o. */
enum op { SET, CLEAR };

static struct rt_obj *slot_apply(struct rt_obj **slot, struct rt_obj *o, enum op op)
{
	struct rt_obj *old = RT_LOAD(slot);

	if (op == SET) {
		RT_STORE(slot, o);
		return old != o ? old : NULL;
	}
	if (old == o)
		RT_STORE(slot, NULL);
	return NULL;
}

/* Applies op to the slots of [lo, hi) in the page array (pages) or the
 * granule array, one region at a time; returns one other object found
 * there, if any. */
static struct rt_obj *slots_apply(uintptr_t lo, uintptr_t hi, bool pages, struct rt_obj *o,
                                  enum op op)
{
	unsigned shift = pages ? USM_PAGE_SHIFT : GRANULE_SHIFT;
	uintptr_t mask = (1UL << (REGION_SHIFT - shift)) - 1;
	struct rt_obj *other = NULL;

	for (uintptr_t a = usm_align_down(lo, 1UL << shift); a < hi;) {
		struct region *r = region_get(a, op == SET);
		uintptr_t end = ((a >> REGION_SHIFT) + 1) << REGION_SHIFT;

		if (end > hi)
			end = hi;
		if (r) {
			struct rt_obj **slots = pages ? r->pages : r->granules;

			for (uintptr_t g = a; g < end; g += 1UL << shift) {
				struct rt_obj *x = slot_apply(&slots[(g >> shift) & mask], o, op);

				if (x)
					other = x;
			}
		}
		a = end;
	}
	return other;
}

/* The pages [va, va + len) covers whole go in page slots, the rest (the
 * partial pages at either end) in granule slots. */
static struct rt_obj *range_apply(uintptr_t va, size_t len, struct rt_obj *o, enum op op)
{
	uintptr_t end = va + len, first = usm_page_up(va);
	uintptr_t last = usm_page_down(end);
	struct rt_obj *a, *b, *c = NULL;

	if (end < va)
		end = UINTPTR_MAX;
	if (first >= last)
		return slots_apply(va, end, false, o, op);
	a = slots_apply(va, first, false, o, op);
	b = slots_apply(first, last, true, o, op);
	if (last < end)
		c = slots_apply(last, end, false, o, op);
	return a ? a : b ? b : c;
}

void rt_index_insert(struct rt_obj *o)
{
	struct rt_obj *stale;

	/* A free the runtime could not see (made while it was busy) leaves a
	 * stale object over these bytes: the allocator never hands out bytes
	 * of a live block, so whatever still claims them is gone. Retiring it
	 * clears only the slots that still name it, then ours are set again
	 * in case it shared one. */
	while ((stale = range_apply(o->va, o->extent, o, SET)) != NULL) {
		if (RT_LOAD(&stale->state) == RT_OBJ_LIVE)
			rt_obj_free(stale, 0, o->alloc_ns);
		else
			range_apply(stale->va, stale->extent, stale, CLEAR);
	}
}

void rt_index_remove(struct rt_obj *o)
{
	range_apply(o->va, o->extent, o, CLEAR);
}

void rt_index_extend(struct rt_obj *o, size_t old_extent)
{
	range_apply(o->va + old_extent, o->extent - old_extent, o, SET);
}
