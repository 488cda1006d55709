/* usmd's event loop and the protocol's state machine (see server.h and
 * docs/protocol.md).
 *
 * A connection is NEW until its HELLO, then a CLIENT (a tagger, with a
 * share of the pool) or a MONITOR (usm status). Anything a connection's
 * state does not expect gets an ERROR and that connection is closed; no
 * other is affected. Connections are closed in one place, reap(), run after
 * each event: pool.c's callbacks, which may find a client that cannot be
 * written to, only mark it. A closed connection's memory is freed only at
 * the end of the epoll batch, which may still name it. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <usm/proto.h>
#include <usm/size.h>

#include "log.h"

#define MAX_CONNS          256
#define HELLO_TIMEOUT_MS   5000  /* from connect to HELLO */
#define PARTIAL_TIMEOUT_MS 10000 /* a message begun and not finished */
#define STALL_TIMEOUT_MS   10000 /* replies waiting for a peer that does not read */
#define OUT_MAX            (256u << 10)
#define STATS_INTERVAL_MS  250

enum conn_state { CONN_NEW, CONN_CLIENT, CONN_MONITOR };

struct conn {
	struct conn *prev, *next;
	int fd;
	enum conn_state state;
	bool closing;  /* reap() closes it after this event */
	bool quiet;    /* closing needs no log line of its own */
	bool dead;     /* closed; freed at the end of the batch */
	bool want_out; /* EPOLLOUT armed */
	uint32_t pid;
	uint32_t uid;
	char name[USM_PROTO_NAME_MAX];
	uint32_t seq;
	uint64_t connected_at, last_rx, out_since;
	struct usm_msg_reader *rd;
	uint8_t *out;
	size_t out_len, out_off, out_cap;

	/* CLIENT only */
	struct pool_client pc;
	uint32_t set_by_user;
	uint64_t hello_limit;
	char own_policy[USM_PROTO_POLICY_MAX]; /* what a threshold rule returns to */
	char cur_policy[USM_PROTO_POLICY_MAX];
	int switch_above;
	char switch_policy[USM_PROTO_POLICY_MAX];
	bool switched;
	bool has_stats;
	struct usm_msg_stats stats;
};

struct server {
	int epfd, listen_fd, sig_fd, timer_fd, spare_fd;
	const struct usmd_settings *set;
	struct usmd_config cfg;
	struct pool pool;
	struct conn *first, *last;
	struct conn *graveyard;
	unsigned nconns;
	bool stop;
	uint64_t now;
	uid_t euid;
};

#define conn_of(pc) ((struct conn *)((char *)(pc)-offsetof(struct conn, pc)))

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *fmt_size(uint64_t bytes, char *buf)
{
	return usm_format_size(bytes, buf, 16);
}

/* ---- sending ---- */

static void mark_closing(struct conn *c, bool quiet)
{
	if (!c->closing) {
		c->closing = true;
		c->quiet = quiet;
	}
}

static void set_events(struct server *s, struct conn *c, bool want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};

	if (want_out != c->want_out && epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want_out;
}

/* Writes what the socket takes now; never waits. */
static void flush(struct server *s, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				/* the peer is gone; its end of stream tells the rest */
				c->out_off = c->out_len = 0;
				mark_closing(c, false);
			}
			break;
		}
		c->out_off += (size_t)n;
		c->out_since = s->now;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (!c->dead)
		set_events(s, c, c->out_len > 0);
}

