/* usmd's pool (tools/usmd/pool.c): fair shares by weight, priority order,
 * caps, min_grant, pins, release, a client's death, timeouts, and the
 * accounting invariant over random operation sequences. The pool's
 * messages are recorded by fake ops; simulated clients answer them as a
 * tagger does (runtime/tagger/link.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pool.h"

#define F 4096ull

struct sim {
	struct pool_client pc;
	uint64_t view; /* the grant as the client believes it */
	uint64_t owed; /* RECLAIMED it will send, once the RECLAIM was seen */
	bool answer_queued;
	bool joined;
	uint64_t grants; /* GRANT messages received */
	uint64_t zero_grants;
	uint64_t reclaims;
	uint64_t last_reclaim;
};

static struct sim *sim_of(struct pool_client *pc)
{
	return (struct sim *)((char *)pc - offsetof(struct sim, pc));
}

/* The client's side, as runtime/tagger/link.c: amounts are changes. */
static void on_grant(void *ctx, struct pool_client *pc, uint64_t bytes)
{
	struct sim *s = sim_of(pc);

	(void)ctx;
	/* a lease never takes a client above its cap */
	if (bytes && pc->cap)
		assert_true(pc->grant <= pc->cap);
	s->view += bytes;
	s->grants++;
	if (!bytes)
		s->zero_grants++;
}

static void on_reclaim(void *ctx, struct pool_client *pc, uint64_t bytes)
{
	struct sim *s = sim_of(pc);
	uint64_t floor = pc->min_grant > pc->pinned ? pc->min_grant : pc->pinned;

	(void)ctx;
	assert_true(bytes > 0);
	assert_false(s->answer_queued); /* at most one RECLAIM outstanding */
	/* never asked below its min_grant or its pins */
	assert_true(pool_client_total(pc) >= floor);
	s->owed = bytes < s->view ? bytes : s->view;
	s->view -= s->owed;
	s->answer_queued = true;
	s->reclaims++;
	s->last_reclaim = bytes;
}

static const struct pool_ops ops = {.grant = on_grant, .reclaim = on_reclaim};

static void setup_client(struct sim *s, uint32_t weight, int32_t priority, uint64_t cap,
                         uint64_t min_grant)
{
	memset(s, 0, sizeof(*s));
	s->pc.weight = weight;
	s->pc.priority = priority;
	s->pc.cap = cap;
	s->pc.min_grant = min_grant;
}

static uint64_t join(struct pool *p, struct sim *s, uint64_t now)
{
	uint64_t g = pool_join(p, &s->pc, 0, now);

	s->view = g;
	s->joined = true;
	return g;
}

/* The client sends the RECLAIMED it owes. */
static void answer(struct pool *p, struct sim *s)
{
	assert_true(s->answer_queued);
	s->answer_queued = false;
	assert_int_equal(pool_reclaimed(p, &s->pc, s->owed), 0);
}

static void fair_shares_follow_weights(void **state)
{
	struct pool p;
	struct sim a, b;

	pool_init(&p, 100 * F, POOL_FAIR, &ops, NULL);
	setup_client(&a, 1, 0, 0, F);
	setup_client(&b, 3, 0, 0, F);
	/* the first takes what is free */
	assert_int_equal(join(&p, &a, 0), 100 * F);
	assert_int_equal(pool_free(&p), 0);
	/* the second gets its min_grant anyway, asked back from the first */
	assert_int_equal(join(&p, &b, 0), F);
	assert_int_equal(b.pc.slack, F);
	assert_int_equal(a.reclaims, 1);
	assert_int_equal(a.last_reclaim, F);
	answer(&p, &a);
	assert_int_equal(p.granted, 100 * F);
	assert_int_equal(pool_target(&p, &a.pc), 25 * F);
	assert_int_equal(pool_target(&p, &b.pc), 75 * F);
	/* b asks for more than its share: it gets its share, taken from a's excess */
	pool_lease(&p, &b.pc, 90 * F, 10);
	assert_int_equal(a.reclaims, 2);
	assert_int_equal(a.last_reclaim, 74 * F);
	assert_int_equal(b.grants, 0); /* waits for a's frames */
	answer(&p, &a);
	assert_int_equal(b.grants, 1);
	assert_int_equal(b.pc.grant, 75 * F);
	assert_int_equal(a.pc.grant, 25 * F);
	assert_int_equal(b.pc.pending, 0);
	/* a at its share asks back: b is at its own, nothing above it: not now */
	pool_lease(&p, &a.pc, 10 * F, 20);
	assert_int_equal(a.zero_grants, 1);
	assert_int_equal(b.reclaims, 0);
	/* free frames go to anyone, share or not */
	assert_int_equal(pool_release(&p, &b.pc, 10 * F), 0);
	b.view -= 10 * F;
	pool_lease(&p, &a.pc, 4 * F, 30);
	assert_int_equal(a.pc.grant, 29 * F);
	assert_int_equal(pool_free(&p), 6 * F);
}

