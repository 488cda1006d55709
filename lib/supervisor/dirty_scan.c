/* Dirty tracking by async userfaultfd write-protect read back with
 * PAGEMAP_SCAN (Linux 6.7+): writes never trap (the kernel only clears the
 * pte's uffd-wp bit), and one ioctl with PM_SCAN_WP_MATCHING reports the
 * written pages and protects them again in the same page-table walk. */
#include "supervisor/dirty_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "os/inject.h"
#include "os/pagemap.h"
#include "os/uffd.h"

#define SCAN_REGIONS 512
#define MAX_TARGETS  64

struct scan_state {
	/* this process's descriptor, or one of another process's (injected),
	 * or -1: another process that registered the range itself */
	int uffd;
	pid_t injected; /* the uffd is shared_uffd()'s for this pid */
	int pagemap;
	struct usm_os_pm_region *vec;
};

/* The userfaultfds created inside other processes: one per target,
 * shared by its trackers (each injection stops the target once). */
static pthread_mutex_t targets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	pid_t pid;
	int uffd, users;
} targets[MAX_TARGETS];

static int shared_uffd(pid_t pid)
{
	int fd, slot = -1, err;

	pthread_mutex_lock(&targets_lock);
	for (int i = 0; i < MAX_TARGETS; i++) {
		if (targets[i].users && targets[i].pid == pid) {
			targets[i].users++;
			fd = targets[i].uffd;
			goto out;
		}
		if (!targets[i].users && slot < 0)
			slot = i;
	}
	fd = slot < 0 ? -EBUSY : usm_os_inject_userfaultfd(pid);
	if (fd >= 0) {
		err = usm_os_uffd_api(fd, UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, NULL,
		                      NULL);
		if (err) {
			close(fd);
			fd = err;
		}
	}
	if (fd >= 0)
		targets[slot] = (typeof(targets[0])){.pid = pid, .uffd = fd, .users = 1};
out:
	pthread_mutex_unlock(&targets_lock);
	return fd;
}

static void put_shared_uffd(pid_t pid)
{
	pthread_mutex_lock(&targets_lock);
	for (int i = 0; i < MAX_TARGETS; i++)
		if (targets[i].users && targets[i].pid == pid && !--targets[i].users)
			close(targets[i].uffd); /* unregisters whatever is left */
	pthread_mutex_unlock(&targets_lock);
}

/* Registers [start, start+len) of fd's process for async write-protect
 * and protects it all, unpopulated ptes too (they get markers). */
static int arm(int fd, uint64_t start, uint64_t len)
{
	int err = usm_os_uffd_register_wp_only(fd, start, len, NULL);

	return err ? err : usm_os_uffd_writeprotect(fd, start, len, true, false);
}

static int scan_probe(pid_t pid, unsigned without, unsigned *caps, const char **why)
{
	uint64_t got = 0;
	int fd;
	bool ok;

	if (without & (USM_DIRTY_WITHOUT_PAGEMAP_SCAN | USM_DIRTY_WITHOUT_WP_ASYNC |
	               USM_DIRTY_WITHOUT_WP_UNPOPULATED)) {
		*why = "needs PAGEMAP_SCAN, UFFD_FEATURE_WP_ASYNC and WP_UNPOPULATED (Linux 6.7+)";
		return -ENOSYS;
	}
	fd = usm_os_pagemap_open(pid);
	if (fd < 0) {
		*why = "cannot open the process's pagemap";
		return fd;
	}
	ok = usm_os_pagemap_scan_supported(fd);
	close(fd);
	if (!ok) {
		*why = "the kernel has no PAGEMAP_SCAN (Linux 6.7+)";
		return -ENOSYS;
	}
	/* The kernel splits a THP at its first async write-protect fault
	 * (wp_huge_pmd), so writes come back page by page. */
	*caps = USM_DIRTY_SPLITS_HUGE;
	if (pid) {
		/* The target must have registered the range itself: checked
		 * by start, which knows the range. */
		*caps |= USM_DIRTY_OTHER_PROCESS | USM_DIRTY_SHARED;
		return 0;
	}
	fd = usm_dirty_uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	                         UFFD_FEATURE_WP_HUGETLBFS_SHMEM, &got);
	if (fd < 0) {
		*why = fd == -ENOSYS ? "the kernel has no UFFD_FEATURE_WP_ASYNC (Linux 6.7+)"
		                     : "no userfaultfd for this user";
		return fd;
	}
	close(fd);
	*caps |= USM_DIRTY_USES_UFFD;
	if (got & UFFD_FEATURE_WP_HUGETLBFS_SHMEM)
		*caps |= USM_DIRTY_SHARED;
	return 0;
}

