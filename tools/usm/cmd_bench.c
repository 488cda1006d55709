/* usm bench: benchmarks of usm's own mechanisms on this machine. One so
 * far, 'usm bench primitives' (bench_primitives.c): the cost of each memory
 * primitive, usm's way against the classic one, as one table or JSON. */
#include "bench_primitives.h"
#include "builtin.h"
#include "table.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <json-c/json.h>
#include <usm/usm.h>

#define DEFAULT_SIZE (1ULL << 30)
#define QUICK_SIZE   (64ULL << 20)
#define DEFAULT_RUNS 5
#define QUICK_RUNS   3

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: usm bench primitives [--json] [--size SIZE] [--runs N] [--quick]\n"
	        "\n"
	        "Times the memory primitives usm is built on, each the median of N runs,\n"
	        "with usm's API against the classic way (a kernel fault, or mprotect and\n"
	        "a SIGSEGV handler written by hand), and the ratio of the two (the\n"
	        "classic time / this one: above 1 is faster):\n"
	        "  syscall            an empty system call (getppid)\n"
	        "  first-write fault  the kernel's anonymous fault, and a userfaultfd\n"
	        "                     missing fault served by usm's pager\n"
	        "  PROT1,TRAP,UNPROT  protect a page, write it, the handler unprotects it\n"
	        "  PROTN,TRAP,UNPROT  protect N pages at once, then the same per page;\n"
	        "                     for each usm_wprotect mechanism\n"
	        "  tracking cycle     0.1%%, 1%% and 10%% of SIZE written, then one collect,\n"
	        "                     for each usm_dirty backend (collect: its part)\n"
	        "  tracking, every 2nd page  the pattern past vm.max_map_count, where\n"
	        "                     the classic way fails (shown as failed)\n"
	        "A mechanism this kernel lacks is a row saying why. See docs/bench.md.\n"
	        "\n"
	        "      --json        one JSON object instead of the table\n"
	        "      --size SIZE   the tracked range (default 1G, at least 4M)\n"
	        "      --runs N      runs per figure, the median shown (default %d)\n"
	        "      --quick       small counts and a 64M range (for tests)\n"
	        "  -h, --help        show this help\n",
	        DEFAULT_RUNS);
}

static void usage_bench(FILE *out)
{
	fprintf(out, "usage: usm bench primitives [--json] [--size SIZE] [--runs N] [--quick]\n"
	             "\n"
	             "Benchmarks of usm's mechanisms on this machine:\n"
	             "  primitives   the cost of a syscall, a fault, a write-protect trap and a\n"
	             "               dirty-tracking cycle, usm's way against the classic one\n"
	             "\n"
	             "'usm bench primitives --help' tells the rest.\n");
}

enum {
	C_PRIMITIVE,
	C_MECHANISM,
	C_WAY,
	C_PAGES,
	C_WRITTEN,
	C_NS,
	C_COLLECT,
	C_CLASSIC,
	C_RATIO,
	C_STATUS,
	C_NOTE
};
static const struct table_col cols[] = {
        [C_PRIMITIVE] = {.key = "primitive", .head = "primitive", .type = TABLE_STR, .width = -24},
        [C_MECHANISM] = {.key = "mechanism", .head = "mechanism", .type = TABLE_STR, .width = -22},
        [C_WAY] = {.key = "way", .head = "way", .type = TABLE_STR, .width = -7},
        [C_PAGES] = {.key = "pages", .head = "pages", .type = TABLE_UINT, .width = 7, .zero = "-"},
        [C_WRITTEN] = {.key = "written_pct",
                       .head = "written",
                       .type = TABLE_PCT,
                       .width = 7,
                       .decimals = 1},
        [C_NS] = {.key = "ns", .head = "time/op", .type = TABLE_NS, .width = 9, .decimals = 2},
        [C_COLLECT] = {.key = "collect_ns",
                       .head = "collect",
                       .type = TABLE_NS,
                       .width = 9,
                       .decimals = 2},
        [C_CLASSIC] = {.key = "classic_ns", .type = TABLE_NS, .flags = TABLE_JSON_ONLY},
        [C_RATIO] =
                {.key = "ratio", .head = "ratio", .type = TABLE_DOUBLE, .width = 6, .decimals = 2},
        [C_STATUS] = {.key = "status", .type = TABLE_STR, .flags = TABLE_JSON_ONLY},
        [C_NOTE] = {.key = "note", .head = "note", .type = TABLE_STR},
};

static const char *status_name(enum bench_status s)
{
	switch (s) {
	case BENCH_OK:
		return "ok";
	case BENCH_UNAVAILABLE:
		return "unavailable";
	case BENCH_FAILED:
		return "failed";
	}
	return "?";
}

static void add_ns(struct table *t, uint64_t ns)
{
	if (ns)
		table_add_uint(t, ns);
	else
		table_add_null(t);
}