static void priority_takes_from_the_lowest_first(void **state)
{
	struct pool p;
	struct sim lo, mid, hi;

	pool_init(&p, 100 * F, POOL_PRIORITY, &ops, NULL);
	setup_client(&lo, 1, -10, 0, 2 * F);
	setup_client(&mid, 1, 0, 0, 2 * F);
	setup_client(&hi, 1, 10, 0, 2 * F);
	join(&p, &mid, 0); /* 100 */
	join(&p, &lo, 0);  /* 2, asked back from mid (not lower than lo: any) */
	answer(&p, &mid);
	assert_int_equal(mid.pc.grant, 98 * F);
	assert_int_equal(lo.pc.grant, 2 * F);
	/* give lo some: mid releases 30, lo leases them */
	assert_int_equal(pool_release(&p, &mid.pc, 30 * F), 0);
	mid.view -= 30 * F;
	pool_lease(&p, &lo.pc, 30 * F, 0);
	assert_int_equal(lo.pc.grant, 32 * F);
	/* hi joins: its min_grant comes from lo, the lowest */
	join(&p, &hi, 0);
	assert_int_equal(lo.reclaims, 1);
	assert_int_equal(mid.reclaims, 1); /* only the earlier one */
	answer(&p, &lo);
	/* hi wants 50: lo down to its min_grant first (28), then mid (22) */
	pool_lease(&p, &hi.pc, 50 * F, 1);
	assert_int_equal(lo.last_reclaim, 28 * F);
	assert_int_equal(mid.last_reclaim, 22 * F);
	answer(&p, &lo);
	answer(&p, &mid);
	assert_int_equal(hi.pc.grant, 52 * F);
	assert_int_equal(lo.pc.grant, 2 * F);
	assert_int_equal(mid.pc.grant, 46 * F);
	/* lo can take nothing from higher priorities */
	pool_lease(&p, &lo.pc, 10 * F, 2);
	assert_int_equal(mid.reclaims, 2);
	assert_int_equal(hi.reclaims, 0);
	assert_int_equal(lo.zero_grants, 1);
}

static void equal_priority_shares_as_fair(void **state)
{
	struct pool p;
	struct sim a, b, low;

	pool_init(&p, 100 * F, POOL_PRIORITY, &ops, NULL);
	setup_client(&a, 1, 5, 0, F);
	setup_client(&b, 1, 5, 0, F);
	setup_client(&low, 1, 0, 20 * F, F);
	join(&p, &low, 0); /* 20: its cap */
	join(&p, &a, 0);   /* the other 80 */
	join(&p, &b, 0);   /* 1, from low (lower priority) */
	assert_int_equal(low.reclaims, 1);
	answer(&p, &low);
	/* b's level holds what low does not: 81; b's share is half of it */
	assert_int_equal(pool_target(&p, &b.pc), 40 * F);
	pool_lease(&p, &b.pc, 60 * F, 0);
	/* first low down to its min_grant (18), then a for b's share */
	assert_int_equal(low.last_reclaim, 18 * F);
	assert_true(a.reclaims == 1);
	answer(&p, &low);
	answer(&p, &a);
	assert_int_equal(low.pc.grant, F);
	assert_int_equal(a.pc.grant + b.pc.grant + low.pc.grant, 100 * F);
	assert_int_equal(b.pc.grant, pool_target(&p, &b.pc));
}

