/* usm status: the pool usmd holds and a row per process sharing it, as a
 * table or JSON. Both are printed from the same rows of the shared table
 * (table.h), so they cannot drift; --watch repeats until SIGINT. */
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

#include <json-c/json.h>
#include <usm/usm.h>

#include "proto/proto.h"

#define REPLY_TIMEOUT_MS 5000

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: usm status [--socket PATH] [--json] [--watch SECONDS]\n"
	             "\n"
	             "Shows the pool usmd holds (size, granted, resident, free, policy) and a row\n"
	             "per process sharing it: pid, name, weight (W), priority (PRI), share and\n"
	             "limit, resident, evictions, first-touch faults, refaults, fault latency\n"
	             "p50/p99, bytes written to its store, and its eviction policy. JSON gives\n"
	             "bytes, counts and nanoseconds (a limit of 0: none). See docs/usmd.md.\n"
	             "\n"
	             "  -s, --socket PATH      the usmd to ask (default: $USM_SOCKET, else\n"
	             "                         /run/usm/usmd.sock for root, else\n"
	             "                         $XDG_RUNTIME_DIR/usm/usmd.sock, else\n"
	             "                         /tmp/usm-UID/usmd.sock)\n"
	             "      --json             print JSON instead of the table\n"
	             "  -w, --watch SECONDS    print again every SECONDS (a fraction allowed)\n"
	             "                         until interrupted; with --json, one document\n"
	             "                         per line\n"
	             "  -h, --help             show this help\n");
}

/* A process's row; JSON gives bytes, counts and nanoseconds. */
static const struct table_col process_cols[] = {
	{ .key = "pid", .head = "PID", .type = TABLE_UINT, .width = 7 },
	{ .key = "name", .head = "NAME", .type = TABLE_STR, .width = -15, .zero = "-" },
	{ .key = "weight", .head = "W", .type = TABLE_UINT, .width = 4 },
	{ .key = "priority", .head = "PRI", .type = TABLE_INT, .width = 4 },
	{ .key = "grant", .head = "SHARE/LIMIT", .type = TABLE_SIZE, .width = 13 },
	{ .key = "limit", .type = TABLE_SIZE, .flags = TABLE_JOIN, .zero = "none" },
	{ .key = "resident", .head = "RESIDENT", .type = TABLE_SIZE, .width = 8 },
	{ .key = "evictions", .head = "EVICTED", .type = TABLE_UINT, .width = 9 },
	{ .key = "first_touch", .head = "FAULTS", .type = TABLE_UINT, .width = 9 },
	{ .key = "refaults", .head = "REFAULTS", .type = TABLE_UINT, .width = 9 },
	{ .key = "latency_p50_ns", .head = "P50/P99", .type = TABLE_NS, .width = 15,
	  .decimals = 1 },
	{ .key = "latency_p99_ns", .type = TABLE_NS, .flags = TABLE_JOIN, .decimals = 1 },
	{ .key = "bytes_to_store", .head = "STORED", .type = TABLE_SIZE, .width = 8 },
	{ .key = "bytes_from_store", .type = TABLE_SIZE, .flags = TABLE_JSON_ONLY },
	{ .key = "store_memory", .head = "STORE MEM/DISK", .type = TABLE_SIZE, .width = 15 },
	{ .key = "store_disk", .type = TABLE_SIZE, .flags = TABLE_JOIN },
	{ .key = "metadata", .head = "META", .type = TABLE_SIZE, .width = 7 },
	{ .key = "policy", .head = "POLICY", .type = TABLE_STR, .width = -6, .zero = "-" },
};

/* The pool's one row, which the text shows as a sentence (print_table). */
enum { POOL_SIZE, POOL_POLICY, POOL_GRANTED, POOL_RESIDENT, POOL_FREE, POOL_PROCESSES };
static const struct table_col pool_cols[] = {
	[POOL_SIZE] = { .key = "size", .type = TABLE_SIZE },
	[POOL_POLICY] = { .key = "policy", .type = TABLE_STR, .zero = "-" },
	[POOL_GRANTED] = { .key = "granted", .type = TABLE_SIZE },
	[POOL_RESIDENT] = { .key = "resident", .type = TABLE_SIZE },
	[POOL_FREE] = { .key = "free", .type = TABLE_SIZE },
	[POOL_PROCESSES] = { .key = "processes", .type = TABLE_UINT },
};

static void add_process(struct table *t, const struct usm_status_row *s)
{
	table_row(t);
	table_add_uint(t, s->pid);
	table_add_str(t, s->name);
	table_add_uint(t, s->weight);
	table_add_int(t, s->priority);
	table_add_uint(t, s->grant);
	table_add_uint(t, s->limit);
	table_add_uint(t, s->resident);
	table_add_uint(t, s->evictions);
	table_add_uint(t, s->first_touch);
	table_add_uint(t, s->refaults);
	table_add_uint(t, s->latency_p50_ns);
	table_add_uint(t, s->latency_p99_ns);
	table_add_uint(t, s->bytes_to_store);
	table_add_uint(t, s->bytes_from_store);
	table_add_uint(t, s->store_memory);
	table_add_uint(t, s->store_disk);
	table_add_uint(t, s->metadata);
	table_add_str(t, s->policy);
}

static void add_pool(struct table *t, const struct usm_status_pool *p)
{
	table_row(t);
	table_add_uint(t, p->size);
	table_add_str(t, p->policy);
	table_add_uint(t, p->granted);
	table_add_uint(t, p->resident);
	table_add_uint(t, p->free);
	table_add_uint(t, p->clients);
}

