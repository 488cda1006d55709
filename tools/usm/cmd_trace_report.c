/* usm trace report: what a CAPMAP says, for a person. The objects with the
 * most accesses, and one line per allocation site (objects, bytes, reads,
 * writes, lifetime), symbolized with libdw through the FILE.maps copy the
 * runtime writes beside the CAPMAP. libusm sums the CAPMAP
 * (usm_capmap_report); this file symbolizes and prints, the tables and
 * --json from the same rows of the shared table (table.h). --html sums the
 * file while reading it instead (usm_capmap_aggregate: a CAPMAP of any
 * size) and writes the page of trace_html.c. */
#include "builtin.h"
#include "table.h"
#include "trace_common.h"
#include "trace_html.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <usm/usm.h>

struct report_opts {
	const char *cmd;   /* "trace report" or "ktrace report", for usage errors */
	const char *label; /* "trace: report", what other errors start with */
	const char *path, *maps, *html;
	uint64_t top, samples;
	double short_lived; /* seconds */
	bool json, top_given;
};

static const char *usage_cmd = "trace report";

static void usage(FILE *out)
{
	fprintf(out, "usage: usm %s [--json] [--top N] [--maps MAPS] FILE\n"
	             "       usm %s --html OUT [--samples N] [--short-lived SECONDS]\n"
	             "                        [--maps MAPS] FILE\n"
	             "\n"
	             "Summarizes the CAPMAP FILE: totals, the N objects with the most\n"
	             "accesses (default 10), and every allocation site with its objects,\n"
	             "bytes, reads, writes and mean lifetime of its freed objects. Sites\n"
	             "are symbolized to function and file:line from FILE.maps (or MAPS);\n"
	             "the kernel sites of a 'usm ktrace' CAPMAP to functions from\n"
	             "FILE.kallsyms. The recorder's statistics (its header lines, such as\n"
	             "lost_events) are shown first.\n"
	             "\n"
	             "  --json        print one JSON object instead of the tables\n"
	             "  --top N       how many objects to list (0 for none)\n"
	             "  --maps MAPS   the process's maps copy (default FILE.maps)\n"
	             "  --html OUT    write one self-contained page instead: sites ranked by\n"
	             "                bytes, objects, reads, writes, each with its objects'\n"
	             "                lifetimes and access sites, verdicts as filters. The\n"
	             "                file is summed while read, so a CAPMAP of any size fits\n"
	             "  --samples N   objects the page keeps per site (default 100)\n"
	             "  --short-lived SECONDS  a freed object younger is short-lived\n"
	             "                (default 0.00001)\n"
	             "  -h, --help    show this help\n", usage_cmd, usage_cmd);
}

/* The top objects: JSON in this order, the text in obj_text's. */
enum { O_VA, O_SIZE, O_ALLOCATOR, O_ALLOC_IP, O_READS, O_WRITES, O_LIVE, O_SITE, O_ACCESSES,
       O_AT };
static const struct table_col obj_cols[] = {
	[O_VA] = { .key = "va", .head = "va", .type = TABLE_ADDR, .width = -16 },
	[O_SIZE] = { .key = "size", .head = "size", .type = TABLE_UINT, .width = 10 },
	[O_ALLOCATOR] = { .key = "allocator", .head = "allocator", .type = TABLE_STR, .width = -9 },
	[O_ALLOC_IP] = { .key = "alloc_ip", .type = TABLE_ADDR, .flags = TABLE_JSON_ONLY },
	[O_READS] = { .key = "reads", .head = "reads", .type = TABLE_UINT, .width = 12 },
	[O_WRITES] = { .key = "writes", .head = "writes", .type = TABLE_UINT, .width = 12 },
	[O_LIVE] = { .key = "live", .type = TABLE_BOOL, .flags = TABLE_JSON_ONLY },
	[O_SITE] = { .key = "site", .type = TABLE_STR, .flags = TABLE_JSON_ONLY },
	[O_ACCESSES] = { .head = "accesses", .type = TABLE_UINT, .width = 12,
			 .flags = TABLE_TEXT_ONLY },
	[O_AT] = { .head = "allocated at", .type = TABLE_STR, .flags = TABLE_TEXT_ONLY },
};
static const size_t obj_text[] = { O_ACCESSES, O_READS, O_WRITES, O_SIZE, O_ALLOCATOR, O_VA,
				   O_AT };

