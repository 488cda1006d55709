/* Dirty tracking: which pages of a range were written since the last look,
 * in this process or another one, through the best mechanism the kernel has.
 *
 * A tracker covers one page-aligned range. usm_dirty_collect() returns the
 * pages written since the previous collect (or the start) and re-arms the
 * range in the same step, so that a write racing with a collect is reported
 * by this collect or by the next one, never lost (unless the backend says
 * USM_DIRTY_RACY_COLLECT, see below). A page is "written" when a store hit
 * it through this mapping; a page dropped since (MADV_DONTNEED, munmap) is
 * not reported: it holds no data any more.
 *
 * Backends (see docs/supervisor.md for how they compare):
 *   scan       async userfaultfd write-protect (UFFD_FEATURE_WP_ASYNC) read
 *              and re-armed by one PAGEMAP_SCAN with PM_SCAN_WP_MATCHING
 *              (Linux 6.7+). Writes never trap; a collect is one ioctl.
 *   softdirty  the soft-dirty bit: pagemap bit 55, cleared by writing 4 to
 *              /proc/PID/clear_refs. Works on another process.
 *   uffd       synchronous userfaultfd write-protect: the first write to a
 *              page after a collect traps to a handler thread.
 *   mprotect   mprotect(PROT_READ) + a SIGSEGV handler: the portable baseline.
 *              Each written page splits a VMA: past vm.max_map_count the
 *              kernel refuses (-ENOMEM, reported by collect).
 *
 * A tracker is used by one thread at a time (the program's other threads
 * write the range meanwhile as they like). Functions return 0 (or a count)
 * or a negative errno and never print. */
#ifndef USM_DIRTY_H
#define USM_DIRTY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum usm_dirty_backend {
	USM_DIRTY_AUTO = 0,  /* the best one available: scan, softdirty, uffd, mprotect */
	USM_DIRTY_SCAN,
	USM_DIRTY_SOFTDIRTY,
	USM_DIRTY_UFFD,
	USM_DIRTY_MPROTECT,
	USM_DIRTY_BACKENDS
};

/* What a backend can and cannot do: reported by usm_dirty_probe() and, for
 * a running tracker, by usm_dirty_caps(). */
/* can track another process (pid != 0) */
#define USM_DIRTY_OTHER_PROCESS (1u << 0)
/* tracks shared memory (shmem, MAP_SHARED files): writes through this mapping only */
#define USM_DIRTY_SHARED (1u << 1)
/* a written huge page is reported as all of its base pages */
#define USM_DIRTY_HUGE_AS_PAGES (1u << 2)
/* may report pages that were not written */
#define USM_DIRTY_FALSE_POSITIVES (1u << 3)
/* a write racing with a collect may be lost (the re-arm is not atomic) */
#define USM_DIRTY_RACY_COLLECT (1u << 4)
/* re-arming clears state of the whole process: one such tracker per process,
 * and other users of that state are disturbed */
#define USM_DIRTY_PROCESS_WIDE (1u << 5)
/* the first write to a page after a collect traps to userspace */
#define USM_DIRTY_TRAPS_WRITES (1u << 6)
/* changes the range's protection: the program must not mprotect it itself */
#define USM_DIRTY_OWNS_PROTECTION (1u << 7)
/* each written page costs a VMA: collect fails -ENOMEM past vm.max_map_count */
#define USM_DIRTY_VMA_LIMIT (1u << 8)
/* registers the range with userfaultfd: start fails -EBUSY where another user did */
#define USM_DIRTY_USES_UFFD (1u << 9)
/* a written transparent huge page is split into base pages (reported exactly,
 * its huge mapping lost) */
#define USM_DIRTY_SPLITS_HUGE (1u << 10)

/* Kernel features to do without, as if the kernel lacked them: to test the
 * fallbacks of older kernels (Debian 12's 6.1) on a newer one. */
