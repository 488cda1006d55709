/* The memcached cluster: spec parsing, handles in usm_rawmem, connecting
 * at open, ketama placement, servers taken out. See mc_cluster.h. */
#include "store/mc_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rawmem.h"

/* ---- libmemcached's allocations, all in usm_rawmem ---- */

static void *mc_malloc(const memcached_st *m, const size_t size, void *ctx)
{
	return usm_rawmem_malloc(size);
}

static void mc_free(const memcached_st *m, void *mem, void *ctx)
{
	usm_rawmem_mfree(mem);
}

static void *mc_realloc(const memcached_st *m, void *mem, const size_t size, void *ctx)
{
	return usm_rawmem_mrealloc(mem, size);
}

static void *mc_calloc(const memcached_st *m, size_t nelem, const size_t elsize, void *ctx)
{
	if (elsize && nelem > SIZE_MAX / elsize)
		return NULL;
	return usm_rawmem_malloc(nelem * elsize); /* rawmem memory comes zeroed */
}

/* ---- the spec ---- */

static int parse_number(const char *text, size_t len, unsigned max, unsigned *out)
{
	char buf[16];
	char *end;
	unsigned long v;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* One comma-separated item: "NAME=VALUE" or "HOST:PORT". */
static int parse_item(const char *item, size_t len, struct mc_settings *s, char *why, size_t ws)
{
	const char *eq = memchr(item, '=', len);

	if (eq) {
		size_t nlen = (size_t)(eq - item), vlen = len - nlen - 1;
		const char *v = eq + 1;
		if (nlen == 8 && !memcmp(item, "replicas", 8)) {
			if (parse_number(v, vlen, MC_MAX_SERVERS - 1, &s->replicas) == 0)
				return 0;
			snprintf(why, ws, "replicas=%.*s: not a count below %d", (int)vlen, v,
			         MC_MAX_SERVERS);
		} else if (nlen == 7 && !memcmp(item, "timeout", 7)) {
			if (parse_number(v, vlen, 600000, &s->timeout_ms) == 0 && s->timeout_ms)
				return 0;
			snprintf(why, ws, "timeout=%.*s: not milliseconds from 1 to 600000",
			         (int)vlen, v);
		} else if (nlen == 4 && !memcmp(item, "sasl", 4)) {
			if (vlen > 0 && vlen < sizeof(s->sasl_file)) {
				memcpy(s->sasl_file, v, vlen);
				s->sasl_file[vlen] = '\0';
				return 0;
			}
			snprintf(why, ws, "sasl=: a path to a credentials file is needed");
		} else {
			snprintf(why, ws, "unknown setting '%.*s' (replicas=, timeout=, sasl=)",
			         (int)nlen, item);
		}
		return -EINVAL;
	}
	const char *colon = NULL;
	for (size_t i = len; i > 0; i--)
		if (item[i - 1] == ':') {
			colon = item + i - 1;
			break;
		}
	if (!colon || colon == item) {
		snprintf(why, ws, "'%.*s' is not HOST:PORT", (int)len, item);
		return -EINVAL;
	}
	size_t hlen = (size_t)(colon - item);
	unsigned port;
	if (parse_number(colon + 1, len - hlen - 1, 65535, &port) < 0 || port == 0) {
		snprintf(why, ws, "'%.*s': bad port", (int)len, item);
		return -EINVAL;
	}
	if (s->nservers == MC_MAX_SERVERS || hlen + 8 >= MC_NAME_MAX) {
		snprintf(why, ws, "at most %d servers, with host names of normal length",
		         MC_MAX_SERVERS);
		return -EINVAL;
	}
	memcpy(s->hosts[s->nservers], item, hlen);
	s->hosts[s->nservers][hlen] = '\0';
	s->ports[s->nservers++] = port;
	return 0;
}

int mc_settings_parse(const char *arg, struct mc_settings *s, char *why, size_t ws)
{
	memset(s, 0, sizeof(*s));
	s->timeout_ms = MC_DEFAULT_TIMEOUT_MS;
	why[0] = '\0';
	if (!arg || !*arg) {
		snprintf(why, ws, "memcached: needs HOST:PORT[,HOST:PORT...]");
		return -EINVAL;
	}
	for (const char *p = arg;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int rc = parse_item(p, len, s, why, ws);
		if (rc < 0)
			return rc;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (s->nservers == 0) {
		snprintf(why, ws, "memcached: needs at least one HOST:PORT");
		return -EINVAL;
	}
	if (s->replicas >= s->nservers) {
		snprintf(why, ws, "replicas=%u needs at least %u servers, not %zu", s->replicas,
		         s->replicas + 1, s->nservers);
		return -EINVAL;
	}
	if (s->sasl_file[0] && !LIBMEMCACHED_WITH_SASL_SUPPORT) {
		snprintf(why, ws, "sasl=: this libmemcached was built without SASL");
		return -EINVAL;
	}
	return 0;
}

/* ---- SASL credentials: "user:password" in a file only its owner reads ---- */

int mc_credentials_read(const char *path, char *user, size_t usize, char *pass, size_t psize,
                        char *why, size_t ws)
{
	char buf[300];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		int err = errno;
		snprintf(why, ws, "sasl=%s: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) ||
	    st.st_uid != geteuid()) {
		close(fd);
		snprintf(why, ws,
		         "sasl=%s: refused: the credentials file must be a regular file of "
		         "this user with mode 0600 or stricter",
		         path);
		return -EACCES;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	char *colon = strchr(buf, ':');
	if (!colon || colon == buf || (size_t)(colon - buf) >= usize ||
	    strlen(colon + 1) >= psize) {
		explicit_bzero(buf, sizeof(buf));
		snprintf(why, ws, "sasl=%s: expected one line USER:PASSWORD", path);
		return -EINVAL;
	}
	*colon = '\0';
	strcpy(user, buf);
	strcpy(pass, colon + 1);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ---- handles ---- */

enum handle_kind { HANDLE_RING, HANDLE_PLAIN, HANDLE_PIPELINED };

/* Every behaviour is set before the handle connects: libmemcached drops
 * the connection when some change later (a reconnect we must not make). */
static int handle_init(struct mc_cluster *c, memcached_st *m, enum handle_kind kind)
{
	unsigned t = c->set.timeout_ms;

	if (!memcached_create(m))
		return -ENOMEM;
	if (memcached_set_memory_allocators(m, mc_malloc, mc_free, mc_realloc, mc_calloc, NULL) !=
	    MEMCACHED_SUCCESS)
		return -ENOMEM;
	if (kind == HANDLE_RING)
		return memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA, 1) == MEMCACHED_SUCCESS
		               ? 0
		               : -EINVAL;
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, t);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, t);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SND_TIMEOUT, (uint64_t)t * 1000);
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, (uint64_t)t * 1000);
	/* sets and deletes go out without a reply, buffered until a batch is
	 * flushed; a read of the batch's last key then proves them. (Such a
	 * handle cannot read `stats`: mc_server_facts makes a plain one.) */
	if (kind == HANDLE_PIPELINED) {
		memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NOREPLY, 1);
		memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1);
	}
	if (c->user[0] && memcached_set_sasl_auth_data(m, c->user, c->pass) != MEMCACHED_SUCCESS)
		return -EINVAL;
	return 0;
}

