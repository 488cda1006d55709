/* The hot-site detector of Userspace Bypass (zz_lkm/stat.c), fed one
 * syscall entry or exit at a time, in time order: per-thread user gaps,
 * short gaps counted for the previous syscall's site, and the per-CPU
 * window rule. Every site is kept (the reference's 16-slot table drops
 * colliding ones). No kernel interface here, so the rule can be tested. */
#ifndef USM_SYSCALLS_SITES_H
#define USM_SYSCALLS_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <usm/syscalls.h>

/* Log-linear histogram of nanoseconds: 16 steps per power of two (values
 * within 6.25%), exact under 16, up to 2^44 ns. */
#define SC_HIST_SUB 16
#define SC_HIST_MAX_EXP 44
#define SC_HIST_BUCKETS (SC_HIST_SUB + (SC_HIST_MAX_EXP - 4) * SC_HIST_SUB)

struct sc_hist {
	uint64_t n, sum;
	uint32_t b[SC_HIST_BUCKETS];
};

void sc_hist_add(struct sc_hist *h, uint64_t v);
/* The value under which a fraction q of the samples lie (bucket middle). */
uint64_t sc_hist_quantile(const struct sc_hist *h, double q);

struct sc_caller {
	uint64_t addr, samples;
};

struct sc_site {
	pid_t pid;
	uint64_t addr; /* the syscall instruction */
	int nrs[USM_SYSCALLS_MAX_NRS];
	unsigned nnrs;
	bool more_nrs;
	uint64_t count, short_count, hot_windows;
	bool hot;
	struct sc_hist kern, gap;
	uint32_t *win_short; /* per CPU, in the current window */
	struct sc_caller *callers;
	size_t ncallers, callers_cap;
	uint64_t stack_samples, stack_failed;
	bool symbolized;
	struct usm_syscalls_site out; /* symbol strings, filled by the caller */
};

struct sc_thread {
	pid_t tid;
	uint64_t enter_ns, exit_ns;
	size_t site; /* of the last exit, SIZE_MAX when none */
};

struct sc_cpu {
	uint64_t n, start_ns;
	uint64_t phase_n, phase_windows; /* since sc_new_phase */
};

struct sc_state {
	uint64_t short_gap_ns, hot_count, window;
	unsigned ncpu;
	struct sc_cpu *cpus;
	struct sc_site **sites;
	size_t nsites, sites_cap;
	size_t *site_map; /* open addressing, SIZE_MAX empty */
	size_t site_map_cap;
	struct sc_thread *threads; /* open addressing on tid, tid 0 empty */
	size_t nthreads, threads_cap;
	uint64_t syscalls, windows;
};

int sc_state_init(struct sc_state *st, unsigned ncpu, uint64_t short_gap_ns, uint64_t hot_count,
		  uint64_t window);
void sc_state_free(struct sc_state *st);

/* Thread tid enters a syscall at t on cpu. Returns 0 or -ENOMEM. */
int sc_enter(struct sc_state *st, unsigned cpu, pid_t tid, uint64_t t);
/* Thread tid of process pid leaves syscall nr at t; addr is the syscall
 * instruction. Returns the site's index or -ENOMEM. */
long sc_exit(struct sc_state *st, pid_t pid, pid_t tid, uint64_t t, int nr, uint64_t addr);
/* The site (pid, addr), created when new. Returns its index or -ENOMEM. */
long sc_site(struct sc_state *st, pid_t pid, uint64_t addr);
/* One stack sample of site i through caller (0: unwinding failed). */
int sc_add_caller(struct sc_state *st, size_t i, uint64_t caller);
/* Records were lost: no gap or kernel time spans the hole. */
void sc_forget_threads(struct sc_state *st);

/* Observation starts again after a pause (usm syscalls --duty): every
 * CPU's window starts afresh, the pause's partial windows count for
 * nothing, and no gap or kernel time spans the pause. So the rule is the
 * reference's within each observed window. */
void sc_new_phase(struct sc_state *st);
/* Whether observing longer in this phase can add nothing to the rule:
 * elapsed_ns after sc_new_phase, every CPU that saw a syscall has closed
 * a window, or is too slow to close one within a second (fewer than
 * window * elapsed / 1 s syscalls so far). */
bool sc_phase_done(const struct sc_state *st, uint64_t elapsed_ns);

#endif