/* The allocation sites: JSON in this order, the text in site_text's. */
enum { S_ALLOC_IP, S_ALLOCATOR, S_WHERE, S_FUNCTION, S_FILE, S_LINE, S_OBJECTS, S_LIVE,
       S_BYTES, S_READS, S_WRITES, S_LIFETIME };
static const struct table_col site_cols[] = {
	[S_ALLOC_IP] = { .key = "alloc_ip", .type = TABLE_ADDR, .flags = TABLE_JSON_ONLY },
	[S_ALLOCATOR] = { .key = "allocator", .head = "allocator", .type = TABLE_STR,
			  .width = -9 },
	[S_WHERE] = { .key = "where", .head = "site", .type = TABLE_STR },
	[S_FUNCTION] = { .key = "function", .type = TABLE_STR, .flags = TABLE_JSON_ONLY },
	[S_FILE] = { .key = "file", .type = TABLE_STR, .flags = TABLE_JSON_ONLY },
	[S_LINE] = { .key = "line", .type = TABLE_INT, .flags = TABLE_JSON_ONLY },
	[S_OBJECTS] = { .key = "objects", .head = "objects", .type = TABLE_UINT, .width = 9 },
	[S_LIVE] = { .key = "live", .type = TABLE_UINT, .flags = TABLE_JSON_ONLY },
	[S_BYTES] = { .key = "bytes", .head = "bytes", .type = TABLE_UINT, .width = 12 },
	[S_READS] = { .key = "reads", .head = "reads", .type = TABLE_UINT, .width = 12 },
	[S_WRITES] = { .key = "writes", .head = "writes", .type = TABLE_UINT, .width = 12 },
	[S_LIFETIME] = { .key = "mean_lifetime_ns", .head = "lifetime", .type = TABLE_NS,
			 .width = 10, .decimals = 2 },
};
static const size_t site_text[] = { S_OBJECTS, S_BYTES, S_READS, S_WRITES, S_LIFETIME,
				    S_ALLOCATOR, S_WHERE };

/* The first top objects with any access, most first. */
static void add_objects(struct table *t, const struct usm_capmap_report *r,
			const struct trace_place *places, uint64_t top)
{
	size_t n = top < r->nobjs ? (size_t)top : r->nobjs;
	char at[sizeof(places->where) + 8];

	while (n && r->objs[n - 1].reads + r->objs[n - 1].writes == 0)
		n--;
	for (size_t i = 0; i < n; i++) {
		const struct usm_capmap_objsum *o = &r->objs[i];
		const char *where = places[o->site].where;

		snprintf(at, sizeof(at), "%s%s", where, o->obj->free_time ? "" : " [live]");
		table_row(t);
		table_add_uint(t, o->obj->va);
		table_add_uint(t, o->obj->size);
		table_add_str(t, o->obj->allocator);
		table_add_uint(t, o->obj->alloc_ip);
		table_add_uint(t, o->reads);
		table_add_uint(t, o->writes);
		table_add_uint(t, !o->obj->free_time);
		table_add_str(t, where);
		table_add_uint(t, o->reads + o->writes);
		table_add_str(t, at);
	}
}

static void add_sites(struct table *t, const struct usm_capmap_report *r,
		      const struct trace_place *places)
{
	for (size_t i = 0; i < r->nsites; i++) {
		const struct usm_capmap_site *s = &r->sites[i];
		const struct usm_symbol *y = &places[i].sym;

		table_row(t);
		table_add_uint(t, s->alloc_ip);
		table_add_str(t, s->mixed ? "mixed" : s->allocator);
		table_add_str(t, places[i].where);
		table_add_str(t, y->function);
		table_add_str(t, y->file);
		table_add_int(t, y->line);
		table_add_uint(t, s->objects);
		table_add_uint(t, s->live);
		table_add_uint(t, s->bytes);
		table_add_uint(t, s->reads);
		table_add_uint(t, s->writes);
		if (s->freed)
			table_add_uint(t, s->lifetime_sum / s->freed);
		else
			table_add_null(t);
	}
}

