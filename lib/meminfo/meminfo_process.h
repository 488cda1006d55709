/* The part of usm_meminfo_scan that reads one process: its present pages
 * (valid) and the hash of every present page of its readable mappings. */
#ifndef USM_MEMINFO_PROCESS_H
#define USM_MEMINFO_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "meminfo/page_dedup.h"

/* A process of the name being scanned. */
struct meminfo_process {
	pid_t pid;
	int memfd;      /* /proc/PID/mem, kept open to read pages back; -1 when closed */
	uint64_t total; /* VmSize in 4 KiB pages */
	uint64_t valid;
	bool gone;      /* exited or renamed during the scan: left out */
};

/* Scans p->pid, whose comm must still be `name`, appending its readable
 * present pages to `store` under `source`. Returns 0 (with p->gone set
 * when the process went away: its refs are then removed again), -EACCES
 * when it may not be read, or another negative errno. `buf` holds
 * MEMINFO_CHUNK_PAGES pages. */
#define MEMINFO_CHUNK_PAGES 256
int meminfo_process_scan(struct meminfo_process *p, const char *name, uint32_t source,
			 bool pagemap_scan, struct usm_dedup_store *store, unsigned char *buf);

#endif
