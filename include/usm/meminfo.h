/* Per-name memory figures of every process, as /proc/memory_info shows
 * them, computed from /proc on a stock kernel (docs/memory_info.md). */
#ifndef USM_MEMINFO_H
#define USM_MEMINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A process name is its comm: at most 15 bytes. */
#define USM_MEMINFO_NAME_MAX 15

struct usm_meminfo_opts {
	const char *name;  /* only processes whose comm is exactly this; NULL: all */
	const pid_t *pids; /* only these processes; NULL: all */
	size_t npids;
	/* Read pagemap entries even where PAGEMAP_SCAN exists (to test the
	 * path older kernels take). */
	bool no_pagemap_scan;
};

/* One line of ALL: the processes of one name, figures in 4 KiB pages. */
struct usm_meminfo_entry {
	char name[USM_MEMINFO_NAME_MAX + 1];
	uint64_t total;         /* VmSize */
	uint64_t valid;         /* present pages */
	uint64_t invalid;       /* total - valid */
	uint64_t may_be_shared; /* readable present pages whose contents occur twice or more */
	uint64_t nb_group;      /* distinct such contents */
	size_t npids;
	pid_t *pids; /* ascending */
};

struct usm_meminfo {
	struct usm_meminfo_entry *entries; /* in order of each name's lowest pid */
	size_t count;
	/* When the scan fails with -EACCES: the process it could not read. */
	pid_t denied_pid;
	char denied_name[USM_MEMINFO_NAME_MAX + 1];
};

/* Scans the processes `opts` selects (NULL: all). Processes without
 * memory (kernel threads, zombies) and processes that exit during the
 * scan are left out. Reads only pages pagemap shows present, so nothing
 * is faulted in. Returns 0, -EACCES when a process cannot be read (see
 * denied_pid; nothing is left out silently), or another negative errno.
 * *out is filled on success only; free it with usm_meminfo_free. */
int usm_meminfo_scan(const struct usm_meminfo_opts *opts, struct usm_meminfo *out);

void usm_meminfo_free(struct usm_meminfo *mi);

/* The entry as one line of /proc/memory_info's ALL, without newline:
 * "<name>, total: <n>, valid: <n>, invalid: <n>, may_be_shared: <n>,
 * nb_group: <n>, pid(<k>): <pid1>; ...; <pidk>". *line is malloc'ed.
 * Returns its length or -ENOMEM. */
int usm_meminfo_format_line(const struct usm_meminfo_entry *e, char **line);

#endif