static void conn_send(struct server *s, struct conn *c, unsigned type, const void *payload,
                      size_t len)
{
	struct usm_msg_header h = {
	        .magic = USM_PROTO_MAGIC,
	        .version = USM_PROTO_VERSION,
	        .type = (uint16_t)type,
	        .length = (uint32_t)len,
	        .seq = ++c->seq,
	};
	size_t need = sizeof(h) + len;

	if (c->closing)
		return;
	if (c->out_len - c->out_off + need > OUT_MAX) {
		usmd_log(LOG_WARNING, "%u (%s): does not read what usmd sends; dropped", c->pid,
		         c->name);
		mark_closing(c, true);
		return;
	}
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
		uint8_t *out;
		while (cap < c->out_len + need)
			cap *= 2;
		out = realloc(c->out, cap);
		if (!out) {
			usmd_log(LOG_ERR, "%u (%s): out of memory; dropped", c->pid, c->name);
			mark_closing(c, true);
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	if (!c->out_len)
		c->out_since = s->now;
	memcpy(c->out + c->out_len, &h, sizeof(h));
	if (len)
		memcpy(c->out + c->out_len + sizeof(h), payload, len);
	c->out_len += need;
	flush(s, c);
}

static void send_amount(struct server *s, struct conn *c, unsigned type, uint64_t bytes)
{
	struct usm_msg_amount a = {.bytes = bytes, .grant = pool_client_total(&c->pc)};

	conn_send(s, c, type, &a, sizeof(a));
}

/* ERROR{code, text}, then the connection is closed. */
static void conn_fail(struct server *s, struct conn *c, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void conn_fail(struct server *s, struct conn *c, int code, const char *fmt, ...)
{
	struct usm_msg_error e = {.code = code};
	va_list ap;

	if (c->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(e.text, sizeof(e.text), fmt, ap);
	va_end(ap);
	usmd_log(LOG_WARNING, "%u (%s): %s; dropped", c->pid, c->name[0] ? c->name : "?", e.text);
	conn_send(s, c, USM_MSG_ERROR, &e, sizeof(e));
	mark_closing(c, true);
}

/* An ERROR to a connection never served: one try, then close. */
static void refuse(int fd, int code, const char *text)
{
	struct {
		struct usm_msg_header h;
		struct usm_msg_error e;
	} m = {.h = {.magic = USM_PROTO_MAGIC,
	             .version = USM_PROTO_VERSION,
	             .type = USM_MSG_ERROR,
	             .length = sizeof(struct usm_msg_error),
	             .seq = 1},
	       .e = {.code = code}};

	snprintf(m.e.text, sizeof(m.e.text), "%s", text);
	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing more to do: the peer will see the close */
	}
	close(fd);
}

/* ---- pool callbacks: only messages, never a close ---- */

static void on_grant(void *ctx, struct pool_client *pc, uint64_t bytes)
{
	struct server *s = ctx;
	struct conn *c = conn_of(pc);
	char a[16], b[16];

	usmd_log(LOG_DEBUG, "%u (%s): grant %s, now %s", c->pid, c->name, fmt_size(bytes, a),
	         fmt_size(pool_client_total(pc), b));
	send_amount(s, c, USM_MSG_GRANT, bytes);
}

static void on_reclaim(void *ctx, struct pool_client *pc, uint64_t bytes)
{
	struct server *s = ctx;
	struct conn *c = conn_of(pc);
	char a[16], b[16];

	usmd_log(LOG_DEBUG, "%u (%s): reclaim %s, down to %s", c->pid, c->name, fmt_size(bytes, a),
	         fmt_size(pool_client_total(pc), b));
	send_amount(s, c, USM_MSG_RECLAIM, bytes);
}

static void on_late(void *ctx, struct pool_client *pc)
{
	struct conn *c = conn_of(pc);
	char a[16];

	(void)ctx;
	usmd_log(LOG_WARNING,
	         "%u (%s): no answer to a RECLAIM of %s in %d s; not asked again "
	         "until it answers",
	         c->pid, c->name, fmt_size(pc->reclaiming, a), POOL_RECLAIM_TIMEOUT_MS / 1000);
}

static const struct pool_ops pool_ops = {
        .grant = on_grant,
        .reclaim = on_reclaim,
        .late = on_late,
};

/* ---- clients ---- */

static void set_policy(struct server *s, struct conn *c, const char *policy)
{
	struct usm_msg_set_policy m;

	if (!policy[0])
		return;
	snprintf(m.policy, sizeof(m.policy), "%s", policy);
	conn_send(s, c, USM_MSG_SET_POLICY, &m, sizeof(m));
	snprintf(c->cur_policy, sizeof(c->cur_policy), "%s", policy);
}

/* The threshold rule: above switch_above% of the pool resident (by what
 * the clients last reported), a client runs its switch_policy; below, its
 * own again. Exactly at the threshold nothing changes. */
static void evaluate_switches(struct server *s)
{
	unsigned __int128 used = 0;

	for (struct conn *c = s->first; c; c = c->next)
		if (c->state == CONN_CLIENT && c->has_stats)
			used += c->stats.resident;
	for (struct conn *c = s->first; c; c = c->next) {
		unsigned __int128 now_pct, rule;

		if (c->state != CONN_CLIENT || c->closing || c->switch_above < 0)
			continue;
		now_pct = used * 100;
		rule = (unsigned __int128)c->switch_above * s->pool.size;
		if (now_pct > rule && !c->switched) {
			usmd_log(LOG_INFO, "%u (%s): pool above %d%% used: policy %s", c->pid,
			         c->name, c->switch_above, c->switch_policy);
			set_policy(s, c, c->switch_policy);
			c->switched = true;
		} else if (now_pct < rule && c->switched) {
			usmd_log(LOG_INFO, "%u (%s): pool below %d%% used: policy %s again", c->pid,
			         c->name, c->switch_above, c->own_policy);
			set_policy(s, c, c->own_policy);
			c->switched = false;
		}
	}
}

/* What the config says of c (at HELLO and at each reload). */
static void apply_rule(struct conn *c, const struct usmd_rule *r)
{
	uint64_t cfg = r->limit, user = c->hello_limit;

	c->pc.weight = r->weight;
	c->pc.priority = r->priority;
	if (c->set_by_user & USM_SET_LIMIT)
		c->pc.cap = user;
	else
		c->pc.cap = user && cfg ? (user < cfg ? user : cfg) : (user ? user : cfg);
	if (c->set_by_user & USM_SET_POLICY) {
		c->switch_above = -1; /* the user chose this run's policy */
	} else {
		c->switch_above = r->switch_above;
		snprintf(c->switch_policy, sizeof(c->switch_policy), "%s", r->switch_policy);
	}
}

static void hello(struct server *s, struct conn *c, const struct usm_msg_hello *m)
{
	const struct usmd_rule *r;
	struct usm_msg_welcome w = {.stats_interval_ms = STATS_INTERVAL_MS};
	char a[16], b[16], d[16], over[64];

	snprintf(c->name, sizeof(c->name), "%s", m->name[0] ? m->name : "?");
	if (m->pid)
		c->pid = m->pid;
	if (m->role == USM_ROLE_MONITOR) {
		c->state = CONN_MONITOR;
		usmd_log(LOG_DEBUG, "%u (%s): monitor", c->pid, c->name);
		return;
	}
	if (m->min_grant > s->pool.size) {
		conn_fail(s, c, ENOMEM, "min_grant %s is more than the whole pool (%s)",
		          fmt_size(m->min_grant, a), fmt_size(s->pool.size, b));
		return;
	}
	r = usmd_config_find(&s->cfg, c->name);
	c->set_by_user = m->set_by_user;
	c->hello_limit = m->limit;
	apply_rule(c, r);
	c->pc.min_grant = m->min_grant;
	c->state = CONN_CLIENT;
	w.grant = pool_join(&s->pool, &c->pc, m->resident, s->now);
	w.limit = r->limit;
	if (!(c->set_by_user & USM_SET_POLICY))
		snprintf(w.policy, sizeof(w.policy), "%s", r->policy);
	if (!(c->set_by_user & USM_SET_STORE))
		snprintf(w.store, sizeof(w.store), "%s", r->store);
	snprintf(c->own_policy, sizeof(c->own_policy), "%s", w.policy[0] ? w.policy : m->policy);
	snprintf(c->cur_policy, sizeof(c->cur_policy), "%s", c->own_policy);
	over[0] = '\0';
	if (c->pc.slack)
		snprintf(over, sizeof(over), "; %s over the pool, asked back from others",
		         fmt_size(c->pc.slack, d));
	usmd_log(LOG_INFO, "%u (%s): joined with %s (weight %u, priority %d, cap %s)%s", c->pid,
	         c->name, fmt_size(w.grant, a), c->pc.weight, c->pc.priority,
	         c->pc.cap ? fmt_size(c->pc.cap, b) : "none", over);
	conn_send(s, c, USM_MSG_WELCOME, &w, sizeof(w));
}

static const char *hint_name(unsigned kind)
{
	static const char *const names[] = {
	        [USM_HINT_WILLNEED] = "willneed", [USM_HINT_SEQUENTIAL] = "sequential",
	        [USM_HINT_COLD] = "cold",         [USM_HINT_PIN] = "pin",
	        [USM_HINT_UNPIN] = "unpin",
	};
	return kind < USM_HINT_KIND_COUNT && names[kind] ? names[kind] : "?";
}

static void client_message(struct server *s, struct conn *c, const struct usm_msg_header *h,
                           const void *payload)
{
	const struct usm_msg_amount *a = payload;
	char x[16], y[16];

	switch (h->type) {
	case USM_MSG_LEASE:
		usmd_log(LOG_DEBUG, "%u (%s): lease %s", c->pid, c->name, fmt_size(a->bytes, x));
		pool_lease(&s->pool, &c->pc, a->bytes, s->now);
		break;
	case USM_MSG_RELEASE:
		if (pool_release(&s->pool, &c->pc, a->bytes) < 0) {
			conn_fail(s, c, EINVAL, "RELEASE of %s, more than its grant of %s",
			          fmt_size(a->bytes, x), fmt_size(c->pc.grant, y));
			break;
		}
		usmd_log(LOG_DEBUG, "%u (%s): released %s", c->pid, c->name, fmt_size(a->bytes, x));
		break;
	case USM_MSG_RECLAIMED: {
		uint64_t asked = c->pc.reclaiming;
		int rc = pool_reclaimed(&s->pool, &c->pc, a->bytes);
		if (rc == -EPROTO)
			conn_fail(s, c, EPROTO, "RECLAIMED without a RECLAIM");
		else if (rc < 0)
			conn_fail(s, c, EINVAL, "RECLAIMED %s, more than the %s asked",
			          fmt_size(a->bytes, x), fmt_size(asked, y));
		else
			usmd_log(LOG_DEBUG, "%u (%s): reclaimed %s", c->pid, c->name,
			         fmt_size(a->bytes, x));
		break;
	}
	case USM_MSG_STATS: {
		const struct usm_msg_stats *m = payload;
		c->stats = *m;
		c->has_stats = true;
		if (m->policy[0])
			snprintf(c->cur_policy, sizeof(c->cur_policy), "%s", m->policy);
		evaluate_switches(s);
		break;
	}
	case USM_MSG_HINT: {
		const struct usm_msg_hint *m = payload;
		usmd_log(LOG_DEBUG, "%u (%s): hint %s, %s", c->pid, c->name, hint_name(m->kind),
		         fmt_size(m->bytes, x));
		if (m->kind == USM_HINT_PIN)
			pool_pin(&s->pool, &c->pc, m->bytes);
		else if (m->kind == USM_HINT_UNPIN)
			pool_unpin(&s->pool, &c->pc, m->bytes);
		else if (m->kind == USM_HINT_WILLNEED)
			pool_willneed(&s->pool, &c->pc, m->bytes);
		break;
	}
	case USM_MSG_BYE:
		mark_closing(c, false);
		break;
	case USM_MSG_HELLO:
		conn_fail(s, c, EPROTO, "a second HELLO");
		break;
	default:
		conn_fail(s, c, EPROTO, "%s from a client (only a monitor sends it)",
		          usm_msg_type_name(h->type));
		break;
	}
}

/* ---- monitors ---- */

static void send_status(struct server *s, struct conn *m)
{
	struct usm_status_pool *pool;
	struct usm_status_row *rows;
	size_t n = 0, len;

	for (struct conn *c = s->first; c; c = c->next)
		if (c->state == CONN_CLIENT && n < USM_STATUS_MAX_ROWS)
			n++;
	len = sizeof(*pool) + n * sizeof(*rows);
	pool = calloc(1, len);
	if (!pool) {
		conn_fail(s, m, ENOMEM, "usmd is out of memory");
		return;
	}
	rows = (struct usm_status_row *)(pool + 1);
	pool->size = s->pool.size;
	pool->granted = s->pool.granted;
	pool->free = pool_free(&s->pool);
	pool->clients = (uint32_t)n;
	snprintf(pool->policy, sizeof(pool->policy), "%s", pool_policy_name(s->pool.policy));
	n = 0;
	for (struct conn *c = s->first; c && n < pool->clients; c = c->next) {
		struct usm_status_row *r = &rows[n];
		if (c->state != CONN_CLIENT)
			continue;
		n++;
		r->pid = c->pid;
		r->weight = c->pc.weight;
		r->priority = c->pc.priority;
		snprintf(r->name, sizeof(r->name), "%s", c->name);
		snprintf(r->policy, sizeof(r->policy), "%s", c->cur_policy);
		r->grant = c->pc.grant;
		r->limit = c->pc.cap;
		if (c->has_stats) {
			r->resident = c->stats.resident;
			r->evictions = c->stats.evictions;
			r->first_touch = c->stats.first_touch;
			r->refaults = c->stats.refaults;
			r->latency_p50_ns = c->stats.latency_p50_ns;
			r->latency_p99_ns = c->stats.latency_p99_ns;
			r->bytes_to_store = c->stats.bytes_to_store;
			r->bytes_from_store = c->stats.bytes_from_store;
			pool->resident += c->stats.resident;
		}
	}
	conn_send(s, m, USM_MSG_STATUS, pool, len);
	free(pool);
}

/* ---- receiving ---- */

static bool sent_by_usmd(unsigned type)
{
	return type == USM_MSG_WELCOME || type == USM_MSG_ERROR || type == USM_MSG_GRANT ||
	       type == USM_MSG_RECLAIM || type == USM_MSG_SET_POLICY || type == USM_MSG_STATUS;
}

static void handle(struct server *s, struct conn *c, const struct usm_msg_header *h,
                   const void *payload)
{
	const char *type = usm_msg_type_name(h->type);

	if (sent_by_usmd(h->type)) {
		conn_fail(s, c, EPROTO, "%s is usmd's message, never sent to it", type);
		return;
	}
	switch (c->state) {
	case CONN_NEW:
		if (h->type == USM_MSG_HELLO)
			hello(s, c, payload);
		else
			conn_fail(s, c, EPROTO, "%s before HELLO (the first message must be HELLO)",
			          type);
		break;
	case CONN_MONITOR:
		if (h->type == USM_MSG_STATUS_REQ)
			send_status(s, c);
		else if (h->type == USM_MSG_BYE)
			mark_closing(c, true);
		else if (h->type == USM_MSG_HELLO)
			conn_fail(s, c, EPROTO, "a second HELLO");
		else
			conn_fail(s, c, EPROTO,
			          "%s from a monitor (a monitor sends STATUS_REQ and BYE)", type);
		break;
	case CONN_CLIENT:
		client_message(s, c, h, payload);
		break;
	}
}

/* An error from the reader: what was wrong with the message at its head. */
static void bad_message(struct server *s, struct conn *c, int rc)
{
	const struct usm_msg_header *h = &c->rd->buf.header;

	switch (rc) {
	case -EPROTO:
		conn_fail(s, c, EPROTO, "not a usm message (magic 0x%08x, expected 0x%08x)",
		          h->magic, USM_PROTO_MAGIC);
		break;
	case -EPROTONOSUPPORT:
		conn_fail(s, c, EPROTONOSUPPORT,
		          "protocol version %u is not supported (this usmd speaks version %u)",
		          h->version, USM_PROTO_VERSION);
		break;
	case -EMSGSIZE:
		conn_fail(s, c, EMSGSIZE, "%s with a payload of %u bytes, not the size of a %s",
		          usm_msg_type_name(h->type), h->length, usm_msg_type_name(h->type));
		break;
	case -EBADMSG:
		if (h->type == 0 || h->type >= USM_MSG_TYPE_COUNT)
			conn_fail(s, c, EBADMSG, "unknown message type %u", h->type);
		else
			conn_fail(s, c, EBADMSG,
			          "malformed %s (a field out of range or a string not terminated)",
			          usm_msg_type_name(h->type));
		break;
	case -ECONNRESET:
		if (c->rd->have > c->rd->consumed)
			conn_fail(s, c, EPROTO, "connection closed in the middle of a message");
		else
			mark_closing(c, c->state == CONN_MONITOR);
		break;
	default:
		usmd_log(LOG_WARNING, "%u (%s): %s; dropped", c->pid, c->name, strerror(-rc));
		mark_closing(c, true);
		break;
	}
}

static void readable(struct server *s, struct conn *c)
{
	const struct usm_msg_header *h;
	const void *payload;
	int rc;

	c->last_rx = s->now;
	while (!c->closing && (rc = usm_msg_read(c->fd, c->rd, &h, &payload)) == 1)
		handle(s, c, h, payload);
	if (!c->closing && rc < 0)
		bad_message(s, c, rc);
}

/* ---- connections ---- */

static void accept_one(struct server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct epoll_event ev = {.events = EPOLLIN};
	struct conn *c;
	char text[USM_PROTO_TEXT_MAX];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	if (cred.uid != s->euid && cred.uid != 0) {
		snprintf(text, sizeof(text), "uid %u may not join the pool of uid %u",
		         (unsigned)cred.uid, (unsigned)s->euid);
		usmd_log(LOG_WARNING, "%d: %s; refused", (int)cred.pid, text);
		refuse(fd, EACCES, text);
		return;
	}
	if (s->nconns >= MAX_CONNS) {
		snprintf(text, sizeof(text), "usmd serves at most %d connections; try again later",
		         MAX_CONNS);
		usmd_log(LOG_WARNING, "%d: %s; refused", (int)cred.pid, text);
		refuse(fd, EBUSY, text);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->rd = malloc(sizeof(*c->rd));
	if (!c || !c->rd) {
		if (c)
			free(c);
		refuse(fd, ENOMEM, "usmd is out of memory");
		return;
	}
	c->rd->have = c->rd->consumed = 0;
	c->fd = fd;
	c->state = CONN_NEW;
	c->pid = (uint32_t)cred.pid;
	c->uid = (uint32_t)cred.uid;
	c->connected_at = c->last_rx = s->now;
	c->switch_above = -1;
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		free(c->rd);
		free(c);
		refuse(fd, err, "usmd cannot watch this connection");
		return;
	}
	c->prev = s->last;
	if (s->last)
		s->last->next = c;
	else
		s->first = c;
	s->last = c;
	s->nconns++;
}

static void accept_all(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accept_one(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
			/* no fd left: free the spare to take the connection and say so,
			 * else the listening socket would stay readable for ever */
			close(s->spare_fd);
			fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				refuse(fd, EMFILE, "usmd has no file descriptor left");
			s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			usmd_log(LOG_WARNING, "out of file descriptors: a connection refused");
			continue;
		}
		if (errno != EAGAIN)
			usmd_log(LOG_WARNING, "accept: %s", strerror(errno));
		return;
	}
}

/* Closes what was marked: the client's grant returns to the pool (which
 * may serve waiting leases and mark more), its fd is closed. */
static void reap(struct server *s)
{
	bool again = true;

	while (again) {
		again = false;
		for (struct conn *c = s->first, *next; c; c = next) {
			char buf[4096], a[16];
			int drained = 0;

			next = c->next;
			if (!c->closing)
				continue;
			again = true;
			if (c->prev)
				c->prev->next = c->next;
			else
				s->first = c->next;
			if (c->next)
				c->next->prev = c->prev;
			else
				s->last = c->prev;
			s->nconns--;
			c->dead = true;
			if (c->state == CONN_CLIENT) {
				if (!c->quiet)
					usmd_log(LOG_INFO,
					         "%u (%s): left; its %s return to the pool", c->pid,
					         c->name, fmt_size(c->pc.grant, a));
				pool_leave(&s->pool, &c->pc);
			}
			/* last words (an ERROR), then read what the peer sent so that
			 * it sees an orderly end of stream, not a reset */
			flush(s, c);
			while (drained < 64 && recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				drained++;
			close(c->fd);
			c->next = s->graveyard;
			s->graveyard = c;
		}
	}
}

static void bury(struct server *s)
{
	while (s->graveyard) {
		struct conn *c = s->graveyard;
		s->graveyard = c->next;
		free(c->rd);
		free(c->out);
		free(c);
	}
}

/* Deadlines: HELLO, partial messages, peers that do not read, and the
 * pool's own; then the timer is set for the next one. */
static void tick(struct server *s)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its = {0};

	for (struct conn *c = s->first; c; c = c->next) {
		if (c->closing)
			continue;
		if (c->state == CONN_NEW) {
			if (s->now >= c->connected_at + HELLO_TIMEOUT_MS) {
				conn_fail(s, c, ETIMEDOUT, "no HELLO within %d s of connecting",
				          HELLO_TIMEOUT_MS / 1000);
				continue;
			}
			if (c->connected_at + HELLO_TIMEOUT_MS < next)
				next = c->connected_at + HELLO_TIMEOUT_MS;
		}
		if (c->rd->have > c->rd->consumed) {
			if (s->now >= c->last_rx + PARTIAL_TIMEOUT_MS) {
				conn_fail(s, c, ETIMEDOUT,
				          "a message begun and not finished for %d s",
				          PARTIAL_TIMEOUT_MS / 1000);
				continue;
			}
			if (c->last_rx + PARTIAL_TIMEOUT_MS < next)
				next = c->last_rx + PARTIAL_TIMEOUT_MS;
		}
		if (c->out_len) {
			if (s->now >= c->out_since + STALL_TIMEOUT_MS) {
				usmd_log(LOG_WARNING, "%u (%s): has not read for %d s; dropped",
				         c->pid, c->name, STALL_TIMEOUT_MS / 1000);
				mark_closing(c, true);
				continue;
			}
			if (c->out_since + STALL_TIMEOUT_MS < next)
				next = c->out_since + STALL_TIMEOUT_MS;
		}
	}
	uint64_t pool_next = pool_tick(&s->pool, s->now);
	if (pool_next < next)
		next = pool_next;
	reap(s);
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- signals ---- */

static void reload(struct server *s)
{
	struct usmd_config fresh;
	char err[512];

	if (!s->set->config_path) {
		usmd_log(LOG_INFO, "SIGHUP: no config file to reload (usmd runs without --config)");
		return;
	}
	if (usmd_config_load(s->set->config_path, &fresh, err, sizeof(err)) < 0) {
		usmd_log(LOG_ERR, "%s; the config loaded before stays in force", err);
		usmd_config_free(&fresh);
		return;
	}
	if (!s->set->pool_from_cli && fresh.pool_size && fresh.pool_size != s->pool.size)
		usmd_log(LOG_WARNING, "a new pool size takes effect when usmd restarts");
	usmd_config_free(&s->cfg);
	s->cfg = fresh;
	s->pool.policy = fresh.policy;
	for (struct conn *c = s->first; c; c = c->next) {
		const struct usmd_rule *r;

		if (c->state != CONN_CLIENT || c->closing)
			continue;
		r = usmd_config_find(&s->cfg, c->name);
		apply_rule(c, r);
		if (c->switch_above < 0 && c->switched) {
			c->switched = false;
			set_policy(s, c, c->own_policy);
		} else if (c->switched && strcmp(c->cur_policy, c->switch_policy)) {
			set_policy(s, c, c->switch_policy);
		}
		if (!(c->set_by_user & USM_SET_POLICY) && r->policy[0] &&
		    strcmp(r->policy, c->own_policy)) {
			snprintf(c->own_policy, sizeof(c->own_policy), "%s", r->policy);
			if (!c->switched)
				set_policy(s, c, c->own_policy);
		}
		pool_enforce_cap(&s->pool, &c->pc, s->now);
	}
	usmd_log(LOG_INFO, "reloaded %s (policy %s)", s->set->config_path,
	         pool_policy_name(s->pool.policy));
	evaluate_switches(s);
}

static void signalled(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(s);
		} else {
			usmd_log(LOG_INFO, "%s: shutting down", strsignal((int)si.ssi_signo));
			s->stop = true;
		}
	}
}