static int print_json(const struct report_opts *o, const struct usm_capmap_header *h,
		      const struct usm_capmap_report *r, const struct table *objs,
		      const struct table *sites)
{
	json_object *root = json_object_new_object(), *hj = json_object_new_object();

	if (!root || !hj) {
		json_object_put(root);
		json_object_put(hj);
		return -ENOMEM;
	}
	json_object_object_add(root, "file", json_object_new_string(o->path));
	for (size_t i = 0; i < h->nstats; i++)
		json_object_object_add(hj, h->stats[i].key, json_object_new_uint64(h->stats[i].value));
	json_object_object_add(root, "header", hj);
	json_object_object_add(root, "objects", json_object_new_uint64(r->nobjs));
	json_object_object_add(root, "live", json_object_new_uint64(r->live));
	json_object_object_add(root, "reads", json_object_new_uint64(r->reads));
	json_object_object_add(root, "writes", json_object_new_uint64(r->writes));
	json_object_object_add(root, "top_objects", table_json_rows(objs));
	json_object_object_add(root, "sites", table_json_rows(sites));
	return table_json_print(root, stdout, false);
}

/* The recorder's statistics, and what a nonzero loss means for the rest. */
static void print_header(const struct usm_capmap_header *h)
{
	uint64_t lost = 0;

	if (!h->nstats)
		return;
	printf("recorder:");
	for (size_t i = 0; i < h->nstats; i++)
		printf("%s %s=%" PRIu64, i ? "," : "", h->stats[i].key, h->stats[i].value);
	printf("\n");
	if (usm_capmap_header_get(h, "lost_events", &lost) && lost)
		printf("warning: the recorder lost %" PRIu64 " events: counts are low, and some "
		       "objects' frees are missing\n",
		       lost);
}

static int print_text(const struct report_opts *o, const struct usm_capmap_header *h,
		      const struct usm_capmap_report *r, const struct table *objs,
		      const struct table *sites)
{
	int err = 0;

	printf("%s: %zu objects (%" PRIu64 " live), %" PRIu64 " reads, %" PRIu64 " writes\n",
	       o->path, r->nobjs, r->live, r->reads, r->writes);
	print_header(h);
	if (objs->nrows) {
		printf("\ntop objects by accesses:\n");
		err = table_print_text(objs, stdout, true);
	}
	printf("\nallocation sites:\n");
	return err < 0 ? err : table_print_text(sites, stdout, true);
}

/* 0, 1 (--help shown) or the usage error's status. */
static int parse_args(const char *cmd, const char *label, int argc, char **argv,
		      struct report_opts *o)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"top", required_argument, NULL, 't'},
	        {"maps", required_argument, NULL, 'm'},
	        {"html", required_argument, NULL, 'H'},
	        {"samples", required_argument, NULL, 's'},
	        {"short-lived", required_argument, NULL, 'S'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct report_opts){ .cmd = cmd, .label = label, .top = 10, .samples = 100,
				   .short_lived = 10e-6 };
	usage_cmd = cmd;
	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 't':
			if (cli_parse_count(cmd, "--top", optarg, UINT64_MAX, &o->top))
				return 2;
			o->top_given = true;
			break;
		case 'H':
			o->html = optarg;
			break;
		case 's':
			if (cli_parse_count(cmd, "--samples", optarg, 100000, &o->samples))
				return 2;
			break;
		case 'S':
			if (cli_parse_seconds(cmd, "--short-lived", optarg, 3600, &o->short_lived))
				return 2;
			break;
		case 'm':
			o->maps = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return cli_bad_option(cmd, argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "needs a CAPMAP file");
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (o->html && (o->json || o->top_given))
		return cli_usage_error(cmd, "--html writes a page: no --json or --top with it");
	o->path = argv[optind];
	return 0;
}

/* Reads the CAPMAP and opens its maps copy: 0, or 1 after saying why. */
static int load(const struct report_opts *o, struct usm_capmap *map,
		struct usm_symbolizer **symz)
{
	char err[256];
	FILE *f = fopen(o->path, "re");
	int ret;

