/* usm ktrace's session (ktrace.h): one perf event per kmem tracepoint, per
 * CPU, for the target's tasks (inherited by the children and threads they
 * start) or for every task; one ring buffer per CPU. Records of all CPUs
 * are merged in time order before objects.c pairs allocations with frees:
 * an object allocated on one CPU is often freed on another, and its free
 * must not be seen first. A record timestamped before a drain started is
 * in its ring by the end of that drain (less a margin for one being
 * written), so each round hands over everything older than that. */
#include "ktrace/ktrace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "ktrace/objects.h"
#include "os/kallsyms.h"
#include "os/perf.h"
#include "os/procfs.h"
#include "os/spawn.h"
#include "os/tracefs.h"
#include "base/grow.h"

/* The tracepoints, and the fields each needs from its raw record. */
enum field { F_CALL_SITE, F_PTR, F_BYTES_REQ, F_BYTES_ALLOC, F_PFN, F_ORDER, NFIELDS };
static const char *const field_names[NFIELDS] = { "call_site", "ptr",  "bytes_req",
						  "bytes_alloc", "pfn", "order" };
#define FB(f) (1u << (f))

static const struct tracepoint {
	const char *name;
	uint8_t kind;
	bool optional; /* the _node variants: 6.1 has them, later kernels fold them in */
	unsigned fields;
} tracepoints[] = {
	{ "kmalloc", KT_ALLOC_KMALLOC, false,
	  FB(F_CALL_SITE) | FB(F_PTR) | FB(F_BYTES_REQ) | FB(F_BYTES_ALLOC) },
	{ "kmalloc_node", KT_ALLOC_KMALLOC, true,
	  FB(F_CALL_SITE) | FB(F_PTR) | FB(F_BYTES_REQ) | FB(F_BYTES_ALLOC) },
	{ "kmem_cache_alloc", KT_ALLOC_CACHE, false,
	  FB(F_CALL_SITE) | FB(F_PTR) | FB(F_BYTES_REQ) | FB(F_BYTES_ALLOC) },
	{ "kmem_cache_alloc_node", KT_ALLOC_CACHE, true,
	  FB(F_CALL_SITE) | FB(F_PTR) | FB(F_BYTES_REQ) | FB(F_BYTES_ALLOC) },
	{ "kfree", KT_FREE_SLAB, false, FB(F_CALL_SITE) | FB(F_PTR) },
	{ "kmem_cache_free", KT_FREE_SLAB, false, FB(F_CALL_SITE) | FB(F_PTR) },
	{ "mm_page_alloc", KT_ALLOC_PAGE, false, FB(F_PFN) | FB(F_ORDER) },
	{ "mm_page_free", KT_FREE_PAGE, false, FB(F_PFN) | FB(F_ORDER) },
	{ "mm_page_free_batched", KT_FREE_PAGE, true, FB(F_PFN) },
};
#define NTP (sizeof(tracepoints) / sizeof(tracepoints[0]))

struct field_loc {
	unsigned offset, size; /* size 0: not in this tracepoint */
};

/* A record must be this old (ns) before a round hands it over. */
#define MERGE_MARGIN_NS 10000000ull

struct ev_id {
	uint64_t id;
	unsigned tp;
};

struct usm_ktrace {
	struct usm_ktrace_config cfg;
	pid_t target;
	bool own_child, child_done;
	int child_status;
	int tp_id[NTP]; /* 0: this kernel lacks it */
	struct field_loc loc[NTP][NFIELDS];
	unsigned ncpu;
	struct usm_os_perf_ring *rings;
	bool *cpu_ok;
	int *fds;
	size_t nfds, fds_cap;
	struct ev_id *ids;
	size_t nids, ids_cap;
	struct kt_event *evs; /* drained, not yet handed over */
	size_t nevs, evs_cap;
	uint64_t seq;
	int err; /* the first -ENOMEM of a drain callback */
	uint64_t throttled;
	bool mounted;
	bool no_format_lost; /* a kernel before 6.0: only PERF_RECORD_LOST counts */
	char comm_filter[64]; /* the ftrace filter of --comm on the whole system */
	struct usm_os_kallsyms ksyms; /* read once, at open: page call sites, then FILE.kallsyms */
	bool ksyms_ok, ksyms_hidden;
	unsigned char *page_api; /* per symbol: the page allocator's own, skipped in a callchain */
	volatile sig_atomic_t stop;
	struct kt_objects objs; /* from open, so that -p can name its threads first */
	FILE *body;             /* the object lines until the header can be written */
	struct usm_ktrace_result res;
};