/* ---- the loop ---- */

static int setup(struct server *s)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->epfd < 0 || s->sig_fd < 0 || s->timer_fd < 0)
		return -errno;
	ev.data.ptr = &s->listen_fd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
		return -errno;
	ev.data.ptr = &s->sig_fd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sig_fd, &ev) < 0)
		return -errno;
	ev.data.ptr = &s->timer_fd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0)
		return -errno;
	return 0;
}

static void teardown(struct server *s)
{
	while (s->first) {
		struct conn *c = s->first;
		s->first = c->next;
		close(c->fd);
		c->next = s->graveyard;
		s->graveyard = c;
	}
	bury(s);
	unlink(s->set->socket_path);
	close(s->listen_fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	usmd_config_free(&s->cfg);
}

int usmd_serve(int listen_fd, const struct usmd_settings *settings, struct usmd_config *cfg)
{
	struct server s = {
	        .listen_fd = listen_fd,
	        .set = settings,
	        .cfg = *cfg,
	        .epfd = -1,
	        .sig_fd = -1,
	        .timer_fd = -1,
	        .spare_fd = -1,
	        .euid = geteuid(),
	};
	char a[16];
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	pool_init(&s.pool, settings->pool_size, s.cfg.policy, &pool_ops, &s);
	if (setup(&s) < 0) {
		usmd_log(LOG_ERR, "cannot start the event loop: %s", strerror(errno));
		teardown(&s);
		return 1;
	}
	usmd_log(LOG_INFO, "serving a pool of %s (%s) on %s", fmt_size(s.pool.size, a),
	         pool_policy_name(s.pool.policy), settings->socket_path);
	while (!s.stop) {
		struct epoll_event ev[64];
		int n = epoll_wait(s.epfd, ev, 64, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			usmd_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
			rc = 1;
			break;
		}
		s.now = now_ms();
		for (int i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;
			if (tag == &s.listen_fd) {
				accept_all(&s);
			} else if (tag == &s.sig_fd) {
				signalled(&s);
			} else if (tag == &s.timer_fd) {
				uint64_t expirations;
				if (read(s.timer_fd, &expirations, sizeof(expirations)) < 0) {
					/* EAGAIN: already consumed */
				}
			} else {
				struct conn *c = tag;
				if (c->dead)
					continue;
				if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					readable(&s, c);
				if (!c->closing && (ev[i].events & EPOLLOUT))
					flush(&s, c);
			}
			reap(&s);
		}
		tick(&s);
		bury(&s);
	}
	teardown(&s);
	usmd_log(LOG_INFO, "stopped");
	return rc;
}
