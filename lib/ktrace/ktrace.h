/* usm ktrace: kernel object lifecycles from the kmem tracepoints of a
 * stock kernel (kmalloc, kfree, kmem_cache_alloc/free, mm_page_alloc/free),
 * read through perf_event_open and written as a CAPMAP without access
 * lines (docs/ktrace.md). */
#ifndef USM_KTRACE_H
#define USM_KTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct usm_ktrace_config {
	pid_t pid;         /* record this running process's threads (and their children), or */
	char *const *argv; /* run this program and record it and its children, or neither: */
	const char *comm;  /* only tasks of this name; alone, on the whole system */
	double duration_s; /* > 0: stop after this long; else when the target ends (or stop) */
	unsigned ring_pages; /* per CPU, a power of two */
	FILE *out;           /* the CAPMAP */
	FILE *syms;          /* the kernel symbols its sites are in; NULL: none */
};

void usm_ktrace_config_init(struct usm_ktrace_config *cfg);

/* Where starting failed, for a message that says what to fix. */
enum usm_ktrace_stage {
	USM_KTRACE_STAGE_NONE,
	USM_KTRACE_STAGE_PID,        /* the target process (-ESRCH: none) */
	USM_KTRACE_STAGE_EXEC,       /* running argv (errno of execvp) */
	USM_KTRACE_STAGE_TRACEFS,    /* finding or mounting tracefs */
	USM_KTRACE_STAGE_TRACEPOINT, /* the kmem tracepoints (-ENOENT: none) */
	USM_KTRACE_STAGE_PERF,       /* perf_event_open or its ring buffer */
};

enum usm_ktrace_allocator { USM_KTRACE_KMALLOC, USM_KTRACE_KMEM_CACHE, USM_KTRACE_PAGE,
			    USM_KTRACE_NALLOCATORS };

struct usm_ktrace_result {
	uint64_t allocs[USM_KTRACE_NALLOCATORS], frees[USM_KTRACE_NALLOCATORS];
	uint64_t freed_unseen;  /* frees of objects allocated before the trace began */
	uint64_t reused_unfreed; /* an address allocated again with no free seen: freed
	                          * by a task outside the trace, written as live */
	uint64_t live;          /* objects with no free seen at the end */
	uint64_t lost;          /* records the kernel dropped: its ring buffers were full */
	uint64_t throttled;     /* times the kernel throttled the events */
	uint64_t objects;       /* object lines written */
	uint64_t sites, sites_named; /* distinct call sites; those kallsyms named */
	bool symbols_hidden;    /* kallsyms' addresses read 0 (kptr_restrict) */
	bool mounted_tracefs;
	int exit_status;        /* of argv, as waitpid gives it; -1 when not known */
	double seconds;
};

struct usm_ktrace;

int usm_ktrace_open(const struct usm_ktrace_config *cfg, struct usm_ktrace **out,
		    enum usm_ktrace_stage *stage);
/* Records until the target ends, the duration passes or usm_ktrace_stop,
 * then writes the CAPMAP. Returns 0 or a negative errno. */
int usm_ktrace_run(struct usm_ktrace *kt, struct usm_ktrace_result *res);
/* Async-signal-safe. */
void usm_ktrace_stop(struct usm_ktrace *kt);
void usm_ktrace_close(struct usm_ktrace *kt);

const char *usm_ktrace_allocator_name(enum usm_ktrace_allocator a);

#endif
