/* Hardware breakpoints through perf_event_open(2): the event, and the
 * fields of its SIGTRAP that glibc's siginfo_t does not name yet. */
#ifndef USM_OS_PERF_BREAKPOINT_H
#define USM_OS_PERF_BREAKPOINT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A breakpoint on [addr, addr + len) (len 1, 2, 4 or 8, addr aligned to
 * it) in thread tid of this process (0: the caller), on writes, or with
 * `rw` on reads and writes (x86 has no read-only data breakpoint). Counts
 * user-space accesses only. Every hit sends a synchronous SIGTRAP to the
 * thread that made it (attr.sigtrap, Linux 5.13+) with si_code TRAP_PERF
 * and sig_data as its perf data; it arrives after the access (x86 data
 * breakpoints trap after the instruction). Threads the thread creates
 * later get their own copy (inherit_thread), forked children and exec'ed
 * programs do not. Returns the descriptor or a negative errno: -ENOSPC
 * when the thread's debug registers are taken, -EINVAL also for a kernel
 * without sigtrap, -ENOENT / -ENODEV / -EOPNOTSUPP without breakpoint
 * support (some VMs), -EACCES / -EPERM under kernel.perf_event_paranoid. */
int usm_os_perf_breakpoint(pid_t tid, uint64_t addr, unsigned int len, bool rw,
			   uint64_t sig_data);

/* The same event without sigtrap (nothing delivered, counts only), for
 * telling "no breakpoints" from "no sigtrap". Returns fd or -errno. */
int usm_os_perf_breakpoint_counting(uint64_t addr, unsigned int len);

/* For a SIGTRAP from a perf event (TRAP_PERF, PERF_TYPE_BREAKPOINT),
 * true and its sig_data; false for any other SIGTRAP. Async-signal-safe. */
bool usm_os_perf_breakpoint_siginfo(const siginfo_t *si, uint64_t *sig_data);

#endif