void mc_server_fail(struct mc_server *s, const char *what, memcached_return_t rc)
{
	if (!s->alive)
		return;
	s->alive = false;
	snprintf(s->why, sizeof(s->why), "%s failed: %s", what, memcached_strerror(&s->mc, rc));
}

bool mc_server_ok(struct mc_server *s, const char *what, memcached_return_t rc, bool rc_ok)
{
	const memcached_instance_st *inst = memcached_server_instance_by_position(&s->mc, 0);
	memcached_return_t left = inst ? memcached_server_error_return(inst) : MEMCACHED_FAILURE;

	if (!s->alive)
		return false;
	if (rc_ok && left == MEMCACHED_SUCCESS)
		return true;
	mc_server_fail(s, what, rc_ok ? left : rc);
	return false;
}

/* Never set: a get of it connects, a delete of it probes. */
#define CONNECT_KEY "usm:connect:first-request"

/* Whether server i, which did not answer a text request, wants SASL: a
 * memcached started with -S speaks only the binary protocol and answers a
 * delete there with "authentication required" (a quiet get's refusal
 * reads as a miss). The key is never set. */
static bool asks_for_sasl(struct mc_cluster *c, size_t i)
{
	memcached_st probe;
	memcached_return_t rc = MEMCACHED_FAILURE;

	if (handle_init(c, &probe, HANDLE_PLAIN) == 0 &&
	    memcached_behavior_set(&probe, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1) ==
	            MEMCACHED_SUCCESS &&
	    memcached_server_add(&probe, c->set.hosts[i], (in_port_t)c->set.ports[i]) ==
	            MEMCACHED_SUCCESS)
		rc = memcached_delete(&probe, CONNECT_KEY, strlen(CONNECT_KEY), 0);
	memcached_free(&probe);
	return rc == MEMCACHED_AUTH_FAILURE || rc == MEMCACHED_AUTH_PROBLEM;
}

