/* Internals of usmd's server, shared by its files:
 *   server.c   the epoll loop, deadlines, signals and reload
 *   conn.c     connections: accepting, queuing and sending, closing
 *   session.c  the protocol on a connection: HELLO, clients' messages,
 *              monitors, the pool's callbacks, the threshold rule
 *   purge.c    deleting a gone client's keys from its shared store, in
 *              forked children
 *
 * A connection is NEW until its HELLO, then a CLIENT (a tagger, with a
 * share of the pool) or a MONITOR (usm status). Anything a connection's
 * state does not expect gets an ERROR and that connection is closed; no
 * other is affected. Connections are closed in one place, conn_reap(), run
 * after each event: pool.c's callbacks, which may find a client that cannot
 * be written to, only mark it. A closed connection's memory is freed only
 * at the end of the epoll batch, which may still name it. */
#ifndef USMD_SERVER_IMPL_H
#define USMD_SERVER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/proto.h"
#include <usm/size.h>

#include "base/clock.h"

#include "config.h"
#include "pool.h"
#include "server.h"

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
	struct usm_msg_store *store; /* its shared store (STORE), or NULL */
	bool said_bye;               /* its keys stay: it lives on, or usm run deletes them */
	bool peer_gone;              /* the end of its stream, or a send it no longer takes */
};

struct server {
	int epfd, listen_fd, sig_fd, timer_fd, spare_fd;
	const struct usmd_settings *set;
	struct usmd_config cfg;
	struct pool pool;
	struct conn *first, *last;
	struct conn *graveyard;
	unsigned nconns;
	int purge_rd, purge_wr;    /* the children's records */
	struct purge *purges;      /* running, then waiting, in order */
	unsigned purges_running, purges_waiting;
	bool stop;
	uint64_t now;
	uid_t euid;
};

#define conn_of(pc) ((struct conn *)((char *)(pc)-offsetof(struct conn, pc)))

static inline const char *fmt_size(uint64_t bytes, char *buf)
{
	return usm_format_size(bytes, buf, 16);
}

/* conn.c */
void conn_accept_all(struct server *s);
void conn_mark_closing(struct conn *c, bool quiet);
void conn_flush(struct server *s, struct conn *c);       /* what the socket takes now */
void conn_send(struct server *s, struct conn *c, unsigned type, const void *payload, size_t len);
void conn_send_amount(struct server *s, struct conn *c, unsigned type, uint64_t bytes);
void conn_fail(struct server *s, struct conn *c, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));              /* ERROR, then closed */
void conn_refuse(int fd, int code, const char *text);    /* a connection never served */
void conn_reap(struct server *s);                        /* closes what was marked */
void conn_bury(struct server *s);                        /* frees what was closed */

/* session.c */
extern const struct pool_ops session_pool_ops;
void session_readable(struct server *s, struct conn *c);
void session_set_policy(struct server *s, struct conn *c, const char *policy);
void session_apply_rule(struct conn *c, const struct usmd_rule *r);
void session_evaluate_switches(struct server *s);

/* purge.c */
int purge_setup(struct server *s);
void purge_start(struct server *s, const struct conn *c); /* c's keys, off the loop */
void purge_results(struct server *s);                     /* the pipe is readable */
void purge_reap(struct server *s);                        /* SIGCHLD */
void purge_teardown(struct server *s);

#endif