static void caps_bound_every_lease(void **state)
{
	struct pool p;
	struct sim a;

	pool_init(&p, 100 * F, POOL_FAIR, &ops, NULL);
	setup_client(&a, 1, 0, 10 * F, F);
	assert_int_equal(join(&p, &a, 0), 10 * F);
	pool_lease(&p, &a.pc, 5 * F, 0);
	assert_int_equal(a.zero_grants, 1);
	assert_int_equal(a.pc.grant, 10 * F);
	pool_willneed(&p, &a.pc, 5 * F);
	assert_int_equal(a.pc.grant, 10 * F);
	/* a lower cap (a reload): the excess is asked back */
	a.pc.cap = 6 * F;
	pool_enforce_cap(&p, &a.pc, 0);
	assert_int_equal(a.last_reclaim, 4 * F);
	answer(&p, &a);
	assert_int_equal(a.pc.grant, 6 * F);
	assert_int_equal(pool_free(&p), 94 * F);
}

static void min_grant_and_pins_are_never_reclaimed(void **state)
{
	struct pool p;
	struct sim a, b;

	pool_init(&p, 100 * F, POOL_FAIR, &ops, NULL);
	setup_client(&a, 1, 0, 0, 10 * F);
	setup_client(&b, 1, 0, 0, 10 * F);
	join(&p, &a, 0);
	pool_pin(&p, &a.pc, 70 * F - 100); /* rounded up to frames */
	assert_int_equal(a.pc.pinned, 70 * F);
	join(&p, &b, 0);
	answer(&p, &a);
	/* b's share is 50, but a's pins keep 70 */
	pool_lease(&p, &b.pc, 50 * F, 0);
	assert_int_equal(a.last_reclaim, 20 * F);
	answer(&p, &a);
	assert_int_equal(a.pc.grant, 70 * F);
	assert_int_equal(b.pc.grant, 30 * F);
	/* unpinned, a gives the rest of its excess */
	pool_unpin(&p, &a.pc, 65 * F);
	assert_int_equal(a.pc.pinned, 5 * F);
	pool_lease(&p, &b.pc, 50 * F, 2000);
	assert_int_equal(a.last_reclaim, 20 * F);
	answer(&p, &a);
	assert_int_equal(b.pc.grant, 50 * F);
	/* and never below its min_grant, whatever its excess */
	b.pc.weight = 1000;
	pool_lease(&p, &b.pc, 50 * F, 4000);
	assert_int_equal(a.last_reclaim, 40 * F);
	answer(&p, &a);
	assert_int_equal(a.pc.grant, 10 * F);
}


/* A pool of 100 frames, fair, and two clients of weight 1 with a floor
 * of one frame, not joined yet. */
static void two_equal_clients(struct pool *p, struct sim *a, struct sim *b)
{
	pool_init(p, 100 * F, POOL_FAIR, &ops, NULL);
	setup_client(a, 1, 0, 0, F);
	setup_client(b, 1, 0, 0, F);
}

static void release_and_death_return_frames(void **state)
{
	struct pool p;
	struct sim a, b;

	two_equal_clients(&p, &a, &b);
	join(&p, &a, 0);
	join(&p, &b, 0);
	answer(&p, &a);
	assert_int_equal(pool_release(&p, &b.pc, 2 * F), -EINVAL); /* more than it holds */
	assert_int_equal(pool_release(&p, &a.pc, 9 * F), 0);
	assert_int_equal(pool_free(&p), 9 * F);
	/* b asks for 60: 9 free now, the rest from a's excess (a: 90, share 50) */
	pool_lease(&p, &b.pc, 60 * F, 0);
	assert_int_equal(b.pc.grant, 10 * F);
	assert_int_equal(b.grants, 1);
	assert_int_equal(a.last_reclaim, 40 * F);
	assert_int_equal(b.pc.pending, 40 * F);
	/* a dies without answering: everything it held returns, b is served */
	pool_leave(&p, &a.pc);
	assert_int_equal(b.pc.grant, 50 * F);
	assert_int_equal(b.pc.pending, 0);
	assert_int_equal(p.granted, 50 * F);
	assert_int_equal(pool_free(&p), 50 * F);
	pool_leave(&p, &b.pc);
	assert_int_equal(p.granted, 0);
	assert_int_equal(p.clients, 0);
}

