/* Probes what the running kernel offers, once, through lib/os/. */
#include <usm/features.h>

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "os/pagemap.h"
#include "os/sysfs.h"
#include "os/uffd.h"

static void probe_uffd(struct usm_features *f)
{
	/* A full descriptor (kernel faults delivered) from the syscall or the
	 * device beats a user-mode-only one: syscalls such as read(2) into a
	 * missing page then wait for the handler instead of failing EFAULT. */
	int fd = usm_os_uffd_open(USM_UFFD_SYSCALL);

	if (fd >= 0) {
		f->uffd_syscall = true;
		f->uffd_kernel_faults = true;
	} else {
		fd = usm_os_uffd_open(USM_UFFD_SYSCALL_USER_ONLY);
		f->uffd_syscall = fd >= 0;
	}

	int dev = usm_os_uffd_open(USM_UFFD_DEVICE);
	if (dev >= 0) {
		f->uffd_dev = true;
		f->uffd_kernel_faults = true;
		if (fd < 0)
			fd = dev;
		else
			close(dev);
	}

	if (fd >= 0) {
		uint64_t ioctls = 0;
		if (usm_os_uffd_api(fd, 0, &f->uffd_features, &ioctls) == 0) {
			f->uffd_wp = f->uffd_features & UFFD_FEATURE_PAGEFAULT_FLAG_WP;
			f->uffd_wp_async = f->uffd_features & UFFD_FEATURE_WP_ASYNC;
		}
		close(fd);
	}

	if (usm_os_read_int("/proc/sys/vm/unprivileged_userfaultfd", &f->uffd_unprivileged) < 0)
		f->uffd_unprivileged = -1;
}

static void probe_pagemap(struct usm_features *f)
{
	int fd = usm_os_pagemap_open(0);
	uint64_t entry = 0;
	volatile char probe = 1;

	if (fd < 0)
		return;
	/* A present page of our own stack: its frame number reads as 0 when
	 * the caller lacks CAP_SYS_ADMIN. */
	if (usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)&probe, &entry, 1) == 0) {
		f->pagemap = true;
		f->pagemap_pfn = (entry & USM_PM_PRESENT) && (entry & USM_PM_PFN_MASK);
	}
	f->pagemap_scan = usm_os_pagemap_scan_supported(fd);
	close(fd);
}

int usm_features_probe(struct usm_features *f)
{
	struct utsname u;

	memset(f, 0, sizeof(*f));
	if (uname(&u) == 0)
		snprintf(f->kernel_release, sizeof(f->kernel_release), "%s", u.release);
	probe_uffd(f);
	probe_pagemap(f);
	if (usm_os_read_int("/proc/sys/kernel/perf_event_paranoid", &f->perf_event_paranoid) < 0)
		f->perf_event_paranoid = -99;
	return 0;
}
