/* The tagger's link to usmd (docs/protocol.md). When usm run found a usmd,
 * the tagger says hello before its pager starts (the config may choose the
 * policy and store), takes the grant as its limit, and a link thread then:
 *   - asks for more frames (LEASE) while the pager evicts under its grant,
 *     backing off when usmd says not now;
 *   - gives frames back when usmd asks (RECLAIM: the pager evicts first,
 *     then RECLAIMED) and unasked when it holds far more than it uses;
 *   - sends STATS, and switches policy on SET_POLICY;
 *   - tells usmd of a shared store (STORE), after every hello;
 *   - when usmd goes away, keeps paging on what it holds and says hello
 *     again to a new usmd every half second.
 * A usmd that does not answer the first hello (stopped, dead with its
 * socket left) costs the process one wait of HELLO_TIMEOUT_MS; it then
 * pages on its own budget and its link thread keeps trying, and
 * USM_DAEMON_AWAY tells its descendants to start that way at once.
 * Nothing here waits on usmd for long: every wait has a deadline, and the
 * socket is non-blocking once joined. The thread runs on a usm_rawmem stack
 * and keeps its buffers in static storage, off managed memory. */
#include "tagger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "proto/proto.h"
#include "base/rawmem.h"

#include "base/clock.h"
#include "base/page.h"

#define HELLO_TIMEOUT_MS 2000
#define TICK_MS 50
#define REJOIN_MS 500
#define DENIED_BACKOFF_MS 500
#define LEASE_TIMEOUT_MS 2000
#define RELEASE_IDLE_MS 1000
#define MIN_STEP (1ull << 20)
#define MAX_STEP (32ull << 20)

static struct {
	char path[108];
	int fd;                   /* -1 while usmd is away */
	pthread_mutex_t send_lock;
	uint32_t seq;
	struct usm_pager *pager;
	uint64_t user_limit;      /* usm run --limit, 0 = none */
	uint32_t set_by_user;
	uint64_t min_grant;
	uint64_t cap;             /* the smaller of user_limit and the config's limit */
	uint64_t grant;
	unsigned stats_ms;
	char policy[USM_PROTO_POLICY_MAX];
	uint32_t page_size;
} link_ = { .fd = -1, .send_lock = PTHREAD_MUTEX_INITIALIZER };

static struct usm_msg_reader reader;  /* 64 KiB: static, not on the thread's stack */
static struct usm_msg_store store_msg; /* 4 KiB, as static */
static bool store_shared;             /* store_msg is told after every hello */

static int send_msg(unsigned type, const void *payload, size_t len)
{
	int rc = -ENOTCONN;

	pthread_mutex_lock(&link_.send_lock);
	if (link_.fd >= 0)
		rc = usm_msg_send(link_.fd, type, ++link_.seq, payload, len);
	pthread_mutex_unlock(&link_.send_lock);
	return rc;
}

static void send_amount(unsigned type, uint64_t bytes)
{
	struct usm_msg_amount a = { .bytes = bytes };

	send_msg(type, &a, sizeof(a));
}

static void drop_connection(void)
{
	pthread_mutex_lock(&link_.send_lock);
	if (link_.fd >= 0)
		close(link_.fd);
	link_.fd = -1;
	pthread_mutex_unlock(&link_.send_lock);
}

static uint64_t effective_limit(void)
{
	return link_.cap && link_.cap < link_.grant ? link_.cap : link_.grant;
}

static void apply_limit(void)
{
	if (link_.pager)
		usm_pager_set_limit(link_.pager, effective_limit());
}

/* HELLO and its WELCOME (or ERROR), within HELLO_TIMEOUT_MS. 0, or -errno
 * with *why set for an ERROR. */