static void reclaimed_is_checked(void **state)
{
	struct pool p;
	struct sim a, b;

	two_equal_clients(&p, &a, &b);
	join(&p, &a, 0);
	assert_int_equal(pool_reclaimed(&p, &a.pc, F), -EPROTO); /* nothing asked */
	join(&p, &b, 0);
	assert_int_equal(pool_reclaimed(&p, &a.pc, 2 * F), -EINVAL); /* more than asked */
	answer(&p, &a);
	assert_int_equal(pool_reclaimed(&p, &a.pc, 0), -EPROTO); /* answered already */
}

static void a_release_crossing_a_reclaim_adds_up(void **state)
{
	struct pool p;
	struct sim a, b;

	two_equal_clients(&p, &a, &b);
	join(&p, &a, 0);
	join(&p, &b, 0);
	answer(&p, &a); /* a 99, b 1 */
	pool_lease(&p, &b.pc, 30 * F, 0);
	assert_int_equal(a.last_reclaim, 30 * F);
	assert_int_equal(pool_client_total(&a.pc), 69 * F);
	/* a had released 20 before it saw the RECLAIM: usmd hears of the
	 * RELEASE after it sent the RECLAIM, and both are changes */
	a.view -= 20 * F;
	assert_int_equal(pool_release(&p, &a.pc, 20 * F), 0);
	assert_int_equal(pool_client_total(&a.pc), 49 * F);
	assert_int_equal(b.pc.grant, 21 * F); /* the released frames served b's lease */
	answer(&p, &a);
	assert_int_equal(a.pc.grant, 49 * F);
	assert_int_equal(a.view, 49 * F);
	assert_int_equal(b.pc.grant, 31 * F);
	assert_int_equal(b.view, 31 * F);
	assert_int_equal(p.granted, 80 * F);
	assert_int_equal(pool_free(&p), 20 * F);
}

static void leases_and_reclaims_time_out(void **state)
{
	struct pool p;
	struct sim a, b;
	uint64_t next;

	two_equal_clients(&p, &a, &b);
	join(&p, &a, 0);
	join(&p, &b, 0);
	answer(&p, &a);
	pool_lease(&p, &b.pc, 10 * F, 1000);
	assert_int_equal(b.grants, 0);
	next = pool_tick(&p, 1500);
	assert_int_equal(next, 2000);
	next = pool_tick(&p, 2000);
	assert_int_equal(b.zero_grants, 1); /* the lease waited 1 s: not now */
	assert_int_equal(b.pc.pending, 0);
	assert_int_equal(next, 6000); /* a's RECLAIM becomes late */
	pool_tick(&p, 6000);
	assert_true(a.pc.reclaim_late);
	/* a late client is not asked again until it answers */
	pool_lease(&p, &b.pc, 10 * F, 6000);
	assert_int_equal(a.reclaims, 2);
	assert_int_equal(b.zero_grants, 2);
	answer(&p, &a);
	assert_false(a.pc.reclaim_late);
	assert_int_equal(b.pc.grant, F); /* nothing was waiting any more */
	assert_int_equal(pool_tick(&p, 7000), UINT64_MAX);
}

static void willneed_takes_only_free_frames(void **state)
{
	struct pool p;
	struct sim a, b;

	pool_init(&p, 100 * F, POOL_FAIR, &ops, NULL);
	setup_client(&a, 1, 0, 60 * F, F);
	setup_client(&b, 1, 0, 0, F);
	join(&p, &a, 0);
	join(&p, &b, 0); /* the other 40 */
	assert_int_equal(pool_release(&p, &b.pc, 10 * F), 0);
	b.view -= 10 * F;
	pool_willneed(&p, &a.pc, 100 * F);
	assert_int_equal(a.pc.grant, 60 * F); /* its cap */
	pool_willneed(&p, &b.pc, 100 * F);
	assert_int_equal(b.pc.grant, 40 * F);
	pool_willneed(&p, &b.pc, 100 * F); /* nothing free: nothing said */
	assert_int_equal(b.zero_grants, 0);
	assert_int_equal(a.reclaims + b.reclaims, 0);
}

