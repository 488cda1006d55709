/* Probes what the running kernel offers, once, through lib/os/. */
#include <usm/features.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/page.h"
#include "os/pagemap.h"
#include "os/perf_breakpoint.h"
#include "os/sysfs.h"
#include "os/thp.h"
#include "os/uffd.h"
/* the one probe above lib/os/: which backend dirty tracking's AUTO takes */
#include "supervisor/dirty_impl.h"

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
			f->uffd_sigbus = f->uffd_features & UFFD_FEATURE_SIGBUS;
			f->uffd_wp_unpopulated = f->uffd_features & UFFD_FEATURE_WP_UNPOPULATED;
			f->uffd_wp_shmem = f->uffd_features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
			f->uffd_poison = f->uffd_features & UFFD_FEATURE_POISON;
			f->uffd_move = f->uffd_features & UFFD_FEATURE_MOVE;
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

/* The soft-dirty bit works when clearing it (clear_refs 4) clears a written
 * page's pagemap bit 55 and the next write sets it again: a kernel without
 * CONFIG_MEM_SOFT_DIRTY reads the bit clear always. clear_refs clears the
 * whole process, so the probe runs in a child (raw syscalls only, as after
 * a fork of a threaded process): the caller's soft-dirty users, a dirty
 * tracker among them, are not disturbed. The child exits 0 when it works. */
static int soft_dirty_child(void)
{
	int fd = usm_os_pagemap_open(0);
	volatile char *p;
	uint64_t before = 0, cleared = USM_PM_SOFTDIRTY, after = 0;

	if (fd < 0)
		return 1;
	p = mmap(NULL, USM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	*p = 1;
	if (usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)p, &before, 1) ||
	    usm_os_clear_refs(0, USM_CLEAR_REFS_SOFT_DIRTY) ||
	    usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)p, &cleared, 1))
		return 1;
	*p = 2;
	if (usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)p, &after, 1))
		return 1;
	if (!(before & USM_PM_SOFTDIRTY) || (cleared & USM_PM_SOFTDIRTY))
		return 1;
	return after & USM_PM_SOFTDIRTY ? 0 : 1;
}

static bool probe_soft_dirty(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(soft_dirty_child());
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* MADV_COLLAPSE of one touched page at the start of a 2 MiB-aligned
 * stretch of an anonymous mapping that can hold a huge page: no whole huge
 * page in the range, so nothing to collapse and 0 from a kernel that knows
 * the advice, EINVAL from one that does not (or that has no THP). The
 * touch gives the mapping its anon_vma: without one the kernel refuses
 * the advice (EINVAL) on a mapping it would otherwise take. */
static bool probe_madv_collapse(void)
{
	uint64_t huge = usm_os_thp_pmd_size();
	char *p, *aligned;
	bool ok;

	if (huge == 0)
		return false;
	p = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	aligned = (char *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	*(volatile char *)aligned = 1;
	ok = madvise(aligned, USM_PAGE_SIZE, MADV_COLLAPSE) == 0;
	munmap(p, 2 * huge);
	return ok;
}

/* How many data breakpoints this thread gets at once (counting events on
 * distinct words: nothing is delivered). Stops at the first refusal:
 * -ENOSPC once the debug registers are taken. */
static int probe_hw_breakpoints(void)
{
	static volatile uint64_t words[8];
	int fds[8], n = 0;

	while (n < 8) {
		fds[n] = usm_os_perf_breakpoint_counting((uint64_t)(uintptr_t)&words[n], 8);
		if (fds[n] < 0)
			break;
		n++;
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return n;
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
	f->soft_dirty = probe_soft_dirty();
	f->madv_collapse = probe_madv_collapse();
	if (usm_os_thp_setting("enabled", f->thp_enabled, sizeof(f->thp_enabled)) < 0)
		f->thp_enabled[0] = '\0';
	f->hw_breakpoints = probe_hw_breakpoints();
	f->dirty_auto = usm_dirty_auto_backend(0);
	return 0;
}
