/* usm pages: what the page table says about a process's memory, per
 * mapping (a summary as smaps shows one, but counted page by page from the
 * page table) or as runs of pages with the same facts (usm_pagefacts). */
#include "builtin.h"
#include "table.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <usm/usm.h>

#include "base/page.h"
#include "os/procfs.h"
#include "os/smaps.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: usm pages -p PID [START-END | --mapping NAME] [--runs] [--json]\n"
	        "                 [--no-pagemap-scan]\n"
	        "\n"
	        "What the page table says about each page of a process, read through\n"
	        "PAGEMAP_SCAN (Linux 6.7+) or /proc/PID/pagemap, without faulting anything in.\n"
	        "By default a row per mapping counts its pages by fact: resident (as smaps'\n"
	        "Rss: present, not the zero page), private anonymous, file or shmem,\n"
	        "swapped, exclusively mapped, the zero page, huge, soft-dirty; then a\n"
	        "total. A fact this kernel or this user cannot tell shows '-'. Frame\n"
	        "numbers need CAP_SYS_ADMIN.\n"
	        "\n"
	        "  -p, --pid PID       the process (ptrace access to it is needed)\n"
	        "  START-END           only this address range (hexadecimal, as in maps)\n"
	        "  -m, --mapping NAME  only mappings named NAME: a path, its file name,\n"
	        "                      or [heap], [stack], [anon] (no name)\n"
	        "  --runs              a row per run of consecutive pages with the same\n"
	        "                      facts (and consecutive frames) instead\n"
	        "  --json              print JSON instead of the table\n"
	        "  --no-pagemap-scan   read pagemap entries, as on kernels before 6.7\n"
	        "  -h, --help          show this help\n");
}

/* The facts a run can have, as named in --runs and JSON's "known". */
static const struct {
	unsigned fact;
	const char *name;
} fact_names[] = {
        {USM_PAGE_PRESENT, "present"},       {USM_PAGE_SWAPPED, "swapped"}, {USM_PAGE_FILE, "file"},
        {USM_PAGE_EXCLUSIVE, "exclusive"},   {USM_PAGE_ZERO, "zero"},       {USM_PAGE_HUGE, "huge"},
        {USM_PAGE_SOFT_DIRTY, "soft_dirty"}, {USM_PAGE_WRITTEN, "written"}, {USM_PAGE_PFN, "pfn"},
};
#define NFACTS (sizeof(fact_names) / sizeof(fact_names[0]))

#define COUNT(k, h, w)                                                                             \
	{                                                                                          \
		.key = k, .head = h, .type = TABLE_SIZE, .width = w, .zero = "0"                   \
	}
static const struct table_col summary_cols[] = {
        {.key = "start", .head = "START", .type = TABLE_ADDR, .width = -12},
        {.key = "end", .head = "END", .type = TABLE_ADDR, .width = -12},
        {.key = "perms", .head = "PERM", .type = TABLE_STR, .width = -4},
        COUNT("size", "SIZE", 7),
        COUNT("rss", "RSS", 7),
        {.key = "present", .type = TABLE_SIZE, .flags = TABLE_JSON_ONLY},
        COUNT("anon", "ANON", 7),
        COUNT("file", "FILE", 7),
        COUNT("swapped", "SWAP", 7),
        COUNT("exclusive", "EXCL", 7),
        COUNT("zero", "ZERO", 7),
        COUNT("huge", "HUGE", 7),
        COUNT("soft_dirty", "DIRTY", 7),
        {.key = "written", .type = TABLE_SIZE, .flags = TABLE_JSON_ONLY},
        {.key = "name", .head = "NAME", .type = TABLE_STR, .zero = "[anon]"},
};
#undef COUNT

