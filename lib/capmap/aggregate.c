/* A CAPMAP summed per allocation site while it is read (usm_capmap_scan):
 * what a site's objects weigh, how long they lived, which verdicts they
 * earn and which access IPs touched them. Per object only a bounded sample
 * is kept (a min-heap per site), so memory grows with the number of sites
 * and access IPs, never with the number of objects: a CAPMAP of hundreds
 * of megabytes sums in a few. */
#include <usm/capmap.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"

static const char *const verdict_names[USM_CAPMAP_NVERDICTS] = {
        [USM_VERDICT_NEVER_READ] = "never_read",   [USM_VERDICT_NEVER_WRITTEN] = "never_written",
        [USM_VERDICT_WRITE_ONLY] = "write_only",   [USM_VERDICT_SHORT_LIVED] = "short_lived",
        [USM_VERDICT_READ_MOSTLY] = "read_mostly",
};

const char *usm_capmap_verdict_name(enum usm_capmap_verdict v)
{
	return (unsigned)v < USM_CAPMAP_NVERDICTS ? verdict_names[v] : "?";
}

/* Open addressing on a pair of keys: (0, alloc_ip) for sites, (site + 1,
 * access_ip) for the access IPs of a site. */
struct slot {
	uint64_t k1, k2;
	size_t idx; /* + 1; 0 is an empty slot */
};

struct hash {
	struct slot *slots;
	size_t cap, n;
};

static uint64_t mix(uint64_t k1, uint64_t k2)
{
	uint64_t z = k1 * 0x9e3779b97f4a7c15ull ^ k2;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct slot *hash_find(struct hash *h, uint64_t k1, uint64_t k2)
{
	size_t i = (size_t)mix(k1, k2) & (h->cap - 1);

	while (h->slots[i].idx && (h->slots[i].k1 != k1 || h->slots[i].k2 != k2))
		i = (i + 1) & (h->cap - 1);
	return &h->slots[i];
}

/* Makes room for one more key: keeps the table at most half full. */
static int hash_reserve(struct hash *h)
{
	struct hash big;

	if ((h->n + 1) * 2 <= h->cap)
		return 0;
	big.cap = h->cap ? h->cap * 2 : 1024;
	big.n = h->n;
	big.slots = calloc(big.cap, sizeof(*big.slots));
	if (!big.slots)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++)
		if (h->slots[i].idx)
			*hash_find(&big, h->slots[i].k1, h->slots[i].k2) = h->slots[i];
	free(h->slots);
	*h = big;
	return 0;
}

struct touch_at {
	struct usm_capmap_touch t;
	size_t site;
};

struct agg_state {
	struct usm_capmap_agg *out;
	size_t cap_sites;
	struct hash sites, touch_hash;
	struct touch_at *touches;
	size_t ntouches, cap_touches;
	uint64_t *ips; /* one object's access IPs, sorted to count each IP once */
	size_t cap_ips;
};

static int grow(void **arr, size_t *cap, size_t n, size_t item)
{
	return usm_grow(arr, cap, n, item, 64);
}

static uint64_t lifetime_rank(const struct usm_capmap_sample *s)
{
	return s->free_time ? s->free_time - s->alloc_time : UINT64_MAX;
}

/* > 0 when x is worth keeping before y: larger, then longer-lived (live
 * counts as longest), then older, then lower address. */
static int sample_rank(const struct usm_capmap_sample *x, const struct usm_capmap_sample *y)
{
	uint64_t lx = lifetime_rank(x), ly = lifetime_rank(y);

	if (x->size != y->size)
		return x->size > y->size ? 1 : -1;
	if (lx != ly)
		return lx > ly ? 1 : -1;
	if (x->alloc_time != y->alloc_time)
		return x->alloc_time < y->alloc_time ? 1 : -1;
	return x->va < y->va ? 1 : x->va > y->va ? -1 : 0;
}

/* The heap's root is the least worth keeping. */
static void sift_down(struct usm_capmap_sample *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct usm_capmap_sample tmp;

		if (l < n && sample_rank(&h[l], &h[m]) < 0)
			m = l;
		if (r < n && sample_rank(&h[r], &h[m]) < 0)
			m = r;
		if (m == i)
			return;
		tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

static void sift_up(struct usm_capmap_sample *h, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;
		struct usm_capmap_sample tmp;

		if (sample_rank(&h[i], &h[p]) >= 0)
			return;
		tmp = h[i];
		h[i] = h[p];
		h[p] = tmp;
		i = p;
	}
}

static int keep_sample(struct usm_capmap_agg_site *s, size_t max, const struct usm_capmap_sample *o)
{
	if (!max)
		return 0;
	if (!s->samples) {
		s->samples = calloc(max, sizeof(*s->samples));
		if (!s->samples)
			return -ENOMEM;
	}
	if (s->nsamples < max) {
		s->samples[s->nsamples] = *o;
		sift_up(s->samples, s->nsamples++);
	} else if (sample_rank(o, &s->samples[0]) > 0) {
		s->samples[0] = *o;
		sift_down(s->samples, s->nsamples, 0);
	}
	return 0;
}

