/* usm dirty: how many pages a running process writes per interval, and
 * where, without stopping it: a working-set estimate as wss-style tools
 * make one, from libusm's dirty trackers (soft-dirty, or async
 * write-protect read back with PAGEMAP_SCAN through a userfaultfd created
 * inside the process). */
#include "builtin.h"
#include "table.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <usm/usm.h>

#include "base/page.h"
#include "os/procfs.h"
#include "os/smaps.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: usm dirty -p PID [--interval SECONDS] [--count N] [--backend NAME]\n"
	             "                 [--ranges] [--json]\n"
	             "\n"
	             "Every interval, the pages the process wrote during it: how many, how fast,\n"
	             "and in which mappings (a working-set estimate), without stopping it. The\n"
	             "backend is soft-dirty where the kernel has it; else (Linux 6.7+) async\n"
	             "write-protect read with PAGEMAP_SCAN, for which one thread of the process\n"
	             "is stopped for a moment at the start to create a userfaultfd inside it.\n"
	             "Only writable private and shared anonymous mappings are watched (heap,\n"
	             "stacks, anonymous mmap, shmem) with scan; soft-dirty sees every mapping.\n"
	             "Needs ptrace access to the process. Stops after N intervals, when the\n"
	             "process exits, or on Ctrl-C.\n"
	             "\n"
	             "  -p, --pid PID          the process\n"
	             "  -i, --interval SECONDS the length of an interval (default 1)\n"
	             "  -n, --count N          stop after N intervals (default: no limit)\n"
	             "  --backend NAME         auto (default), softdirty or scan\n"
	             "  --ranges               also list each written range under its interval\n"
	             "  --json                 print a JSON array of the intervals at the end\n"
	             "  -h, --help             show this help\n");
}

/* One tracker per watched mapping (scan), or one over the whole address
 * space (softdirty: clear_refs is process-wide, one tracker per process). */
struct watched {
	uint64_t start, end;
	char *name;
	struct usm_dirty *d;
	bool seen; /* still in maps at the last look */
};

struct dirty_run {
	pid_t pid;
	enum usm_dirty_backend backend; /* forced, or what auto chose */
	bool auto_chosen;
	struct watched *w;
	size_t n, cap;
	bool ranges, json;
};

static volatile sig_atomic_t stop_asked;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static const struct table_col interval_cols[] = {
        {.key = "seconds", .head = "TIME", .type = TABLE_DOUBLE, .width = 8, .decimals = 1},
        {.key = "pages", .head = "PAGES", .type = TABLE_UINT, .width = 9},
        {.key = "bytes", .head = "SIZE", .type = TABLE_SIZE, .width = 7, .zero = "0"},
        {.key = "pages_per_second",
         .head = "PAGES/S",
         .type = TABLE_DOUBLE,
         .width = 10,
         .decimals = 0},
        {.key = "mappings", .head = "WHERE", .type = TABLE_STR_LIST, .flags = TABLE_TEXT_ONLY},
        {.key = "ranges", .type = TABLE_JSON, .flags = TABLE_JSON_ONLY},
};

static const struct table_col range_cols[] = {
        {.key = "start", .head = "START", .type = TABLE_ADDR, .width = -12},
        {.key = "end", .head = "END", .type = TABLE_ADDR, .width = -12},
        {.key = "pages", .head = "PAGES", .type = TABLE_UINT, .width = 8},
        {.key = "name", .head = "NAME", .type = TABLE_STR, .zero = "[anon]"},
};

/* What scan watches: private anonymous memory (heap, stacks, anonymous
 * mmap, a program's bss) that the process can write. */
static bool scan_can_watch(const struct usm_os_mapping *m)
{
	return m->writable && !m->shared && !m->inode && !m->io && !m->pfnmap && !m->vsyscall;
}

