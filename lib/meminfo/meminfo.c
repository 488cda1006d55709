/* usm_meminfo_scan: the figures of /proc/memory_info from userspace. Pick
 * the processes and group them by name, then scan one name at a time so
 * that only that name's page hashes and files are held at once. */
#include <usm/meminfo.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meminfo/meminfo_process.h"
#include "os/pagemap.h"
#include "os/procfs.h"
#include "meminfo/page_dedup.h"

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static int add_pid(struct usm_meminfo_entry *e, pid_t pid)
{
	/* Grows at each power of two. */
	if ((e->npids & (e->npids - 1)) == 0) {
		size_t cap = e->npids ? e->npids * 2 : 1;
		pid_t *grown = realloc(e->pids, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		e->pids = grown;
	}
	e->pids[e->npids++] = pid;
	return 0;
}

static struct usm_meminfo_entry *find_or_add_name(struct usm_meminfo *mi, const char *name,
						  size_t *cap)
{
	for (size_t i = 0; i < mi->count; i++)
		if (!strcmp(mi->entries[i].name, name))
			return &mi->entries[i];
	if (mi->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct usm_meminfo_entry *grown = realloc(mi->entries, ncap * sizeof(*grown));

		if (!grown)
			return NULL;
		mi->entries = grown;
		*cap = ncap;
	}
	mi->entries[mi->count] = (struct usm_meminfo_entry){ 0 };
	snprintf(mi->entries[mi->count].name, sizeof(mi->entries[0].name), "%s", name);
	return &mi->entries[mi->count++];
}

static bool wanted_pid(const struct usm_meminfo_opts *opts, const pid_t *sorted, pid_t pid)
{
	return !opts->pids || bsearch(&pid, sorted, opts->npids, sizeof(pid), cmp_pid);
}

/* Reads the name of one process into `name` (left empty when unreadable).
 * Returns 1 when the process has memory and is selected, 0 when it is
 * skipped (gone, no memory, another name), or a negative errno. */
static int select_process(const struct usm_meminfo_opts *opts, pid_t pid,
			  char name[USM_MEMINFO_NAME_MAX + 1])
{
	int dirfd = usm_os_proc_open(pid);
	uint64_t kb;
	int err;

	name[0] = '\0';
	if (dirfd < 0)
		return dirfd == -ENOENT || dirfd == -ESRCH ? 0 : dirfd;
	err = usm_os_proc_read_comm(dirfd, name);
	if (!err && opts->name && strcmp(name, opts->name)) {
		close(dirfd);
		return 0;
	}
	if (!err)
		err = usm_os_proc_read_vmsize(dirfd, &kb);
	close(dirfd);
	if (err == -ENOENT || err == -ESRCH || err == -ENODATA)
		return 0;
	return err ? err : 1;
}

/* Groups the selected processes by name, names in order of their first pid. */
static int group_by_name(const struct usm_meminfo_opts *opts, struct usm_meminfo *mi)
{
	pid_t *pids = NULL, *sorted = NULL;
	size_t npids = 0, cap = 0;
	int err;

	if (opts->pids) {
		sorted = malloc((opts->npids ? opts->npids : 1) * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, opts->pids, opts->npids * sizeof(*sorted));
		qsort(sorted, opts->npids, sizeof(*sorted), cmp_pid);
	}
	err = usm_os_proc_list(&pids, &npids);
	for (size_t i = 0; i < npids && !err; i++) {
		char name[USM_MEMINFO_NAME_MAX + 1];
		struct usm_meminfo_entry *e;

		if (!wanted_pid(opts, sorted, pids[i]))
			continue;
		err = select_process(opts, pids[i], name);
		if (err == -EACCES || err == -EPERM) {
			mi->denied_pid = pids[i];
			snprintf(mi->denied_name, sizeof(mi->denied_name), "%s", name[0] ? name : "?");
			err = -EACCES;
		}
		if (err <= 0)
			continue;
		e = find_or_add_name(mi, name, &cap);
		err = e ? add_pid(e, pids[i]) : -ENOMEM;
	}
	free(pids);
	free(sorted);
	return err;
}

/* Reads pages back for usm_dedup_count from the processes' open mem files. */
struct read_back_ctx {
	struct meminfo_process *procs;
	uint32_t vanished;
};

static int read_back(void *ctx, uint32_t source, uint64_t addr, void *buf, size_t count)
{
	struct read_back_ctx *rb = ctx;
	ssize_t n = usm_os_proc_read_mem(rb->procs[source].memfd, addr, buf,
					 count * USM_PAGE_SIZE);

	if (n == -EIO)
		return 0;
	if (n == -ESRCH)
		rb->vanished = source;
	if (n < 0)
		return (int)n;
	return (int)(n / USM_PAGE_SIZE);
}

/* Drops the processes that went away from the entry's pid list. */
static void keep_live_pids(struct usm_meminfo_entry *e, const struct meminfo_process *procs)
{
	size_t kept = 0;

	for (size_t i = 0; i < e->npids; i++)
		if (!procs[i].gone)
			e->pids[kept++] = e->pids[i];
	e->npids = kept;
}

static int count_groups(struct usm_meminfo_entry *e, struct meminfo_process *procs,
			struct usm_dedup_store *store)
{
	struct read_back_ctx rb = { .procs = procs };
	struct usm_dedup_counts counts;
	int err;

	/* A process that exits before its pages are read back is left out
	 * and the groups counted again without it. */
	while ((err = usm_dedup_count(store, read_back, &rb, &counts)) == -ESRCH) {
		procs[rb.vanished].gone = true;
		usm_dedup_drop_source(store, rb.vanished);
	}
	e->may_be_shared = counts.may_be_shared;
	e->nb_group = counts.nb_group;
	return err;
}

static int scan_name(struct usm_meminfo_entry *e, bool pagemap_scan, struct usm_meminfo *mi)
{
	struct meminfo_process *procs = calloc(e->npids, sizeof(*procs));
	unsigned char *buf = malloc((size_t)MEMINFO_CHUNK_PAGES * USM_PAGE_SIZE);
	struct usm_dedup_store store = { 0 };
	int err = procs && buf ? 0 : -ENOMEM;
	size_t scanned = 0;

	for (; scanned < e->npids && !err; scanned++) {
		procs[scanned].pid = e->pids[scanned];
		err = meminfo_process_scan(&procs[scanned], e->name, (uint32_t)scanned,
					   pagemap_scan, &store, buf);
		if (err == -EACCES) {
			mi->denied_pid = e->pids[scanned];
			snprintf(mi->denied_name, sizeof(mi->denied_name), "%s", e->name);
		}
	}
	if (!err)
		err = count_groups(e, procs, &store);
	if (!err) {
		e->total = e->valid = 0;
		for (size_t i = 0; i < e->npids; i++) {
			if (procs[i].gone)
				continue;
			e->total += procs[i].total;
			e->valid += procs[i].valid;
		}
		/* VmSize is read a moment before the walk: never go below 0. */
		e->invalid = e->total > e->valid ? e->total - e->valid : 0;
		keep_live_pids(e, procs);
	}
	for (size_t i = 0; i < scanned; i++)
		if (procs[i].memfd >= 0)
			close(procs[i].memfd);
	usm_dedup_store_free(&store);
	free(buf);
	free(procs);
	return err;
}

static int cmp_first_pid(const void *a, const void *b)
{
	const struct usm_meminfo_entry *x = a, *y = b;

	return cmp_pid(&x->pids[0], &y->pids[0]);
}

/* Names whose every process went away are dropped; a name whose first
 * process went away moves to its next pid's place. */
static void drop_empty_names(struct usm_meminfo *mi)
{
	size_t kept = 0;

	for (size_t i = 0; i < mi->count; i++) {
		if (mi->entries[i].npids)
			mi->entries[kept++] = mi->entries[i];
		else
			free(mi->entries[i].pids);
	}
	mi->count = kept;
	if (kept > 1)
		qsort(mi->entries, kept, sizeof(*mi->entries), cmp_first_pid);
}

static bool pagemap_scan_works(void)
{
	int fd = usm_os_pagemap_open(0);
	bool ok;

	if (fd < 0)
		return false;
	ok = usm_os_pagemap_scan_supported(fd);
	close(fd);
	return ok;
}

int usm_meminfo_scan(const struct usm_meminfo_opts *opts, struct usm_meminfo *out)
{
	static const struct usm_meminfo_opts all = { 0 };
	struct usm_meminfo mi = { 0 };
	bool pagemap_scan;
	int err;

	if (!opts)
		opts = &all;
	pagemap_scan = !opts->no_pagemap_scan && pagemap_scan_works();
	err = group_by_name(opts, &mi);
	for (size_t i = 0; i < mi.count && !err; i++)
		err = scan_name(&mi.entries[i], pagemap_scan, &mi);
	if (!err)
		drop_empty_names(&mi);
	if (err) {
		pid_t pid = mi.denied_pid;
		char name[sizeof(mi.denied_name)];

		memcpy(name, mi.denied_name, sizeof(name));
		usm_meminfo_free(&mi);
		mi.denied_pid = pid;
		memcpy(mi.denied_name, name, sizeof(name));
	}
	*out = mi;
	return err;
}

void usm_meminfo_free(struct usm_meminfo *mi)
{
	for (size_t i = 0; i < mi->count; i++)
		free(mi->entries[i].pids);
	free(mi->entries);
	*mi = (struct usm_meminfo){ 0 };
}

int usm_meminfo_format_line(const struct usm_meminfo_entry *e, char **line)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool failed;

	if (!f)
		return -ENOMEM;
	fprintf(f,
		"%s, total: %" PRIu64 ", valid: %" PRIu64 ", invalid: %" PRIu64
		", may_be_shared: %" PRIu64 ", nb_group: %" PRIu64 ", pid(%zu): ",
		e->name, e->total, e->valid, e->invalid, e->may_be_shared, e->nb_group, e->npids);
	for (size_t i = 0; i < e->npids; i++)
		fprintf(f, "%s%d", i ? "; " : "", (int)e->pids[i]);
	failed = ferror(f);
	if (fclose(f) || failed) {
		free(buf);
		return -ENOMEM;
	}
	*line = buf;
	return (int)size;
}
