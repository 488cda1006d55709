/* usm trace report: what a CAPMAP says, for a person. The objects with the
 * most accesses, and one line per allocation site (objects, bytes, reads,
 * writes, lifetime), symbolized with libdw through the FILE.maps copy the
 * runtime writes beside the CAPMAP. Table and --json come from the same
 * rows. */
#include "builtin.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <usm/usm.h>

struct site {
	uint64_t alloc_ip;
	const char *allocator;
	bool mixed; /* more than one allocator at this IP */
	uint64_t objects, live, bytes, reads, writes, freed, lifetime_sum;
	char where[512];
	struct usm_symbol sym;
};

struct objrow {
	const struct usm_capmap_obj *obj;
	uint64_t reads, writes;
	const struct site *site;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: usm trace report [--json] [--top N] [--maps MAPS] FILE\n"
	             "\n"
	             "Summarizes the CAPMAP FILE: totals, the N objects with the most\n"
	             "accesses (default 10), and every allocation site with its objects,\n"
	             "bytes, reads, writes and mean lifetime of its freed objects. Sites\n"
	             "are symbolized to function and file:line from FILE.maps (or MAPS).\n"
	             "\n"
	             "  --json        print one JSON object instead of the tables\n"
	             "  --top N       how many objects to list (0 for none)\n"
	             "  --maps MAPS   the process's maps copy (default FILE.maps)\n"
	             "  -h, --help    show this help\n");
}

static void symbolize_site(struct usm_symbolizer *symz, struct site *s)
{
	/* A code IP is a return address: the call is the byte before. A
	 * global's "IP" is its own address. */
	bool global = !strcmp(s->allocator, "global");
	uint64_t addr = global || !s->alloc_ip ? s->alloc_ip : s->alloc_ip - 1;
	struct usm_symbol *y = &s->sym;

	memset(y, 0, sizeof(*y));
	if (!symz || usm_symbolize(symz, addr, y) < 0 || (!y->function && !y->module)) {
		snprintf(s->where, sizeof(s->where), "%" PRIx64, s->alloc_ip);
		return;
	}
	if (y->function && y->file)
		snprintf(s->where, sizeof(s->where), "%s (%s:%d)", y->function, y->file, y->line);
	else if (y->function)
		snprintf(s->where, sizeof(s->where), "%s+0x%" PRIx64 " (%s)", y->function,
		         y->offset, y->module ? y->module : "?");
	else
		snprintf(s->where, sizeof(s->where), "%" PRIx64 " (%s)", s->alloc_ip, y->module);
}

static int by_ip(const void *a, const void *b)
{
	const struct usm_capmap_obj *x = *(const struct usm_capmap_obj *const *)a;
	const struct usm_capmap_obj *y = *(const struct usm_capmap_obj *const *)b;

	return x->alloc_ip < y->alloc_ip ? -1 : x->alloc_ip > y->alloc_ip;
}

static int site_order(const void *a, const void *b)
{
	const struct site *x = a, *y = b;
	uint64_t ax = x->reads + x->writes, ay = y->reads + y->writes;

	if (ax != ay)
		return ax > ay ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->alloc_ip < y->alloc_ip ? -1 : x->alloc_ip > y->alloc_ip;
}

static int row_order(const void *a, const void *b)
{
	const struct objrow *x = a, *y = b;
	uint64_t ax = x->reads + x->writes, ay = y->reads + y->writes;

	if (ax != ay)
		return ax > ay ? -1 : 1;
	return x->obj->va < y->obj->va ? -1 : x->obj->va > y->obj->va;
}

/* Groups objects by allocation IP. */
static struct site *build_sites(const struct usm_capmap *map, size_t *nsites)
{
	const struct usm_capmap_obj **sorted = calloc(map->nobjs + 1, sizeof(*sorted));
	struct site *sites = calloc(map->nobjs + 1, sizeof(*sites));
	size_t n = 0;

	if (!sorted || !sites) {
		free(sorted);
		free(sites);
		return NULL;
	}
	for (size_t i = 0; i < map->nobjs; i++)
		sorted[i] = &map->objs[i];
	qsort(sorted, map->nobjs, sizeof(*sorted), by_ip);
	for (size_t i = 0; i < map->nobjs; i++) {
		const struct usm_capmap_obj *o = sorted[i];
		struct site *s;

		if (!n || sites[n - 1].alloc_ip != o->alloc_ip) {
			s = &sites[n++];
			s->alloc_ip = o->alloc_ip;
			s->allocator = o->allocator;
		}
		s = &sites[n - 1];
		if (strcmp(s->allocator, o->allocator))
			s->mixed = true;
		s->objects++;
		s->bytes += o->size;
		if (o->free_time) {
			s->freed++;
			s->lifetime_sum += o->free_time - o->alloc_time;
		} else {
			s->live++;
		}
		for (size_t k = 0; k < o->naccesses; k++) {
			s->reads += map->accesses[o->first_access + k].reads;
			s->writes += map->accesses[o->first_access + k].writes;
		}
	}
	free(sorted);
	*nsites = n;
	return sites;
}

