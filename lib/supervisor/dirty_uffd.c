/* Dirty tracking by synchronous userfaultfd write-protect: the range is
 * protected, the first write to a page traps to a handler thread, which
 * lifts the protection of that page, wakes the writer and marks the page
 * in a bitmap. A collect takes the bitmap and protects those pages again.
 * This process only. */
#include "supervisor/dirty_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/page.h"
#include "os/uffd.h"

#define MSG_BATCH 64

struct uffd_state {
	int uffd;
	int stop[2];        /* a pipe: the handler thread ends when it reads */
	bool missing;       /* registered for missing faults too (no WP_UNPOPULATED) */
	uint64_t start, pages;
	uint64_t *bits;     /* written pages, set by the handler */
	_Atomic int error;  /* first error of the handler thread */
	pthread_mutex_t lock; /* an unprotect + mark against a protect + harvest */
	pthread_t thread;
	char zero[USM_PAGE_SIZE] __attribute__((aligned(4096)));
};

static int uffd_probe(pid_t pid, unsigned without, unsigned *caps, const char **why)
{
	uint64_t got = 0;
	int fd;

	(void)without;
	if (pid) {
		*why = "userfaultfd registers ranges of this process only";
		return -EOPNOTSUPP;
	}
	fd = usm_dirty_uffd_open(UFFD_FEATURE_PAGEFAULT_FLAG_WP, UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
				 &got);
	if (fd < 0) {
		*why = fd == -ENOSYS ? "the kernel has no userfaultfd write-protect (Linux 5.7+)"
				     : "no userfaultfd for this user";
		return fd;
	}
	close(fd);
	*caps = USM_DIRTY_TRAPS_WRITES | USM_DIRTY_USES_UFFD | USM_DIRTY_SPLITS_HUGE;
	if (got & UFFD_FEATURE_WP_HUGETLBFS_SHMEM)
		*caps |= USM_DIRTY_SHARED;
	return 0;
}

static void mark(struct uffd_state *s, uint64_t addr)
{
	uint64_t page = (addr - s->start) / USM_PAGE_SIZE;

	if (page < s->pages)
		atomic_fetch_or((_Atomic uint64_t *)&s->bits[page / 64], 1ULL << (page % 64));
}

/* An unprotect and its mark run under the lock that a collect holds
 * across its protect and harvest: either the mark is harvested by a
 * collect whose protect comes after the unprotect, or it stays for the
 * next collect while the page is writable. Without the lock an unprotect
 * could land after a collect's protect and its mark be harvested by that
 * same collect, leaving the page writable and unmarked: later writes lost.
 * The writer is woken after the mark, so that a write done before a
 * collect starts is always in that collect. */
static int handle(struct uffd_state *s, const struct usm_uffd_event *e)
{
	uint64_t addr = usm_page_down(e->addr);
	int err;

	if (e->kind != USM_UFFD_FAULT)
		return 0;
	if (e->wp) {
		pthread_mutex_lock(&s->lock);
		err = usm_os_uffd_writeprotect(s->uffd, addr, USM_PAGE_SIZE, false, false);
		if (!err)
			mark(s, addr);
		pthread_mutex_unlock(&s->lock);
	} else {
		/* A first touch (registered for missing faults only without
		 * WP_UNPOPULATED): a zero page, write-protected, so that a
		 * write retried on it takes the write-protect fault above. */
		err = usm_os_uffd_copy(s->uffd, addr, s->zero, USM_PAGE_SIZE, true, NULL);
		if (err == -EEXIST)
			err = usm_os_uffd_wake(s->uffd, addr, USM_PAGE_SIZE);
		return err == -ENOENT ? 0 : err;
	}
	/* -ENOENT: the page went away (munmap) after the fault was read. */
	if (err == -ENOENT)
		return 0;
	return err ? err : usm_os_uffd_wake(s->uffd, addr, USM_PAGE_SIZE);
}

static void *handler_main(void *arg)
{
	struct uffd_state *s = arg;
	struct usm_uffd_event events[MSG_BATCH];

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = s->uffd, .events = POLLIN },
			{ .fd = s->stop[0], .events = POLLIN },
		};
		int n;

		if (poll(fds, 2, -1) < 0)
			continue;
		if (fds[1].revents)
			return NULL;
		n = usm_os_uffd_read_events(s->uffd, events, MSG_BATCH);
		if (n < 0) {
			atomic_store(&s->error, n);
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			int err = handle(s, &events[i]);

			if (err) {
				int none = 0;

				atomic_compare_exchange_strong(&s->error, &none, err);
			}
		}
	}
}