static struct usm_capmap_agg_site *site_of(struct agg_state *st, const struct usm_capmap_obj *o)
{
	struct usm_capmap_agg *a = st->out;
	struct slot *sl;
	struct usm_capmap_agg_site *s;

	if (hash_reserve(&st->sites) < 0)
		return NULL;
	sl = hash_find(&st->sites, 0, o->alloc_ip);
	if (sl->idx)
		return &a->sites[sl->idx - 1];
	if (grow((void **)&a->sites, &st->cap_sites, a->nsites, sizeof(*a->sites)) < 0)
		return NULL;
	s = &a->sites[a->nsites++];
	memset(s, 0, sizeof(*s));
	s->sum.alloc_ip = o->alloc_ip;
	memcpy(s->sum.allocator, o->allocator, sizeof(s->sum.allocator));
	s->min_size = UINT64_MAX;
	s->min_lifetime = UINT64_MAX;
	*sl = (struct slot){0, o->alloc_ip, a->nsites};
	st->sites.n++;
	return s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Adds one object's access lines to its site's access IPs: reads and
 * writes of every line, and the object once per IP whatever its threads. */
static int add_touches(struct agg_state *st, size_t site, const struct usm_capmap_obj *o,
                       const struct usm_capmap_access *acc)
{
	size_t n = o->naccesses;

	if (!n)
		return 0;
	while (st->cap_ips < n)
		if (grow((void **)&st->ips, &st->cap_ips, st->cap_ips, sizeof(*st->ips)) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		st->ips[i] = acc[i].ip;
	qsort(st->ips, n, sizeof(*st->ips), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		struct slot *sl;
		struct touch_at *t;

		if (hash_reserve(&st->touch_hash) < 0)
			return -ENOMEM;
		sl = hash_find(&st->touch_hash, site + 1, acc[i].ip);
		if (!sl->idx) {
			if (grow((void **)&st->touches, &st->cap_touches, st->ntouches,
			         sizeof(*st->touches)) < 0)
				return -ENOMEM;
			st->touches[st->ntouches] =
			        (struct touch_at){.t.ip = acc[i].ip, .site = site};
			*sl = (struct slot){site + 1, acc[i].ip, ++st->ntouches};
			st->touch_hash.n++;
		}
		t = &st->touches[sl->idx - 1];
		t->t.reads += acc[i].reads;
		t->t.writes += acc[i].writes;
	}
	for (size_t i = 0; i < n; i++) {
		if (i && st->ips[i] == st->ips[i - 1])
			continue;
		st->touches[hash_find(&st->touch_hash, site + 1, st->ips[i])->idx - 1].t.objects++;
	}
	return 0;
}

static unsigned verdicts_of(const struct usm_capmap_agg_opts *opts, const struct usm_capmap_obj *o,
                            uint64_t reads, uint64_t writes)
{
	unsigned v = 0;

	if (!reads)
		v |= 1u << USM_VERDICT_NEVER_READ;
	if (!writes)
		v |= 1u << USM_VERDICT_NEVER_WRITTEN;
	if (writes && !reads)
		v |= 1u << USM_VERDICT_WRITE_ONLY;
	if (o->free_time && o->free_time - o->alloc_time < opts->short_lived_ns)
		v |= 1u << USM_VERDICT_SHORT_LIVED;
	/* reads / writes >= ratio, without dividing (writes may be 0) */
	if (reads && (writes == 0 || reads / writes >= opts->read_mostly))
		v |= 1u << USM_VERDICT_READ_MOSTLY;
	return v;
}

static unsigned lifetime_bucket(uint64_t ns)
{
	unsigned b = 0;

	for (uint64_t bound = 1000; b < USM_CAPMAP_LIFETIME_BUCKETS - 1 && ns >= bound; bound *= 10)
		b++;
	return b;
}

static int add_object(void *ctx, const struct usm_capmap_obj *o,
                      const struct usm_capmap_access *acc)
{
	struct agg_state *st = ctx;
	struct usm_capmap_agg *a = st->out;
	struct usm_capmap_agg_site *s = site_of(st, o);
	struct usm_capmap_sample smp = {.va = o->va,
	                                .size = o->size,
	                                .alloc_time = o->alloc_time,
	                                .free_time = o->free_time,
	                                .pid = o->pid};

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < o->naccesses; i++) {
		smp.reads += acc[i].reads;
		smp.writes += acc[i].writes;
	}
	smp.verdicts = verdicts_of(&a->opts, o, smp.reads, smp.writes);
	if (strcmp(s->sum.allocator, o->allocator))
		s->sum.mixed = true;
	s->sum.objects++;
	s->sum.bytes += o->size;
	s->sum.reads += smp.reads;
	s->sum.writes += smp.writes;
	if (o->size < s->min_size)
		s->min_size = o->size;
	if (o->size > s->max_size)
		s->max_size = o->size;
	if (o->free_time) {
		uint64_t life = o->free_time - o->alloc_time;

		s->sum.freed++;
		s->sum.lifetime_sum += life;
		s->lifetimes[lifetime_bucket(life)]++;
		if (life < s->min_lifetime)
			s->min_lifetime = life;
		if (life > s->max_lifetime)
			s->max_lifetime = life;
	} else {
		s->sum.live++;
	}
	for (unsigned v = 0; v < USM_CAPMAP_NVERDICTS; v++)
		if (smp.verdicts & (1u << v))
			s->verdicts[v]++;
	if (o->alloc_time > a->end_time)
		a->end_time = o->alloc_time;
	if (o->free_time > a->end_time)
		a->end_time = o->free_time;
	a->access_lines += o->naccesses;
	if (keep_sample(s, a->opts.samples, &smp) < 0)
		return -ENOMEM;
	return add_touches(st, (size_t)(s - a->sites), o, acc);
}

static int site_order(const void *x_, const void *y_)
{
	const struct usm_capmap_agg_site *x = x_, *y = y_;
	uint64_t ax = x->sum.reads + x->sum.writes, ay = y->sum.reads + y->sum.writes;

	if (x->sum.bytes != y->sum.bytes)
		return x->sum.bytes > y->sum.bytes ? -1 : 1;
	if (ax != ay)
		return ax > ay ? -1 : 1;
	return x->sum.alloc_ip < y->sum.alloc_ip ? -1 : x->sum.alloc_ip > y->sum.alloc_ip;
}

static int touch_order(const void *x_, const void *y_)
{
	const struct usm_capmap_touch *x = x_, *y = y_;
	uint64_t ax = x->reads + x->writes, ay = y->reads + y->writes;

	if (ax != ay)
		return ax > ay ? -1 : 1;
	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static int sample_order(const void *x, const void *y)
{
	return -sample_rank(x, y);
}

/* Gives each site its access IPs and puts everything in its final order. */
static int finish(struct agg_state *st)
{
	struct usm_capmap_agg *a = st->out;

	for (size_t i = 0; i < st->ntouches; i++)
		a->sites[st->touches[i].site].ntouches++;
	for (size_t i = 0; i < a->nsites; i++) {
		struct usm_capmap_agg_site *s = &a->sites[i];

		s->touches = calloc(s->ntouches + 1, sizeof(*s->touches));
		if (!s->touches)
			return -ENOMEM;
		s->ntouches = 0;
	}
	for (size_t i = 0; i < st->ntouches; i++) {
		struct usm_capmap_agg_site *s = &a->sites[st->touches[i].site];

		s->touches[s->ntouches++] = st->touches[i].t;
	}
	for (size_t i = 0; i < a->nsites; i++) {
		struct usm_capmap_agg_site *s = &a->sites[i];

		qsort(s->touches, s->ntouches, sizeof(*s->touches), touch_order);
		if (s->nsamples) /* samples is NULL when none was kept */
			qsort(s->samples, s->nsamples, sizeof(*s->samples), sample_order);
		if (!s->sum.freed)
			s->min_lifetime = 0;
		a->objects += s->sum.objects;
		a->live += s->sum.live;
		a->bytes += s->sum.bytes;
		a->reads += s->sum.reads;
		a->writes += s->sum.writes;
		a->sampled += s->nsamples;
		for (unsigned v = 0; v < USM_CAPMAP_NVERDICTS; v++)
			a->verdicts[v] += s->verdicts[v];
	}
	if (a->nsites)
		qsort(a->sites, a->nsites, sizeof(*a->sites), site_order);
	return 0;
}

int usm_capmap_aggregate(FILE *f, const struct usm_capmap_agg_opts *opts,
                         struct usm_capmap_agg *out, char *err, size_t errlen)
{
	struct agg_state st;
	int ret;

	memset(&st, 0, sizeof(st));
	memset(out, 0, sizeof(*out));
	out->opts = *opts;
	if (!out->opts.read_mostly)
		out->opts.read_mostly = 1;
	st.out = out;
	ret = usm_capmap_scan(f, &out->header, add_object, &st, err, errlen);
	if (!ret) {
		ret = finish(&st);
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
	}
	free(st.sites.slots);
	free(st.touch_hash.slots);
	free(st.touches);
	free(st.ips);
	if (ret < 0)
		usm_capmap_agg_free(out);
	return ret;
}

void usm_capmap_agg_free(struct usm_capmap_agg *a)
{
	for (size_t i = 0; i < a->nsites; i++) {
		free(a->sites[i].samples);
		free(a->sites[i].touches);
	}
	free(a->sites);
	memset(a, 0, sizeof(*a));
}