static int hello(uint64_t resident, struct usm_msg_welcome *w, char *why, size_t why_len)
{
	struct usm_msg_hello h = {
		.pid = (uint32_t)getpid(),
		.role = USM_ROLE_CLIENT,
		.set_by_user = link_.set_by_user,
		.page_size = link_.page_size,
		.limit = link_.user_limit,
		.min_grant = link_.min_grant,
		.resident = usm_page_up_sat(resident),
	};
	const struct usm_msg_header *mh;
	const void *payload;
	int fd, rc;

	prctl(PR_GET_NAME, h.name);
	h.name[sizeof(h.name) - 1] = '\0';
	snprintf(h.policy, sizeof(h.policy), "%s", link_.policy);
	fd = usm_daemon_connect(link_.path);
	if (fd < 0)
		return fd;
	reader.have = reader.consumed = 0;
	rc = usm_msg_send(fd, USM_MSG_HELLO, 0, &h, sizeof(h));
	if (rc == 0)
		rc = usm_msg_read_timeout(fd, &reader, HELLO_TIMEOUT_MS, &mh, &payload);
	if (rc == 1 && mh->type == USM_MSG_WELCOME) {
		*w = *(const struct usm_msg_welcome *)payload;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		pthread_mutex_lock(&link_.send_lock);
		link_.fd = fd;
		link_.seq = 0;
		pthread_mutex_unlock(&link_.send_lock);
		if (store_shared) /* a usmd restarted knows nothing of it */
			send_msg(USM_MSG_STORE, &store_msg, sizeof(store_msg));
		return 0;
	}
	if (rc == 1 && mh->type == USM_MSG_ERROR) {
		const struct usm_msg_error *e = payload;
		snprintf(why, why_len, "%s", e->text);
		rc = e->code > 0 ? -e->code : -EPROTO;
	} else if (rc >= 0) {
		rc = -EPROTO;
	}
	close(fd);
	return rc;
}

/* The cap is the run's own limit, or the config's when that is smaller
 * (or the only one), unless the user gave --limit. */
static void take_welcome(const struct usm_msg_welcome *w)
{
	link_.grant = w->grant;
	link_.stats_ms = w->stats_interval_ms ? w->stats_interval_ms : 250;
	link_.cap = link_.user_limit;
	if (!(link_.set_by_user & USM_SET_LIMIT) && w->limit && (!link_.cap || w->limit < link_.cap))
		link_.cap = w->limit;
}

int tagger_link_join(const char *path, struct usm_pager_config *c, uint32_t set_by_user,
		     char *store_buf, size_t store_len, bool may_setenv)
{
	struct usm_msg_welcome w;
	char why[USM_PROTO_TEXT_MAX] = "";
	int rc;

	snprintf(link_.path, sizeof(link_.path), "%s", path);
	link_.user_limit = usm_page_down(c->limit);
	link_.set_by_user = set_by_user;
	link_.page_size = (uint32_t)c->fault_size;
	link_.min_grant = usm_page_up_sat(c->fault_size * (1 + (uint64_t)c->prefetch) +
					  (uint64_t)c->batch * USM_PAGE_SIZE);
	snprintf(link_.policy, sizeof(link_.policy), "%s", c->policy);
	/* an ancestor found usmd away: join from the link thread, without
	 * making every process of the tree wait for it again */
	if (getenv("USM_DAEMON_AWAY"))
		return 1;
	rc = hello(0, &w, why, sizeof(why));
	if (rc < 0) {
		dprintf(2, "usm: tagger[%d]: usmd at %s: %s; %s\n", (int)getpid(), path,
			why[0] ? why : strerror(-rc),
			why[0] ? "this process pages on its own"
			       : "paging on this run's own budget until it answers");
		if (why[0])
			return rc; /* refused: asking again will not help */
		if (may_setenv)
			setenv("USM_DAEMON_AWAY", "1", 1);
		return 1;
	}
	take_welcome(&w);
	if (w.policy[0] && !(set_by_user & USM_SET_POLICY)) {
		snprintf(link_.policy, sizeof(link_.policy), "%s", w.policy);
		c->policy = link_.policy;
	}
	if (w.store[0] && !(set_by_user & USM_SET_STORE) && store_len > strlen(w.store))
		snprintf(store_buf, store_len, "%s", w.store);
	c->limit = effective_limit();
	return 0;
}

