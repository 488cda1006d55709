/* The bare scan mechanism (bench_bare.h): the same system calls as
 * lib/supervisor/dirty_scan.c, through libusm's raw layer (lib/os/, one
 * system call each), with nothing around them. */
#include "bench_bare.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "os/pagemap.h"
#include "os/uffd.h"

#define PAGE    4096UL
#define REGIONS 512

struct bare_scan {
	uint64_t start, end;
	int uffd, pagemap;
	struct usm_os_pm_region vec[REGIONS];
};

int bare_scan_start(void *start, size_t len, struct bare_scan **out)
{
	const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	struct bare_scan *s = calloc(1, sizeof(*s));
	uint64_t features = 0;
	int err;

	if (!s)
		return -ENOMEM;
	s->start = (uint64_t)(uintptr_t)start;
	s->end = s->start + len;
	s->pagemap = usm_os_pagemap_open(0);
	s->uffd = usm_os_uffd_open(USM_UFFD_SYSCALL);
	err = s->pagemap < 0 ? s->pagemap : s->uffd < 0 ? s->uffd : 0;
	if (!err)
		err = usm_os_uffd_api(s->uffd, want, &features, NULL);
	if (!err && (features & want) != want)
		err = -ENOSYS;
	if (!err)
		err = usm_os_uffd_register_wp_only(s->uffd, s->start, len, NULL);
	if (!err)
		err = usm_os_uffd_writeprotect(s->uffd, s->start, len, true, false);
	if (err) {
		bare_scan_stop(s);
		return err == -EINVAL ? -ENOSYS : err;
	}
	*out = s;
	return 0;
}

long bare_scan_collect(struct bare_scan *s)
{
	const struct usm_os_pm_scan q = {
	        .flags = USM_PM_SCAN_WP_MATCHING | USM_PM_SCAN_CHECK_WPASYNC,
	        .category_mask = USM_PAGE_IS_WRITTEN,
	        .category_anyof_mask = USM_PAGE_IS_PRESENT | USM_PAGE_IS_SWAPPED,
	        .return_mask = USM_PAGE_IS_WRITTEN,
	};
	long pages = 0;

	for (uint64_t addr = s->start; addr < s->end;) {
		uint64_t walk_end = s->end;
		int n = usm_os_pagemap_scan(s->pagemap, addr, s->end, &q, s->vec, REGIONS,
		                            &walk_end);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			pages += (long)((s->vec[i].end - s->vec[i].start) / PAGE);
		if (walk_end <= addr)
			return -EIO;
		addr = walk_end;
	}
	return pages;
}

void bare_scan_stop(struct bare_scan *s)
{
	if (s->uffd >= 0)
		close(s->uffd); /* unregisters, and the protection goes with it */
	if (s->pagemap >= 0)
		close(s->pagemap);
	free(s);
}