/* sites in IP order, as build_sites leaves them */
static const struct site *find_site_sorted(const struct site *sites, size_t n, uint64_t ip)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sites[mid].alloc_ip < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sites[lo].alloc_ip == ip ? &sites[lo] : NULL;
}

static const struct site *find_site(const struct site *sites, size_t n, uint64_t ip)
{
	for (size_t i = 0; i < n; i++)
		if (sites[i].alloc_ip == ip)
			return &sites[i];
	return NULL;
}

static void format_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns >= 1000000000ULL)
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
	else if (ns >= 1000000ULL)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else if (ns >= 1000ULL)
		snprintf(buf, len, "%.2fus", (double)ns / 1e3);
	else
		snprintf(buf, len, "%" PRIu64 "ns", ns);
}

static json_object *json_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIx64, v);
	return json_object_new_string(buf);
}

static json_object *json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void print_json(const char *path, const struct usm_capmap *map, struct objrow *rows,
                       size_t nrows, const struct site *sites, size_t nsites, uint64_t reads,
                       uint64_t writes, uint64_t live)
{
	json_object *root = json_object_new_object(), *top = json_object_new_array(),
	            *js = json_object_new_array();

	json_object_object_add(root, "file", json_object_new_string(path));
	json_object_object_add(root, "objects", json_object_new_int64((int64_t)map->nobjs));
	json_object_object_add(root, "live", json_object_new_int64((int64_t)live));
	json_object_object_add(root, "reads", json_object_new_int64((int64_t)reads));
	json_object_object_add(root, "writes", json_object_new_int64((int64_t)writes));
	for (size_t i = 0; i < nrows; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "va", json_hex(rows[i].obj->va));
		json_object_object_add(o, "size",
		                       json_object_new_int64((int64_t)rows[i].obj->size));
		json_object_object_add(o, "allocator",
		                       json_object_new_string(rows[i].obj->allocator));
		json_object_object_add(o, "alloc_ip", json_hex(rows[i].obj->alloc_ip));
		json_object_object_add(o, "reads", json_object_new_int64((int64_t)rows[i].reads));
		json_object_object_add(o, "writes", json_object_new_int64((int64_t)rows[i].writes));
		json_object_object_add(o, "live", json_object_new_boolean(!rows[i].obj->free_time));
		json_object_object_add(o, "site", json_object_new_string(rows[i].site->where));
		json_object_array_add(top, o);
	}
	for (size_t i = 0; i < nsites; i++) {
		const struct site *s = &sites[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "alloc_ip", json_hex(s->alloc_ip));
		json_object_object_add(o, "allocator",
		                       json_object_new_string(s->mixed ? "mixed" : s->allocator));
		json_object_object_add(o, "where", json_object_new_string(s->where));
		json_object_object_add(o, "function", json_str_or_null(s->sym.function));
		json_object_object_add(o, "file", json_str_or_null(s->sym.file));
		json_object_object_add(o, "line", json_object_new_int(s->sym.line));
		json_object_object_add(o, "objects", json_object_new_int64((int64_t)s->objects));
		json_object_object_add(o, "live", json_object_new_int64((int64_t)s->live));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)s->bytes));
		json_object_object_add(o, "reads", json_object_new_int64((int64_t)s->reads));
		json_object_object_add(o, "writes", json_object_new_int64((int64_t)s->writes));
		json_object_object_add(
		        o, "mean_lifetime_ns",
		        s->freed ? json_object_new_int64((int64_t)(s->lifetime_sum / s->freed))
		                 : NULL);
		json_object_array_add(js, o);
	}
	json_object_object_add(root, "top_objects", top);
	json_object_object_add(root, "sites", js);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
	                                                  JSON_C_TO_STRING_SPACED |
	                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