static int watch(struct dirty_run *r, uint64_t start, uint64_t end, const char *name,
                 size_t name_len)
{
	const struct usm_dirty_config c = {
	        .backend = r->backend,
	        .pid = r->pid,
	        .options = USM_DIRTY_INJECT_UFFD,
	};
	struct watched *w;
	int err;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct watched *more = realloc(r->w, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		r->w = more;
		r->cap = cap;
	}
	w = &r->w[r->n];
	*w = (struct watched){.start = start, .end = end, .seen = true};
	err = usm_dirty_start(&c, start, end - start, &w->d);
	if (err)
		return err;
	w->name = strndup(name, name_len);
	r->n++;
	return 0;
}

static void unwatch(struct dirty_run *r, size_t i)
{
	usm_dirty_stop(r->w[i].d);
	free(r->w[i].name);
	r->w[i] = r->w[--r->n];
}

static struct watched *find(struct dirty_run *r, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->w[i].start == start && r->w[i].end == end)
			return &r->w[i];
	return NULL;
}

/* Brings the trackers in line with the process's mappings: new ones
 * watched from now on (their writes before this are not known), gone ones
 * dropped. A mapping that cannot be registered (the process uses
 * userfaultfd on it itself: -EBUSY; or it went away) is left out. */
static int follow_mappings(struct dirty_run *r)
{
	struct usm_os_maps it;
	struct usm_os_mapping m;
	char *maps;
	int err;

	/* softdirty: one tracker over everything; it reads only what is mapped */
	if (r->backend == USM_DIRTY_SOFTDIRTY)
		return r->n ? 0 : watch(r, USM_PAGE_SIZE, 0x800000000000ULL, "", 0);
	err = usm_os_proc_read_maps(r->pid, &maps);
	if (err)
		return err;
	for (size_t i = 0; i < r->n; i++)
		r->w[i].seen = false;
	usm_os_maps_init(&it, maps);
	while (usm_os_maps_next(&it, &m) > 0) {
		struct watched *w;

		if (!scan_can_watch(&m))
			continue;
		w = find(r, m.start, m.end);
		if (w) {
			w->seen = true;
			continue;
		}
		err = watch(r, m.start, m.end, m.name, m.name_len);
		if (err == -ENOSYS || err == -EPERM || err == -EACCES || err == -ESRCH ||
		    err == -ENOMEM)
			break; /* the backend or the process, not this mapping */
		err = 0;
	}
	free(maps);
	for (size_t i = r->n; !err && i-- > 0;)
		if (!r->w[i].seen)
			unwatch(r, i);
	return err;
}

/* The mapping of maps text that holds addr, for a softdirty range's name. */
static void name_of(const char *maps, uint64_t addr, char *name, size_t len)
{
	struct usm_os_maps it;
	struct usm_os_mapping m;

	snprintf(name, len, "?");
	usm_os_maps_init(&it, maps);
	while (usm_os_maps_next(&it, &m) > 0)
		if (m.start <= addr && addr < m.end) {
			snprintf(name, len, "%.*s", (int)m.name_len, m.name);
			return;
		}
}

struct where {
	char name[256];
	uint64_t pages;
};

static void add_where(struct where *top, size_t *n, size_t cap, const char *name, uint64_t pages)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(top[i].name, name)) {
			top[i].pages += pages;
			return;
		}
	if (*n < cap) {
		snprintf(top[*n].name, sizeof(top[*n].name), "%s", name);
		top[(*n)++].pages = pages;
	}
}

static int by_pages(const void *a, const void *b)
{
	const struct where *x = a, *y = b;

	return x->pages < y->pages ? 1 : x->pages > y->pages ? -1 : strcmp(x->name, y->name);
}

/* Whether pid still has its memory: a zombie keeps its pid (kill(pid, 0)
 * succeeds) but has no address space left to watch. */
static bool alive(pid_t pid)
{
	int dir = usm_os_proc_open(pid);
	uint64_t kb;
	int err;

	if (dir < 0)
		return false;
	err = usm_os_proc_read_vmsize(dir, &kb);
	close(dir);
	return err == 0;
}