static const struct table_col run_cols[] = {
        {.key = "start", .head = "START", .type = TABLE_ADDR, .width = -12},
        {.key = "end", .head = "END", .type = TABLE_ADDR, .width = -12},
        {.key = "pages", .head = "PAGES", .type = TABLE_UINT, .width = 8},
        {.key = "pfn", .head = "PFN", .type = TABLE_ADDR, .width = 10},
        {.key = "facts", .head = "FACTS", .type = TABLE_STR_LIST, .width = -40},
        {.key = "name", .head = "NAME", .type = TABLE_STR, .zero = "[anon]"},
};

struct selection {
	uint64_t start, end; /* [start, end): the whole address space by default */
	const char *mapping; /* NULL: any */
};

struct pages_run {
	pid_t pid;
	unsigned without;
	bool runs, json;
	struct selection sel;
	uint64_t size;  /* bytes of the mappings looked at */
	unsigned known; /* facts told for every mapping looked at */
	bool any_known;
	struct table t;
};

/* "[anon]" names a mapping without a name; a path also answers to its
 * file name. */
static bool name_matches(const struct usm_os_mapping *m, const char *want)
{
	const char *base;

	if (!m->name_len)
		return !strcmp(want, "[anon]");
	if (strlen(want) == m->name_len && !memcmp(m->name, want, m->name_len))
		return true;
	base = memrchr(m->name, '/', m->name_len);
	if (!base || m->name[0] != '/')
		return false;
	base++;
	return strlen(want) == (size_t)(m->name + m->name_len - base) &&
	       !memcmp(base, want, strlen(want));
}

static void perms_of(const struct usm_os_mapping *m, char perms[5])
{
	perms[0] = m->readable ? 'r' : '-';
	perms[1] = m->writable ? 'w' : '-';
	perms[2] = m->executable ? 'x' : '-';
	perms[3] = m->shared ? 's' : 'p';
	perms[4] = '\0';
}

static void note_known(struct pages_run *r, unsigned known)
{
	r->known = r->any_known ? r->known & known : known;
	r->any_known = true;
}

/* A count column: its figure in bytes, or '-' when the fact is unknown. */
static void add_count(struct table *t, uint64_t pages, unsigned known, unsigned fact)
{
	if (known & fact)
		table_add_uint(t, pages * USM_PAGE_SIZE);
	else
		table_add_null(t);
}

/* A mapping's row, or the total's (start == end: no range, size given). */
static void add_summary_row(struct table *t, uint64_t start, uint64_t end, uint64_t size,
                            const char *perms, const struct usm_page_counts *c, unsigned known,
                            const char *name)
{
	table_row(t);
	if (start < end) {
		table_add_uint(t, start);
		table_add_uint(t, end);
	} else {
		table_add_null(t);
		table_add_null(t);
	}
	table_add_str(t, perms);
	table_add_uint(t, size);
	/* smaps' Rss leaves the zero page out: so does ours, where it is known */
	add_count(t, c->present - c->zero, known, USM_PAGE_PRESENT);
	add_count(t, c->present, known, USM_PAGE_PRESENT);
	add_count(t, c->anon, known, USM_PAGE_FILE);
	add_count(t, c->file, known, USM_PAGE_FILE);
	add_count(t, c->swapped, known, USM_PAGE_SWAPPED);
	add_count(t, c->exclusive, known, USM_PAGE_EXCLUSIVE);
	add_count(t, c->zero, known, USM_PAGE_ZERO);
	add_count(t, c->huge, known, USM_PAGE_HUGE);
	add_count(t, c->soft_dirty, known, USM_PAGE_SOFT_DIRTY);
	add_count(t, c->written, known, USM_PAGE_WRITTEN);
	table_add_str(t, name);
}

