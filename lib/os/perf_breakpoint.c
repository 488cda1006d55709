/* perf_event_open(2) breakpoints (opened through os/perf.c) and their
 * SIGTRAP siginfo. */
#include "os/perf_breakpoint.h"

#include <errno.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <stddef.h>
#include <string.h>

#include "os/perf.h"

/* From the kernel's asm-generic/siginfo.h (Linux 5.13), which cannot be
 * included beside glibc's <signal.h>. */
#ifndef TRAP_PERF
#define TRAP_PERF 6
#endif

static int open_bp(pid_t tid, uint64_t addr, unsigned int len, bool rw, bool sigtrap,
		   uint64_t sig_data)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_BREAKPOINT;
	a.size = sizeof(a);
	a.bp_type = rw ? HW_BREAKPOINT_RW : HW_BREAKPOINT_W;
	a.bp_addr = addr;
	a.bp_len = len;
	a.sample_period = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	if (sigtrap) {
		a.sigtrap = 1;
		a.sig_data = sig_data;
		/* the kernel wants sigtrap events gone at exec: the new
		 * program has no handler for them */
		a.remove_on_exec = 1;
		a.inherit = 1;
		a.inherit_thread = 1;
	}
	return usm_os_perf_open(&a, tid, -1, -1, 0);
}

int usm_os_perf_breakpoint(pid_t tid, uint64_t addr, unsigned int len, bool rw,
			   uint64_t sig_data)
{
	return open_bp(tid, addr, len, rw, true, sig_data);
}

int usm_os_perf_breakpoint_counting(uint64_t addr, unsigned int len)
{
	return open_bp(0, addr, len, false, false, 0);
}

bool usm_os_perf_breakpoint_siginfo(const siginfo_t *si, uint64_t *sig_data)
{
	/* _sigfault._perf: { unsigned long data; u32 type; u32 flags; }
	 * right after si_addr in the kernel's union */
	const char *perf = (const char *)si + offsetof(siginfo_t, si_addr) + sizeof(void *);
	unsigned long data;
	uint32_t type;

	if (si->si_signo != SIGTRAP || si->si_code != TRAP_PERF)
		return false;
	memcpy(&data, perf, sizeof(data));
	memcpy(&type, perf + sizeof(data), sizeof(type));
	if (type != PERF_TYPE_BREAKPOINT)
		return false;
	*sig_data = data;
	return true;
}
