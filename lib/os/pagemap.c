#include "os/pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/page.h"

/* PAGEMAP_SCAN's ABI, for building against uapi headers older than 6.7
 * (Debian 12 ships 6.1). Layout from include/uapi/linux/fs.h; the
 * categories and flags are in pagemap.h under USM_ names. */
struct usm_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define USM_PAGEMAP_SCAN _IOWR('f', 16, struct usm_pm_scan_arg)

/* Entries per pread of the fallback: 512 KiB, 256 MiB of address space. */
#define READ_CHUNK 65536
/* Regions per PAGEMAP_SCAN call. */
#define SCAN_REGIONS 512

int usm_os_pagemap_open(pid_t pid)
{
	char path[64];
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int usm_os_pagemap_read(int fd, uint64_t addr, uint64_t *entries, size_t count)
{
	size_t want = count * sizeof(*entries);
	off_t off = (off_t)((addr >> USM_PAGE_SHIFT) * sizeof(*entries));
	size_t done = 0;

	while (done < want) {
		ssize_t n = pread(fd, (char *)entries + done, want - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return done ? -EIO : -ESRCH;
		done += (size_t)n;
	}
	return 0;
}

bool usm_os_pagemap_shows_pfn(void)
{
	int fd = usm_os_pagemap_open(0);
	volatile char probe = 1;
	uint64_t e = 0;
	bool shown;

	if (fd < 0)
		return false;
	shown = usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)&probe, &e, 1) == 0 &&
		(e & USM_PM_PRESENT) && (e & USM_PM_PFN_MASK) && probe;
	close(fd);
	return shown;
}

bool usm_os_pagemap_scan_supported(int fd)
{
	/* An empty range walks nothing: the ioctl either exists (0) or the
	 * kernel answers -ENOTTY. */
	struct usm_pm_scan_arg arg = { .size = sizeof(arg), .start = 0, .end = 0 };

	return ioctl(fd, USM_PAGEMAP_SCAN, &arg) >= 0;
}

/* Runs are reported whole even when they straddle two reads or scans. */
struct present_run {
	uint64_t start, end;
	usm_os_present_fn fn;
	void *ctx;
};

static int run_add(struct present_run *r, uint64_t start, uint64_t end)
{
	int err = 0;

	if (r->end > r->start && r->end == start) {
		r->end = end;
		return 0;
	}
	if (r->end > r->start)
		err = r->fn(r->ctx, r->start, r->end);
	r->start = start;
	r->end = end;
	return err;
}

static int run_flush(struct present_run *r)
{
	return r->end > r->start ? r->fn(r->ctx, r->start, r->end) : 0;
}

static int present_by_read(int fd, uint64_t start, uint64_t end, struct present_run *run)
{
	uint64_t pages = (end - start) >> USM_PAGE_SHIFT;
	size_t cap = pages < READ_CHUNK ? (size_t)pages : READ_CHUNK;
	uint64_t *e;
	int err = 0;

	if (!cap)
		return 0;
	e = malloc(cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (uint64_t addr = start; addr < end && !err;) {
		size_t count = (end - addr) >> USM_PAGE_SHIFT;

		if (count > cap)
			count = cap;
		err = usm_os_pagemap_read(fd, addr, e, count);
		for (size_t i = 0; i < count && !err;) {
			size_t j = i;

			/* Sparse mappings (sanitizer shadows: terabytes) are
			 * mostly absent: skip eight entries at a time. */
			if (i + 8 <= count &&
			    !((e[i] | e[i + 1] | e[i + 2] | e[i + 3] | e[i + 4] | e[i + 5] | e[i + 6] |
			       e[i + 7]) & USM_PM_PRESENT)) {
				i += 8;
				continue;
			}
			while (j < count && (e[j] & USM_PM_PRESENT))
				j++;
			if (j > i)
				err = run_add(run, addr + i * USM_PAGE_SIZE,
					      addr + j * USM_PAGE_SIZE);
			i = j + 1;
		}
		addr += count * USM_PAGE_SIZE;
	}
	free(e);
	return err;
}

int usm_os_pagemap_scan(int fd, uint64_t start, uint64_t end, const struct usm_os_pm_scan *q,
			struct usm_os_pm_region *vec, size_t vec_len, uint64_t *walk_end)
{
	struct usm_pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = q->flags,
		.start = start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)vec,
		.vec_len = vec_len,
		.category_inverted = q->category_inverted,
		.category_mask = q->category_mask,
		.category_anyof_mask = q->category_anyof_mask,
		.return_mask = q->return_mask,
	};
	int n;

	_Static_assert(sizeof(struct usm_os_pm_region) == 24, "struct page_region");
	do
		n = ioctl(fd, USM_PAGEMAP_SCAN, &arg);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*walk_end = arg.walk_end;
	return n;
}