static int print_table(const struct table *pool, const struct table *procs)
{
	char cell[POOL_PROCESSES + 1][32];

	if (pool->failed || procs->failed)
		return -ENOMEM;
	/* "pool 512.0M (fair): granted ..., resident ..., free ..., 3 processes" */
	for (size_t c = 0; c <= POOL_PROCESSES; c++)
		table_cell_text(pool, 0, c, cell[c], sizeof(cell[c]));
	printf("pool %s (%s): granted %s, resident %s, free %s, %s process%s\n", cell[POOL_SIZE],
	       cell[POOL_POLICY], cell[POOL_GRANTED], cell[POOL_RESIDENT], cell[POOL_FREE],
	       cell[POOL_PROCESSES], strcmp(cell[POOL_PROCESSES], "1") ? "es" : "");
	if (!procs->nrows)
		return 0;
	putchar('\n');
	return table_print_text(procs, stdout, true);
}

static int print_json(const struct table *pool, const struct table *procs, bool one_line)
{
	json_object *top = json_object_new_object();

	if (!top)
		return -ENOMEM;
	json_object_object_add(top, "pool", table_json_row(pool, 0));
	json_object_object_add(top, "processes", table_json_rows(procs));
	return table_json_print(top, stdout, one_line);
}

/* One STATUS: 0, or 1 after printing why not. */
static int ask(int fd, struct usm_msg_reader *rd, const char *path, bool json, bool watch)
{
	const struct usm_msg_header *h;
	const void *payload;
	const struct usm_status_pool *pool;
	const struct usm_status_row *srows;
	struct table ptable, rows;
	/* even when the request cannot be sent, usmd may have said why (an
	 * ERROR to a refused uid) before it closed */
	int sent = usm_msg_send(fd, USM_MSG_STATUS_REQ, 2, NULL, 0);
	int rc = usm_msg_read_timeout(fd, rd, REPLY_TIMEOUT_MS, &h, &payload);

	if (rc == -ETIMEDOUT && sent < 0)
		rc = sent;
	if (rc == -ETIMEDOUT) {
		usm_error("status: usmd at %s did not answer in %d s", path,
		          REPLY_TIMEOUT_MS / 1000);
		return 1;
	}
	if (rc == -ECONNRESET || rc == -EPIPE) {
		usm_error("status: usmd at %s closed the connection", path);
		return 1;
	}
	if (rc < 0) {
		usm_error_errno(rc, "status: usmd at %s", path);
		return 1;
	}
	if (h->type == USM_MSG_ERROR) {
		usm_error("status: usmd at %s: %s", path,
		          ((const struct usm_msg_error *)payload)->text);
		return 1;
	}
	if (h->type != USM_MSG_STATUS) {
		usm_error("status: usmd at %s sent %s, not STATUS", path,
		          usm_msg_type_name(h->type));
		return 1;
	}
	pool = payload;
	srows = (const void *)(pool + 1);
	table_init(&ptable, TABLE_COLS(pool_cols));
	table_init(&rows, TABLE_COLS(process_cols));
	add_pool(&ptable, pool);
	for (uint32_t i = 0; i < pool->clients; i++)
		add_process(&rows, &srows[i]);
	if (json) {
		rc = print_json(&ptable, &rows, watch);
	} else {
		if (watch && isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout); /* clear the screen */
		rc = print_table(&ptable, &rows);
	}
	fflush(stdout);
	table_free(&ptable);
	table_free(&rows);
	if (rc < 0) {
		usm_error("status: out of memory");
		return 1;
	}
	return 0;
}

/* Sleeps, or returns early on SIGINT. */
static void wait_seconds(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};

	while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cmd_status(int argc, char **argv)
{
	static const struct option options[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"watch", required_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct usm_msg_hello hello = {.role = USM_ROLE_MONITOR, .name = "usm status"};
	struct sigaction sa = {.sa_handler = on_sigint};
	struct usm_msg_reader *rd;
	const char *socket_path = NULL;
	char path[256];
	double watch = 0;
	bool json = false;
	int c, fd, rc = 0;

	cli_getopt_start();
	while ((c = getopt_long(argc, argv, "+:s:w:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			if (cli_parse_seconds(argv[0], "--watch", optarg, 86400, &watch))
				return 2;
			break;
		default:
			return cli_option_end(argv[0], argv, c, usage);
		}
	}
	if (cli_no_arguments_left(argv[0], argc, argv))
		return 2;
	if (!socket_path) {
		if (usm_daemon_socket_path(path, sizeof(path)) < 0) {
			usm_error("status: the default socket path is too long (give --socket)");
			return 1;
		}
		socket_path = path;
	}

	fd = usm_daemon_connect(socket_path);
	if (fd == -ENOENT || fd == -ECONNREFUSED) {
		usm_error("status: no usmd at %s (start it with 'usmd --pool SIZE')", socket_path);
		return 1;
	}
	if (fd < 0) {
		usm_error_errno(fd, "status: %s", socket_path);
		return 1;
	}
	rd = malloc(sizeof(*rd));
	if (!rd) {
		close(fd);
		usm_error("status: out of memory");
		return 1;
	}
	rd->have = rd->consumed = 0;
	hello.pid = (uint32_t)getpid();
	usm_msg_send(fd, USM_MSG_HELLO, 1, &hello, sizeof(hello)); /* a failure shows next */
	sigaction(SIGINT, &sa, NULL);
	while (!rc) {
		rc = ask(fd, rd, socket_path, json, watch > 0);
		if (rc || !watch)
			break;
		wait_seconds(watch);
		if (interrupted)
			break;
	}
	if (!rc)
		usm_msg_send(fd, USM_MSG_BYE, 3, NULL, 0);
	close(fd);
	free(rd);
	return rc;
}
