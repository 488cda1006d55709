/* usm trace diff: two CAPMAPs compared by allocation site (objects, bytes,
 * reads, writes: before, after, change). Each file is summed while read
 * (usm_capmap_aggregate) and its sites named through its own maps copy,
 * because two runs put the same code at different addresses: a site is
 * matched by function and file:line, and by address only when it has no
 * symbol. libusm pairs the sites (usm_capmap_diff); this file names and
 * prints them from one table (table.h). */
#include "builtin.h"
#include "table.h"
#include "trace_common.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usm/usm.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: usm trace diff [--json] [--maps-before MAPS] [--maps-after MAPS] A B\n"
	             "\n"
	             "Compares the CAPMAPs A (before) and B (after) by allocation site:\n"
	             "objects, bytes, reads and writes before, after and the change, the\n"
	             "largest change in bytes first. Sites are matched by function and\n"
	             "file:line (symbolized from A.maps and B.maps), by address when they\n"
	             "have no symbol; a site found in one file only is shown as such.\n"
	             "\n"
	             "  --json              print one JSON object instead of the table\n"
	             "  --maps-before MAPS  A's maps copy (default A.maps)\n"
	             "  --maps-after MAPS   B's maps copy (default B.maps)\n"
	             "  -h, --help          show this help\n");
}

enum {
	D_SITE,
	D_IN,
	D_IP_BEFORE,
	D_IP_AFTER,
	D_OBJ_B,
	D_OBJ_A,
	D_OBJ_C,
	D_BYTES_B,
	D_BYTES_A,
	D_BYTES_C,
	D_READS_B,
	D_READS_A,
	D_READS_C,
	D_WRITES_B,
	D_WRITES_A,
	D_WRITES_C,
	D_SHOWN
};
static const struct table_col cols[] = {
        [D_SITE] = {.key = "site", .type = TABLE_STR, .flags = TABLE_JSON_ONLY},
        [D_IN] = {.key = "in", .type = TABLE_STR, .flags = TABLE_JSON_ONLY},
        [D_IP_BEFORE] = {.key = "alloc_ip_before", .type = TABLE_ADDR, .flags = TABLE_JSON_ONLY},
        [D_IP_AFTER] = {.key = "alloc_ip_after", .type = TABLE_ADDR, .flags = TABLE_JSON_ONLY},
        [D_OBJ_B] = {.key = "objects_before", .head = "objects", .type = TABLE_UINT, .width = 13},
        [D_OBJ_A] = {.key = "objects_after", .type = TABLE_UINT, .flags = TABLE_JOIN},
        [D_OBJ_C] = {.key = "objects_change", .head = "change", .type = TABLE_INT, .width = 7},
        [D_BYTES_B] = {.key = "bytes_before", .head = "bytes", .type = TABLE_UINT, .width = 17},
        [D_BYTES_A] = {.key = "bytes_after", .type = TABLE_UINT, .flags = TABLE_JOIN},
        [D_BYTES_C] = {.key = "bytes_change", .head = "change", .type = TABLE_INT, .width = 8},
        [D_READS_B] = {.key = "reads_before", .head = "reads", .type = TABLE_UINT, .width = 17},
        [D_READS_A] = {.key = "reads_after", .type = TABLE_UINT, .flags = TABLE_JOIN},
        [D_READS_C] = {.key = "reads_change", .head = "change", .type = TABLE_INT, .width = 8},
        [D_WRITES_B] = {.key = "writes_before", .head = "writes", .type = TABLE_UINT, .width = 17},
        [D_WRITES_A] = {.key = "writes_after", .type = TABLE_UINT, .flags = TABLE_JOIN},
        [D_WRITES_C] = {.key = "writes_change", .head = "change", .type = TABLE_INT, .width = 8},
        [D_SHOWN] = {.head = "site", .type = TABLE_STR, .flags = TABLE_TEXT_ONLY},
};

struct side {
	const char *path, *maps;
	struct usm_capmap_agg agg;
	struct trace_place *places;
	const char **keys;
};

/* Sums one file and names its sites: 0, or 1 after saying why. */
static int load_side(struct side *s)
{
	const struct usm_capmap_agg_opts opts = {.short_lived_ns = 0, .read_mostly = 1};
	struct usm_symbolizer *symz;

	if (trace_aggregate("trace: diff", s->path, &opts, &s->agg))
		return 1;
	if (trace_open_maps("trace: diff", s->path, s->maps, &symz))
		return 1;
	s->places = calloc(s->agg.nsites + 1, sizeof(*s->places));
	s->keys = calloc(s->agg.nsites + 1, sizeof(*s->keys));
	if (!s->places || !s->keys) {
		usm_symbolizer_close(symz);
		usm_error("trace: diff: out of memory");
		return 1;
	}
	for (size_t i = 0; i < s->agg.nsites; i++) {
		const struct usm_capmap_site *site = &s->agg.sites[i].sum;

		trace_place_site(symz, site->alloc_ip, site->allocator, &s->places[i]);
		s->keys[i] = s->places[i].where;
	}
	usm_symbolizer_close(symz);
	return 0;
}