/* One interval: collect every tracker, one row of t, and its ranges. */
static int collect(struct dirty_run *r, struct table *t, double seconds, double length)
{
	enum { WHERE_MAX = 64 };
	struct where where[WHERE_MAX];
	const char *shown[3];
	char text[3][300], *maps = NULL;
	size_t nwhere = 0;
	uint64_t pages = 0;
	struct table ranges;
	int err = 0;

	table_init(&ranges, TABLE_COLS(range_cols));
	if (r->backend == USM_DIRTY_SOFTDIRTY)
		err = usm_os_proc_read_maps(r->pid, &maps);
	for (size_t i = 0; !err && i < r->n; i++) {
		const struct usm_dirty_range *got;
		int n = usm_dirty_collect(r->w[i].d, &got);

		if (n < 0 && alive(r->pid) && r->backend == USM_DIRTY_SCAN) {
			/* its mapping changed shape under it: watched afresh
			 * by the next follow_mappings */
			unwatch(r, i--);
			continue;
		}
		if (n < 0) {
			err = n;
			break;
		}
		for (int k = 0; k < n; k++) {
			uint64_t p = (got[k].end - got[k].start) / USM_PAGE_SIZE;
			char name[256];

			if (maps)
				name_of(maps, got[k].start, name, sizeof(name));
			else
				snprintf(name, sizeof(name), "%s", r->w[i].name);
			pages += p;
			add_where(where, &nwhere, WHERE_MAX, name[0] ? name : "[anon]", p);
			table_row(&ranges);
			table_add_uint(&ranges, got[k].start);
			table_add_uint(&ranges, got[k].end);
			table_add_uint(&ranges, p);
			table_add_str(&ranges, name);
		}
	}
	free(maps);
	if (!err) {
		qsort(where, nwhere, sizeof(where[0]), by_pages);
		for (size_t i = 0; i < nwhere && i < 3; i++) {
			snprintf(text[i], sizeof(text[i]), "%.255s:%llu", where[i].name,
			         (unsigned long long)where[i].pages);
			shown[i] = text[i];
		}
		table_row(t);
		table_add_double(t, seconds);
		table_add_uint(t, pages);
		table_add_uint(t, pages * USM_PAGE_SIZE);
		table_add_double(t, (double)pages / length);
		table_add_strs(t, shown, nwhere < 3 ? nwhere : 3);
		table_add_json(t, table_json_rows(&ranges));
		if (!r->json) {
			table_print_row(t, stdout, t->nrows - 1, t->nrows == 1);
			if (r->ranges && ranges.nrows)
				table_print_text(&ranges, stdout, false);
			fflush(stdout);
		}
	}
	table_free(&ranges);
	return err;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps until `until` (monotonic seconds) unless asked to stop. */
static void sleep_until(double until)
{
	struct timespec ts = {.tv_sec = (time_t)until,
	                      .tv_nsec = (long)((until - (double)(time_t)until) * 1e9)};

	while (!stop_asked && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int parse_backend(const char *cmd, const char *text, enum usm_dirty_backend *out)
{
	static const enum usm_dirty_backend choices[] = {USM_DIRTY_AUTO, USM_DIRTY_SOFTDIRTY,
	                                                 USM_DIRTY_SCAN};

	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++)
		if (!strcmp(text, usm_dirty_backend_name(choices[i]))) {
			*out = choices[i];
			return 0;
		}
	return cli_usage_error(cmd, "--backend: '%s' is not auto, softdirty or scan", text);
}

static int report(const struct dirty_run *r, int err)
{
	const char *why = NULL;

	if (err == -EACCES || err == -EPERM) {
		usm_error("dirty: process %d: no access (ptrace access is needed: the same "
		          "user, or CAP_SYS_PTRACE)",
		          (int)r->pid);
	} else if (err == -ENOSYS && r->auto_chosen) {
		usm_dirty_probe(USM_DIRTY_SOFTDIRTY, r->pid, 0, NULL, &why);
		usm_error("dirty: no backend for another process here: softdirty: %s; scan "
		          "needs PAGEMAP_SCAN and UFFD_FEATURE_WP_ASYNC (Linux 6.7+)",
		          why ? why : "not available");
	} else if (err == -ENOSYS) {
		usm_dirty_probe(r->backend, r->pid, 0, NULL, &why);
		usm_error("dirty: %s: %s", usm_dirty_backend_name(r->backend),
		          why ? why : "not available");
	} else {
		usm_error_errno(err, "dirty: process %d", (int)r->pid);
	}
	return 1;
}

static int run(struct dirty_run *r, double interval, uint64_t count)
{
	struct table t;
	double t0, next;
	int err;

	r->auto_chosen = r->backend == USM_DIRTY_AUTO;
	if (r->backend == USM_DIRTY_AUTO)
		r->backend = usm_dirty_probe(USM_DIRTY_SOFTDIRTY, r->pid, 0, NULL, NULL) == 0
		                     ? USM_DIRTY_SOFTDIRTY
		                     : USM_DIRTY_SCAN;
	err = follow_mappings(r);
	if (!err && !r->n)
		err = -ENOENT;
	if (err == -ENOENT) {
		usm_error("dirty: process %d has no anonymous writable mapping to watch",
		          (int)r->pid);
		return 1;
	}
	if (err)
		return report(r, err);
	if (r->backend == USM_DIRTY_SOFTDIRTY)
		fprintf(stderr, "usm: dirty: watching process %d with softdirty\n", (int)r->pid);
	else
		fprintf(stderr, "usm: dirty: watching %zu mapping%s of process %d with scan\n",
		        r->n, r->n == 1 ? "" : "s", (int)r->pid);
	table_init(&t, TABLE_COLS(interval_cols));
	t0 = next = now();
	for (uint64_t i = 0; !err && !stop_asked && (!count || i < count); i++) {
		double start = next;

		next += interval;
		sleep_until(next);
		err = collect(r, &t, now() - t0, now() - start);
		if (!err && !alive(r->pid))
			err = -ESRCH;
		if (!err)
			err = follow_mappings(r);
	}
	if (err == -ESRCH || err == -ENOENT) {
		fprintf(stderr, "usm: dirty: process %d exited\n", (int)r->pid);
		err = 0;
	}
	if (!err && r->json) {
		json_object *doc = json_object_new_object();

		json_object_object_add(doc, "pid", json_object_new_int(r->pid));
		json_object_object_add(doc, "backend",
		                       json_object_new_string(usm_dirty_backend_name(r->backend)));
		json_object_object_add(doc, "interval_seconds", json_object_new_double(interval));
		json_object_object_add(doc, "intervals", table_json_rows(&t));
		err = table_json_print(doc, stdout, false);
	}
	table_free(&t);
	return err ? report(r, err) : 0;
}

int cmd_dirty(int argc, char **argv)
{
	enum { OPT_BACKEND = 256, OPT_RANGES, OPT_JSON };
	static const struct option options[] = {
	        {"pid", required_argument, NULL, 'p'},
	        {"interval", required_argument, NULL, 'i'},
	        {"count", required_argument, NULL, 'n'},
	        {"backend", required_argument, NULL, OPT_BACKEND},
	        {"ranges", no_argument, NULL, OPT_RANGES},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct dirty_run r = {0};
	struct sigaction sa = {.sa_handler = on_stop_signal};
	double interval = 1;
	uint64_t count = 0;
	int c, status;

	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:p:i:n:h", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_pid(argv[0], "--pid", optarg, &r.pid))
				return 2;
			break;
		case 'i':
			if (cli_parse_seconds(argv[0], "--interval", optarg, 86400, &interval))
				return 2;
			break;
		case 'n':
			if (cli_parse_range(argv[0], "--count", optarg, 1, UINT32_MAX, &count))
				return 2;
			break;
		case OPT_BACKEND:
			if (parse_backend(argv[0], optarg, &r.backend))
				return 2;
			break;
		case OPT_RANGES:
			r.ranges = true;
			break;
		case OPT_JSON:
			r.json = true;
			break;
		default:
			return cli_option_end(argv[0], argv, c, usage);
		}
	}
	if (cli_no_arguments_left(argv[0], argc, argv))
		return 2;
	if (!r.pid)
		return cli_usage_error(argv[0], "which process? give -p PID");
	if (r.pid == getpid())
		return cli_usage_error(argv[0], "-p: not usm itself");

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	status = run(&r, interval, count);
	while (r.n)
		unwatch(&r, r.n - 1);
	free(r.w);
	return status;
}
