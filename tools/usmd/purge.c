/* Deleting what a client left in its shared store (a memcached cluster)
 * when it ended without BYE: killed with its usm run, so that nobody else
 * will, or replaced by an exec. Each purge runs in a forked child, so that
 * a server that is slow or gone costs that child its timeouts and never
 * usmd's loop; the child writes one record to a pipe usmd watches, and
 * SIGCHLD (through the signalfd) reaps it. At most PURGE_RUNNING run at
 * once (each crawls every server's key list, and memcached crawls one
 * list at a time); the others wait in order. */
#include "server_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "usmd_log.h"

#define PURGE_RUNNING 4
#define PURGE_WAITING 1024 /* past it a client's keys stay, said in the log */
#define SPEC_SHOWN    120  /* of a spec in a log line: the first servers */

struct purge {
	struct purge *next;
	pid_t child; /* 0 while waiting */
	bool reported;
	uint32_t pid;
	char name[USM_PROTO_NAME_MAX];
	struct usm_msg_store store;
};

/* One child's answer: written at once (less than PIPE_BUF), so records of
 * several children never mix. */
struct purge_record {
	int32_t child;
	int32_t reserved;
	int64_t deleted; /* or a negative errno */
	char why[320];
};
_Static_assert(sizeof(struct purge_record) <= 4096, "a record is one atomic pipe write");

int purge_setup(struct server *s)
{
	int fds[2];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->purge_rd};

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	s->purge_rd = fds[0];
	s->purge_wr = fds[1];
	/* the read end only: the children's writes may block on a full pipe */
	if (fcntl(s->purge_rd, F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->purge_rd, &ev) < 0)
		return -errno;
	return 0;
}

/* In the child: nothing of usmd's but stdio and the pipe stays open (a
 * client's socket held here would hide its end from it), signals are
 * unblocked, and the result goes to usmd. */
static _Noreturn void child_main(int out, const struct purge *p)
{
	struct purge_record r = {.child = (int32_t)getpid()};
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (out > 3)
		close_range(3, (unsigned)out - 1, 0);
	close_range((unsigned)out + 1, ~0u, 0);
	r.deleted = usm_store_purge_process(p->store.spec, p->store.prefix, r.why, sizeof(r.why));
	if (write(out, &r, sizeof(r)) < 0) {
		/* usmd is gone: the keys are deleted all the same */
	}
	_exit(0);
}

static void start(struct server *s, struct purge *p)
{
	pid_t child;

	fflush(NULL);
	child = fork();
	if (child == 0)
		child_main(s->purge_wr, p);
	if (child < 0) {
		usmd_log(LOG_WARNING,
		         "%u (%s): cannot fork to delete its keys %s* from its store: %s", p->pid,
		         p->name, p->store.prefix, strerror(errno));
		p->reported = true;
		p->child = -1; /* dropped by purge_next */
		return;
	}
	p->child = child;
	s->purges_running++;
	usmd_log(LOG_DEBUG, "%u (%s): deleting its keys %s* (child %d)", p->pid, p->name,
	         p->store.prefix, (int)child);
}

/* Starts what waits while there is room; drops what could not start. */
static void purge_next(struct server *s)
{
	for (struct purge **pp = &s->purges; *pp;) {
		struct purge *p = *pp;

		if (p->child == 0 && s->purges_running < PURGE_RUNNING) {
			s->purges_waiting--;
			start(s, p);
		}
		if (p->child < 0) {
			*pp = p->next;
			free(p);
			continue;
		}
		pp = &p->next;
	}
}

void purge_start(struct server *s, const struct conn *c)
{
	struct purge *p, **end;

	if (s->purges_waiting >= PURGE_WAITING) {
		usmd_log(LOG_WARNING,
		         "%u (%s): %d purges wait already; its keys %s* stay in its store", c->pid,
		         c->name, PURGE_WAITING, c->store->prefix);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		usmd_log(LOG_ERR, "%u (%s): out of memory; its keys %s* stay in its store", c->pid,
		         c->name, c->store->prefix);
		return;
	}
	p->pid = c->pid;
	snprintf(p->name, sizeof(p->name), "%s", c->name);
	p->store = *c->store;
	for (end = &s->purges; *end; end = &(*end)->next)
		;
	*end = p;
	s->purges_waiting++;
	purge_next(s);
}

static struct purge *find(struct server *s, pid_t child)
{
	for (struct purge *p = s->purges; p; p = p->next)
		if (p->child == child)
			return p;
	return NULL;
}

void purge_results(struct server *s)
{
	struct purge_record r;

	while (read(s->purge_rd, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		struct purge *p = find(s, r.child);

		if (!p)
			continue;
		p->reported = true;
		r.why[sizeof(r.why) - 1] = '\0';
		if (r.deleted >= 0)
			usmd_log(LOG_INFO,
			         "%u (%s): ended without BYE: deleted its %lld keys %s* from %.*s",
			         p->pid, p->name, (long long)r.deleted, p->store.prefix, SPEC_SHOWN,
			         p->store.spec);
		else
			usmd_log(LOG_WARNING,
			         "%u (%s): ended without BYE: cannot delete its keys %s*: %s",
			         p->pid, p->name, p->store.prefix,
			         r.why[0] ? r.why : strerror((int)-r.deleted));
	}
}

void purge_reap(struct server *s)
{
	pid_t child;
	int status;

	purge_results(s); /* a child writes before it exits */
	while ((child = waitpid(-1, &status, WNOHANG)) > 0) {
		struct purge *p = find(s, child), **pp;

		if (!p)
			continue;
		if (!p->reported)
			usmd_log(LOG_WARNING,
			         "%u (%s): the purge of its keys %s* ended without a word (%s %d)",
			         p->pid, p->name, p->store.prefix,
			         WIFSIGNALED(status) ? "signal" : "exit status",
			         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		for (pp = &s->purges; *pp != p; pp = &(*pp)->next)
			;
		*pp = p->next;
		free(p);
		s->purges_running--;
	}
	purge_next(s);
}

/* usmd stops: what waits starts now and, like what runs, finishes on its
 * own (its children are not waited for). */
void purge_teardown(struct server *s)
{
	unsigned left = 0;

	while (s->purges) {
		struct purge *p = s->purges;

		s->purges = p->next;
		if (p->child == 0)
			start(s, p);
		left += p->child > 0;
		free(p);
	}
	if (left)
		usmd_log(LOG_INFO, "%u purges of clients' keys left to finish on their own", left);
	if (s->purge_rd >= 0)
		close(s->purge_rd);
	if (s->purge_wr >= 0)
		close(s->purge_wr);
}
