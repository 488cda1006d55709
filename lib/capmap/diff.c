/* Two CAPMAP aggregates side by side, by allocation site. Addresses change
 * from run to run (ASLR), so sites are matched by a key the caller makes
 * (symbol and file:line when it can, the address when not); several sites
 * of one side with the same key (two calls on one line) are one row. */
#include <usm/capmap.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct keyed {
	const char *key;
	size_t site;
	int side; /* 0: a, 1: b */
};

static int by_key(const void *x_, const void *y_)
{
	const struct keyed *x = x_, *y = y_;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->side != y->side)
		return x->side - y->side;
	return x->site < y->site ? -1 : x->site > y->site;
}

static uint64_t absdiff(uint64_t x, uint64_t y)
{
	return x > y ? x - y : y - x;
}

static int row_order(const void *x_, const void *y_)
{
	const struct usm_capmap_diff_row *x = x_, *y = y_;
	uint64_t bx = absdiff(x->a.bytes, x->b.bytes), by = absdiff(y->a.bytes, y->b.bytes);
	uint64_t ax = absdiff(x->a.reads + x->a.writes, x->b.reads + x->b.writes);
	uint64_t ay = absdiff(y->a.reads + y->a.writes, y->b.reads + y->b.writes);

	if (bx != by)
		return bx > by ? -1 : 1;
	if (ax != ay)
		return ax > ay ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void add(struct usm_capmap_diff_side *d, const struct usm_capmap_site *s)
{
	d->objects += s->objects;
	d->bytes += s->bytes;
	d->reads += s->reads;
	d->writes += s->writes;
}

int usm_capmap_diff(const struct usm_capmap_agg *a, const char *const *akeys,
                    const struct usm_capmap_agg *b, const char *const *bkeys,
                    struct usm_capmap_diff *out)
{
	size_t n = a->nsites + b->nsites, k = 0;
	struct keyed *all = calloc(n + 1, sizeof(*all));

	memset(out, 0, sizeof(*out));
	out->rows = calloc(n + 1, sizeof(*out->rows));
	if (!all || !out->rows) {
		free(all);
		usm_capmap_diff_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < a->nsites; i++)
		all[k++] = (struct keyed){akeys[i], i, 0};
	for (size_t i = 0; i < b->nsites; i++)
		all[k++] = (struct keyed){bkeys[i], i, 1};
	qsort(all, n, sizeof(*all), by_key);
	for (size_t i = 0; i < n; i++) {
		const struct usm_capmap_agg *side = all[i].side ? b : a;
		struct usm_capmap_diff_row *r;

		if (!out->nrows || strcmp(out->rows[out->nrows - 1].key, all[i].key)) {
			r = &out->rows[out->nrows++];
			r->key = all[i].key;
			r->before = r->after = SIZE_MAX;
		}
		r = &out->rows[out->nrows - 1];
		if (all[i].side) {
			if (r->after == SIZE_MAX)
				r->after = all[i].site;
			add(&r->b, &side->sites[all[i].site].sum);
			add(&out->b, &side->sites[all[i].site].sum);
		} else {
			if (r->before == SIZE_MAX)
				r->before = all[i].site;
			add(&r->a, &side->sites[all[i].site].sum);
			add(&out->a, &side->sites[all[i].site].sum);
		}
	}
	free(all);
	qsort(out->rows, out->nrows, sizeof(*out->rows), row_order);
	return 0;
}

void usm_capmap_diff_free(struct usm_capmap_diff *d)
{
	free(d->rows);
	memset(d, 0, sizeof(*d));
}
