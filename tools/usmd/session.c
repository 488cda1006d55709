/* The protocol on one connection (docs/protocol.md): HELLO and the
 * state it leads to, a client's messages, a monitor's STATUS, the pool's
 * callbacks (GRANT, RECLAIM) and the threshold rule. Every decision about
 * frames is pool.c's. */
#include "server_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "usmd_log.h"

/* ---- pool callbacks: only messages, never a close ---- */

/* A GRANT or RECLAIM of bytes to pc's connection, logged as "grant X, now
 * Y" / "reclaim X, down to Y" with the total it leaves pc holding. */
static void send_amount(struct server *s, struct pool_client *pc, unsigned type, uint64_t bytes,
                        const char *what, const char *leaves)
{
	struct conn *c = conn_of(pc);
	char a[16], b[16];

	usmd_log(LOG_DEBUG, "%u (%s): %s %s, %s %s", c->pid, c->name, what, fmt_size(bytes, a),
	         leaves, fmt_size(pool_client_total(pc), b));
	conn_send_amount(s, c, type, bytes);
}

static void on_grant(void *ctx, struct pool_client *pc, uint64_t bytes)
{
	send_amount(ctx, pc, USM_MSG_GRANT, bytes, "grant", "now");
}

static void on_reclaim(void *ctx, struct pool_client *pc, uint64_t bytes)
{
	send_amount(ctx, pc, USM_MSG_RECLAIM, bytes, "reclaim", "down to");
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

const struct pool_ops session_pool_ops = {
        .grant = on_grant,
        .reclaim = on_reclaim,
        .late = on_late,
};

/* ---- clients ---- */

void session_set_policy(struct server *s, struct conn *c, const char *policy)
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
void session_evaluate_switches(struct server *s)
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
			session_set_policy(s, c, c->switch_policy);
			c->switched = true;
		} else if (now_pct < rule && c->switched) {
			usmd_log(LOG_INFO, "%u (%s): pool below %d%% used: policy %s again", c->pid,
			         c->name, c->switch_above, c->own_policy);
			session_set_policy(s, c, c->own_policy);
			c->switched = false;
		}
	}
}

/* What the config says of c (at HELLO and at each reload). */
void session_apply_rule(struct conn *c, const struct usmd_rule *r)
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
	session_apply_rule(c, r);
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

/* The client's shared store: usmd deletes that process's keys, and no
 * others, if it ends without BYE. */
static void client_store(struct server *s, struct conn *c, const struct usm_msg_store *m)
{
	long pid = usm_store_prefix_pid(m->prefix);

	if (c->store) {
		conn_fail(s, c, EPROTO, "a second STORE");
		return;
	}
	if (pid < 0) {
		conn_fail(s, c, EINVAL,
		          "STORE prefix '%.*s' is not one process's "
		          "(usm:HOST:RUN:PID.START:)",
		          80, m->prefix);
		return;
	}
	if (pid != c->pid) {
		conn_fail(s, c, EINVAL,
		          "STORE prefix names the keys of pid %ld, not this client's (%u)", pid,
		          c->pid);
		return;
	}
	if (!usm_store_spec_valid(m->spec)) {
		conn_fail(s, c, EINVAL, "STORE: %s", usm_store_spec_problem(m->spec));
		return;
	}
	c->store = malloc(sizeof(*c->store));
	if (!c->store) {
		conn_fail(s, c, ENOMEM, "usmd is out of memory");
		return;
	}
	*c->store = *m;
	usmd_log(LOG_DEBUG, "%u (%s): store %.120s, keys %s*", c->pid, c->name, m->spec, m->prefix);
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
		session_evaluate_switches(s);
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
	case USM_MSG_STORE:
		client_store(s, c, payload);
		break;
	case USM_MSG_BYE:
		c->said_bye = true;
		conn_mark_closing(c, false);
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
#define ROW_(name) r->name = c->stats.name;
#define WIRE_(name)
#define LOCAL_(name)
#define COPY_(name, wire, merge, run_key) wire##_(name)
			USM_PAGER_STAT_FIELDS(COPY_)
#undef COPY_
#undef LOCAL_
#undef WIRE_
#undef ROW_
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
			conn_mark_closing(c, true);
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
		c->peer_gone = true;
		if (c->rd->have > c->rd->consumed)
			conn_fail(s, c, EPROTO, "connection closed in the middle of a message");
		else
			conn_mark_closing(c, c->state == CONN_MONITOR);
		break;
	default:
		usmd_log(LOG_WARNING, "%u (%s): %s; dropped", c->pid, c->name, strerror(-rc));
		conn_mark_closing(c, true);
		break;
	}
}

void session_readable(struct server *s, struct conn *c)
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