static void add_run_rows(struct table *t, const struct usm_page_run *runs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const char *facts[NFACTS];
		size_t nf = 0;

		for (size_t f = 0; f < NFACTS; f++)
			if (fact_names[f].fact != USM_PAGE_PFN &&
			    (runs[i].facts & fact_names[f].fact))
				facts[nf++] = fact_names[f].name;
		if (!(runs[i].facts & USM_PAGE_FILE) && (runs[i].facts & USM_PAGE_PRESENT))
			facts[nf++] = "anon";
		table_row(t);
		table_add_uint(t, runs[i].start);
		table_add_uint(t, runs[i].end);
		table_add_uint(t, (runs[i].end - runs[i].start) / USM_PAGE_SIZE);
		if (runs[i].pfn)
			table_add_uint(t, runs[i].pfn);
		else
			table_add_null(t);
		table_add_strs(t, facts, nf);
		table_add_str(t, name);
	}
}

struct runs_ctx {
	struct pages_run *r;
	const char *name;
};

static int add_runs(void *ctx, const struct usm_page_run *runs, size_t n, unsigned known)
{
	struct runs_ctx *c = ctx;

	note_known(c->r, known);
	add_run_rows(&c->r->t, runs, n, c->name);
	return 0;
}

static int runs_of(struct pages_run *r, const struct usm_pagefacts_query *q, const char *name)
{
	struct runs_ctx c = { .r = r, .name = name };

	return usm_pagefacts_walk(q, add_runs, &c, NULL);
}

/* One mapping, clipped to the selection: a summary row (summed into
 * *total) or its runs. */
static int look_at(struct pages_run *r, const struct usm_os_mapping *m,
                   struct usm_page_counts *total)
{
	struct usm_pagefacts_query q = {
	        .pid = r->pid,
	        .start = m->start > r->sel.start ? m->start : r->sel.start,
	        .end = m->end < r->sel.end ? m->end : r->sel.end,
	        .without = r->without,
	};
	struct usm_page_counts c = {0};
	char name[4096], perms[5];
	unsigned known = 0;
	int err;

	q.start = usm_page_down(q.start);
	q.end = usm_page_up(q.end);
	snprintf(name, sizeof(name), "%.*s", (int)m->name_len, m->name);
	if (r->runs)
		return runs_of(r, &q, name);
	err = usm_pagefacts_count(&q, &c, &known);
	if (err)
		return err;
	note_known(r, known);
	perms_of(m, perms);
	add_summary_row(&r->t, q.start, q.end, q.end - q.start, perms, &c, known, name);
	r->size += q.end - q.start;
	total->present += c.present;
	total->swapped += c.swapped;
	total->anon += c.anon;
	total->file += c.file;
	total->exclusive += c.exclusive;
	total->zero += c.zero;
	total->huge += c.huge;
	total->soft_dirty += c.soft_dirty;
	total->written += c.written;
	return 0;
}

static int walk(struct pages_run *r, const char *maps, struct usm_page_counts *total,
                uint64_t *looked)
{
	struct usm_os_maps it;
	struct usm_os_mapping m;
	int err;

	usm_os_maps_init(&it, maps);
	while ((err = usm_os_maps_next(&it, &m)) > 0) {
		if (m.vsyscall || m.end <= r->sel.start || m.start >= r->sel.end)
			continue;
		if (r->sel.mapping && !name_matches(&m, r->sel.mapping))
			continue;
		err = look_at(r, &m, total);
		if (err == -ENOMEM && !r->t.failed)
			continue; /* unmapped since maps was read: nothing to tell */
		if (err)
			return err;
		(*looked)++;
	}
	return err;
}

/* The total as its own JSON object: the summary's counts, without the
 * columns that name a mapping. */
static json_object *total_json(const struct pages_run *r, const struct usm_page_counts *total)
{
	static const char *const mapping_only[] = {"start", "end", "perms", "name"};
	struct table t;
	json_object *row;

	table_init(&t, TABLE_COLS(summary_cols));
	add_summary_row(&t, 0, 0, r->size, "", total, r->known, "");
	row = table_json_row(&t, 0);
	table_free(&t);
	for (size_t i = 0; row && i < sizeof(mapping_only) / sizeof(mapping_only[0]); i++)
		json_object_object_del(row, mapping_only[i]);
	return row;
}