static void fill(struct table *t, const struct bench_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		const struct bench_row *r = &rows->v[i];

		table_row(t);
		table_add_str(t, r->primitive);
		table_add_str(t, r->mechanism);
		table_add_str(t, r->way);
		table_add_uint(t, r->pages);
		if (r->written_pct >= 0)
			table_add_double(t, r->written_pct);
		else
			table_add_null(t);
		add_ns(t, r->ns);
		add_ns(t, r->collect_ns);
		add_ns(t, r->classic_ns);
		/* the classic time over this one: above 1 is faster */
		if (r->ns && r->classic_ns)
			table_add_double(t, (double)r->classic_ns / (double)r->ns);
		else
			table_add_null(t);
		table_add_str(t, status_name(r->status));
		table_add_str(t, r->note);
	}
}

struct context {
	char kernel[65];
	double load[3];
	uint64_t max_map_count;
};

static int print_json(const struct table *t, const struct bench_config *c, const struct context *x)
{
	json_object *root = json_object_new_object(), *load = json_object_new_array();

	if (!root || !load) {
		json_object_put(root);
		json_object_put(load);
		return -ENOMEM;
	}
	for (int i = 0; i < 3; i++)
		json_object_array_add(load, json_object_new_double(x->load[i]));
	json_object_object_add(root, "kernel", json_object_new_string(x->kernel));
	json_object_object_add(root, "load_average", load);
	json_object_object_add(root, "max_map_count", json_object_new_uint64(x->max_map_count));
	json_object_object_add(root, "size", json_object_new_uint64(c->size));
	json_object_object_add(root, "runs", json_object_new_uint64(c->runs));
	json_object_object_add(root, "quick", json_object_new_boolean(c->quick));
	json_object_object_add(root, "rows", table_json_rows(t));
	return table_json_print(root, stdout, false);
}

static int print_text(const struct table *t, const struct bench_config *c, const struct context *x)
{
	char size[32];

	usm_format_size(c->size, size, sizeof(size));
	printf("usm bench primitives: median of %u runs, tracked range %s; kernel %s, "
	       "vm.max_map_count %llu, load average %.2f %.2f %.2f at the start\n"
	       "ratio: the classic way's time over this one's (above 1: faster)\n\n",
	       c->runs, size, x->kernel, (unsigned long long)x->max_map_count, x->load[0],
	       x->load[1], x->load[2]);
	return table_print_text(t, stdout, true);
}

static int cmd_bench_primitives(int argc, char **argv)
{
	static const struct option options[] = {
	        {"json", no_argument, NULL, 'j'},       {"size", required_argument, NULL, 's'},
	        {"runs", required_argument, NULL, 'r'}, {"quick", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *cmd = "bench";
	struct bench_config cfg = {.progress = stderr};
	struct bench_rows rows = {0};
	struct context x = {.kernel = "?"};
	struct utsname u;
	struct table t;
	uint64_t size = 0, runs = 0;
	bool json = false;
	int c, err;

	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			if (cli_parse_size(cmd, "--size", optarg, &size))
				return 2;
			if (size < (4ULL << 20) || size % 4096 || size / 4096 > UINT32_MAX)
				return cli_usage_error(cmd,
				                       "--size: '%s' is not a whole number of "
				                       "pages from 4M to 16T",
				                       optarg);
			break;
		case 'r':
			if (cli_parse_range(cmd, "--runs", optarg, 1, 1000, &runs))
				return 2;
			break;
		case 'q':
			cfg.quick = true;
			break;
		default:
			return cli_option_end(cmd, argv, c, usage);
		}
	}
	if (cli_no_arguments_left(cmd, argc, argv))
		return 2;
	cfg.size = size ? size : cfg.quick ? QUICK_SIZE : DEFAULT_SIZE;
	cfg.runs = runs ? (unsigned)runs : cfg.quick ? QUICK_RUNS : DEFAULT_RUNS;

	if (uname(&u) == 0)
		snprintf(x.kernel, sizeof(x.kernel), "%s", u.release);
	if (getloadavg(x.load, 3) != 3)
		x.load[0] = x.load[1] = x.load[2] = -1;
	x.max_map_count = bench_max_map_count();
	err = bench_primitives(&cfg, &rows);
	if (err) {
		bench_rows_free(&rows);
		usm_error_errno(err, "bench: primitives");
		return 1;
	}
	table_init(&t, TABLE_COLS(cols));
	fill(&t, &rows);
	err = json ? print_json(&t, &cfg, &x) : print_text(&t, &cfg, &x);
	table_free(&t);
	bench_rows_free(&rows);
	if (err) {
		usm_error_errno(err, "bench: printing the table");
		return 1;
	}
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "primitives"))
		return cmd_bench_primitives(argc - 1, argv + 1);
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_bench(stdout);
		return 0;
	}
	if (argc < 2)
		return cli_usage_error("bench", "which benchmark? (primitives)");
	return cli_usage_error("bench", "no benchmark '%s' (primitives)", argv[1]);
}
