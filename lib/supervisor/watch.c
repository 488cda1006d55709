/* Hardware watchpoints: one perf breakpoint per thread and watch, each
 * hit a synchronous SIGTRAP in the accessing thread, dispatched here. */
#include <usm/watch.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "os/perf_breakpoint.h"
#include "os/procfs.h"
#include "supervisor/sigchain.h"

/* sig_data of usm's breakpoints: "usmW", a generation, the slot. */
#define COOKIE_MAGIC 0x75736d57ULL

struct usm_watch {
	uintptr_t addr;
	usm_watch_fn fn;
	void *arg;
	uint64_t cookie;
	atomic_uint_fast64_t hits;
	int *fds;
	size_t nfds, cap;
	pid_t *tids; /* the thread of each fd */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct usm_watch *_Atomic watches[USM_WATCH_MAX];
static atomic_int in_flight;
static unsigned int generation;
static struct usm_sigchain chain_trap = { .sig = SIGTRAP };

uint64_t usm_watch_hits(const struct usm_watch *w)
{
	return atomic_load(&w->hits);
}

static bool on_trap(int sig, siginfo_t *si, void *uc)
{
	uint64_t data;
	struct usm_watch *w;

	if (!usm_os_perf_breakpoint_siginfo(si, &data) || data >> 32 != COOKIE_MAGIC)
		return false;
	atomic_fetch_add(&in_flight, 1);
	w = atomic_load(&watches[data % USM_WATCH_MAX]);
	/* a hit of a watch being removed in another thread is dropped */
	if (w && w->cookie == data) {
		w->fn((void *)w->addr, w->arg);
		atomic_fetch_add(&w->hits, 1);
	}
	atomic_fetch_sub(&in_flight, 1);
	return true;
}

int usm_watch_probe(void)
{
	static volatile uint64_t probe;
	int fd = usm_os_perf_breakpoint(0, (uintptr_t)&probe, sizeof(probe), false, 0);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -EINVAL) {
		/* the same breakpoint without sigtrap: the kernel is too old */
		int plain = usm_os_perf_breakpoint_counting((uintptr_t)&probe, sizeof(probe));
		if (plain >= 0) {
			close(plain);
			return -EOPNOTSUPP;
		}
		fd = plain;
	}
	if (fd == -ENOENT || fd == -EOPNOTSUPP || fd == -EINVAL)
		return -ENODEV;
	return fd;
}

static bool has_tid(const struct usm_watch *w, pid_t tid)
{
	for (size_t i = 0; i < w->nfds; i++)
		if (w->tids[i] == tid)
			return true;
	return false;
}

/* One breakpoint in each thread, until a pass over /proc/self/task finds
 * none without: a thread created meanwhile by a thread without one yet is
 * caught by the next pass, one created by a thread with one inherits it. */
static int open_all(struct usm_watch *w, unsigned int len, bool rw)
{
	for (;;) {
		pid_t *tids;
		size_t n, added = 0;
		int err = usm_os_proc_list_tasks(getpid(), &tids, &n);

		if (err)
			return err;
		for (size_t i = 0; i < n && !err; i++) {
			if (has_tid(w, tids[i]))
				continue;
			if (w->nfds == w->cap) {
				size_t cap = w->cap ? 2 * w->cap : 8;
				int *fds = realloc(w->fds, cap * sizeof(*fds));
				pid_t *t = fds ? realloc(w->tids, cap * sizeof(*t)) : NULL;

				if (fds)
					w->fds = fds;
				if (t)
					w->tids = t;
				if (!fds || !t) {
					err = -ENOMEM;
					break;
				}
				w->cap = cap;
			}
			int fd = usm_os_perf_breakpoint(tids[i], w->addr, len, rw, w->cookie);
			if (fd == -ESRCH)
				continue; /* the thread ended */
			if (fd < 0) {
				err = fd;
				break;
			}
			w->fds[w->nfds] = fd;
			w->tids[w->nfds++] = tids[i];
			added++;
		}
		free(tids);
		if (err || !added)
			return err;
	}
}

static void free_watch(struct usm_watch *w)
{
	for (size_t i = 0; i < w->nfds; i++)
		close(w->fds[i]);
	free(w->fds);
	free(w->tids);
	free(w);
}

int usm_watch_add(void *addr, size_t len, enum usm_watch_kind kind, usm_watch_fn fn, void *arg,
		  struct usm_watch **out)
{
	uintptr_t a = (uintptr_t)addr;
	struct usm_watch *w;
	size_t slot;
	int err;

	if (!fn || !out || (len != 1 && len != 2 && len != 4 && len != 8) || a % len ||
	    (kind != USM_WATCH_WRITE && kind != USM_WATCH_READWRITE))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->addr = a;
	w->fn = fn;
	w->arg = arg;

	pthread_mutex_lock(&lock);
	for (slot = 0; slot < USM_WATCH_MAX && atomic_load(&watches[slot]); slot++)
		;
	if (slot == USM_WATCH_MAX) {
		pthread_mutex_unlock(&lock);
		free(w);
		return -ENOSPC;
	}
	w->cookie = COOKIE_MAGIC << 32 | (uint64_t)(++generation & 0xffffff) << 8 | slot;
	err = usm_sigchain_install(&chain_trap, on_trap);
	if (!err) {
		/* in place before the first hit can come */
		atomic_store(&watches[slot], w);
		err = open_all(w, (unsigned int)len, kind == USM_WATCH_READWRITE);
		if (err)
			atomic_store(&watches[slot], NULL);
	}
	pthread_mutex_unlock(&lock);
	if (err) {
		if (err == -EINVAL || err == -ENOENT || err == -EOPNOTSUPP) {
			/* say which: no breakpoints, or no sigtrap */
			int why = usm_watch_probe();
			err = why ? why : err;
		}
		while (atomic_load(&in_flight))
			sched_yield();
		free_watch(w);
		return err;
	}
	*out = w;
	return 0;
}

int usm_watch_remove(struct usm_watch *w)
{
	if (!w)
		return 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < USM_WATCH_MAX; i++)
		if (atomic_load(&watches[i]) == w)
			atomic_store(&watches[i], NULL);
	pthread_mutex_unlock(&lock);
	while (atomic_load(&in_flight))
		sched_yield();
	free_watch(w);
	return 0;
}
