/* The objects side of usm ktrace: kmem events in time order become object
 * lifecycles, written as CAPMAP object lines (objects.c). ktrace.c feeds it. */
#ifndef USM_KTRACE_OBJECTS_H
#define USM_KTRACE_OBJECTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ktrace/ktrace.h"

enum kt_kind {
	KT_ALLOC_KMALLOC, /* kmalloc, kmalloc_node */
	KT_ALLOC_CACHE,   /* kmem_cache_alloc, kmem_cache_alloc_node */
	KT_FREE_SLAB,     /* kfree, kmem_cache_free: one address space */
	KT_ALLOC_PAGE,    /* mm_page_alloc */
	KT_FREE_PAGE,     /* mm_page_free, mm_page_free_batched */
	KT_COMM,          /* a task's name changed (exec, prctl) */
	KT_FORK,          /* a new task, named as its parent */
};

struct kt_event {
	uint64_t t, seq;  /* CLOCK_MONOTONIC ns; ring order among equal times */
	uint64_t addr;    /* the object's address, or the page's pfn */
	uint64_t site;    /* call_site (0 for pages: their tracepoints carry none) */
	uint64_t req, usable; /* bytes asked for and given; for pages the order in req */
	int pid, tid;     /* KT_FORK: the new task; ppid/ptid in req/usable */
	uint8_t kind;
	char comm[16];    /* KT_COMM */
};

/* A hash from a nonzero 64-bit key to a fixed-size value (linear probing,
 * deletion by backward shift: no tombstones under constant churn). */
struct kt_hash {
	unsigned char *slots; /* each: uint64_t key (0: empty), then the value */
	size_t cap, n, size;  /* slots (a power of two), used, bytes a slot */
};

struct kt_objects {
	struct kt_hash objs, comms, sites;
	FILE *body;       /* the object lines, written as objects end */
	const char *comm; /* only tasks of this name; NULL: all */
	uint64_t t0;      /* the trace's start: CAPMAP times are from it */
	struct usm_ktrace_result *res;
};

int kt_objects_init(struct kt_objects *o, FILE *body, const char *comm, uint64_t t0,
		    struct usm_ktrace_result *res);
/* Names a task before its events (a -p target's threads, a spawned child). */
int kt_objects_name(struct kt_objects *o, int tid, const char *comm);
/* One event, in time order. Returns 0 or a negative errno (-ENOMEM, -EIO). */
int kt_objects_event(struct kt_objects *o, const struct kt_event *e);
struct usm_os_kallsyms;

/* Writes the objects still live, then the CAPMAP: its header lines, the
 * object lines, and when syms and k are given the kallsyms lines of every
 * site's symbol (hidden: k is NULL because kallsyms shows no addresses). */
int kt_objects_finish(struct kt_objects *o, FILE *out, FILE *syms,
		      const struct usm_os_kallsyms *k, bool hidden);
void kt_objects_free(struct kt_objects *o);

#endif
