/* The pool's accounting and its decisions (see pool.h). Every choice scans
 * the clients: there are at most a few hundred, and a scan is simpler to
 * get right than an index kept in step with weights a reload may change. */
#include "pool.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "base/page.h"


static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void pool_init(struct pool *p, uint64_t size, enum pool_policy policy, const struct pool_ops *ops,
               void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->size = usm_page_down(size);
	p->policy = policy;
	p->ops = ops;
	p->ctx = ctx;
}

const char *pool_policy_name(enum pool_policy policy)
{
	return policy == POOL_PRIORITY ? "priority" : "fair";
}

int pool_policy_parse(const char *name, enum pool_policy *out)
{
	if (!strcmp(name, "fair"))
		*out = POOL_FAIR;
	else if (!strcmp(name, "priority"))
		*out = POOL_PRIORITY;
	else
		return -1;
	return 0;
}

uint64_t pool_free(const struct pool *p)
{
	return p->size > p->granted ? p->size - p->granted : 0;
}

uint64_t pool_client_total(const struct pool_client *c)
{
	return c->grant > c->reclaiming ? c->grant - c->reclaiming : 0;
}

static void grant_add(struct pool *p, struct pool_client *c, uint64_t bytes)
{
	c->grant += bytes;
	p->granted += bytes;
}

static void grant_sub(struct pool *p, struct pool_client *c, uint64_t bytes)
{
	c->grant -= bytes;
	p->granted -= bytes;
	if (c->slack > c->grant)
		c->slack = c->grant;
}

/* What a lease may still add to c's grant under its cap. */
static uint64_t cap_room(const struct pool_client *c)
{
	if (!c->cap)
		return UINT64_MAX;
	return c->cap > c->grant ? c->cap - c->grant : 0;
}

/* What c could be asked for now: nothing while a RECLAIM is outstanding,
 * else what it holds above its min_grant and its pins. */
static uint64_t avail(const struct pool_client *c)
{
	uint64_t floor = max64(c->min_grant, c->pinned);

	if (c->reclaiming)
		return 0;
	return c->grant > floor ? c->grant - floor : 0;
}

static void ask(struct pool *p, struct pool_client *c, uint64_t bytes, uint64_t now)
{
	c->reclaiming = bytes;
	c->reclaim_since = now;
	c->reclaim_late = false;
	p->ops->reclaim(p->ctx, c, bytes);
}

static bool same_level(const struct pool *p, const struct pool_client *a,
                       const struct pool_client *b)
{
	return p->policy != POOL_PRIORITY || a->priority == b->priority;
}

/* The part of the pool c's level shares, and the sum of that level's
 * weights: the whole pool and every client under fair; under priority, what
 * the other levels do not hold, among the clients of c's priority. */
static void level_of(const struct pool *p, const struct pool_client *c, uint64_t *base,
                     uint64_t *weights)
{
	uint64_t others = 0;

	*weights = 0;
	for (const struct pool_client *x = p->first; x; x = x->next) {
		if (same_level(p, c, x))
			*weights += x->weight;
		else
			others += pool_client_total(x);
	}
	*base = p->size > others ? p->size - others : 0;
}

static uint64_t share(uint64_t base, uint64_t weights, uint32_t weight)
{
	if (!weights)
		return 0;
	return usm_page_down((uint64_t)((unsigned __int128)base * weight / weights));
}

uint64_t pool_target(const struct pool *p, const struct pool_client *c)
{
	uint64_t base, weights;

	level_of(p, c, &base, &weights);
	return share(base, weights, c->weight);
}

/* A victim chooser: the next client to ask for r's sake and the most it
 * may be asked for beyond what it can give, or NULL when none is left.
 * Asking a client makes avail() of it 0, so each is asked once. */
typedef struct pool_client *(*victim_fn)(struct pool *p, struct pool_client *r, uint64_t *cap);

