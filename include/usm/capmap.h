/* Reading a CAPMAP, the text format usm trace writes (docs/capmap.md has
 * the grammar): object lines, each followed by its access lines. */
#ifndef USM_CAPMAP_H
#define USM_CAPMAP_H

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

#endif