/* Whether server i, which did not answer once SASL was asked for, answers
 * without it: a memcached started without -S that knows SASL cuts the
 * connection on its first step. */
static bool has_no_sasl(struct mc_cluster *c, size_t i)
{
	memcached_st probe;
	memcached_return_t rc = MEMCACHED_FAILURE;

	if (handle_init(c, &probe, HANDLE_PLAIN) == 0 &&
	    memcached_destroy_sasl_auth_data(&probe) == MEMCACHED_SUCCESS &&
	    memcached_behavior_set(&probe, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0) ==
	            MEMCACHED_SUCCESS &&
	    memcached_server_add(&probe, c->set.hosts[i], (in_port_t)c->set.ports[i]) ==
	            MEMCACHED_SUCCESS)
		rc = memcached_delete(&probe, CONNECT_KEY, strlen(CONNECT_KEY), 0);
	memcached_free(&probe);
	return rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_SUCCESS;
}

/* Cyrus SASL's reason (e.g. "no mechanism available": the server offers
 * none installed here), which libmemcached keeps inside its last error
 * message, "(ADDR) WHAT, REASON,  host: ...". */
static const char *sasl_reason(const memcached_st *m, memcached_return_t rc, char *out, size_t size)
{
	const char *all = memcached_last_error_message(m);
	const char *what = memcached_strerror(m, rc);
	const char *start = all ? strstr(all, what) : NULL;
	const char *end;

	if (!start)
		return what;
	start += strlen(what);
	if (!strncmp(start, ", ", 2))
		start += 2;
	end = strstr(start, ",  host:");
	snprintf(out, size, "%.*s", end ? (int)(end - start) : (int)strlen(start), start);
	return out[0] ? out : what;
}

/* Connects now (libmemcached connects on first use) with a get of a key
 * that is never set: the one command whose whole reply a pipelined handle
 * reads (its "version" leaves the reply unread, to be taken later for a
 * value). The key makes the request longer than a binary header (24
 * bytes), so that a server speaking only the binary protocol (-S) reads a
 * whole header, sees it is not one and hangs up at once, instead of waiting
 * for the rest until the timeout. */
static int connect_server(struct mc_cluster *c, struct mc_server *s, char *why, size_t ws)
{
	const char *key = CONNECT_KEY;
	size_t len = strlen(key), i = (size_t)(s - c->servers);
	memcached_return_t rc =
	        memcached_server_add(&s->mc, c->set.hosts[i], (in_port_t)c->set.ports[i]);

	if (rc == MEMCACHED_SUCCESS)
		rc = memcached_mget(&s->mc, &key, &len, 1);
	while (rc == MEMCACHED_SUCCESS)
		memcached_fetch_result(&s->mc, &s->result, &rc);
	if (rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND)
		rc = MEMCACHED_SUCCESS;
	if (rc == MEMCACHED_SUCCESS) {
		s->alive = true;
		return 0;
	}
	if (c->user[0] && rc == MEMCACHED_AUTH_FAILURE) {
		snprintf(why, ws,
		         "memcached server %s refused the SASL credentials of sasl=%s (%s)",
		         s->name, c->set.sasl_file, memcached_strerror(&s->mc, rc));
		return -EACCES;
	}
	if (c->user[0] && rc == MEMCACHED_AUTH_PROBLEM) {
		char reason[160];
		snprintf(why, ws, "SASL with memcached server %s failed on this side: %s", s->name,
		         sasl_reason(&s->mc, rc, reason, sizeof(reason)));
		return -EACCES;
	}
	int err = memcached_last_error_errno(&s->mc);
	if (c->user[0] && rc != MEMCACHED_TIMEOUT && has_no_sasl(c, i)) {
		snprintf(why, ws,
		         "memcached server %s does not use SASL (started without -S): drop sasl= "
		         "or start it with -S",
		         s->name);
		return -EPROTO;
	}
	/* (a timeout is no server that hung up: asking again would wait as long) */
	if (!c->user[0] && rc != MEMCACHED_TIMEOUT && asks_for_sasl(c, i)) {
		snprintf(why, ws,
		         "memcached server %s asks for SASL authentication: give its credentials "
		         "with sasl=FILE",
		         s->name);
		return -EACCES;
	}
	snprintf(why, ws, "memcached server %s does not answer (%s)", s->name,
	         err ? strerror(err) : memcached_strerror(&s->mc, rc));
	return -EHOSTUNREACH;
}

