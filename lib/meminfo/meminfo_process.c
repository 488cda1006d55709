/* One process of usm_meminfo_scan: smaps for the mappings, pagemap for
 * the present pages, /proc/PID/mem for the contents of present pages. */
#include "meminfo/meminfo_process.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <usm/meminfo.h>

#include "os/pagemap.h"
#include "os/procfs.h"
#include "os/smaps.h"

struct walk {
	struct meminfo_process *p;
	uint32_t source;
	bool readable; /* the current mapping's pages are hashed */
	struct usm_dedup_store *store;
	unsigned char *buf;
};

/* Hashes the present pages [start, end), reading as many at a time as the
 * buffer holds. A page /proc/PID/mem cannot give (no struct page behind
 * it, secretmem) stays valid and is left out of may_be_shared, as the
 * module skips such pages. */
static int hash_present(void *ctx, uint64_t start, uint64_t end)
{
	struct walk *w = ctx;

	w->p->valid += (end - start) / USM_PAGE_SIZE;
	if (!w->readable)
		return 0;
	for (uint64_t addr = start; addr < end;) {
		uint64_t len = end - addr;
		ssize_t n;

		if (len > (uint64_t)MEMINFO_CHUNK_PAGES * USM_PAGE_SIZE)
			len = (uint64_t)MEMINFO_CHUNK_PAGES * USM_PAGE_SIZE;
		n = usm_os_proc_read_mem(w->p->memfd, addr, w->buf, len);
		if (n == -EIO || (n >= 0 && (uint64_t)n < USM_PAGE_SIZE)) {
			addr += USM_PAGE_SIZE;
			continue;
		}
		if (n < 0)
			return (int)n;
		for (uint64_t off = 0; off + USM_PAGE_SIZE <= (uint64_t)n; off += USM_PAGE_SIZE) {
			int err = usm_dedup_add(w->store, usm_dedup_hash(w->buf + off), w->source,
						addr + off);
			if (err)
				return err;
		}
		addr += usm_page_down((uint64_t)n);
	}
	return 0;
}

static int walk_mappings(int dirfd, int pmfd, bool pagemap_scan, struct walk *w)
{
	struct usm_os_smaps *smaps;
	struct usm_os_mapping m;
	int err;

	err = usm_os_smaps_open(dirfd, &smaps);
	if (err)
		return err;
	while ((err = usm_os_smaps_next(smaps, &m)) > 0) {
		/* No struct page behind io/pfnmap mappings ([vvar]): they count
		 * in total only. [vsyscall] is not in the mm at all. */
		if (m.vsyscall || m.io || m.pfnmap)
			continue;
		w->readable = m.readable;
		err = usm_os_pagemap_for_each_present(pmfd, m.start, m.end, pagemap_scan,
						      hash_present, w);
		if (err)
			break;
	}
	usm_os_smaps_close(smaps);
	return err;
}

static bool is_gone(int err)
{
	return err == -ENOENT || err == -ESRCH;
}

static bool is_denied(int err)
{
	return err == -EACCES || err == -EPERM;
}

/* Opens what the walk needs; pagemap and mem check ptrace access. */
static int open_files(int dirfd, int *pmfd, int *memfd)
{
	*pmfd = usm_os_proc_open_file(dirfd, "pagemap");
	if (*pmfd < 0)
		return *pmfd;
	*memfd = usm_os_proc_open_file(dirfd, "mem");
	if (*memfd < 0) {
		close(*pmfd);
		return *memfd;
	}
	return 0;
}

int meminfo_process_scan(struct meminfo_process *p, const char *name, uint32_t source,
			 bool pagemap_scan, struct usm_dedup_store *store, unsigned char *buf)
{
	struct walk w = { .p = p, .source = source, .store = store, .buf = buf };
	char comm[USM_MEMINFO_NAME_MAX + 1];
	size_t keep = store->len;
	int dirfd, pmfd = -1, err;
	uint64_t kb, entry;

	p->memfd = -1;
	p->valid = 0;
	dirfd = usm_os_proc_open(p->pid);
	if (dirfd < 0) {
		err = dirfd;
		goto out;
	}
	err = usm_os_proc_read_comm(dirfd, comm);
	if (!err && strcmp(comm, name))
		err = -ESRCH; /* renamed, or the pid went to another process */
	if (!err)
		err = usm_os_proc_read_vmsize(dirfd, &kb);
	if (err == -ENODATA)
		err = -ESRCH; /* became a zombie */
	if (!err)
		err = open_files(dirfd, &pmfd, &p->memfd);
	if (!err) {
		p->total = kb / (USM_PAGE_SIZE / 1024);
		err = walk_mappings(dirfd, pmfd, pagemap_scan, &w);
		/* A process that exits mid-walk makes its files read as empty:
		 * if its pagemap still reads, what was read is whole. */
		if (!is_denied(err)) {
			int alive = usm_os_pagemap_read(pmfd, 0, &entry, 1);

			if (is_gone(alive))
				err = alive;
		}
	}
	if (pmfd >= 0)
		close(pmfd);
	close(dirfd);
out:
	if (is_gone(err)) {
		p->gone = true;
		err = 0;
	}
	if (err && is_denied(err))
		err = -EACCES;
	if (err || p->gone) {
		store->len = keep;
		if (p->memfd >= 0)
			close(p->memfd);
		p->memfd = -1;
	}
	return err;
}
