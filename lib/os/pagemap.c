#include "os/pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/page.h"

/* PAGEMAP_SCAN's ABI, for building against uapi headers older than 6.7
 * (Debian 12 ships 6.1). Layout from include/uapi/linux/fs.h. */
#ifndef PAGEMAP_SCAN
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PAGE_IS_PRESENT
struct page_region {
	uint64_t start, end, categories;
};
#define PAGE_IS_PRESENT (1 << 3)
#endif

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

bool usm_os_pagemap_scan_supported(int fd)
{
	/* An empty range walks nothing: the ioctl either exists (0) or the
	 * kernel answers -ENOTTY. */
	struct pm_scan_arg arg = { .size = sizeof(arg), .start = 0, .end = 0 };

	return ioctl(fd, PAGEMAP_SCAN, &arg) >= 0;
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

static int present_by_scan(int fd, uint64_t start, uint64_t end, struct present_run *run)
{
	struct page_region *regions = malloc(SCAN_REGIONS * sizeof(*regions));
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)regions,
		.vec_len = SCAN_REGIONS,
		.category_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};
	int err = 0;

	if (!regions)
		return -ENOMEM;
	while (arg.start < end && !err) {
		int n = ioctl(fd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (int i = 0; i < n && !err; i++)
			err = run_add(run, regions[i].start, regions[i].end);
		/* walk_end is where a full vector stopped the walk. */
		if (arg.walk_end <= arg.start && !err)
			err = -EIO;
		arg.start = arg.walk_end;
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
