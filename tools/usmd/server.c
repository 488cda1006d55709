/* usmd's event loop (see server.h): one thread, epoll over the listening
 * socket, the connections, a signalfd, a timerfd for the deadlines and
 * the pipe of the purges' children; SIGHUP reloads the config, SIGCHLD
 * reaps a purge. */
#include "server_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "usmd_log.h"

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
				conn_mark_closing(c, true);
				continue;
			}
			if (c->out_since + STALL_TIMEOUT_MS < next)
				next = c->out_since + STALL_TIMEOUT_MS;
		}
	}
	uint64_t pool_next = pool_tick(&s->pool, s->now);
	if (pool_next < next)
		next = pool_next;
	conn_reap(s);
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
		session_apply_rule(c, r);
		if (c->switch_above < 0 && c->switched) {
			c->switched = false;
			session_set_policy(s, c, c->own_policy);
		} else if (c->switched && strcmp(c->cur_policy, c->switch_policy)) {
			session_set_policy(s, c, c->switch_policy);
		}
		if (!(c->set_by_user & USM_SET_POLICY) && r->policy[0] &&
		    strcmp(r->policy, c->own_policy)) {
			snprintf(c->own_policy, sizeof(c->own_policy), "%s", r->policy);
			if (!c->switched)
				session_set_policy(s, c, c->own_policy);
		}
		pool_enforce_cap(&s->pool, &c->pc, s->now);
	}
	usmd_log(LOG_INFO, "reloaded %s (policy %s)", s->set->config_path,
	         pool_policy_name(s->pool.policy));
	session_evaluate_switches(s);
}

static void signalled(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(s);
		} else if (si.ssi_signo == SIGCHLD) {
			purge_reap(s);
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
	sigaddset(&set, SIGCHLD);
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
	return purge_setup(s);
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
	conn_bury(s);
	purge_teardown(s);
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
	        .purge_rd = -1,
	        .purge_wr = -1,
	        .euid = geteuid(),
	};
	char a[16];
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	pool_init(&s.pool, settings->pool_size, s.cfg.policy, &session_pool_ops, &s);
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
		s.now = usm_now_ms();
		for (int i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;
			if (tag == &s.listen_fd) {
				conn_accept_all(&s);
			} else if (tag == &s.sig_fd) {
				signalled(&s);
			} else if (tag == &s.purge_rd) {
				purge_results(&s);
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
					session_readable(&s, c);
				if (!c->closing && (ev[i].events & EPOLLOUT))
					conn_flush(&s, c);
			}
			conn_reap(&s);
		}
		tick(&s);
		conn_bury(&s);
	}
	teardown(&s);
	usmd_log(LOG_INFO, "stopped");
	return rc;
}
