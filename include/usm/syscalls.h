/* usm syscalls: the hot syscall sites of a running program, found with
 * Userspace Bypass's rule over the raw_syscalls tracepoints (docs/syscalls.md). */
#ifndef USM_SYSCALLS_H
#define USM_SYSCALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The reference's constants (zz_lkm/stat.c). */
#define USM_SYSCALLS_SHORT_GAP_NS 1300 /* a user gap under this is short */
#define USM_SYSCALLS_HOT_COUNT 900     /* more short syscalls in a window: hot */
#define USM_SYSCALLS_WINDOW 30000      /* syscalls per CPU in a window */
#define USM_SYSCALLS_WINDOW_MAX_NS 1000000000ull /* a window slower than this counts not */
/* usm's own: the percent of the time observed by default (docs/syscalls.md) */
#define USM_SYSCALLS_DUTY 20

struct usm_syscalls_config {
	pid_t pid;          /* observe this running process, every thread, or */
	char *const *argv;  /* run this program (and its children) and observe it */
	double duration_s;  /* > 0: stop after this long; else when the target ends */
	uint64_t short_gap_ns;
	uint64_t hot_count;
	uint64_t window;
	unsigned stack_period; /* a user stack every Nth syscall exit per thread */
	unsigned stack_bytes;  /* of user stack copied with each such sample */
	unsigned ring_pages;   /* per CPU, a power of two */
	/* Percent of the time observed, 1 to 100. Under 100, observation
	 * stops once every busy CPU has closed a window (or cannot close one
	 * within a second), and resumes after a pause that makes the observed
	 * share this; counts are of the observed phases, the rule exact
	 * within each of their windows. */
	unsigned duty;
};

/* Fills the defaults above and the sampling defaults. */
void usm_syscalls_config_init(struct usm_syscalls_config *cfg);

/* Where starting failed, for a message that says what to fix. */
enum usm_syscalls_stage {
	USM_SYSCALLS_STAGE_NONE,
	USM_SYSCALLS_STAGE_PID,        /* the target process (-ESRCH: none) */
	USM_SYSCALLS_STAGE_EXEC,       /* running argv (errno of execvp) */
	USM_SYSCALLS_STAGE_TRACEFS,    /* finding or mounting tracefs */
	USM_SYSCALLS_STAGE_TRACEPOINT, /* raw_syscalls tracepoints (-ENOENT: none) */
	USM_SYSCALLS_STAGE_PERF,       /* perf_event_open or its ring buffer */
};

struct usm_syscalls_caller {
	uint64_t addr;    /* the return address into the caller, this run */
	uint64_t samples; /* stack samples of the site through this caller */
	char *function;   /* NULL when unknown */
	uint64_t function_offset;
	char *module; /* object file path, NULL when unknown */
	uint64_t module_offset;
	char *file; /* source file, NULL without line info */
	int line;
};

#define USM_SYSCALLS_MAX_NRS 4

struct usm_syscalls_site {
	pid_t pid;
	uint64_t addr; /* of the syscall instruction, absolute in this run */
	char *module;  /* the object holding it, NULL when unknown */
	uint64_t module_offset; /* addr in the object's own addresses (ASLR-free) */
	char *function;
	uint64_t function_offset;
	int nrs[USM_SYSCALLS_MAX_NRS]; /* syscall numbers seen here */
	unsigned nnrs;
	bool more_nrs; /* more numbers than nrs holds (a syscall() wrapper) */
	uint64_t count;
	uint64_t kernel_n, kernel_ns_sum, kernel_ns_p50, kernel_ns_p99; /* sys_enter to sys_exit */
	uint64_t gap_n, gap_ns_sum, gap_ns_p50, gap_ns_p90, gap_ns_p99; /* exit to the next entry */
	uint64_t short_count; /* gaps after this site under short_gap_ns */
	bool hot;
	uint64_t hot_windows; /* windows in which the rule found it hot */
	uint64_t stack_samples, stack_failed;
	struct usm_syscalls_caller *callers; /* most samples first */
	size_t ncallers;
};

struct usm_syscalls_result {
	struct usm_syscalls_site *sites; /* hot first, then most short, then most calls */
	size_t nsites;
	uint64_t syscalls;   /* sys_enter records seen */
	uint64_t lost;       /* records the kernel dropped */
	uint64_t windows;    /* completed windows, all CPUs */
	double seconds;      /* from start to end */
	double observed_seconds; /* of seconds, with the events enabled (all with duty 100) */
	uint64_t phases;     /* observed phases (1 with duty 100) */
	uint64_t entry_exit_ns; /* an empty syscall's round trip here, unobserved */
	int exit_status;     /* of argv's program, as wait(2) gives it; -1 when none */
	bool mounted_tracefs; /* tracefs was mounted for this run */
};

struct usm_syscalls;

/* Prepares observation: starts argv stopped before exec, or checks pid;
 * mounts tracefs when needed and permitted; opens the events. On failure
 * returns a negative errno and sets *stage. */
int usm_syscalls_open(const struct usm_syscalls_config *cfg, struct usm_syscalls **out,
		      enum usm_syscalls_stage *stage);
/* Observes until the target ends, duration_s passes, or usm_syscalls_stop.
 * Returns 0 or a negative errno. */
int usm_syscalls_run(struct usm_syscalls *s, struct usm_syscalls_result *res);
/* Async-signal-safe: makes usm_syscalls_run return soon. */
void usm_syscalls_stop(struct usm_syscalls *s);
/* Frees the session (a started program keeps running if still alive). */
void usm_syscalls_close(struct usm_syscalls *s);
void usm_syscalls_result_free(struct usm_syscalls_result *res);

/* The name of x86-64 syscall nr, NULL when unknown. */
const char *usm_syscall_name(int nr);

#endif
