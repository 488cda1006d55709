/* Dirty tracking by the soft-dirty bit: pagemap bit 55 (or PAGEMAP_SCAN's
 * PAGE_IS_SOFT_DIRTY) read, then every bit of the process cleared by
 * writing 4 to /proc/PID/clear_refs. Works on another process.
 *
 * Reading and clearing are two steps: a write between them would be
 * cleared unseen. For this process the collect closes that window with a
 * fence: the range is registered for synchronous userfaultfd
 * write-protect (unpopulated ptes included, WP_UNPOPULATED) and protected
 * across read + clear, so a racing write waits in the kernel until the
 * clear is done and then sets the bit again. Without the fence (another
 * process, no userfaultfd, no WP_UNPOPULATED, the range registered
 * elsewhere) the tracker reports USM_DIRTY_RACY_COLLECT. */
#include "supervisor/dirty_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/page.h"
#include "os/pagemap.h"
#include "os/procfs.h"
#include "os/smaps.h"
#include "os/uffd.h"

#define SCAN_REGIONS 512
#define READ_CHUNK   4096 /* pagemap entries per read: 16 MiB of address space */
#define MAX_TRACKED  64

struct softdirty_state {
	int pagemap;
	int fence;  /* sync uffd-wp descriptor of this process's range, or -1 */
	bool scan;  /* read through PAGEMAP_SCAN */
	union {
		struct usm_os_pm_region *vec;
		uint64_t *entries;
	};
};

/* clear_refs clears the whole process: one tracker per process, or each
 * collect would clear the bits another tracker has not read yet. */
static pthread_mutex_t owners_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t owners[MAX_TRACKED];
static bool owners_used[MAX_TRACKED];

static int claim(pid_t pid)
{
	int err = -EBUSY, slot = -1;

	pthread_mutex_lock(&owners_lock);
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (owners_used[i] && owners[i] == pid)
			goto out;
		if (!owners_used[i] && slot < 0)
			slot = i;
	}
	if (slot >= 0) {
		owners_used[slot] = true;
		owners[slot] = pid;
		err = 0;
	}
out:
	pthread_mutex_unlock(&owners_lock);
	return err;
}

static void release(pid_t pid)
{
	pthread_mutex_lock(&owners_lock);
	for (int i = 0; i < MAX_TRACKED; i++)
		if (owners_used[i] && owners[i] == pid)
			owners_used[i] = false;
	pthread_mutex_unlock(&owners_lock);
}

static int softdirty_probe(pid_t pid, unsigned without, unsigned *caps, const char **why)
{
	int fd, err;

	(void)without;
	fd = usm_os_pagemap_open(pid);
	if (fd < 0) {
		*why = "cannot open the process's pagemap";
		return fd;
	}
	close(fd);
	if (!usm_os_soft_dirty_supported()) {
		*why = "the kernel has no soft-dirty bit (CONFIG_MEM_SOFT_DIRTY)";
		return -ENOSYS;
	}
	err = usm_os_clear_refs_access(pid);
	if (err) {
		*why = "cannot write the process's clear_refs";
		return err == -EACCES ? -EPERM : err;
	}
	/* False positives: a VMA mapped or moved (mmap, mremap) after the
	 * last clear reads soft-dirty as a whole. */
	*caps = USM_DIRTY_OTHER_PROCESS | USM_DIRTY_SHARED | USM_DIRTY_HUGE_AS_PAGES |
		USM_DIRTY_FALSE_POSITIVES | USM_DIRTY_PROCESS_WIDE;
	if (pid)
		*caps |= USM_DIRTY_RACY_COLLECT;
	return 0;
}

