/* Write protection with a callback: protect a range of this process and
 * have a function run on the first write to each page, before the write
 * proceeds, whichever thread writes (copy-on-write snapshots, GC barriers). */
#ifndef USM_WPROTECT_H
#define USM_WPROTECT_H

#include <stddef.h>
#include <stdint.h>

/* How writes are caught. Every mechanism can be asked for by name, so that
 * each is testable on any kernel; USM_WPROTECT_AUTO picks the first one
 * that works here in this order (the fastest first):
 *
 *  UFFD_SIGBUS  userfaultfd write-protect with UFFD_FEATURE_SIGBUS (Linux
 *               5.7+ for anonymous memory): the write raises SIGBUS in the
 *               writing thread, whose handler runs the callback and lifts
 *               the protection of that page with UFFDIO_WRITEPROTECT.
 *  MPROTECT     mprotect(PROT_READ) and SIGSEGV, per page the same way. Each
 *               unprotected page may split a mapping: more than about
 *               vm.max_map_count / 2 scattered written pages cannot be
 *               unprotected, and such a write then faults as if the page
 *               were read-only (the process dies unless its own handler
 *               copes). The range must be mapped read-write.
 *  UFFD_THREAD  userfaultfd write-protect read by a handler thread: the
 *               writer sleeps while the thread runs the callback. Slower
 *               (the thread must be woken), but the only mechanism under
 *               which the kernel's own writes (read(2) into a protected
 *               buffer) wait for the callback instead of failing EFAULT;
 *               AUTO never picks it for that reason alone, ask for it.
 */
enum usm_wprotect_mech {
	USM_WPROTECT_AUTO = 0,
	USM_WPROTECT_UFFD_SIGBUS,
	USM_WPROTECT_MPROTECT,
	USM_WPROTECT_UFFD_THREAD,
};

/* Flags of usm_wprotect_open. */
enum {
	/* Do not use UFFD_FEATURE_WP_UNPOPULATED (Linux 6.4+) even where the
	 * kernel has it: map the range's untouched pages to the zero page
	 * (MADV_POPULATE_READ) before protecting them, as usm must on older
	 * kernels. For testing that path on a new kernel. */
	USM_WPROTECT_NO_WP_UNPOPULATED = 1u << 0,
};

/* Called once for each page of a protected range, before the first write
 * to it proceeds, with the page's (page-aligned) address. While it runs,
 * every thread writing to that page waits.
 *
 * What the callback may not do:
 *  - UFFD_SIGBUS and MPROTECT run it inside a SIGBUS / SIGSEGV handler of
 *    the writing thread, with that signal blocked: it must be
 *    async-signal-safe (no malloc, no stdio, no locks the interrupted
 *    code may hold) and must not siglongjmp out. UFFD_THREAD runs it in
 *    usm's handler thread, where anything is allowed except the below.
 *  - It must not write to a page that is still protected (in any usm
 *    range): that write would wait for itself, or kill the process.
 *  - It must not call usm_wprotect_* (they take locks and allocate).
 * Reading the page, and copying it elsewhere, is what it is for. */
typedef void (*usm_wprotect_fn)(void *page, void *arg);

struct usm_wprotect;

/* Protects [addr, addr + len) (page-aligned, a private anonymous mapping,
 * or for MPROTECT any read-write mapping) and calls fn(page, arg) on the
 * first write to each page. The range must not overlap another
 * usm_wprotect range; at most 64 ranges at once. Installs usm's SIGBUS
 * (UFFD_SIGBUS) or SIGSEGV (MPROTECT) handler the first time one is
 * needed and keeps it: it passes every fault that is not a first write to
 * a usm range on to the handler that was installed before it (SA_SIGINFO
 * or plain; for SIG_DFL and SIG_IGN it restores SIG_DFL and lets the fault
 * happen again, which kills as before). A handler the program installs
 * after usm's must in turn pass the faults it does not know to usm's.
 *
 * Returns 0 and *out, or a negative errno: -EINVAL (unaligned, empty, an
 * unknown mech or flag), -EEXIST (overlaps a range), -ENOSPC (64 ranges),
 * -ENOSYS / -EPERM (no userfaultfd for this process), -EOPNOTSUPP (the
 * kernel lacks the feature the mechanism needs: write-protect faults, or
 * UFFD_FEATURE_SIGBUS), -EBUSY (the range is registered with another
 * userfaultfd), -ENOMEM. For AUTO, the error of the last mechanism tried. */
int usm_wprotect_open(void *addr, size_t len, enum usm_wprotect_mech mech, unsigned int flags,
		      usm_wprotect_fn fn, void *arg, struct usm_wprotect **out);

/* 0 when mech can be used in this process on this kernel, else the errno
 * usm_wprotect_open would fail with (see there): a tool says why a
 * mechanism is missing instead of failing later. Probes with a small
 * mapping of its own. */
int usm_wprotect_probe(enum usm_wprotect_mech mech);

/* The mechanism a range uses (never AUTO), and its name ("uffd-sigbus",
 * "mprotect", "uffd-thread"; "auto"; NULL for an unknown value). */
enum usm_wprotect_mech usm_wprotect_mech(const struct usm_wprotect *w);
const char *usm_wprotect_mech_name(enum usm_wprotect_mech mech);

/* Whether the range relies on UFFD_FEATURE_WP_UNPOPULATED (1) or on
 * mapping untouched pages to the zero page first (0). With the latter,
 * a page the program discards later (MADV_DONTNEED) is no longer
 * protected. Always 0 for MPROTECT. */
int usm_wprotect_wp_unpopulated(const struct usm_wprotect *w);

/* Protects the pages of [addr, addr + len), inside the range, again: the
 * callback runs anew on the next first write to each (the next snapshot).
 * Waits for callbacks running on those pages to finish. Writes made while
 * it runs may land before the protection without a callback. Returns 0 or
 * a negative errno (-EINVAL outside the range or unaligned). */
int usm_wprotect_arm(struct usm_wprotect *w, void *addr, size_t len);

/* How many times the callback has run for this range. */
uint64_t usm_wprotect_traps(const struct usm_wprotect *w);

/* Lifts the protection of the whole range, waits for callbacks still
 * running, unregisters and frees it. NULL is allowed. Returns 0 or the
 * first negative errno from undoing the kernel side (w is freed anyway). */
int usm_wprotect_close(struct usm_wprotect *w);

#endif
