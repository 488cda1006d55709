/* A CAPMAP summed per allocation site and per object, the figures of
 * 'usm trace report'. Sorting is stable (ties keep the map's order), so
 * the same CAPMAP always gives the same report. */
#include <usm/capmap.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_ip(const void *a, const void *b)
{
	const struct usm_capmap_obj *x = *(const struct usm_capmap_obj *const *)a;
	const struct usm_capmap_obj *y = *(const struct usm_capmap_obj *const *)b;

	return x->alloc_ip < y->alloc_ip ? -1 : x->alloc_ip > y->alloc_ip;
}

static int site_order(const void *a, const void *b)
{
	const struct usm_capmap_site *x = a, *y = b;
	uint64_t ax = x->reads + x->writes, ay = y->reads + y->writes;

	if (ax != ay)
		return ax > ay ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->alloc_ip < y->alloc_ip ? -1 : x->alloc_ip > y->alloc_ip;
}

static int obj_order(const void *a, const void *b)
{
	const struct usm_capmap_objsum *x = a, *y = b;
	uint64_t ax = x->reads + x->writes, ay = y->reads + y->writes;

	if (ax != ay)
		return ax > ay ? -1 : 1;
	return x->obj->va < y->obj->va ? -1 : x->obj->va > y->obj->va;
}

static void sum_accesses(const struct usm_capmap *map, const struct usm_capmap_obj *o,
			 uint64_t *reads, uint64_t *writes)
{
	for (size_t k = 0; k < o->naccesses; k++) {
		*reads += map->accesses[o->first_access + k].reads;
		*writes += map->accesses[o->first_access + k].writes;
	}
}

/* Groups the objects by allocation IP into r->sites, in IP order. */
static int group_sites(const struct usm_capmap *map, struct usm_capmap_report *r)
{
	const struct usm_capmap_obj **sorted = calloc(map->nobjs + 1, sizeof(*sorted));
	size_t n = 0;

	r->sites = calloc(map->nobjs + 1, sizeof(*r->sites));
	if (!sorted || !r->sites) {
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < map->nobjs; i++)
		sorted[i] = &map->objs[i];
	qsort(sorted, map->nobjs, sizeof(*sorted), by_ip);
	for (size_t i = 0; i < map->nobjs; i++) {
		const struct usm_capmap_obj *o = sorted[i];
		struct usm_capmap_site *s;

		if (!n || r->sites[n - 1].alloc_ip != o->alloc_ip) {
			s = &r->sites[n++];
			s->alloc_ip = o->alloc_ip;
			memcpy(s->allocator, o->allocator, sizeof(s->allocator));
		}
		s = &r->sites[n - 1];
		if (strcmp(s->allocator, o->allocator))
			s->mixed = true;
		s->objects++;
		s->bytes += o->size;
		if (o->free_time) {
			s->freed++;
			s->lifetime_sum += o->free_time - o->alloc_time;
		} else {
			s->live++;
		}
		sum_accesses(map, o, &s->reads, &s->writes);
	}
	free(sorted);
	r->nsites = n;
	return 0;
}

struct site_at {
	uint64_t ip;
	size_t site;
};

static int by_site_ip(const void *a, const void *b)
{
	const struct site_at *x = a, *y = b;

	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

/* The index in the report's sites of the one at ip (at is in IP order). */
static size_t find_site(const struct site_at *at, size_t n, uint64_t ip)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (at[mid].ip < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return at[lo].site;
}

int usm_capmap_report(const struct usm_capmap *map, struct usm_capmap_report *out)
{
	struct site_at *at = NULL;

	memset(out, 0, sizeof(*out));
	out->objs = calloc(map->nobjs + 1, sizeof(*out->objs));
	if (!out->objs || group_sites(map, out) < 0)
		goto nomem;
	for (size_t i = 0; i < out->nsites; i++) {
		out->reads += out->sites[i].reads;
		out->writes += out->sites[i].writes;
		out->live += out->sites[i].live;
	}
	qsort(out->sites, out->nsites, sizeof(*out->sites), site_order);
	at = calloc(out->nsites + 1, sizeof(*at));
	if (!at)
		goto nomem;
	for (size_t i = 0; i < out->nsites; i++)
		at[i] = (struct site_at){ out->sites[i].alloc_ip, i };
	qsort(at, out->nsites, sizeof(*at), by_site_ip);
	for (size_t i = 0; i < map->nobjs; i++) {
		struct usm_capmap_objsum *o = &out->objs[i];

		o->obj = &map->objs[i];
		sum_accesses(map, o->obj, &o->reads, &o->writes);
		o->site = find_site(at, out->nsites, o->obj->alloc_ip);
	}
	out->nobjs = map->nobjs;
	qsort(out->objs, out->nobjs, sizeof(*out->objs), obj_order);
	free(at);
	return 0;
nomem:
	usm_capmap_report_free(out);
	return -ENOMEM;
}

void usm_capmap_report_free(struct usm_capmap_report *r)
{
	free(r->sites);
	free(r->objs);
	memset(r, 0, sizeof(*r));
}