/* ---- the link thread ---- */

static struct {
	/* ms, each taken before the now it is subtracted from: no wrap */
	uint64_t last_stats, lease_sent, denied_at, last_eviction;
	uint64_t evictions;
	bool lease_pending;
} tick;

static uint64_t step(void)
{
	uint64_t s = usm_page_up_sat(link_.grant / 8);

	return s < MIN_STEP ? MIN_STEP : s > MAX_STEP ? MAX_STEP : s;
}

static void handle(const struct usm_msg_header *h, const void *payload)
{
	const struct usm_msg_amount *a = payload;

	/* Amounts are applied as changes, not totals: a RELEASE of ours may
	 * cross a GRANT or RECLAIM of usmd's on the wire, and changes add up
	 * the same in either order. */
	switch (h->type) {
	case USM_MSG_GRANT:
		link_.grant += a->bytes;
		tick.lease_pending = false;
		if (a->bytes == 0)
			tick.denied_at = usm_now_ms();
		apply_limit();
		break;
	case USM_MSG_RECLAIM: {
		uint64_t give = a->bytes < link_.grant ? a->bytes : link_.grant;
		link_.grant -= give;
		apply_limit(); /* evicts down to it before we answer */
		send_amount(USM_MSG_RECLAIMED, give);
		break;
	}
	case USM_MSG_SET_POLICY: {
		const struct usm_msg_set_policy *s = payload;
		if (usm_pager_set_policy(link_.pager, s->policy) == 0)
			snprintf(link_.policy, sizeof(link_.policy), "%s", s->policy);
		break;
	}
	case USM_MSG_ERROR: {
		const struct usm_msg_error *e = payload;
		dprintf(2, "usm: tagger[%d]: usmd: %s\n", (int)getpid(), e->text);
		drop_connection();
		break;
	}
	default: /* nothing else is meant for a client */
		break;
	}
}

static void send_stats(const struct usm_pager_stats *s)
{
	struct usm_msg_stats m;

	usm_msg_stats_fill(&m, s);
	snprintf(m.policy, sizeof(m.policy), "%s", link_.policy);
	send_msg(USM_MSG_STATS, &m, sizeof(m));
}

/* Asks for more while the pager evicts under the grant; gives back what
 * lies idle well above what is resident. */
static void balance(const struct usm_pager_stats *s, uint64_t now)
{
	bool evicting = s->evictions > tick.evictions;

	tick.evictions = s->evictions;
	if (evicting)
		tick.last_eviction = now;
	if (tick.lease_pending && now - tick.lease_sent > LEASE_TIMEOUT_MS)
		tick.lease_pending = false;
	if (evicting && !tick.lease_pending && now - tick.denied_at > DENIED_BACKOFF_MS &&
	    (!link_.cap || link_.grant < link_.cap)) {
		send_amount(USM_MSG_LEASE, step());
		tick.lease_pending = true;
		tick.lease_sent = now;
		return;
	}
	uint64_t keep = usm_page_up_sat(s->resident) + step();
	if (keep < link_.min_grant)
		keep = link_.min_grant;
	if (!tick.lease_pending && now - tick.last_eviction > RELEASE_IDLE_MS &&
	    link_.grant > keep + step()) {
		uint64_t give = link_.grant - keep;
		link_.grant = keep;
		apply_limit();
		send_amount(USM_MSG_RELEASE, give);
	}
}

static void rejoin(void)
{
	struct usm_pager_stats s;
	struct usm_msg_welcome w;
	char why[USM_PROTO_TEXT_MAX];

	usm_pager_get_stats(link_.pager, &s);
	if (hello(s.resident, &w, why, sizeof(why)) < 0)
		return;
	take_welcome(&w);
	apply_limit();
	tick.lease_pending = false;
}

