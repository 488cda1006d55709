/* usm status: the pool usmd holds and a row per process sharing it, as a
 * table or JSON. Both are printed from one list of fields per row, so
 * they cannot drift; --watch repeats until SIGINT. */
#include "builtin.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <usm/usm.h>

#define REPLY_TIMEOUT_MS 5000

enum kind { F_UINT, F_INT, F_SIZE, F_NS, F_STR };

/* How a field shows in the table: a column of its own, joined to the
 * previous field's column with '/', or only in JSON. */
enum shown { COLUMN, JOINED, JSON_ONLY };

struct field {
	const char *key;  /* JSON */
	const char *head; /* table header of a COLUMN */
	enum shown shown;
	int width; /* of the column, negative: left-aligned */
	enum kind kind;
	uint64_t num; /* F_INT: an int64_t */
	const char *str;
};

#define ROW_FIELDS 15

struct row {
	struct field f[ROW_FIELDS];
	size_t n;
};

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

static void add(struct row *r, const char *key, const char *head, enum shown shown, int width,
                enum kind kind, uint64_t num, const char *str)
{
	r->f[r->n++] = (struct field){key, head, shown, width, kind, num, str};
}

/* One process's fields; the pool's line is built the same way. */
static void build_row(const struct usm_status_row *s, struct row *r)
{
	r->n = 0;
	add(r, "pid", "PID", COLUMN, 7, F_UINT, s->pid, NULL);
	add(r, "name", "NAME", COLUMN, -15, F_STR, 0, s->name);
	add(r, "weight", "W", COLUMN, 4, F_UINT, s->weight, NULL);
	add(r, "priority", "PRI", COLUMN, 4, F_INT, (uint64_t)(int64_t)s->priority, NULL);
	add(r, "grant", "SHARE/LIMIT", COLUMN, 13, F_SIZE, s->grant, NULL);
	add(r, "limit", NULL, JOINED, 0, F_SIZE, s->limit, NULL);
	add(r, "resident", "RESIDENT", COLUMN, 8, F_SIZE, s->resident, NULL);
	add(r, "evictions", "EVICTED", COLUMN, 9, F_UINT, s->evictions, NULL);
	add(r, "first_touch", "FAULTS", COLUMN, 9, F_UINT, s->first_touch, NULL);
	add(r, "refaults", "REFAULTS", COLUMN, 9, F_UINT, s->refaults, NULL);
	add(r, "latency_p50_ns", "P50/P99", COLUMN, 15, F_NS, s->latency_p50_ns, NULL);
	add(r, "latency_p99_ns", NULL, JOINED, 0, F_NS, s->latency_p99_ns, NULL);
	add(r, "bytes_to_store", "STORED", COLUMN, 8, F_SIZE, s->bytes_to_store, NULL);
	add(r, "bytes_from_store", NULL, JSON_ONLY, 0, F_SIZE, s->bytes_from_store, NULL);
	add(r, "policy", "POLICY", COLUMN, -6, F_STR, 0, s->policy);
}

static void build_pool(const struct usm_status_pool *p, struct row *r)
{
	r->n = 0;
	add(r, "size", "pool", COLUMN, 0, F_SIZE, p->size, NULL);
	add(r, "policy", "policy", COLUMN, 0, F_STR, 0, p->policy);
	add(r, "granted", "granted", COLUMN, 0, F_SIZE, p->granted, NULL);
	add(r, "resident", "resident", COLUMN, 0, F_SIZE, p->resident, NULL);
	add(r, "free", "free", COLUMN, 0, F_SIZE, p->free, NULL);
	add(r, "processes", "processes", COLUMN, 0, F_UINT, p->clients, NULL);
}

static void format_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.1fs", ns / 1e9);
}