int mc_cluster_open(struct mc_cluster *c, const struct mc_settings *set, char *why, size_t ws)
{
	int rc = 0;

	memset(c, 0, sizeof(*c));
	c->set = *set;
	c->servers = usm_rawmem_alloc(set->nservers * sizeof(*c->servers));
	if (!c->servers)
		return -ENOMEM;
	if (set->sasl_file[0]) {
		rc = mc_credentials_read(set->sasl_file, c->user, sizeof(c->user), c->pass,
		                         sizeof(c->pass), why, ws);
		if (rc < 0) {
			mc_cluster_close(c);
			return rc;
		}
	}
	rc = handle_init(c, &c->ring, HANDLE_RING);
	c->ring_made = true;
	for (size_t i = 0; i < set->nservers && rc == 0; i++) {
		struct mc_server *s = &c->servers[i];
		snprintf(s->name, sizeof(s->name), "%s:%u", set->hosts[i], set->ports[i]);
		rc = handle_init(c, &s->mc, HANDLE_PIPELINED);
		if (rc == 0 && !memcached_result_create(&s->mc, &s->result))
			rc = -ENOMEM;
		if (rc == 0 && memcached_server_add(&c->ring, set->hosts[i],
		                                    (in_port_t)set->ports[i]) != MEMCACHED_SUCCESS)
			rc = -ENOMEM;
		if (rc == 0)
			rc = connect_server(c, s, why, ws);
		else
			snprintf(why, ws, "cannot set up a libmemcached handle for %s", s->name);
	}
	if (rc < 0)
		mc_cluster_close(c);
	return rc;
}

void mc_cluster_close(struct mc_cluster *c)
{
	if (c->servers) {
		/* a handle made by memcached_create is freed even when unused */
		for (size_t i = 0; i < c->set.nservers; i++)
			if (c->servers[i].name[0]) {
				memcached_result_free(&c->servers[i].result);
				memcached_free(&c->servers[i].mc);
			}
		usm_rawmem_free(c->servers, c->set.nservers * sizeof(*c->servers));
		c->servers = NULL;
	}
	if (c->ring_made)
		memcached_free(&c->ring);
	c->ring_made = false;
	explicit_bzero(c->pass, sizeof(c->pass));
}

size_t mc_cluster_alive(const struct mc_cluster *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->set.nservers; i++)
		n += c->servers[i].alive;
	return n;
}

int mc_cluster_next(const struct mc_cluster *c, int i, uint64_t mask)
{
	size_t n = c->set.nservers;

	for (size_t k = 1; k <= n; k++) {
		size_t j = ((size_t)i + k) % n;
		if (c->servers[j].alive && !c->servers[j].full && !(mask & (1ull << j)))
			return (int)j;
	}
	return -1;
}

int mc_cluster_place(struct mc_cluster *c, const char *key, size_t len)
{
	uint32_t i = memcached_generate_hash(&c->ring, key, len);

	if (i >= c->set.nservers)
		i = 0;
	if (c->servers[i].alive && !c->servers[i].full)
		return (int)i;
	return mc_cluster_next(c, (int)i, 0);
}

/* What a key's HOST and RUN parts are made of: memcached's rules (no
 * spaces or control characters), and never the ':' that ends a part. */
static bool key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

#define PREFIX_HOST_MAX 40
#define PREFIX_RUN_MAX  32