static uint64_t take(struct pool *p, struct pool_client *r, uint64_t want, uint64_t now,
                     victim_fn next_victim)
{
	uint64_t asked = 0, cap;
	struct pool_client *v;

	while (asked < want && (v = next_victim(p, r, &cap))) {
		uint64_t amount = min64(min64(want - asked, cap), avail(v));

		ask(p, v, amount, now);
		asked += amount;
	}
	return asked;
}

/* Priority: clients of strictly lower priority than r, the lowest first,
 * the largest grant first within a level, each down to its floor. */
static struct pool_client *lower_victim(struct pool *p, struct pool_client *r, uint64_t *cap)
{
	struct pool_client *best = NULL;

	for (struct pool_client *x = p->first; x; x = x->next) {
		if (x == r || x->priority >= r->priority || !avail(x))
			continue;
		if (!best || x->priority < best->priority ||
		    (x->priority == best->priority && x->grant > best->grant))
			best = x;
	}
	*cap = UINT64_MAX;
	return best;
}

/* Fair (within r's level under priority): clients above their share, the
 * largest excess first, each for at most its excess. */
static struct pool_client *excess_victim(struct pool *p, struct pool_client *r, uint64_t *cap)
{
	struct pool_client *best = NULL;
	uint64_t base, weights, best_excess = 0;

	level_of(p, r, &base, &weights);
	for (struct pool_client *x = p->first; x; x = x->next) {
		uint64_t target = share(base, weights, x->weight), excess;

		if (x == r || !same_level(p, r, x) || !avail(x) || x->grant <= target)
			continue;
		excess = x->grant - target;
		if (excess > best_excess) {
			best = x;
			best_excess = excess;
		}
	}
	*cap = best_excess;
	return best;
}

/* Anyone above its floor, the most first: only to end an overcommit the
 * policy found no victim for. */
static struct pool_client *any_victim(struct pool *p, struct pool_client *r, uint64_t *cap)
{
	struct pool_client *best = NULL;

	for (struct pool_client *x = p->first; x; x = x->next)
		if (x != r && avail(x) && (!best || avail(x) > avail(best)))
			best = x;
	*cap = UINT64_MAX;
	return best;
}

/* Victims for r's lease: lower priorities first (priority), then peers
 * above their share while r is below its own. Returns the bytes asked. */
static uint64_t reclaim_for_lease(struct pool *p, struct pool_client *r, uint64_t want,
                                  uint64_t now)
{
	uint64_t asked = 0, target, have;

	if (p->policy == POOL_PRIORITY)
		asked = take(p, r, want, now, lower_victim);
	if (asked < want) {
		target = pool_target(p, r);
		have = r->grant + asked;
		if (target > have)
			asked += take(p, r, min64(want - asked, target - have), now, excess_victim);
	}
	return asked;
}

/* A lease is over: if nothing came of it, the client hears "not now". */
static void finish_lease(struct pool *p, struct pool_client *c)
{
	if (!c->pending)
		return;
	c->pending = 0;
	if (!c->pending_given)
		p->ops->grant(p->ctx, c, 0);
}

/* Free frames to waiting leases, oldest first. */
static void serve(struct pool *p)
{
	for (;;) {
		struct pool_client *c = NULL;
		uint64_t free = pool_free(p), give;

		if (!free)
			return;
		for (struct pool_client *x = p->first; x; x = x->next)
			if (x->pending && (!c || x->pending_order < c->pending_order))
				c = x;
		if (!c)
			return;
		give = min64(min64(c->pending, free), cap_room(c));
		if (give) {
			grant_add(p, c, give);
			c->pending -= give;
			c->pending_given += give;
			p->ops->grant(p->ctx, c, give);
		}
		if (c->pending && give < free)
			finish_lease(p, c); /* its cap stopped it */
	}
}