/* Random sequences: the accounting stays exact and the overcommit never
 * exceeds what newcomers' min_grants explain. */
static void invariant_over_random_operations(void **state)
{
	enum { N = 8, STEPS = 40000 };
	static struct sim sims[N];
	struct pool p;
	uint64_t now = 0;

	srand(12345);
	memset(sims, 0, sizeof(sims));
	pool_init(&p, 256 * F, POOL_FAIR, &ops, NULL);
	for (int step = 0; step < STEPS; step++) {
		struct sim *s = &sims[rand() % N];
		int op = rand() % 10;

		now += (uint64_t)(rand() % 300);
		if (!s->joined) {
			setup_client(s, 1 + (uint32_t)(rand() % 10), rand() % 5 - 2,
			             rand() % 3 ? 0 : (uint64_t)(1 + rand() % 200) * F,
			             (uint64_t)(1 + rand() % 16) * F);
			join(&p, s, now);
		} else if (op == 0) {
			pool_leave(&p, &s->pc);
			s->joined = false;
		} else if (op <= 3) {
			pool_lease(&p, &s->pc, (uint64_t)(1 + rand() % 64) * F, now);
		} else if (op == 4 && s->answer_queued) {
			answer(&p, s);
		} else if (op == 5) {
			uint64_t b = (uint64_t)(rand() % 32) * F;
			if (s->answer_queued) /* in the stream after the RECLAIMED */
				answer(&p, s);
			if (b > s->view) {
				assert_int_equal(pool_release(&p, &s->pc, s->pc.grant + F),
				                 -EINVAL);
			} else {
				s->view -= b; /* before usmd hears of it */
				assert_int_equal(pool_release(&p, &s->pc, b), 0);
			}
		} else if (op == 6) {
			if (rand() % 2)
				pool_pin(&p, &s->pc, (uint64_t)(rand() % 20) * F);
			else
				pool_unpin(&p, &s->pc, (uint64_t)(rand() % 20) * F);
		} else if (op == 7) {
			pool_willneed(&p, &s->pc, (uint64_t)(rand() % 20) * F);
		} else if (op == 8) {
			pool_tick(&p, now);
		} else {
			p.policy = rand() % 2 ? POOL_FAIR : POOL_PRIORITY;
		}
		for (int i = 0; i < N; i++)
			if (sims[i].joined && rand() % 4 == 0 && sims[i].answer_queued)
				answer(&p, &sims[i]);

		uint64_t sum = 0, slack = 0;
		unsigned clients = 0;
		for (int i = 0; i < N; i++) {
			struct sim *x = &sims[i];
			if (!x->joined)
				continue;
			clients++;
			sum += x->pc.grant;
			slack += x->pc.slack;
			/* the client and usmd agree whenever nothing is in flight */
			if (!x->answer_queued && !x->pc.reclaiming)
				assert_int_equal(x->view, x->pc.grant);
			assert_true(x->pc.slack <= x->pc.min_grant);
		}
		assert_int_equal(clients, p.clients);
		assert_int_equal(sum, p.granted);
		assert_true(p.granted <= p.size + slack);
		if (p.granted <= p.size)
			assert_int_equal(pool_free(&p), p.size - p.granted);
		else
			assert_int_equal(pool_free(&p), 0);
	}
	for (int i = 0; i < N; i++)
		if (sims[i].joined)
			pool_leave(&p, &sims[i].pc);
	assert_int_equal(p.granted, 0);
	assert_int_equal(pool_free(&p), p.size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(fair_shares_follow_weights),
	        cmocka_unit_test(priority_takes_from_the_lowest_first),
	        cmocka_unit_test(equal_priority_shares_as_fair),
	        cmocka_unit_test(caps_bound_every_lease),
	        cmocka_unit_test(min_grant_and_pins_are_never_reclaimed),
	        cmocka_unit_test(release_and_death_return_frames),
	        cmocka_unit_test(reclaimed_is_checked),
	        cmocka_unit_test(a_release_crossing_a_reclaim_adds_up),
	        cmocka_unit_test(leases_and_reclaims_time_out),
	        cmocka_unit_test(willneed_takes_only_free_frames),
	        cmocka_unit_test(invariant_over_random_operations),
	};
	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