	*symz = NULL;
	if (!f) {
		usm_error_errno(-errno, "%s: %s", o->label, o->path);
		return 1;
	}
	ret = usm_capmap_read(f, map, err, sizeof(err));
	fclose(f);
	if (ret == -EINVAL) {
		usm_error("%s: %s: not a valid CAPMAP: %s", o->label, o->path, err);
		return 1;
	}
	if (ret < 0) {
		usm_error_errno(ret, "%s: %s", o->label, o->path);
		return 1;
	}
	if (trace_open_maps(o->label, o->path, o->maps, symz)) {
		usm_capmap_free(map);
		return 1;
	}
	return 0;
}

/* Sums, symbolizes and prints a loaded CAPMAP: 0 or -ENOMEM. */
static int report(const struct report_opts *o, const struct usm_capmap *map,
		  struct usm_symbolizer *symz)
{
	struct usm_capmap_report r;
	struct trace_place *places;
	struct table objs, sites;
	int err = usm_capmap_report(map, &r);

	if (err < 0)
		return err;
	places = calloc(r.nsites + 1, sizeof(*places));
	if (!places) {
		usm_capmap_report_free(&r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r.nsites; i++)
		trace_place_site(symz, r.sites[i].alloc_ip, r.sites[i].allocator, &places[i]);
	table_init(&objs, TABLE_COLS(obj_cols));
	table_text_order(&objs, TABLE_COLS(obj_text));
	table_init(&sites, TABLE_COLS(site_cols));
	table_text_order(&sites, TABLE_COLS(site_text));
	add_objects(&objs, &r, places, o->top);
	add_sites(&sites, &r, places);
	if (objs.failed || sites.failed)
		err = -ENOMEM;
	else
		err = o->json ? print_json(o, &map->header, &r, &objs, &sites)
			      : print_text(o, &map->header, &r, &objs, &sites);
	table_free(&objs);
	table_free(&sites);
	free(places);
	usm_capmap_report_free(&r);
	return err;
}

/* The access sites a page lists per allocation site, the busiest first. */
#define HTML_TOUCHES 50

/* --html: sums the CAPMAP while reading it (never all of it in memory)
 * and writes the page. 0, or 1 after saying why. */
static int report_html(const struct report_opts *o)
{
	const struct usm_capmap_agg_opts ao = {
	        .samples = (size_t)o->samples,
	        .short_lived_ns = (uint64_t)(o->short_lived * 1e9 + 0.5),
	        .read_mostly = 10,
	};
	struct usm_capmap_agg agg;
	struct usm_symbolizer *symz;
	FILE *out;
	int err;

	if (trace_aggregate(o->label, o->path, &ao, &agg))
		return 1;
	if (trace_open_maps(o->label, o->path, o->maps, &symz)) {
		usm_capmap_agg_free(&agg);
		return 1;
	}
	out = fopen(o->html, "we");
	if (!out) {
		usm_error_errno(-errno, "%s: %s", o->label, o->html);
		err = 1;
		goto done;
	}
	err = trace_html_write(out, o->path, &agg, symz, HTML_TOUCHES);
	if (fclose(out) != 0 && !err)
		err = -errno;
	if (err < 0) {
		usm_error_errno(err, "%s: %s", o->label, o->html);
		unlink(o->html);
		err = 1;
	} else {
		printf("%s: %zu allocation sites, %" PRIu64 " objects (%" PRIu64
		       " kept as samples)\n",
		       o->html, agg.nsites, agg.objects, agg.sampled);
	}
done:
	usm_symbolizer_close(symz);
	usm_capmap_agg_free(&agg);
	return err;
}

int trace_report_main(const char *cmd, const char *label, int argc, char **argv)
{
	struct report_opts o;
	struct usm_capmap map;
	struct usm_symbolizer *symz;
	int ret = parse_args(cmd, label, argc, argv, &o);

	if (ret)
		return ret == 1 ? 0 : ret;
	if (o.html)
		return report_html(&o);
	if (load(&o, &map, &symz))
		return 1;
	ret = report(&o, &map, symz);
	if (ret < 0)
		usm_error("%s: out of memory", label);
	usm_symbolizer_close(symz);
	usm_capmap_free(&map);
	return ret < 0 ? 1 : 0;
}

int cmd_trace_report(int argc, char **argv)
{
	return trace_report_main("trace report", "trace: report", argc, argv);
}