static int present_by_scan(int fd, uint64_t start, uint64_t end, struct present_run *run)
{
	struct usm_os_pm_region *regions = malloc(SCAN_REGIONS * sizeof(*regions));
	const struct usm_os_pm_scan q = {
		.category_mask = USM_PAGE_IS_PRESENT,
		.return_mask = USM_PAGE_IS_PRESENT,
	};
	int err = 0;

	if (!regions)
		return -ENOMEM;
	while (start < end && !err) {
		uint64_t walk_end;
		int n = usm_os_pagemap_scan(fd, start, end, &q, regions, SCAN_REGIONS, &walk_end);

		if (n < 0) {
			err = n;
			break;
		}
		for (int i = 0; i < n && !err; i++)
			err = run_add(run, regions[i].start, regions[i].end);
		/* walk_end is where a full vector stopped the walk. */
		if (walk_end <= start && !err)
			err = -EIO;
		start = walk_end;
	}
	free(regions);
	return err;
}

int usm_os_pagemap_for_each_present(int fd, uint64_t start, uint64_t end, bool scan,
				    usm_os_present_fn fn, void *ctx)
{
	struct present_run run = { .fn = fn, .ctx = ctx };
	int err;

	if (start >= end)
		return 0;
	err = scan ? present_by_scan(fd, start, end, &run) : present_by_read(fd, start, end, &run);
	return err ? err : run_flush(&run);
}

static void clear_refs_path(pid_t pid, char *path, size_t size)
{
	if (pid)
		snprintf(path, size, "/proc/%d/clear_refs", (int)pid);
	else
		snprintf(path, size, "/proc/self/clear_refs");
}

int usm_os_clear_refs(pid_t pid, int what)
{
	char path[64], val[16];
	int fd, len;
	ssize_t n;

	clear_refs_path(pid, path, sizeof(path));
	len = snprintf(val, sizeof(val), "%d", what);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, val, (size_t)len);
	while (n < 0 && errno == EINTR);
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

int usm_os_clear_refs_access(pid_t pid)
{
	char path[64];
	int fd;

	clear_refs_path(pid, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

bool usm_os_soft_dirty_supported(void)
{
	int fd = usm_os_pagemap_open(0);
	uint64_t entry = 0;
	char *p;
	bool ok = false;

	if (fd < 0)
		return false;
	p = mmap(NULL, USM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		*(volatile char *)p = 1;
		ok = usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)p, &entry, 1) == 0 &&
		     (entry & USM_PM_SOFTDIRTY);
		munmap(p, USM_PAGE_SIZE);
	}
	close(fd);
	return ok;
}

int usm_os_kpageflags_open(void)
{
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int usm_os_kpageflags_read(int fd, uint64_t pfn, uint64_t *flags, size_t count)
{
	/* Same layout as pagemap: one 64-bit word per frame; a frame past
	 * the last one reads as nothing (-EIO here). */
	int err = usm_os_pagemap_read(fd, pfn << USM_PAGE_SHIFT, flags, count);

	return err == -ESRCH ? -EIO : err;
}