static void print_tables(const char *path, const struct usm_capmap *map, struct objrow *rows,
                         size_t nrows, const struct site *sites, size_t nsites, uint64_t reads,
                         uint64_t writes, uint64_t live)
{
	printf("%s: %zu objects (%" PRIu64 " live), %" PRIu64 " reads, %" PRIu64 " writes\n", path,
	       map->nobjs, live, reads, writes);
	if (nrows) {
		printf("\ntop objects by accesses:\n");
		printf("%12s %12s %12s %10s %-9s %-16s %s\n", "accesses", "reads", "writes", "size",
		       "allocator", "va", "allocated at");
		for (size_t i = 0; i < nrows; i++)
			printf("%12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10" PRIu64
			       " %-9s %-16" PRIx64 " %s%s\n",
			       rows[i].reads + rows[i].writes, rows[i].reads, rows[i].writes,
			       rows[i].obj->size, rows[i].obj->allocator, rows[i].obj->va,
			       rows[i].site->where, rows[i].obj->free_time ? "" : " [live]");
	}
	printf("\nallocation sites:\n");
	printf("%9s %12s %12s %12s %10s %-9s %s\n", "objects", "bytes", "reads", "writes",
	       "lifetime", "allocator", "site");
	for (size_t i = 0; i < nsites; i++) {
		const struct site *s = &sites[i];
		char life[32] = "-";

		if (s->freed)
			format_ns(life, sizeof(life), s->lifetime_sum / s->freed);
		printf("%9" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10s %-9s %s\n",
		       s->objects, s->bytes, s->reads, s->writes, life,
		       s->mixed ? "mixed" : s->allocator, s->where);
	}
}

int cmd_trace_report(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"top", required_argument, NULL, 't'},
	        {"maps", required_argument, NULL, 'm'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *cmd = "trace report", *maps = NULL, *path;
	struct usm_capmap map;
	struct usm_symbolizer *symz = NULL;
	struct objrow *rows = NULL;
	struct site *sites = NULL;
	char err[256], mapsbuf[4200], *end;
	uint64_t reads = 0, writes = 0, live = 0;
	size_t nsites = 0, top = 10, nrows;
	bool json = false;
	FILE *f;
	int c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 't':
			errno = 0;
			top = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-')
				return cli_usage_error(cmd, "--top takes a count, not '%s'",
				                       optarg);
			break;
		case 'm':
			maps = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_bad_option(cmd, argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "needs a CAPMAP file");
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	path = argv[optind];

	f = fopen(path, "re");
	if (!f) {
		usm_error_errno(-errno, "trace: report: %s", path);
		return 1;
	}
	ret = usm_capmap_read(f, &map, err, sizeof(err));
	fclose(f);
	if (ret == -EINVAL) {
		usm_error("trace: report: %s: not a valid CAPMAP: %s", path, err);
		return 1;
	}
	if (ret < 0) {
		usm_error_errno(ret, "trace: report: %s", path);
		return 1;
	}
	if (!maps) {
		snprintf(mapsbuf, sizeof(mapsbuf), "%s.maps", path);
		if (access(mapsbuf, R_OK) == 0)
			maps = mapsbuf;
	} else if (access(maps, R_OK) != 0) {
		usm_error_errno(-errno, "trace: report: %s", maps);
		usm_capmap_free(&map);
		return 1;
	}
	/* Without a usable maps copy the report still works, with addresses. */
	if (maps && usm_symbolizer_open(maps, &symz) < 0)
		symz = NULL;

	sites = build_sites(&map, &nsites);
	rows = calloc(map.nobjs + 1, sizeof(*rows));
	if (!sites || !rows) {
		usm_error("trace: report: out of memory");
		ret = 1;
		goto out;
	}
	for (size_t i = 0; i < nsites; i++) {
		symbolize_site(symz, &sites[i]);
		reads += sites[i].reads;
		writes += sites[i].writes;
		live += sites[i].live;
	}
	for (size_t i = 0; i < map.nobjs; i++) {
		const struct usm_capmap_obj *o = &map.objs[i];

		rows[i].obj = o;
		for (size_t k = 0; k < o->naccesses; k++) {
			rows[i].reads += map.accesses[o->first_access + k].reads;
			rows[i].writes += map.accesses[o->first_access + k].writes;
		}
		rows[i].site = find_site_sorted(sites, nsites, o->alloc_ip);
	}
	qsort(rows, map.nobjs, sizeof(*rows), row_order);
	nrows = top < map.nobjs ? top : map.nobjs;
	while (nrows && rows[nrows - 1].reads + rows[nrows - 1].writes == 0)
		nrows--;
	qsort(sites, nsites, sizeof(*sites), site_order);
	/* find_site pointers were taken before the sort: redo them */
	for (size_t i = 0; i < nrows; i++)
		rows[i].site = find_site(sites, nsites, rows[i].obj->alloc_ip);
	if (json)
		print_json(path, &map, rows, nrows, sites, nsites, reads, writes, live);
	else
		print_tables(path, &map, rows, nrows, sites, nsites, reads, writes, live);
	ret = 0;
out:
	free(rows);
	free(sites);
	usm_symbolizer_close(symz);
	usm_capmap_free(&map);
	return ret;
}