uint64_t pool_join(struct pool *p, struct pool_client *c, uint64_t resident, uint64_t now)
{
	uint64_t free = pool_free(p), g;

	g = c->cap ? min64(c->cap, free) : free;
	g = max64(g, max64(usm_page_up_sat(c->min_grant), usm_page_up_sat(resident)));
	c->min_grant = usm_page_up_sat(c->min_grant);
	c->grant = c->pinned = c->reclaiming = c->pending = c->pending_given = 0;
	c->reclaim_late = false;
	c->prev = NULL;
	c->next = p->first;
	if (p->first)
		p->first->prev = c;
	p->first = c;
	p->clients++;
	grant_add(p, c, g);
	c->slack = g > free ? g - free : 0;
	if (c->slack) {
		uint64_t asked = 0;

		if (p->policy == POOL_PRIORITY)
			asked = take(p, c, c->slack, now, lower_victim);
		if (asked < c->slack)
			asked += take(p, c, c->slack - asked, now, excess_victim);
		if (asked < c->slack)
			take(p, c, c->slack - asked, now, any_victim);
	}
	return g;
}

void pool_leave(struct pool *p, struct pool_client *c)
{
	p->granted -= c->grant;
	if (c->prev)
		c->prev->next = c->next;
	else
		p->first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	p->clients--;
	c->grant = c->slack = c->reclaiming = c->pending = 0;
	serve(p);
}

void pool_lease(struct pool *p, struct pool_client *c, uint64_t bytes, uint64_t now)
{
	uint64_t want, give, asked = 0;

	finish_lease(p, c); /* a new lease replaces one still waiting */
	want = min64(bytes, cap_room(c));
	give = min64(want, pool_free(p));
	if (give)
		grant_add(p, c, give);
	if (want > give)
		asked = reclaim_for_lease(p, c, want - give, now);
	if (give || !asked)
		p->ops->grant(p->ctx, c, give);
	if (asked) {
		c->pending = asked;
		c->pending_given = give;
		c->pending_since = now;
		c->pending_order = ++p->order;
	}
}

void pool_willneed(struct pool *p, struct pool_client *c, uint64_t bytes)
{
	uint64_t give = min64(min64(usm_page_up_sat(bytes), pool_free(p)), cap_room(c));

	if (give) {
		grant_add(p, c, give);
		p->ops->grant(p->ctx, c, give);
	}
}

int pool_release(struct pool *p, struct pool_client *c, uint64_t bytes)
{
	if (bytes > c->grant)
		return -EINVAL;
	grant_sub(p, c, bytes);
	serve(p);
	return 0;
}

int pool_reclaimed(struct pool *p, struct pool_client *c, uint64_t bytes)
{
	if (!c->reclaiming)
		return -EPROTO;
	if (bytes > c->reclaiming || bytes > c->grant)
		return -EINVAL;
	grant_sub(p, c, bytes);
	c->reclaiming = 0;
	c->reclaim_late = false;
	serve(p);
	return 0;
}

void pool_pin(struct pool *p, struct pool_client *c, uint64_t bytes)
{
	uint64_t b = usm_page_up_sat(bytes);

	(void)p;
	c->pinned = c->pinned > UINT64_MAX - b ? UINT64_MAX : c->pinned + b;
}

void pool_unpin(struct pool *p, struct pool_client *c, uint64_t bytes)
{
	uint64_t b = usm_page_up_sat(bytes);

	(void)p;
	c->pinned = b > c->pinned ? 0 : c->pinned - b;
}

void pool_enforce_cap(struct pool *p, struct pool_client *c, uint64_t now)
{
	uint64_t keep;

	if (!c->cap || c->reclaiming)
		return;
	keep = max64(c->cap, max64(c->min_grant, c->pinned));
	if (c->grant > keep)
		ask(p, c, c->grant - keep, now);
}

uint64_t pool_tick(struct pool *p, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (struct pool_client *c = p->first; c; c = c->next) {
		if (c->pending) {
			uint64_t due = c->pending_since + POOL_LEASE_TIMEOUT_MS;
			if (now >= due)
				finish_lease(p, c);
			else
				next = min64(next, due);
		}
		if (c->reclaiming && !c->reclaim_late) {
			uint64_t due = c->reclaim_since + POOL_RECLAIM_TIMEOUT_MS;
			if (now >= due) {
				c->reclaim_late = true;
				if (p->ops->late)
					p->ops->late(p->ctx, c);
			} else {
				next = min64(next, due);
			}
		}
	}
	return next;
}
