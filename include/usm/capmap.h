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
	char allocator[16]; /* malloc calloc realloc memalign mmap global, or the
	                     * kernel's kmalloc kmem_cache page (usm ktrace, kmap)
	                     * and vmalloc (kmap) */
	char process[64];
	uint64_t cache;      /* size class; 0 for "-" */
	size_t first_access; /* index into usm_capmap.accesses */
	size_t naccesses;
};

/* What a writer says about the whole recording, before the first object:
 * one "# key=value" line each (docs/capmap.md), e.g. usm ktrace's
 * lost_events and throttled. Keys are the writer's; a reader shows them. */
#define USM_CAPMAP_MAX_STATS 16
struct usm_capmap_stat {
	char key[32];
	uint64_t value;
};

struct usm_capmap_header {
	struct usm_capmap_stat stats[USM_CAPMAP_MAX_STATS]; /* in file order */
	size_t nstats;
};

/* Whether h has key, and its value. */
bool usm_capmap_header_get(const struct usm_capmap_header *h, const char *key, uint64_t *value);

struct usm_capmap {
	struct usm_capmap_header header;
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

/* Reads a CAPMAP one object at a time: fn gets each object with its access
 * lines (acc[0 .. obj->naccesses), obj->first_access is 0), valid only
 * during the call. A negative return from fn stops the scan and is
 * returned. The header lines fill *hdr (when not NULL; complete before fn
 * is first called). Errors as usm_capmap_read's; the memory used is one
 * object's access lines, whatever the file's size. */
typedef int (*usm_capmap_fn)(void *ctx, const struct usm_capmap_obj *obj,
                             const struct usm_capmap_access *acc);
int usm_capmap_scan(FILE *f, struct usm_capmap_header *hdr, usm_capmap_fn fn, void *ctx,
                    char *err, size_t errlen);

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

/* DHAT's useful verdicts on one object (docs/trace.md). A CAPMAP counts
 * accesses per (IP, thread) with no order between them, so "written and
 * never read after the last write" is approximated by WRITE_ONLY: written,
 * never read at all. */
enum usm_capmap_verdict {
	USM_VERDICT_NEVER_READ,    /* reads == 0 */
	USM_VERDICT_NEVER_WRITTEN, /* writes == 0 */
	USM_VERDICT_WRITE_ONLY,    /* writes > 0 and reads == 0 */
	USM_VERDICT_SHORT_LIVED,   /* freed less than short_lived_ns after its allocation */
	USM_VERDICT_READ_MOSTLY,   /* reads > 0 and reads >= read_mostly * writes */
	USM_CAPMAP_NVERDICTS
};
/* "never_read", "never_written", "write_only", "short_lived", "read_mostly" */
const char *usm_capmap_verdict_name(enum usm_capmap_verdict v);

/* Lifetimes of freed objects by decade: < 1us, < 10us, ... < 1s, >= 1s. */
#define USM_CAPMAP_LIFETIME_BUCKETS 8

/* One object an aggregate kept (a bounded sample per site). */
struct usm_capmap_sample {
	uint64_t va, size, alloc_time, free_time; /* free_time 0: live */
	uint64_t reads, writes;
	unsigned verdicts; /* bit (1u << enum usm_capmap_verdict) per verdict */
	int pid;
};

/* An access IP that touched an allocation site's objects. */
struct usm_capmap_touch {
	uint64_t ip;
	uint64_t reads, writes;
	uint64_t objects; /* how many of the site's objects it touched */
};

struct usm_capmap_agg_site {
	struct usm_capmap_site sum; /* as usm_capmap_report's */
	uint64_t min_size, max_size;
	uint64_t min_lifetime, max_lifetime; /* of the freed objects */
	uint64_t lifetimes[USM_CAPMAP_LIFETIME_BUCKETS];
	uint64_t verdicts[USM_CAPMAP_NVERDICTS]; /* objects per verdict */
	struct usm_capmap_sample *samples; /* largest first, then longest-lived (live first) */
	size_t nsamples;
	struct usm_capmap_touch *touches; /* most accesses first, then IP */
	size_t ntouches;
};

struct usm_capmap_agg_opts {
	size_t samples;          /* objects kept per site, at most */
	uint64_t short_lived_ns; /* USM_VERDICT_SHORT_LIVED's bound */
	uint64_t read_mostly;    /* USM_VERDICT_READ_MOSTLY's ratio */
};

/* A CAPMAP summed while it is read: per allocation site, never per object
 * beyond each site's sample, so that a file of any size fits. */
struct usm_capmap_agg {
	struct usm_capmap_header header;
	struct usm_capmap_agg_site *sites; /* most bytes first, then accesses, then IP */
	size_t nsites;
	uint64_t objects, live, bytes, reads, writes, access_lines;
	uint64_t verdicts[USM_CAPMAP_NVERDICTS];
	uint64_t sampled;  /* objects kept in the samples; the rest were only summed */
	uint64_t end_time; /* the latest time the file names */
	struct usm_capmap_agg_opts opts;
};

/* Reads f to its end with usm_capmap_scan and sums it. Errors as
 * usm_capmap_read's; out is empty after a failure. */
int usm_capmap_aggregate(FILE *f, const struct usm_capmap_agg_opts *opts,
                         struct usm_capmap_agg *out, char *err, size_t errlen);
void usm_capmap_agg_free(struct usm_capmap_agg *a);

/* Two aggregates compared by allocation site. Sites are matched by key
 * (the caller's: a symbol and file:line, or the address); sites of one
 * side with the same key are summed. */
struct usm_capmap_diff_side {
	uint64_t objects, bytes, reads, writes;
};

struct usm_capmap_diff_row {
	const char *key;      /* points into the keys given */
	size_t before, after; /* site index in a and b; SIZE_MAX when absent */
	struct usm_capmap_diff_side a, b;
};

struct usm_capmap_diff {
	struct usm_capmap_diff_row *rows; /* largest byte change first, then accesses, key */
	size_t nrows;
	struct usm_capmap_diff_side a, b; /* totals */
};

int usm_capmap_diff(const struct usm_capmap_agg *a, const char *const *akeys,
                    const struct usm_capmap_agg *b, const char *const *bkeys,
                    struct usm_capmap_diff *out);
void usm_capmap_diff_free(struct usm_capmap_diff *d);

#endif
