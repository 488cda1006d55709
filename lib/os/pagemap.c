#include "os/pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* PAGEMAP_SCAN's ABI, for building against uapi headers older than 6.7
 * (Debian 12 ships 6.1). Layout from include/uapi/linux/fs.h. */
#ifndef PAGEMAP_SCAN
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#define PAGE_SHIFT 12

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
	off_t off = (off_t)((addr >> PAGE_SHIFT) * sizeof(*entries));
	size_t done = 0;

	while (done < want) {
		ssize_t n = pread(fd, (char *)entries + done, want - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
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
