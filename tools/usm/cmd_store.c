/* usm store check SPEC: is a memcached cluster fit to hold a run's pages?
 * One row per server: up or not, version, memory limit, whether it evicts,
 * the items it holds, the round trip of a get. Exit 0 only when every
 * server is up and has eviction off, so a script can test a cluster before
 * a run. */
#include "builtin.h"
#include "table.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usm/usm.h>

#include "store/mc_cluster.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: usm store check [--json] memcached:HOST:PORT[,HOST:PORT...][,SETTING...]\n"
	        "\n"
	        "Connects to each server of a memcached store spec (as usm run --store\n"
	        "takes it) and shows its version, memory limit, eviction setting (it must\n"
	        "be off: memcached -M), the items it holds (every client's) and the median\n"
	        "round trip of a get. With sasl=FILE it authenticates as usm run does.\n"
	        "Exits 1 when a server does not answer or evicts.\n"
	        "\n"
	        "  --json      print a JSON array instead of the table\n"
	        "  -h, --help  show this help\n");
}

static const struct table_col columns[] = {
        {.key = "server", .head = "SERVER", .type = TABLE_STR, .width = -22},
        {.key = "up", .head = "UP", .type = TABLE_BOOL, .width = 3},
        {.key = "version", .head = "VERSION", .type = TABLE_STR, .width = 8, .zero = "-"},
        {.key = "memory_limit", .head = "MEMORY", .type = TABLE_SIZE, .width = 7, .zero = "-"},
        {.key = "evictions", .head = "EVICTS", .type = TABLE_STR, .width = 7, .zero = "-"},
        {.key = "items", .head = "ITEMS", .type = TABLE_UINT, .width = 8},
        {.key = "rtt_ns", .head = "RTT", .type = TABLE_NS, .width = 8, .zero = "-", .decimals = 1},
        {.key = "problem", .head = "PROBLEM", .type = TABLE_STR, .zero = ""},
};

static int check(const char *spec, bool json)
{
	const char *kind = "memcached:";
	struct mc_report *r;
	struct table t;
	char why[320];
	int n, bad = 0, err;

	if (strncmp(spec, kind, strlen(kind)))
		return cli_usage_error("store check", "'%s' is not a memcached: store spec", spec);
	r = calloc(MC_MAX_SERVERS, sizeof(*r));
	if (!r) {
		usm_error("store check: out of memory");
		return 1;
	}
	n = mc_check(spec + strlen(kind), r, MC_MAX_SERVERS, why, sizeof(why));
	if (n < 0) {
		free(r);
		return cli_usage_error("store check", "%s", why);
	}
	int up = 0;
	for (int i = 0; i < n; i++)
		up += r[i].up;
	if (up == 0) {
		/* nothing to tabulate: the first server's reason says it */
		usm_error("store check: %s%s", r[0].why,
		          n > 1 ? " (and no other server answers)" : "");
		free(r);
		return 1;
	}
	table_init(&t, TABLE_COLS(columns));
	for (int i = 0; i < n; i++) {
		const struct mc_server_facts *f = &r[i].facts;
		const char *problem = r[i].up ? "" : r[i].why;
		if (r[i].up && (!f->evictions_known || f->evictions))
			problem = "evicts when full: start it with -M";
		bad += problem[0] != '\0';
		table_row(&t);
		table_add_str(&t, r[i].name);
		table_add_uint(&t, r[i].up);
		table_add_str(&t, f->version);
		table_add_uint(&t, f->limit_maxbytes);
		table_add_str(&t, !r[i].up || !f->evictions_known ? ""
		                  : f->evictions                  ? "on"
		                                                  : "off");
		table_add_uint(&t, f->items);
		table_add_uint(&t, r[i].rtt_ns);
		table_add_str(&t, problem);
	}
	if (json)
		err = table_json_print(table_json_rows(&t), stdout, false);
	else
		err = table_print_text(&t, stdout, true);
	table_free(&t);
	free(r);
	if (err < 0) {
		usm_error_errno(err, "store check");
		return 1;
	}
	return bad ? 1 : 0;
}

int cmd_store(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "check"))
		return cli_usage_error("store", "expected 'usm store check SPEC'");
	argc--;
	argv++;
	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		default:
			return cli_option_end("store check", argv, c, usage);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("store check", "expected one store spec");
	return check(argv[optind], json);
}