#define USM_DIRTY_WITHOUT_PAGEMAP_SCAN   (1u << 0) /* Linux 6.7 */
#define USM_DIRTY_WITHOUT_WP_ASYNC       (1u << 1) /* Linux 6.7 */
#define USM_DIRTY_WITHOUT_WP_UNPOPULATED (1u << 2) /* Linux 6.4 */

/* Options. */
/* scan on another process whose range it has not registered itself:
 * create a userfaultfd inside it (one of its threads is stopped with
 * ptrace for the two system calls this takes, then resumed as it was) and
 * register the range for async write-protect from here. The trackers of
 * one process share that descriptor; closing the last one unregisters
 * everything. With USM_DIRTY_AUTO, taken for another process when
 * softdirty is not there. */
#define USM_DIRTY_INJECT_UFFD (1u << 0)

struct usm_dirty_config {
	enum usm_dirty_backend backend; /* USM_DIRTY_AUTO or one to force */
	pid_t pid;                      /* 0: this process; else needs ptrace access */
	unsigned without;               /* USM_DIRTY_WITHOUT_* */
	unsigned options;               /* USM_DIRTY_INJECT_UFFD */
};

struct usm_dirty_range {
	uint64_t start, end; /* [start, end), page-aligned */
};

struct usm_dirty;

/* "scan", "softdirty", "uffd", "mprotect" ("auto" for USM_DIRTY_AUTO). */
const char *usm_dirty_backend_name(enum usm_dirty_backend b);

/* Whether backend b (not AUTO) works here for pid (0 = self). Returns 0 and
 * sets *caps, or a negative errno and points *why (if not NULL) at a static
 * sentence: -ENOSYS the kernel lacks the feature (or `without` says so),
 * -EPERM no permission (userfaultfd, clear_refs), -EOPNOTSUPP the backend
 * cannot do another process, -ESRCH no such process. */
int usm_dirty_probe(enum usm_dirty_backend b, pid_t pid, unsigned without, unsigned *caps,
		    const char **why);

/* Starts tracking [start, start+len) (page-aligned, len > 0) of c->pid: every
 * page of it counts as clean from now on. The range must be mapped and, for
 * the backends that protect it, anonymous (or shared, where the backend has
 * USM_DIRTY_SHARED) and read-write (softdirty cannot check: clear_refs has
 * no range). Returns 0 and *out, or a negative errno: -EINVAL bad range
 * (or not mapped: -ENOMEM from mprotect), the probe's errors for a forced
 * backend, -EBUSY another tracker holds a process-wide backend for this
 * process (softdirty) or the range is already registered with userfaultfd,
 * -EOPNOTSUPP a forced scan backend on another process whose range that
 * process has not registered for async write-protect itself (unless
 * USM_DIRTY_INJECT_UFFD), -ENOMEM. */
int usm_dirty_start(const struct usm_dirty_config *c, uint64_t start, uint64_t len,
		    struct usm_dirty **out);

/* The backend chosen and its USM_DIRTY_* capabilities. */
enum usm_dirty_backend usm_dirty_backend(const struct usm_dirty *d);
unsigned usm_dirty_caps(const struct usm_dirty *d);

/* Collects the pages written since the last collect and re-arms the range.
 * Returns the number of ranges, in ascending order, adjacent ones merged,
 * and points *ranges at them (owned by the tracker, valid until the next
 * collect or stop). Errors: -ENOMEM from the mprotect backend when the
 * kernel's VMA limit refused to unprotect a written page: the range was
 * then unprotected whole, every page of it must be taken as written, and
 * the range is re-armed; -ESRCH the tracked process has exited; other
 * negative errnos of the mechanism (the tracker is then unusable). */
int usm_dirty_collect(struct usm_dirty *d, const struct usm_dirty_range **ranges);

/* Stops tracking and frees d: protection and registrations are undone.
 * Returns 0 or the first error undoing them (d is freed regardless). */
int usm_dirty_stop(struct usm_dirty *d);

#endif