static void append_safe(char *dst, size_t size, const char *text, size_t max)
{
	size_t n = strlen(dst);

	for (size_t i = 0; text[i] && i < max && n + 1 < size; i++)
		dst[n++] = key_char(text[i]) ? text[i] : '_';
	dst[n] = '\0';
}

void mc_run_prefix(char *out, size_t size, const char *run)
{
	char host[65] = "";

	gethostname(host, sizeof(host) - 1);
	snprintf(out, size, "usm:");
	append_safe(out, size, host[0] ? host : "host", PREFIX_HOST_MAX);
	if (strlen(out) + 1 < size)
		strcat(out, ":");
	append_safe(out, size, run && *run ? run : "solo", PREFIX_RUN_MAX);
	if (strlen(out) + 1 < size)
		strcat(out, ":");
}

/* A run of 1 to max characters that pass ok, ending at end: past it, or
 * NULL. */
static const char *part(const char *s, size_t max, bool (*ok)(char), char end)
{
	size_t n = 0;

	while (s[n] && n < max && ok(s[n]))
		n++;
	return n && s[n] == end ? s + n + 1 : NULL;
}

static bool digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool hex_lower(char ch)
{
	return digit(ch) || (ch >= 'a' && ch <= 'f');
}

/* The reader of what mc_run_prefix and the store's make_prefix write:
 * "usm:HOST:RUN:" then "PID.START:" (decimal, lowercase hex). */
long mc_process_prefix_pid(const char *prefix)
{
	const char *p = !strncmp(prefix, "usm:", 4) ? prefix + 4 : NULL, *pid;
	long v = 0;

	if (p)
		p = part(p, PREFIX_HOST_MAX, key_char, ':');
	if (p)
		p = part(p, PREFIX_RUN_MAX, key_char, ':');
	pid = p;
	if (p)
		p = part(p, 10, digit, '.');
	if (p)
		p = part(p, 10, hex_lower, ':');
	if (!p || *p || *pid == '0')
		return -EINVAL;
	for (; *pid != '.'; pid++)
		v = v * 10 + (*pid - '0');
	return v > 0 && v <= INT32_MAX ? v : -EINVAL;
}

/* ---- facts ---- */

static bool key_is(const char *key, size_t len, const char *name)
{
	return strlen(name) == len && !memcmp(key, name, len);
}

static memcached_return_t on_setting(const memcached_instance_st *server, const char *key,
                                     size_t key_len, const char *value, size_t value_len, void *ctx)
{
	struct mc_server_facts *f = ctx;
	char v[64];

	if (value_len >= sizeof(v))
		value_len = sizeof(v) - 1;
	memcpy(v, value, value_len);
	v[value_len] = '\0';
	if (key_is(key, key_len, "evictions") && !f->evictions_known &&
	    (!strcmp(v, "on") || !strcmp(v, "off"))) {
		/* `stats settings` says on or off; plain `stats` counts them */
		f->evictions = strcmp(v, "off") != 0;
		f->evictions_known = true;
	} else if (key_is(key, key_len, "maxbytes") || key_is(key, key_len, "limit_maxbytes")) {
		f->limit_maxbytes = strtoull(v, NULL, 10);
	} else if (key_is(key, key_len, "curr_items")) {
		f->items = strtoull(v, NULL, 10);
	} else if (key_is(key, key_len, "version")) {
		snprintf(f->version, sizeof(f->version), "%.31s", v);
	}
	return MEMCACHED_SUCCESS;
}

int mc_server_facts(struct mc_cluster *c, size_t i, struct mc_server_facts *out)
{
	struct mc_server *s = &c->servers[i];
	memcached_st plain;
	memcached_return_t rc = MEMCACHED_FAILURE;

	memset(out, 0, sizeof(*out));
	if (!s->alive)
		return -EIO;
	if (handle_init(c, &plain, HANDLE_PLAIN) == 0 &&
	    memcached_server_add(&plain, c->set.hosts[i], (in_port_t)c->set.ports[i]) ==
	            MEMCACHED_SUCCESS) {
		rc = memcached_stat_execute(&plain, "settings", on_setting, out);
		if (rc == MEMCACHED_SUCCESS)
			rc = memcached_stat_execute(&plain, NULL, on_setting, out);
	}
	memcached_free(&plain);
	if (rc != MEMCACHED_SUCCESS) {
		mc_server_fail(s, "stats", rc);
		return -EIO;
	}
	return 0;
}