/* The fence: a sync uffd-wp registration, protected only during collects. */
static int fence_open(struct usm_dirty *d)
{
	uint64_t want = UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	uint64_t got = 0;
	int fd, err;

	if (d->without & USM_DIRTY_WITHOUT_WP_UNPOPULATED)
		return -ENOSYS;
	fd = usm_dirty_uffd_open(UFFD_FEATURE_WP_UNPOPULATED, want, &got);
	if (fd < 0)
		return fd;
	err = usm_os_uffd_register_wp_only(fd, d->start, d->end - d->start, NULL);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Entry by entry over the mapped parts of the range: a range may span
 * holes (a whole address space, say), and pagemap would give a zero entry
 * for each of their pages. */
static int read_entries(struct usm_dirty *d, struct softdirty_state *s)
{
	struct usm_os_maps it;
	struct usm_os_mapping m;
	char *maps;
	int err = usm_os_proc_read_maps(d->pid, &maps);

	if (err)
		return err;
	usm_os_maps_init(&it, maps);
	while (!err && usm_os_maps_next(&it, &m) > 0) {
		uint64_t start = m.start > d->start ? m.start : d->start;
		uint64_t end = m.end < d->end ? m.end : d->end;

		for (uint64_t addr = start; addr < end && !err && !m.vsyscall;) {
			size_t n = (end - addr) / USM_PAGE_SIZE;

			if (n > READ_CHUNK)
				n = READ_CHUNK;
			err = usm_os_pagemap_read(s->pagemap, addr, s->entries, n);
			for (size_t i = 0; i < n && !err; i++) {
				uint64_t e = s->entries[i];

				if ((e & USM_PM_SOFTDIRTY) && (e & (USM_PM_PRESENT | USM_PM_SWAPPED)))
					err = usm_dirty_emit(d, addr + i * USM_PAGE_SIZE,
							     addr + (i + 1) * USM_PAGE_SIZE);
			}
			addr += n * USM_PAGE_SIZE;
		}
	}
	free(maps);
	return err;
}

static int read_dirty(struct usm_dirty *d, struct softdirty_state *s)
{
	if (s->scan) {
		const struct usm_os_pm_scan q = {
			.category_mask = USM_PAGE_IS_SOFT_DIRTY,
			.category_anyof_mask = USM_PAGE_IS_PRESENT | USM_PAGE_IS_SWAPPED,
			.return_mask = USM_PAGE_IS_SOFT_DIRTY,
		};

		return usm_dirty_emit_scan(d, s->pagemap, &q, s->vec, SCAN_REGIONS);
	}
	return read_entries(d, s);
}

static int softdirty_start(struct usm_dirty *d)
{
	struct softdirty_state *s;
	int err = claim(d->pid);

	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s) {
		release(d->pid);
		return -ENOMEM;
	}
	s->fence = -1;
	s->pagemap = usm_os_pagemap_open(d->pid);
	err = s->pagemap < 0 ? s->pagemap : 0;
	if (!err) {
		s->scan = !(d->without & USM_DIRTY_WITHOUT_PAGEMAP_SCAN) &&
			  usm_os_pagemap_scan_supported(s->pagemap);
		s->vec = s->scan ? (void *)malloc(SCAN_REGIONS * sizeof(*s->vec))
				 : (void *)malloc(READ_CHUNK * sizeof(*s->entries));
		err = s->vec ? 0 : -ENOMEM;
	}
	if (!err && !d->pid) {
		s->fence = fence_open(d);
		if (s->fence < 0)
			d->caps |= USM_DIRTY_RACY_COLLECT;
	}
	if (!err)
		err = usm_os_clear_refs(d->pid, USM_CLEAR_REFS_SOFT_DIRTY);
	if (err) {
		if (s->fence >= 0)
			close(s->fence);
		if (s->pagemap >= 0)
			close(s->pagemap);
		free(s->vec);
		free(s);
		release(d->pid);
		return err;
	}
	d->priv = s;
	return 0;
}

static int softdirty_collect(struct usm_dirty *d)
{
	struct softdirty_state *s = d->priv;
	uint64_t len = d->end - d->start;
	int err = 0, err2;

	if (s->fence >= 0)
		err = usm_os_uffd_writeprotect(s->fence, d->start, len, true, false);
	if (!err)
		err = read_dirty(d, s);
	if (!err)
		err = usm_os_clear_refs(d->pid, USM_CLEAR_REFS_SOFT_DIRTY);
	if (s->fence >= 0) {
		/* Lift the fence whatever happened: writers wait behind it. */
		err2 = usm_os_uffd_writeprotect(s->fence, d->start, len, false, true);
		if (!err)
			err = err2;
	}
	return err;
}

static int softdirty_stop(struct usm_dirty *d)
{
	struct softdirty_state *s = d->priv;
	int err = 0;

	if (s->fence >= 0) {
		err = usm_os_uffd_unregister(s->fence, d->start, d->end - d->start);
		close(s->fence);
	}
	close(s->pagemap);
	free(s->vec);
	free(s);
	release(d->pid);
	return err;
}

const struct usm_dirty_ops usm_dirty_softdirty_ops = {
	.id = USM_DIRTY_SOFTDIRTY,
	.name = "softdirty",
	.probe = softdirty_probe,
	.start = softdirty_start,
	.collect = softdirty_collect,
	.stop = softdirty_stop,
};
