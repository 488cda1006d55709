/* usmd's pool: the accounting of frames granted to clients, and the fair and
 * priority decisions of who gets frames and who is asked to give some back.
 * No I/O: what must be said to a client goes through struct pool_ops, so
 * tests/unit/test_pool.c drives it alone. Sizes are bytes, whole frames.
 * docs/protocol.md ("Accounting") describes the rules this file implements. */
#ifndef USMD_POOL_H
#define USMD_POOL_H

#include <stdbool.h>
#include <stdint.h>

enum pool_policy { POOL_FAIR, POOL_PRIORITY };

#define POOL_LEASE_TIMEOUT_MS   1000 /* a lease waiting longer gets what it got, or GRANT 0 */
#define POOL_RECLAIM_TIMEOUT_MS 5000 /* an unanswered RECLAIM: the client is late */

struct pool_client {
	struct pool_client *prev, *next;

	/* Set by the caller before pool_join, changed at will later (a
	 * config reload): they are read at each decision. */
	uint32_t weight; /* >= 1 */
	int32_t priority;
	uint64_t cap;       /* most it may be granted by a lease, 0 = none */
	uint64_t min_grant; /* never reclaimed below this */

	/* Kept by the pool; read-only outside pool.c. */
	uint64_t grant;         /* counted against the pool, frames being reclaimed included */
	uint64_t pinned;        /* never reclaimed below this either */
	uint64_t slack;         /* overcommit its join caused (decays with its grant) */
	uint64_t reclaiming;    /* bytes asked by the outstanding RECLAIM, 0 = none */
	uint64_t reclaim_since;
	bool reclaim_late;      /* no answer within POOL_RECLAIM_TIMEOUT_MS */
	uint64_t pending;       /* lease bytes still waiting for frames, 0 = none */
	uint64_t pending_given; /* granted so far toward that lease */
	uint64_t pending_since;
	uint64_t pending_order;
};

struct pool;

/* What the pool tells clients; the server turns these into messages. */
struct pool_ops {
	/* GRANT{bytes, pool_client_total(c)}: bytes may be 0 ("not now"). */
	void (*grant)(void *ctx, struct pool_client *c, uint64_t bytes);
	/* RECLAIM{bytes, pool_client_total(c)}. */
	void (*reclaim)(void *ctx, struct pool_client *c, uint64_t bytes);
	/* c did not answer a RECLAIM in time (may be NULL). */
	void (*late)(void *ctx, struct pool_client *c);
};

struct pool {
	uint64_t size;
	enum pool_policy policy;
	uint64_t granted; /* sum of the clients' grant */
	struct pool_client *first;
	unsigned clients;
	uint64_t order; /* numbers leases, oldest first */
	const struct pool_ops *ops;
	void *ctx;
};

void pool_init(struct pool *p, uint64_t size, enum pool_policy policy, const struct pool_ops *ops,
               void *ctx);
const char *pool_policy_name(enum pool_policy policy);
/* 0 and *out set, or -1 for a name that is neither "fair" nor "priority". */
int pool_policy_parse(const char *name, enum pool_policy *out);

/* Frames no client holds: 0 while the pool is overcommitted. */
uint64_t pool_free(const struct pool *p);
/* c's grant once the outstanding RECLAIM is answered: the total GRANT and
 * RECLAIM report. Clients apply their amounts as changes, so that a RELEASE
 * crossing a GRANT or RECLAIM on the wire adds up the same either way. */
uint64_t pool_client_total(const struct pool_client *c);
/* c's fair share: pool x weight / the sum of weights (under priority, of the
 * part of the pool its priority level holds, among the clients of that level). */
uint64_t pool_target(const struct pool *p, const struct pool_client *c);

/* Adds c and returns its initial grant: min(cap, free), but at least its
 * min_grant and at least resident. What free lacks for that is taken anyway
 * (the slack) and asked back from others at once. */
uint64_t pool_join(struct pool *p, struct pool_client *c, uint64_t resident, uint64_t now);
/* c is gone: everything it held is free again; waiting leases are served. */
void pool_leave(struct pool *p, struct pool_client *c);

/* LEASE: grants from free frames at once, asks victims for the rest by the
 * policy (that lease then waits for their RECLAIMED), or says GRANT 0. */
void pool_lease(struct pool *p, struct pool_client *c, uint64_t bytes, uint64_t now);
/* A WILLNEED hint: a lease of what free frames allow, never waiting. */
void pool_willneed(struct pool *p, struct pool_client *c, uint64_t bytes);
/* RELEASE: 0, or -EINVAL for more than c holds. */
int pool_release(struct pool *p, struct pool_client *c, uint64_t bytes);
/* RECLAIMED: 0, -EPROTO when no RECLAIM is outstanding, -EINVAL for more
 * than was asked. */
int pool_reclaimed(struct pool *p, struct pool_client *c, uint64_t bytes);
/* PIN / UNPIN hints: reclaim never takes c below what it pinned. */
void pool_pin(struct pool *p, struct pool_client *c, uint64_t bytes);
void pool_unpin(struct pool *p, struct pool_client *c, uint64_t bytes);
/* c's cap changed: asks back what it holds above it. */
void pool_enforce_cap(struct pool *p, struct pool_client *c, uint64_t now);

/* Expires leases and marks late reclaims; returns the next time it has
 * something to do, or UINT64_MAX. */
uint64_t pool_tick(struct pool *p, uint64_t now);

#endif
