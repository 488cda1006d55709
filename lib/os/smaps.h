/* The mappings of a process and their flags, from /proc/PID/smaps (the
 * only file that shows VmFlags such as io and pf), or from /proc/PID/maps
 * (the same first lines without the rest). One parser serves both. */
#ifndef USM_OS_SMAPS_H
#define USM_OS_SMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct usm_os_mapping {
	uint64_t start, end; /* [start, end), page-aligned */
	uint64_t inode;      /* 0: anonymous memory (or a special mapping) */
	bool shared;         /* perms "s": MAP_SHARED, else private */
	bool readable;       /* perms "r", VmFlags "rd": VM_READ */
	bool writable;       /* perms "w": VM_WRITE */
	bool executable;     /* perms "x": VM_EXEC */
	bool io;             /* VmFlags "io": VM_IO, no struct page behind */
	bool pfnmap;         /* VmFlags "pf": VM_PFNMAP, likewise */
	bool vsyscall;       /* [vsyscall]: the gate page, not in the mm */
	bool huge_advised;   /* VmFlags "hg": MADV_HUGEPAGE */
	uint64_t anon_huge_kb; /* AnonHugePages: anonymous memory in huge pages */
	bool heap;           /* [heap]: the brk area */
	/* The name field (a path, "[heap]", "[stack]", ...; empty for anonymous
	 * memory), not NUL-terminated: it points into the line just parsed,
	 * valid until the next call. */
	const char *name;
	size_t name_len;
};

struct usm_os_smaps;

/* Opens smaps of an open /proc/PID directory (see procfs.h). */
int usm_os_smaps_open(int dirfd, struct usm_os_smaps **it);

/* Parses smaps text from any stream, which the iterator then owns and
 * closes (tests feed it fmemopen()). */
int usm_os_smaps_from_stream(FILE *f, struct usm_os_smaps **it);

/* The next mapping: 1, 0 at the end, or a negative errno (-ENODATA when
 * the text stops inside a mapping, as it does if the process exits). */
int usm_os_smaps_next(struct usm_os_smaps *it, struct usm_os_mapping *m);

void usm_os_smaps_close(struct usm_os_smaps *it);

/* maps text already read whole (usm_os_proc_read_file: mappings change as
 * the caller works, and this allocates nothing), walked in place. */
struct usm_os_maps {
	const char *next;
};

/* Starts a walk over NUL-terminated maps text, which must outlive it. */
void usm_os_maps_init(struct usm_os_maps *it, const char *text);

/* The next mapping (io and pfnmap stay false: maps has no VmFlags): 1, 0 at
 * the end, -EINVAL for a line that is not a mapping, -ENODATA for a last
 * line cut short (the buffer was too small). */
int usm_os_maps_next(struct usm_os_maps *it, struct usm_os_mapping *m);

#endif