static void free_side(struct side *s)
{
	usm_capmap_agg_free(&s->agg);
	free(s->places);
	free(s->keys);
}

static void add_triple(struct table *t, uint64_t before, uint64_t after)
{
	table_add_uint(t, before);
	table_add_uint(t, after);
	table_add_int(t, (int64_t)(after - before));
}

static void add_ip(struct table *t, const struct side *s, size_t site)
{
	if (site == SIZE_MAX)
		table_add_null(t);
	else
		table_add_uint(t, s->agg.sites[site].sum.alloc_ip);
}

static void add_row(struct table *t, const struct usm_capmap_diff_row *r, const struct side *a,
                    const struct side *b)
{
	const char *in = r->before == SIZE_MAX ? "after" : r->after == SIZE_MAX ? "before" : "both";
	char shown[600];

	snprintf(shown, sizeof(shown), "%s%s", r->key,
	         r->before == SIZE_MAX  ? " [only in B]"
	         : r->after == SIZE_MAX ? " [only in A]"
	                                : "");
	table_row(t);
	table_add_str(t, r->key);
	table_add_str(t, in);
	add_ip(t, a, r->before);
	add_ip(t, b, r->after);
	add_triple(t, r->a.objects, r->b.objects);
	add_triple(t, r->a.bytes, r->b.bytes);
	add_triple(t, r->a.reads, r->b.reads);
	add_triple(t, r->a.writes, r->b.writes);
	table_add_str(t, shown);
}

static json_object *totals_json(const struct usm_capmap_diff_side *a,
                                const struct usm_capmap_diff_side *b)
{
	static const char *const names[] = {"objects", "bytes", "reads", "writes"};
	const uint64_t va[] = {a->objects, a->bytes, a->reads, a->writes};
	const uint64_t vb[] = {b->objects, b->bytes, b->reads, b->writes};
	json_object *o = json_object_new_object();

	for (size_t i = 0; o && i < 4; i++) {
		char k[32];

		snprintf(k, sizeof(k), "%s_before", names[i]);
		json_object_object_add(o, k, json_object_new_uint64(va[i]));
		snprintf(k, sizeof(k), "%s_after", names[i]);
		json_object_object_add(o, k, json_object_new_uint64(vb[i]));
		snprintf(k, sizeof(k), "%s_change", names[i]);
		json_object_object_add(o, k, json_object_new_int64((int64_t)(vb[i] - va[i])));
	}
	return o;
}

static int print(const struct side *a, const struct side *b, const struct usm_capmap_diff *d,
                 const struct table *t, bool json)
{
	json_object *root;

	if (!json) {
		printf("A %s: %" PRIu64 " objects, %" PRIu64 " bytes, %" PRIu64 " reads, %" PRIu64
		       " writes\n",
		       a->path, d->a.objects, d->a.bytes, d->a.reads, d->a.writes);
		printf("B %s: %" PRIu64 " objects, %" PRIu64 " bytes, %" PRIu64 " reads, %" PRIu64
		       " writes\n\n",
		       b->path, d->b.objects, d->b.bytes, d->b.reads, d->b.writes);
		return table_print_text(t, stdout, true);
	}
	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	json_object_object_add(root, "before", json_object_new_string(a->path));
	json_object_object_add(root, "after", json_object_new_string(b->path));
	json_object_object_add(root, "totals", totals_json(&d->a, &d->b));
	json_object_object_add(root, "sites", table_json_rows(t));
	return table_json_print(root, stdout, false);
}

int cmd_trace_diff(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"maps-before", required_argument, NULL, 'a'},
	        {"maps-after", required_argument, NULL, 'b'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct side a = {0}, b = {0};
	struct usm_capmap_diff d = {0};
	struct table t;
	bool json = false;
	int c, ret = 1;

	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			a.maps = optarg;
			break;
		case 'b':
			b.maps = optarg;
			break;
		default:
			return cli_option_end("trace diff", argv, c, usage);
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("trace diff", "needs two CAPMAP files, A and B");
	a.path = argv[optind];
	b.path = argv[optind + 1];
	optind += 2;
	if (cli_no_arguments_left("trace diff", argc, argv))
		return 2;
	if (load_side(&a) || load_side(&b))
		goto done;
	if (usm_capmap_diff(&a.agg, a.keys, &b.agg, b.keys, &d) < 0) {
		usm_error("trace: diff: out of memory");
		goto done;
	}
	table_init(&t, TABLE_COLS(cols));
	for (size_t i = 0; i < d.nrows; i++)
		add_row(&t, &d.rows[i], &a, &b);
	if (t.failed || print(&a, &b, &d, &t, json) < 0)
		usm_error("trace: diff: out of memory");
	else
		ret = 0;
	table_free(&t);
done:
	usm_capmap_diff_free(&d);
	free_side(&a);
	free_side(&b);
	return ret;
}
