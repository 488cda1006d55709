/* What the running kernel offers usm, probed once through lib/os/.
 * Tools check these instead of failing deep inside a mechanism. */
#ifndef USM_FEATURES_H
#define USM_FEATURES_H

#include <stdbool.h>
#include <stdint.h>

struct usm_features {
	char kernel_release[65];

	/* userfaultfd */
	bool uffd_syscall;          /* userfaultfd(2) gave a descriptor */
	bool uffd_kernel_faults;    /* ... that also sees faults taken in the kernel */
	bool uffd_dev;              /* /dev/userfaultfd could be opened */
	int uffd_unprivileged;      /* vm.unprivileged_userfaultfd, -1 if unknown */
	uint64_t uffd_features;     /* UFFDIO_API features the kernel offers */
	bool uffd_wp;               /* write-protect of anonymous memory */
	bool uffd_wp_async;         /* UFFD_FEATURE_WP_ASYNC (written bits without faults) */

	/* page tables */
	bool pagemap;               /* /proc/self/pagemap readable */
	bool pagemap_pfn;           /* ... with frame numbers (needs CAP_SYS_ADMIN) */
	bool pagemap_scan;          /* PAGEMAP_SCAN ioctl (Linux 6.7+) */

	/* tracing */
	int perf_event_paranoid;    /* kernel.perf_event_paranoid, -99 if unknown */

	/* supervisor mechanisms (docs/supervisor.md); last, so that the
	 * fields above keep their offsets */
	bool soft_dirty;            /* clear_refs 4 clears pagemap bit 55, a write sets it */
	bool uffd_sigbus;           /* UFFD_FEATURE_SIGBUS (faults as SIGBUS, no handler thread) */
	bool uffd_wp_unpopulated;   /* UFFD_FEATURE_WP_UNPOPULATED (6.4+) */
	bool uffd_wp_shmem;         /* UFFD_FEATURE_WP_HUGETLBFS_SHMEM (6.0+) */
	bool madv_collapse;         /* MADV_COLLAPSE known (6.1+, with THP) */
	char thp_enabled[16];       /* transparent_hugepage/enabled: "always", "madvise",
	                               "never"; "" without THP */
	int hw_breakpoints;         /* data breakpoints perf_event_open gives one thread at
	                               once (0: none, the VM or paranoid forbids them) */
	int dirty_auto;             /* enum usm_dirty_backend USM_DIRTY_AUTO picks for this
	                               process (USM_DIRTY_AUTO: none works) */

	/* the pager's newer userfaultfd calls (docs/run.md) */
	bool uffd_poison;           /* UFFD_FEATURE_POISON: UFFDIO_POISON (6.6+) */
	bool uffd_move;             /* UFFD_FEATURE_MOVE: UFFDIO_MOVE (6.8+) */
};

/* Fills *f; never fails as a whole: a probe that fails leaves its field
 * false. Returns 0. The soft-dirty probe clears soft-dirty bits in a
 * short-lived child, never in the calling process. */
int usm_features_probe(struct usm_features *f);

#endif
