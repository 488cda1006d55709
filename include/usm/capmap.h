/* Reading a CAPMAP, the text format usm trace writes (docs/capmap.md has
 * the grammar): object lines, each followed by its access lines. */
#ifndef USM_CAPMAP_H
#define USM_CAPMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct usm_capmap_access {
	uint64_t ip;
	uint64_t writes;
	uint64_t reads;
	int tid;
};

struct usm_capmap_obj {
	uint64_t alloc_ip;
	int pid; /* the allocating thread's id */
	uint64_t va;
	uint64_t size;
	uint64_t alloc_time; /* ns since the trace started */
	uint64_t free_time;  /* 0 while live */
	uint64_t free_ip;
	char allocator[16]; /* malloc calloc realloc memalign mmap global */
	char process[64];
	uint64_t cache;      /* size class; 0 for "-" */
	size_t first_access; /* index into usm_capmap.accesses */
	size_t naccesses;
};

struct usm_capmap {
	struct usm_capmap_obj *objs;
	size_t nobjs;
	struct usm_capmap_access *accesses;
	size_t naccesses;
};

/* Parses a whole CAPMAP. On a malformed or truncated file returns -EINVAL
 * and puts "line N: what is wrong" in err; -ENOMEM, or -errno of a read.
 * out is empty (and needs no free) after a failure. */
int usm_capmap_read(FILE *f, struct usm_capmap *out, char *err, size_t errlen);
void usm_capmap_free(struct usm_capmap *map);

/* A CAPMAP summed up (lib/capmap/report.c): what 'usm trace report' prints,
 * as plain data. One site per allocation IP. */
struct usm_capmap_site {
	uint64_t alloc_ip;
	char allocator[16]; /* of its first object (IP order) */
	bool mixed;         /* more than one allocator at this IP */
	uint64_t objects, live, bytes, reads, writes;
	uint64_t freed, lifetime_sum; /* the freed objects and their summed lifetimes (ns) */
};

struct usm_capmap_objsum {
	const struct usm_capmap_obj *obj; /* into the map, which must outlive the report */
	uint64_t reads, writes;           /* over all its access lines */
	size_t site;                      /* index into usm_capmap_report.sites */
};

struct usm_capmap_report {
	struct usm_capmap_site *sites; /* most accesses first, then most bytes, then IP */
	size_t nsites;
	struct usm_capmap_objsum *objs; /* every object, most accesses first, then va */
	size_t nobjs;
	uint64_t reads, writes, live; /* over the whole map */
};

/* Sums map by allocation site and by object. Returns 0 or -ENOMEM (out is
 * then empty). */
int usm_capmap_report(const struct usm_capmap *map, struct usm_capmap_report *out);
void usm_capmap_report_free(struct usm_capmap_report *r);

#endif