static int print(struct pages_run *r, const struct usm_page_counts *total)
{
	json_object *doc, *known;

	if (!r->json) {
		if (!r->runs)
			add_summary_row(&r->t, 0, 0, r->size, "", total, r->known, "total");
		return table_print_text(&r->t, stdout, true);
	}
	doc = json_object_new_object();
	known = json_object_new_array();
	for (size_t f = 0; f < NFACTS; f++)
		if (r->known & fact_names[f].fact)
			json_object_array_add(known, json_object_new_string(fact_names[f].name));
	json_object_object_add(doc, "pid", json_object_new_int(r->pid));
	json_object_object_add(doc, "page_size", json_object_new_int(USM_PAGE_SIZE));
	json_object_object_add(doc, "known", known);
	json_object_object_add(doc, r->runs ? "runs" : "mappings", table_json_rows(&r->t));
	if (!r->runs)
		json_object_object_add(doc, "total", total_json(r, total));
	return table_json_print(doc, stdout, false);
}

static int report(pid_t pid, int err)
{
	if (err == -EACCES || err == -EPERM)
		usm_error("pages: process %d: no access to its page table (reading it needs "
		          "ptrace access: the same user, or CAP_SYS_PTRACE)",
		          (int)pid);
	else
		usm_error_errno(err, "pages: process %d", (int)pid);
	return 1;
}

int cmd_pages(int argc, char **argv)
{
	enum { OPT_RUNS = 256, OPT_JSON, OPT_NO_SCAN };
	static const struct option options[] = {
	        {"pid", required_argument, NULL, 'p'},
	        {"mapping", required_argument, NULL, 'm'},
	        {"runs", no_argument, NULL, OPT_RUNS},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"no-pagemap-scan", no_argument, NULL, OPT_NO_SCAN},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct pages_run r = {.sel = {.start = 0, .end = UINT64_MAX}};
	struct usm_page_counts total = {0};
	uint64_t looked = 0;
	int range = 0;
	char *maps = NULL;
	int c, err;

	cli_getopt_start();
	/* a range may come before options as well as after them */
	for (;;) {
		c = getopt_long(argc, argv, "+:p:m:h", options, NULL);
		if (c == -1 && optind < argc) {
			if (range++)
				return cli_usage_error(argv[0], "unexpected argument '%s'",
				                       argv[optind]);
			if (cli_parse_addr_range(argv[0], "range", argv[optind], &r.sel.start,
			                         &r.sel.end))
				return 2;
			optind++;
			continue;
		}
		if (c == -1)
			break;
		switch (c) {
		case 'p':
			if (cli_parse_pid(argv[0], "--pid", optarg, &r.pid))
				return 2;
			break;
		case 'm':
			r.sel.mapping = optarg;
			break;
		case OPT_RUNS:
			r.runs = true;
			break;
		case OPT_JSON:
			r.json = true;
			break;
		case OPT_NO_SCAN:
			r.without |= USM_PAGEFACTS_WITHOUT_SCAN;
			break;
		default:
			return cli_option_end(argv[0], argv, c, usage);
		}
	}
	if (range && r.sel.mapping)
		return cli_usage_error(argv[0], "give a range or --mapping, not both");
	if (!r.pid)
		return cli_usage_error(argv[0], "which process? give -p PID");

	err = usm_os_proc_read_maps(r.pid, &maps);
	if (err)
		return report(r.pid, err);
	table_init(&r.t, r.runs ? run_cols : summary_cols,
	           r.runs ? sizeof(run_cols) / sizeof(run_cols[0])
	                  : sizeof(summary_cols) / sizeof(summary_cols[0]));
	err = walk(&r, maps, &total, &looked);
	free(maps);
	if (!err && !looked) {
		table_free(&r.t);
		usm_error("pages: process %d has no mapping %s", (int)r.pid,
		          r.sel.mapping ? "of that name" : "in that range");
		return 1;
	}
	if (!err)
		err = print(&r, &total);
	table_free(&r.t);
	return err ? report(r.pid, err) : 0;
}