/* One walk over the range: with a vector, the written pages found (each
 * present or swapped: an unpopulated pte without a marker counts as
 * "written" to the kernel but holds nothing); without one, protect only. */
static int scan_walk(struct usm_dirty *d, struct scan_state *s, bool report)
{
	const struct usm_os_pm_scan q = {
	        .flags = USM_PM_SCAN_WP_MATCHING | USM_PM_SCAN_CHECK_WPASYNC,
	        .category_mask = USM_PAGE_IS_WRITTEN,
	        .category_anyof_mask = report ? USM_PAGE_IS_PRESENT | USM_PAGE_IS_SWAPPED : 0,
	        .return_mask = USM_PAGE_IS_WRITTEN,
	};

	return usm_dirty_emit_scan(d, s->pagemap, &q, report ? s->vec : NULL, SCAN_REGIONS);
}

static int scan_start(struct usm_dirty *d)
{
	struct scan_state *s = calloc(1, sizeof(*s));
	uint64_t len = d->end - d->start;
	int err;

	if (!s)
		return -ENOMEM;
	s->uffd = -1;
	s->pagemap = usm_os_pagemap_open(d->pid);
	s->vec = malloc(SCAN_REGIONS * sizeof(*s->vec));
	err = s->pagemap < 0 ? s->pagemap : !s->vec ? -ENOMEM : 0;
	if (!err && !d->pid) {
		s->uffd = usm_dirty_uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
		                              UFFD_FEATURE_WP_HUGETLBFS_SHMEM, NULL);
		err = s->uffd < 0 ? s->uffd : arm(s->uffd, d->start, len);
	} else if (!err) {
		/* Another process: a range it registered itself is WP-async
		 * (CHECK_WPASYNC fails -EPERM otherwise); or we register it
		 * through a descriptor created inside it. */
		err = scan_walk(d, s, false);
		if (err == -EPERM && (d->options & USM_DIRTY_INJECT_UFFD)) {
			s->uffd = shared_uffd(d->pid);
			err = s->uffd < 0 ? s->uffd : 0;
			s->injected = err ? 0 : d->pid;
			err = err ? err : arm(s->uffd, d->start, len);
		} else if (err == -EPERM) {
			err = -EOPNOTSUPP;
		}
	}
	if (err) {
		if (s->injected)
			put_shared_uffd(s->injected);
		else if (s->uffd >= 0)
			close(s->uffd); /* closing the descriptor unregisters */
		if (s->pagemap >= 0)
			close(s->pagemap);
		free(s->vec);
		free(s);
		return err;
	}
	d->priv = s;
	return 0;
}

static int scan_collect(struct usm_dirty *d)
{
	return scan_walk(d, d->priv, true);
}

static int scan_stop(struct usm_dirty *d)
{
	struct scan_state *s = d->priv;
	int err = 0;

	if (s->uffd >= 0) {
		/* Unregistering lifts the protection of every page. A mapping
		 * another process has unmapped since has nothing left to undo. */
		err = usm_os_uffd_unregister(s->uffd, d->start, d->end - d->start);
		if (s->injected) {
			err = err == -EINVAL || err == -ENOMEM || err == -ESRCH ? 0 : err;
			put_shared_uffd(s->injected);
		} else {
			close(s->uffd);
		}
	}
	close(s->pagemap);
	free(s->vec);
	free(s);
	return err;
}

const struct usm_dirty_ops usm_dirty_scan_ops = {
        .id = USM_DIRTY_SCAN,
        .name = "scan",
        .probe = scan_probe,
        .start = scan_start,
        .collect = scan_collect,
        .stop = scan_stop,
};