void usm_ktrace_config_init(struct usm_ktrace_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* 8 MiB a CPU: a busy open/close loop fills it in ~100 ms */
	cfg->ring_pages = 2048;
}

static int grow(void **arr, size_t *cap, size_t n, size_t item)
{
	return usm_grow(arr, cap, n, item, 64);
}

static int push_fd(struct usm_ktrace *kt, int fd)
{
	if (grow((void **)&kt->fds, &kt->fds_cap, kt->nfds, sizeof(int)) < 0) {
		close(fd);
		return -ENOMEM;
	}
	kt->fds[kt->nfds++] = fd;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const struct ev_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int tp_of(const struct usm_ktrace *kt, uint64_t id)
{
	size_t lo = 0, hi = kt->nids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kt->ids[mid].id == id)
			return (int)kt->ids[mid].tp;
		if (kt->ids[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The page allocator's tracepoints carry no call site: its allocations
 * get theirs from a short kernel callchain, the first frame outside the
 * allocator's own functions (alloc_pages_mpol, __alloc_frozen_pages...). */
#define CHAIN_DEPTH 8

static bool wants_chain(const struct usm_ktrace *kt, unsigned tp)
{
	return kt->ksyms_ok && tracepoints[tp].kind == KT_ALLOC_PAGE;
}

/* Names of the page allocator's entry points and wrappers, as substrings:
 * alloc_pages_noprof, __alloc_frozen_pages_noprof, vma_alloc_folio_noprof,
 * get_free_pages_noprof, get_zeroed_page_noprof, ... */
static bool is_page_api(const char *name)
{
	static const char *const parts[] = { "alloc_pages", "alloc_frozen_pages", "folio_alloc",
					     "alloc_folio", "get_free_pages", "get_zeroed_page",
					     "get_page_from_freelist" };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (strstr(name, parts[i]))
			return true;
	return false;
}

/* The first return address of the chain outside the page allocator. */
static uint64_t chain_site(const struct usm_ktrace *kt, const uint64_t *ips, uint64_t nr)
{
	for (uint64_t i = 0; i < nr; i++) {
		long s;

		if (ips[i] >= PERF_CONTEXT_MAX)
			continue; /* a context marker, not an address */
		s = usm_os_kallsyms_find(&kt->ksyms, ips[i] - 1);
		if (s < 0 || !kt->page_api[s])
			return ips[i];
	}
	return 0;
}

#define SAMPLE_TYPE (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | \
		     PERF_SAMPLE_CPU | PERF_SAMPLE_RAW)

/* One tracepoint's event for task pid (-1: every task) on cpu; the first
 * of the CPU owns its ring and also reports tasks' names and forks. */
static int open_one(struct usm_ktrace *kt, unsigned tp, pid_t pid, unsigned cpu)
{
	struct perf_event_attr a;
	struct ev_id *id;
	bool first = !kt->cpu_ok[cpu];
	int fd, err;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_TRACEPOINT;
	a.config = (uint64_t)kt->tp_id[tp];
	a.sample_period = 1;
	a.sample_type = SAMPLE_TYPE;
	if (wants_chain(kt, tp)) {
		a.sample_type |= PERF_SAMPLE_CALLCHAIN;
		a.exclude_callchain_user = 1;
		a.sample_max_stack = CHAIN_DEPTH;
	}
	a.disabled = 1;
	a.inherit = pid >= 0;
	a.enable_on_exec = kt->cfg.argv != NULL;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC; /* comparable with usm_now_ns: the merge's bound */
	a.sample_id_all = 1;
	a.comm = a.comm_exec = a.task = first;
	/* wake the reader at a quarter full: room for 3/4 of a ring while it works */
	a.watermark = 1;
	a.wakeup_watermark = (uint32_t)(kt->cfg.ring_pages * (size_t)sysconf(_SC_PAGESIZE) / 4);
	a.read_format = kt->no_format_lost ? 0 : PERF_FORMAT_LOST;
	fd = usm_os_perf_open(&a, pid, (int)cpu, -1, 0);
	if (fd == -EINVAL && !kt->no_format_lost) {
		kt->no_format_lost = true;
		a.read_format = 0;
		fd = usm_os_perf_open(&a, pid, (int)cpu, -1, 0);
	}
	if (fd < 0)
		return fd;
	err = push_fd(kt, fd);
	if (err)
		return err;
	/* every task of a name: the kernel drops the others' events before
	 * they cost a ring's room (objects.c filters again, for a kernel that
	 * refuses the filter and for tasks renamed) */
	if (pid < 0 && kt->comm_filter[0])
		usm_os_perf_set_filter(fd, kt->comm_filter);
	if (grow((void **)&kt->ids, &kt->ids_cap, kt->nids, sizeof(*kt->ids)) < 0)
		return -ENOMEM;
	id = &kt->ids[kt->nids];
	err = usm_os_perf_id(fd, &id->id);
	if (err)
		return err;
	id->tp = tp;
	kt->nids++;
	if (first) {
		err = usm_os_perf_ring_map(fd, kt->cfg.ring_pages, &kt->rings[cpu]);
		if (err)
			return err;
		kt->cpu_ok[cpu] = true;
		return 0;
	}
	return usm_os_perf_set_output(fd, kt->rings[cpu].fd);
}

/* Every tracepoint for task pid on every CPU. A CPU that is offline
 * refuses (-ENODEV or -EINVAL) and is skipped, as long as one accepts. */
static int open_task(struct usm_ktrace *kt, pid_t pid)
{
	int ok = 0, err = -ENODEV;

	for (unsigned c = 0; c < kt->ncpu; c++) {
		int e = 0;

		for (unsigned t = 0; t < NTP && !e; t++)
			if (kt->tp_id[t] > 0)
				e = open_one(kt, t, pid, c);
		if (!e)
			ok++;
		else if (e != -ENODEV && e != -EINVAL)
			return e;
		else
			err = e;
	}
	return ok ? 0 : err;
}

/* Every thread of a running process, each named from /proc before its
 * first event. Threads they start from now on inherit the events; one
 * started between the listing and the open is caught by a second listing. */
struct open_pid_ctx {
	struct usm_ktrace *kt;
	struct kt_objects *objs;
};

static int open_named_task(void *ctx, pid_t tid)
{
	struct open_pid_ctx *o = ctx;
	char comm[USM_OS_COMM_MAX + 1];
	int dir = usm_os_proc_open(tid), err = 0;

	if (dir >= 0) {
		if (usm_os_proc_read_comm(dir, comm) == 0)
			err = kt_objects_name(o->objs, tid, comm);
		close(dir);
	}
	return err ? err : open_task(o->kt, tid);
}

static int open_pid(struct usm_ktrace *kt, pid_t pid, struct kt_objects *objs)
{
	struct open_pid_ctx o = { kt, objs };

	return usm_os_proc_each_task(pid, open_named_task, &o);
}

static int setup(struct usm_ktrace *kt, enum usm_ktrace_stage *stage)
{
	char dir[256];
	int err;

	*stage = USM_KTRACE_STAGE_TRACEFS;
	err = usm_os_tracefs_find(dir, sizeof(dir), true, &kt->mounted);
	if (err)
		return err;
	*stage = USM_KTRACE_STAGE_TRACEPOINT;
	for (unsigned t = 0; t < NTP; t++) {
		int id = usm_os_tracepoint_id(dir, "kmem", tracepoints[t].name);

		if (id == -ENOENT && tracepoints[t].optional)
			continue;
		if (id < 0)
			return id;
		kt->tp_id[t] = id;
		for (unsigned f = 0; f < NFIELDS; f++) {
			struct field_loc *l = &kt->loc[t][f];

			if (!(tracepoints[t].fields & FB(f)))
				continue;
			err = usm_os_tracepoint_field(dir, "kmem", tracepoints[t].name,
						      field_names[f], &l->offset, &l->size);
			if (err)
				return err;
			if (l->size != 4 && l->size != 8)
				return -EINVAL;
		}
	}
	/* without symbols the sites stay addresses, and pages have none */
	err = usm_os_kallsyms_load("/proc/kallsyms", &kt->ksyms);
	kt->ksyms_hidden = err == -EPERM;
	if (!err && kt->ksyms.n) {
		kt->page_api = calloc(kt->ksyms.n, 1);
		if (!kt->page_api)
			return -ENOMEM;
		for (size_t i = 0; i < kt->ksyms.n; i++)
			kt->page_api[i] = is_page_api(kt->ksyms.syms[i].name);
		kt->ksyms_ok = true;
	}
	*stage = USM_KTRACE_STAGE_PERF;
	kt->ncpu = (unsigned)get_nprocs_conf();
	kt->rings = calloc(kt->ncpu, sizeof(*kt->rings));
	kt->cpu_ok = calloc(kt->ncpu, sizeof(*kt->cpu_ok));
	return kt->rings && kt->cpu_ok ? 0 : -ENOMEM;
}

static uint64_t field(const unsigned char *raw, uint32_t raw_size, const struct field_loc *l)
{
	uint64_t v64 = 0;
	uint32_t v32 = 0;

	if (!l->size || l->offset + l->size > raw_size)
		return 0;
	if (l->size == 8) {
		memcpy(&v64, raw + l->offset, 8);
		return v64;
	}
	memcpy(&v32, raw + l->offset, 4);
	return v32;
}

static struct kt_event *new_event(struct usm_ktrace *kt)
{
	if (kt->err)
		return NULL;
	if (grow((void **)&kt->evs, &kt->evs_cap, kt->nevs, sizeof(*kt->evs)) < 0) {
		kt->err = -ENOMEM;
		return NULL;
	}
	memset(&kt->evs[kt->nevs], 0, sizeof(*kt->evs));
	kt->evs[kt->nevs].seq = kt->seq++;
	return &kt->evs[kt->nevs++];
}

/* A sample: identifier, pid/tid, time, cpu, raw size and bytes. */
static void on_sample(struct usm_ktrace *kt, const struct perf_event_header *h)
{
	const unsigned char *p = (const unsigned char *)(h + 1);
	uint64_t id, t;
	uint32_t pt[2], raw_size;
	const struct field_loc *l;
	struct kt_event *e;
	int tp;

	const unsigned char *end = (const unsigned char *)h + h->size;
	uint64_t nr = 0, site = 0;

	if (h->size < sizeof(*h) + 36)
		return;
	memcpy(&id, p, 8);
	memcpy(pt, p + 8, 8);
	memcpy(&t, p + 16, 8);
	if ((tp = tp_of(kt, id)) < 0)
		return;
	p += 32;
	if (wants_chain(kt, (unsigned)tp)) { /* u64 nr, u64 ips[nr], before the raw data */
		memcpy(&nr, p, 8);
		if (nr > CHAIN_DEPTH + 8 || (size_t)(end - p) < 8 + nr * 8 + 4)
			return;
		{
			uint64_t ips[CHAIN_DEPTH + 8];

			memcpy(ips, p + 8, nr * 8);
			site = chain_site(kt, ips, nr);
		}
		p += 8 + nr * 8;
	}
	if ((size_t)(end - p) < 4)
		return;
	memcpy(&raw_size, p, 4);
	p += 4;
	if (raw_size > (size_t)(end - p))
		return;
	e = new_event(kt);
	if (!e)
		return;
	l = kt->loc[tp];
	e->t = t;
	e->pid = (int)pt[0];
	e->tid = (int)pt[1];
	e->kind = tracepoints[tp].kind;
	e->site = field(p, raw_size, &l[F_CALL_SITE]);
	if (e->kind == KT_ALLOC_PAGE || e->kind == KT_FREE_PAGE) {
		e->site = site;
		e->addr = field(p, raw_size, &l[F_PFN]);
		e->req = field(p, raw_size, &l[F_ORDER]);
	} else {
		e->addr = field(p, raw_size, &l[F_PTR]);
		e->req = field(p, raw_size, &l[F_BYTES_REQ]);
		e->usable = field(p, raw_size, &l[F_BYTES_ALLOC]);
	}
}

/* sample_id_all's trailer ends every other record: pid/tid, time, cpu, identifier. */
static uint64_t trailer_time(const struct perf_event_header *h)
{
	uint64_t t = 0;

	if (h->size >= sizeof(*h) + 32)
		memcpy(&t, (const unsigned char *)h + h->size - 24, 8);
	return t;
}

static void on_record(const struct perf_event_header *h, void *arg)
{
	struct usm_ktrace *kt = arg;
	const unsigned char *p = (const unsigned char *)(h + 1);
	struct kt_event *e;
	uint32_t v[4];

	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		on_sample(kt, h);
		break;
	case PERF_RECORD_THROTTLE:
		kt->throttled++;
		break;
	case PERF_RECORD_COMM: /* pid, tid, comm[], trailer */
		if (h->size < sizeof(*h) + 8 + 32 || !(e = new_event(kt)))
			break;
		memcpy(v, p, 8);
		e->kind = KT_COMM;
		e->pid = (int)v[0];
		e->tid = (int)v[1];
		e->t = trailer_time(h);
		snprintf(e->comm, sizeof(e->comm), "%.*s",
			 (int)(h->size - sizeof(*h) - 8 - 32 < 15 ? h->size - sizeof(*h) - 8 - 32 : 15),
			 (const char *)p + 8);
		break;
	case PERF_RECORD_FORK: /* pid, ppid, tid, ptid, time, trailer */
		if (h->size < sizeof(*h) + 24 || !(e = new_event(kt)))
			break;
		memcpy(v, p, 16);
		e->kind = KT_FORK;
		e->pid = (int)v[0];
		e->req = v[1];
		e->tid = (int)v[2];
		e->usable = v[3];
		memcpy(&e->t, p + 16, 8);
		break;
	default: /* PERF_RECORD_LOST is counted by the ring; EXIT says nothing we need */
		break;
	}
}

static int cmp_event(const void *a, const void *b)
{
	const struct kt_event *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Drains every ring, then hands over in time order the records older
 * than bound (all of them for UINT64_MAX). */
static int drain(struct usm_ktrace *kt, uint64_t bound)
{
	size_t n = 0;
	int err = 0;

	for (unsigned c = 0; c < kt->ncpu; c++) {
		long got;

		if (!kt->cpu_ok[c])
			continue;
		got = usm_os_perf_ring_drain(&kt->rings[c], on_record, kt);
		if (got < 0)
			return (int)got;
	}
	if (kt->err)
		return kt->err;
	if (!kt->nevs)
		return 0;
	qsort(kt->evs, kt->nevs, sizeof(*kt->evs), cmp_event);
	while (n < kt->nevs && kt->evs[n].t < bound && !err)
		err = kt_objects_event(&kt->objs, &kt->evs[n++]);
	memmove(kt->evs, kt->evs + n, (kt->nevs - n) * sizeof(*kt->evs));
	kt->nevs -= n;
	return err;
}

int usm_ktrace_open(const struct usm_ktrace_config *cfg, struct usm_ktrace **out,
		    enum usm_ktrace_stage *stage)
{
	struct usm_os_spawn sp = { .go_fd = -1, .err_fd = -1 };
	struct usm_ktrace *kt;
	int err;

	*stage = USM_KTRACE_STAGE_NONE;
	if ((cfg->pid && cfg->argv) || (!cfg->pid && !cfg->argv && !cfg->comm) || !cfg->out ||
	    !cfg->ring_pages || (cfg->ring_pages & (cfg->ring_pages - 1)))
		return -EINVAL;
	kt = calloc(1, sizeof(*kt));
	if (!kt)
		return -ENOMEM;
	kt->cfg = *cfg;
	kt->child_status = -1;
	kt->body = tmpfile();
	if (!kt->body) {
		err = -errno;
		free(kt);
		return err;
	}
	err = kt_objects_init(&kt->objs, kt->body, cfg->comm, 0, &kt->res);
	if (err) {
		fclose(kt->body);
		free(kt);
		return err;
	}
	if (cfg->pid) {
		*stage = USM_KTRACE_STAGE_PID;
		if (cfg->pid < 0 || (kill(cfg->pid, 0) < 0 && errno == ESRCH)) {
			err = -ESRCH;
			goto fail;
		}
		kt->target = cfg->pid;
	}
	err = setup(kt, stage);
	if (err)
		goto fail;
	if (cfg->pid) {
		err = open_pid(kt, cfg->pid, &kt->objs);
		if (err == -ESRCH)
			*stage = USM_KTRACE_STAGE_PID;
	} else if (cfg->argv) {
		const char *base = strrchr(cfg->argv[0], '/');

		*stage = USM_KTRACE_STAGE_EXEC;
		err = usm_os_spawn_held(cfg->argv, &sp);
		if (err)
			goto fail;
		kt->target = sp.pid;
		/* its name from exec on; the COMM record of the exec says so too */
		err = kt_objects_name(&kt->objs, sp.pid, base ? base + 1 : cfg->argv[0]);
		*stage = USM_KTRACE_STAGE_PERF;
		if (!err)
			err = open_task(kt, sp.pid);
	} else {
		/* a name with a quote or backslash would need escaping: filter here only */
		if (!strpbrk(cfg->comm, "\"\\"))
			snprintf(kt->comm_filter, sizeof(kt->comm_filter), "comm == \"%s\"", cfg->comm);
		*stage = USM_KTRACE_STAGE_PERF;
		err = open_task(kt, -1);
	}
	if (err)
		goto fail;
	qsort(kt->ids, kt->nids, sizeof(*kt->ids), cmp_id);
	kt->objs.t0 = usm_now_ns();
	if (cfg->argv) {
		*stage = USM_KTRACE_STAGE_EXEC;
		err = usm_os_spawn_release(&sp); /* its events start at the exec */
		if (err)
			goto fail;
		kt->own_child = true;
	} else {
		for (size_t i = 0; i < kt->nfds; i++)
			usm_os_perf_enable(kt->fds[i]);
	}
	*stage = USM_KTRACE_STAGE_NONE;
	*out = kt;
	return 0;
fail:
	usm_os_spawn_abort(&sp);
	usm_ktrace_close(kt);
	return err;
}

void usm_ktrace_stop(struct usm_ktrace *kt)
{
	kt->stop = 1;
}

/* The larger of the kernel's two counts: the PERF_RECORD_LOST records the
 * rings carried (every kind of record, but only once a ring had room
 * again) and the events' own lost samples (also those still unreported
 * when the recording ended). */
static uint64_t lost_events(const struct usm_ktrace *kt)
{
	uint64_t reported = 0, samples = 0;

	for (unsigned c = 0; c < kt->ncpu; c++)
		if (kt->cpu_ok[c])
			reported += kt->rings[c].lost;
	for (size_t i = 0; i < kt->nfds && !kt->no_format_lost; i++) {
		uint64_t n;

		if (usm_os_perf_read_lost(kt->fds[i], &n) == 0)
			samples += n;
	}
	return reported > samples ? reported : samples;
}

static bool target_gone(struct usm_ktrace *kt)
{
	if (kt->own_child) {
		int status;

		if (!kt->child_done && waitpid(kt->target, &status, WNOHANG) == kt->target) {
			kt->child_done = true;
			kt->child_status = status;
		}
		return kt->child_done;
	}
	if (!kt->target)
		return false; /* the whole system: until stopped */
	return kill(kt->target, 0) < 0 && errno == ESRCH;
}

int usm_ktrace_run(struct usm_ktrace *kt, struct usm_ktrace_result *res)
{
	uint64_t start = usm_now_ns(), deadline = 0;
	struct pollfd *pfd = calloc(kt->ncpu, sizeof(*pfd));
	unsigned npfd = 0;
	int err = 0;

	if (!pfd)
		return -ENOMEM;
	for (unsigned c = 0; c < kt->ncpu; c++)
		if (kt->cpu_ok[c])
			pfd[npfd++] = (struct pollfd){ .fd = kt->rings[c].fd, .events = POLLIN };
	if (kt->cfg.duration_s > 0)
		deadline = start + (uint64_t)(kt->cfg.duration_s * 1e9);
	while (!kt->stop && !err) {
		bool gone = target_gone(kt);
		uint64_t now;

		if (!gone)
			poll(pfd, npfd, 50);
		now = usm_now_ns();
		err = drain(kt, now > MERGE_MARGIN_NS ? now - MERGE_MARGIN_NS : 0);
		if (gone || (deadline && now >= deadline))
			break;
	}
	free(pfd);
	for (size_t i = 0; i < kt->nfds; i++)
		usm_os_perf_disable(kt->fds[i]);
	if (!err)
		err = drain(kt, UINT64_MAX);
	kt->res.lost = lost_events(kt);
	kt->res.throttled = kt->throttled;
	if (!err)
		err = kt_objects_finish(&kt->objs, kt->cfg.out, kt->cfg.syms,
					kt->ksyms_ok ? &kt->ksyms : NULL, kt->ksyms_hidden);
	kt->res.seconds = (double)(usm_now_ns() - start) / 1e9;
	kt->res.mounted_tracefs = kt->mounted;
	kt->res.exit_status = kt->child_done ? kt->child_status : -1;
	*res = kt->res;
	return err;
}

void usm_ktrace_close(struct usm_ktrace *kt)
{
	if (!kt)
		return;
	/* a command still running after --duration or a signal runs on */
	for (unsigned c = 0; c < kt->ncpu; c++)
		if (kt->cpu_ok && kt->cpu_ok[c])
			usm_os_perf_ring_unmap(&kt->rings[c]);
	for (size_t i = 0; i < kt->nfds; i++)
		close(kt->fds[i]);
	free(kt->fds);
	free(kt->ids);
	free(kt->evs);
	free(kt->rings);
	free(kt->cpu_ok);
	free(kt->page_api);
	usm_os_kallsyms_free(&kt->ksyms);
	kt_objects_free(&kt->objs);
	fclose(kt->body);
	free(kt);
}