static void format_field(const struct field *f, char *buf, size_t len)
{
	switch (f->kind) {
	case F_UINT:
		snprintf(buf, len, "%" PRIu64, f->num);
		break;
	case F_INT:
		snprintf(buf, len, "%" PRId64, (int64_t)f->num);
		break;
	case F_SIZE:
		if (!f->num && !strcmp(f->key, "limit"))
			snprintf(buf, len, "none");
		else
			usm_format_size(f->num, buf, len);
		break;
	case F_NS:
		format_ns(f->num, buf, len);
		break;
	case F_STR:
		snprintf(buf, len, "%s", f->str[0] ? f->str : "-");
		break;
	}
}

/* The table's cells of a row: each COLUMN with its JOINED fields. */
static size_t cells(const struct row *r, char cell[][48], const struct field **head)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		char v[32];
		if (r->f[i].shown == JSON_ONLY)
			continue;
		format_field(&r->f[i], v, sizeof(v));
		if (r->f[i].shown == JOINED && n) {
			size_t used = strlen(cell[n - 1]);
			snprintf(cell[n - 1] + used, 48 - used, "/%s", v);
			continue;
		}
		head[n] = &r->f[i];
		snprintf(cell[n++], 48, "%s", v);
	}
	return n;
}

static void print_table(const struct row *pool, const struct row *rows, size_t n)
{
	const struct field *head[ROW_FIELDS];
	char cell[ROW_FIELDS][48];
	struct row names;
	struct usm_status_row empty = {0};
	size_t nc;

	/* "pool 512.0M (fair): granted ..., resident ..., free ..., 3 processes",
	 * the pool's fields in build_pool's order */
	cells(pool, cell, head);
	printf("pool %s (%s): granted %s, resident %s, free %s, %s process%s\n", cell[0], cell[1],
	       cell[2], cell[3], cell[4], cell[5], strcmp(cell[5], "1") ? "es" : "");
	if (!n)
		return;
	putchar('\n');
	build_row(&empty, &names);
	nc = cells(&names, cell, head);
	for (size_t c = 0; c < nc; c++)
		printf("%s%*s", c ? " " : "", head[c]->width, head[c]->head);
	putchar('\n');
	for (size_t i = 0; i < n; i++) {
		nc = cells(&rows[i], cell, head);
		for (size_t c = 0; c < nc; c++)
			printf("%s%*s", c ? " " : "", head[c]->width, cell[c]);
		putchar('\n');
	}
}

static json_object *json_of(const struct row *r)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < r->n; i++) {
		const struct field *f = &r->f[i];
		json_object *v;

		if (f->kind == F_STR)
			v = json_object_new_string(f->str);
		else if (f->kind == F_INT)
			v = json_object_new_int64((int64_t)f->num);
		else
			v = json_object_new_uint64(f->num);
		json_object_object_add(o, f->key, v);
	}
	return o;
}

static void print_json(const struct row *pool, const struct row *rows, size_t n, bool one_line)
{
	json_object *top = json_object_new_object(), *list = json_object_new_array();
	int flags = one_line ? JSON_C_TO_STRING_PLAIN
	                     : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;

	json_object_object_add(top, "pool", json_of(pool));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, json_of(&rows[i]));
	json_object_object_add(top, "processes", list);
	puts(json_object_to_json_string_ext(top, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(top);
}

/* One STATUS: 0, or 1 after printing why not. */
static int ask(int fd, struct usm_msg_reader *rd, const char *path, bool json, bool watch)
{
	const struct usm_msg_header *h;
	const void *payload;
	const struct usm_status_pool *pool;
	const struct usm_status_row *srows;
	struct row prow, *rows;
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
	rows = calloc(pool->clients ? pool->clients : 1, sizeof(*rows));
	if (!rows) {
		usm_error("status: out of memory");
		return 1;
	}
	build_pool(pool, &prow);
	for (uint32_t i = 0; i < pool->clients; i++)
		build_row(&srows[i], &rows[i]);
	if (json) {
		print_json(&prow, rows, pool->clients, watch);
	} else {
		if (watch && isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout); /* clear the screen */
		print_table(&prow, rows, pool->clients);
	}
	fflush(stdout);
	free(rows);
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

	opterr = 0;
	optind = 1;
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
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_bad_option(argv[0], argv, c);
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
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