static void *link_main(void *arg)
{
	uint64_t next_rejoin = 0;

	(void)arg;
	for (;;) {
		struct usm_pager_stats s;
		uint64_t now = usm_now_ms();

		if (link_.fd < 0) {
			if (now >= next_rejoin) {
				rejoin();
				next_rejoin = now + REJOIN_MS;
			}
			if (link_.fd < 0) {
				poll(NULL, 0, REJOIN_MS / 5);
				continue;
			}
		}
		struct pollfd pfd = { .fd = link_.fd, .events = POLLIN };
		if (poll(&pfd, 1, TICK_MS) > 0) {
			const struct usm_msg_header *h;
			const void *payload;
			int rc;
			while ((rc = usm_msg_read(link_.fd, &reader, &h, &payload)) == 1)
				handle(h, payload);
			if (rc < 0 || link_.fd < 0) {
				/* usmd is gone (or spoke nonsense): page on what we hold;
				 * a close of ours must not read as this process's end,
				 * or usmd would delete the keys it still needs */
				if (rc < 0 && rc != -ECONNRESET)
					send_msg(USM_MSG_BYE, NULL, 0);
				drop_connection();
				next_rejoin = now + REJOIN_MS;
				continue;
			}
		}
		usm_pager_get_stats(link_.pager, &s);
		now = usm_now_ms();
		balance(&s, now);
		if (now - tick.last_stats >= link_.stats_ms) {
			send_stats(&s);
			tick.last_stats = now;
		}
	}
	return NULL;
}

int tagger_link_start(struct usm_pager *p)
{
	static const size_t stack_size = 128 << 10;
	pthread_attr_t attr;
	pthread_t thread;
	void *stack = usm_rawmem_alloc(stack_size);
	int rc;

	if (!stack)
		return -ENOMEM;
	link_.pager = p;
	memset(&tick, 0, sizeof(tick));
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack, stack_size);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&thread, &attr, link_main, NULL);
	pthread_attr_destroy(&attr);
	return rc;
}

void tagger_link_store(const char *spec, const char *prefix)
{
	if (!prefix)
		return; /* its blocks die with the process */
	if (strlen(spec) >= sizeof(store_msg.spec) || strlen(prefix) >= sizeof(store_msg.prefix)) {
		dprintf(2, "usm: tagger[%d]: a store spec of %zu bytes is too long to tell usmd "
			"(at most %zu): if this process is killed with its usm run, its pages "
			"stay on the servers\n", (int)getpid(), strlen(spec), sizeof(store_msg.spec) - 1);
		return;
	}
	snprintf(store_msg.spec, sizeof(store_msg.spec), "%s", spec);
	snprintf(store_msg.prefix, sizeof(store_msg.prefix), "%s", prefix);
	store_shared = true;
	send_msg(USM_MSG_STORE, &store_msg, sizeof(store_msg));
}

void tagger_link_hint(int kind, uint64_t bytes)
{
	struct usm_msg_hint h = { .kind = (uint32_t)kind, .bytes = bytes };

	send_msg(USM_MSG_HINT, &h, sizeof(h)); /* nothing without a connection */
}

/* In a fork child: the connection is the parent's and the thread is gone. */
void tagger_link_forget(void)
{
	if (link_.fd >= 0)
		close(link_.fd);
	link_.fd = -1;
	link_.pager = NULL;
	store_shared = false; /* the child opens a store of its own */
	pthread_mutex_init(&link_.send_lock, NULL);
}

/* BYE tells usmd that this process's keys need nothing from it: usm run
 * deletes those of a store given to it. A store usmd's config chose is one
 * usm run knows nothing of: then no BYE, and the end of the stream, once
 * the process is gone (its last writes applied at _exit), has usmd delete
 * them. */
void tagger_link_leave(void)
{
	if (store_shared && !(link_.set_by_user & USM_SET_STORE))
		return;
	send_msg(USM_MSG_BYE, NULL, 0);
}