static void state_free(struct uffd_state *s)
{
	if (s->uffd >= 0)
		close(s->uffd);
	if (s->stop[0] >= 0) {
		close(s->stop[0]);
		close(s->stop[1]);
	}
	free(s->bits);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int uffd_start(struct usm_dirty *d)
{
	struct uffd_state *s = aligned_alloc(USM_PAGE_SIZE, usm_page_up(sizeof(*s)));
	uint64_t len = d->end - d->start, got = 0;
	uint64_t want = UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	int err;

	if (!s)
		return -ENOMEM;
	if (!(d->without & USM_DIRTY_WITHOUT_WP_UNPOPULATED))
		want |= UFFD_FEATURE_WP_UNPOPULATED;
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->stop[0] = s->stop[1] = -1;
	s->start = d->start;
	s->pages = len / USM_PAGE_SIZE;
	s->bits = calloc((s->pages + 63) / 64, sizeof(*s->bits));
	s->uffd = usm_dirty_uffd_open(UFFD_FEATURE_PAGEFAULT_FLAG_WP, want, &got);
	if (!s->bits || s->uffd < 0) {
		err = s->uffd < 0 ? s->uffd : -ENOMEM;
		state_free(s);
		return err;
	}
	/* Without WP_UNPOPULATED a protect skips unpopulated ptes: their
	 * first touch is caught as a missing fault instead. */
	s->missing = !(got & UFFD_FEATURE_WP_UNPOPULATED);
	if (pipe2(s->stop, O_CLOEXEC) < 0) {
		err = -errno;
		s->stop[0] = s->stop[1] = -1;
		state_free(s);
		return err;
	}
	err = s->missing ? usm_os_uffd_register(s->uffd, d->start, len, true, NULL)
			 : usm_os_uffd_register_wp_only(s->uffd, d->start, len, NULL);
	if (!err)
		err = usm_os_uffd_writeprotect(s->uffd, d->start, len, true, false);
	if (!err) {
		err = -pthread_create(&s->thread, NULL, handler_main, s);
		if (err)
			usm_os_uffd_unregister(s->uffd, d->start, len);
	}
	if (err) {
		state_free(s);
		return err;
	}
	d->priv = s;
	return 0;
}

static int uffd_collect(struct usm_dirty *d)
{
	struct uffd_state *s = d->priv;
	int err = atomic_load(&s->error);
	bool whole;

	if (err)
		return err;
	/* Only the marked pages were unprotected (by handle(), under the
	 * lock): taking the marks and protecting just those, under the lock,
	 * costs the written pages, not the range (a protect of 1 GiB is 20 ms
	 * here). */
	pthread_mutex_lock(&s->lock);
	err = usm_dirty_emit_bitmap(d, s->bits, s->pages);
	/* Many runs: one ioctl over the range beats one per run (1.5 us an
	 * ioctl against 0.08 us a page here). */
	whole = d->count > s->pages / 16;
	if (!err && whole)
		err = usm_os_uffd_writeprotect(s->uffd, d->start, d->end - d->start, true, false);
	for (size_t i = 0; i < d->count && !err && !whole; i++) {
		const struct usm_dirty_range *r = &d->out[i];

		err = usm_os_uffd_writeprotect(s->uffd, r->start, r->end - r->start, true, false);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int uffd_stop(struct usm_dirty *d)
{
	struct uffd_state *s = d->priv;
	int err;

	/* Unregistering lifts the protection and wakes any waiting writer. */
	err = usm_os_uffd_unregister(s->uffd, d->start, d->end - d->start);
	if (write(s->stop[1], "", 1) == 1)
		pthread_join(s->thread, NULL);
	state_free(s);
	return err;
}

const struct usm_dirty_ops usm_dirty_uffd_ops = {
	.id = USM_DIRTY_UFFD,
	.name = "uffd",
	.probe = uffd_probe,
	.start = uffd_start,
	.collect = uffd_collect,
	.stop = uffd_stop,
};
