/* Hardware watchpoints: a callback on each write (or read and write) to
 * a few addresses of this process, from the CPU's debug registers through
 * perf_event_open(PERF_TYPE_BREAKPOINT). */
#ifndef USM_WATCH_H
#define USM_WATCH_H

#include <stddef.h>
#include <stdint.h>

/* x86 has 4 debug registers per thread; a debugger may hold some. */
#define USM_WATCH_MAX 4

enum usm_watch_kind {
	USM_WATCH_WRITE = 1,     /* writes */
	USM_WATCH_READWRITE = 2, /* reads and writes (there is no read-only) */
};

/* Called on each access, in the thread that made it, *after* the access
 * (x86 data breakpoints trap after the instruction: a written value is
 * already in memory), with the watched address. It runs in usm's SIGTRAP
 * handler, with SIGTRAP blocked: it must be async-signal-safe (no malloc,
 * no stdio, no locks the interrupted code may hold), must not siglongjmp
 * out and must not call usm_watch_*. It must not access an address it
 * watches for reads (that hit would come with SIGTRAP blocked: the thread
 * hangs), nor write one it watches for writes. */
typedef void (*usm_watch_fn)(void *addr, void *arg);

struct usm_watch;

/* 0 when watchpoints work here, else why not as a negative errno:
 * -ENODEV the machine (or VM) gives no hardware breakpoints, -EOPNOTSUPP
 * the kernel lacks perf's synchronous SIGTRAP (before Linux 5.13),
 * -EACCES / -EPERM kernel.perf_event_paranoid forbids them, -ENOSYS no
 * perf_event_open at all. */
int usm_watch_probe(void);

/* Watches [addr, addr + len) (len 1, 2, 4 or 8, addr a multiple of len)
 * in every thread of the process, those that exist now and those they
 * create later; not in forked children, not across exec. Accesses by
 * the kernel (read(2) into the variable) are not seen. Installs usm's
 * SIGTRAP handler, which passes any other SIGTRAP on to the handler that
 * was there before (see usm/wprotect.h for how).
 *
 * Returns 0 and *out, or a negative errno: -EINVAL (length, alignment,
 * kind, no fn), -ENOSPC (USM_WATCH_MAX watches, or a thread's debug
 * registers taken), the errors of usm_watch_probe, -ENOMEM. */
int usm_watch_add(void *addr, size_t len, enum usm_watch_kind kind, usm_watch_fn fn, void *arg,
		  struct usm_watch **out);

/* How many accesses the callback has seen. */
uint64_t usm_watch_hits(const struct usm_watch *w);

/* Stops watching, waits for callbacks still running, frees w (NULL is
 * allowed). Returns 0. */
int usm_watch_remove(struct usm_watch *w);

#endif
