/* usmd's connections: accepting them (SO_PEERCRED, the connection cap,
 * running out of descriptors), queuing what is sent to each without ever
 * waiting on a peer, and closing them in one place (server_impl.h). */
#include "server_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "usmd_log.h"

void conn_mark_closing(struct conn *c, bool quiet)
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
void conn_flush(struct server *s, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				/* the peer is gone; its end of stream tells the rest */
				if (errno == EPIPE || errno == ECONNRESET)
					c->peer_gone = true;
				c->out_off = c->out_len = 0;
				conn_mark_closing(c, false);
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

void conn_send(struct server *s, struct conn *c, unsigned type, const void *payload,
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
		conn_mark_closing(c, true);
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
			conn_mark_closing(c, true);
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
	conn_flush(s, c);
}

void conn_send_amount(struct server *s, struct conn *c, unsigned type, uint64_t bytes)
{
	struct usm_msg_amount a = {.bytes = bytes, .grant = pool_client_total(&c->pc)};

	conn_send(s, c, type, &a, sizeof(a));
}

/* ERROR{code, text}, then the connection is closed. */
void conn_fail(struct server *s, struct conn *c, int code, const char *fmt, ...)
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
	conn_mark_closing(c, true);
}

/* An ERROR to a connection never served: one try, then close. */
void conn_refuse(int fd, int code, const char *text)
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
		conn_refuse(fd, EACCES, text);
		return;
	}
	if (s->nconns >= MAX_CONNS) {
		snprintf(text, sizeof(text), "usmd serves at most %d connections; try again later",
		         MAX_CONNS);
		usmd_log(LOG_WARNING, "%d: %s; refused", (int)cred.pid, text);
		conn_refuse(fd, EBUSY, text);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->rd = malloc(sizeof(*c->rd));
	if (!c || !c->rd) {
		if (c)
			free(c);
		conn_refuse(fd, ENOMEM, "usmd is out of memory");
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
		conn_refuse(fd, err, "usmd cannot watch this connection");
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

void conn_accept_all(struct server *s)
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
				conn_refuse(fd, EMFILE, "usmd has no file descriptor left");
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
void conn_reap(struct server *s)
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
				/* gone without BYE: nobody else may know its store;
				 * dropped by usmd, it may live on and need its keys */
				if (c->store && c->peer_gone && !c->said_bye)
					purge_start(s, c);
			}
			/* last words (an ERROR), then read what the peer sent so that
			 * it sees an orderly end of stream, not a reset */
			conn_flush(s, c);
			while (drained < 64 && recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				drained++;
			/* out of epoll first: a purge's child forked a moment ago
			 * still has this fd, which would keep it watched after
			 * the close, with c freed */
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			c->next = s->graveyard;
			s->graveyard = c;
		}
	}
}

void conn_bury(struct server *s)
{
	while (s->graveyard) {
		struct conn *c = s->graveyard;
		s->graveyard = c->next;
		free(c->rd);
		free(c->out);
		free(c->store);
		free(c);
	}
}
