/* What the usm command and usmd ask of a memcached cluster, outside any
 * managed process: `usm store check` (each server's facts and round trip)
 * and the purge of a run's keys when it ends, or of one process's when
 * usmd sees it gone (`lru_crawler metadump`, which libmemcached does not
 * speak, over a plain socket). */
#include "store/mc_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#include "base/clock.h"
#include "base/rawmem.h"

#define RTT_PROBES 5

static int open_one(const struct mc_settings *all, size_t i, struct mc_cluster *c, char *why,
                    size_t ws)
{
	struct mc_settings one = *all;

	memcpy(one.hosts[0], all->hosts[i], sizeof(one.hosts[0]));
	one.ports[0] = all->ports[i];
	one.nservers = 1;
	one.replicas = 0;
	return mc_cluster_open(c, &one, why, ws);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median_rtt(struct mc_server *s)
{
	uint64_t t[RTT_PROBES];
	const char *key = "usm:store-check:absent";
	size_t len = strlen(key);

	for (int i = 0; i < RTT_PROBES; i++) {
		memcached_return_t rc;
		size_t vlen;
		uint32_t flags;
		uint64_t t0 = usm_now_ns();
		char *v = memcached_get(&s->mc, key, len, &vlen, &flags, &rc);
		t[i] = usm_now_ns() - t0;
		usm_rawmem_mfree(v); /* NULL for the absent key; values come from rawmem */
		if (rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS)
			return 0;
	}
	qsort(t, RTT_PROBES, sizeof(t[0]), cmp_u64);
	return t[RTT_PROBES / 2];
}

int mc_check(const char *arg, struct mc_report *out, size_t max, char *why, size_t ws)
{
	struct mc_settings *set = calloc(1, sizeof(*set));
	struct mc_cluster *c = calloc(1, sizeof(*c));
	int n;

	if (!set || !c) {
		free(set);
		free(c);
		snprintf(why, ws, "out of memory");
		return -ENOMEM;
	}
	n = mc_settings_parse(arg, set, why, ws);
	for (size_t i = 0; n == 0 && i < set->nservers && i < max; i++) {
		struct mc_report *r = &out[i];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s:%u", set->hosts[i], set->ports[i]);
		if (open_one(set, i, c, r->why, sizeof(r->why)) < 0)
			continue;
		if (mc_server_facts(c, 0, &r->facts) == 0) {
			r->rtt_ns = median_rtt(&c->servers[0]);
			r->up = r->rtt_ns != 0;
		}
		if (!r->up)
			snprintf(r->why, sizeof(r->why), "%s", c->servers[0].why);
		mc_cluster_close(c);
	}
	if (n == 0)
		n = (int)set->nservers;
	free(set);
	free(c);
	return n;
}

/* ---- purge ---- */

/* A connect that gives up after the spec's timeout: a host that drops
 * packets would otherwise hold it for the kernel's minutes of SYN retries. */
static int connect_within(int fd, const struct sockaddr *addr, socklen_t len,
                          unsigned timeout_ms)
{
	int flags = fcntl(fd, F_GETFL), err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	if (connect(fd, addr, len) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		int n;
		while ((n = poll(&p, 1, (int)timeout_ms)) < 0 && errno == EINTR)
			;
		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			return -errno;
		if (err)
			return -err;
	}
	return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

static int dial(const char *host, unsigned port, unsigned timeout_ms)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *p;
	char ports[8];
	int fd = -1;

	snprintf(ports, sizeof(ports), "%u", port);
	if (getaddrinfo(host, ports, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	for (p = ai; p && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd >= 0 && connect_within(fd, p->ai_addr, p->ai_addrlen, timeout_ms) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd >= 0) {
		struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd < 0 ? -ECONNREFUSED : fd;
}

static int send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

struct line_reader {
	int fd;
	char buf[65536];
	size_t have, at;
};

/* The next line without its "\r\n", or NULL at an error or timeout. */
static char *next_line(struct line_reader *r)
{
	for (;;) {
		char *nl = memchr(r->buf + r->at, '\n', r->have - r->at);
		if (nl) {
			char *line = r->buf + r->at;
			*nl = '\0';
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
			r->at = (size_t)(nl - r->buf) + 1;
			return line;
		}
		memmove(r->buf, r->buf + r->at, r->have - r->at);
		r->have -= r->at;
		r->at = 0;
		if (r->have == sizeof(r->buf))
			return NULL; /* a line longer than memcached writes */
		ssize_t n = recv(r->fd, r->buf + r->have, sizeof(r->buf) - r->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		r->have += (size_t)n;
	}
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static void url_decode(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s == '%' && hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0) {
			*out++ = (char)(hex_digit(s[1]) * 16 + hex_digit(s[2]));
			s += 2;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

#define BUSY_PAUSE_MS 20

/* The keys of one server that start with prefix, deleted as found. */
static long purge_server(const char *host, unsigned port, unsigned timeout_ms, const char *prefix,
                         char *why, size_t ws)
{
	struct line_reader *r = calloc(1, sizeof(*r));
	size_t plen = strlen(prefix);
	long deleted = 0;
	int dump = -1, del = -1;

	if (!r)
		return -ENOMEM;
	/* two connections: deletes go out while the dump still streams */
	dump = dial(host, port, timeout_ms);
	del = dial(host, port, timeout_ms);
	if (dump < 0 || del < 0) {
		snprintf(why, ws, "%s:%u does not answer", host, port);
		deleted = -EHOSTUNREACH;
		goto out;
	}
	r->fd = dump;
	for (unsigned waited = 0;; waited += BUSY_PAUSE_MS) {
		const char *cmd = "lru_crawler metadump all\r\n";
		char *line;
		if (send_all(dump, cmd, strlen(cmd)) < 0 || !(line = next_line(r))) {
			snprintf(why, ws, "%s:%u: no answer to lru_crawler metadump", host, port);
			deleted = -EIO;
			goto out;
		}
		if (!strncmp(line, "BUSY", 4)) {
			/* another crawl runs (another purge): wait for it, as long
			 * as the spec lets a server take to answer */
			if (waited >= timeout_ms) {
				snprintf(why, ws, "%s:%u still busy with another crawl after %u ms",
				         host, port, waited);
				deleted = -EBUSY;
				goto out;
			}
			nanosleep(&(struct timespec){.tv_nsec = BUSY_PAUSE_MS * 1000000L}, NULL);
			continue;
		}
		for (; line && strcmp(line, "END"); line = next_line(r)) {
			if (strncmp(line, "key=", 4)) {
				snprintf(why, ws,
				         "%s:%u cannot list its keys (%s; started with -X?)", host,
				         port, line);
				deleted = -ENOTSUP;
				goto out;
			}
			char *key = line + 4, *sp = strchr(key, ' ');
			if (sp)
				*sp = '\0';
			url_decode(key); /* metadump writes ':' as %3A */
			if (strncmp(key, prefix, plen))
				continue;
			char cmd2[300];
			int n = snprintf(cmd2, sizeof(cmd2), "delete %s noreply\r\n", key);
			if (n > 0 && (size_t)n < sizeof(cmd2) &&
			    send_all(del, cmd2, (size_t)n) == 0)
				deleted++;
		}
		if (!line) {
			snprintf(why, ws, "%s:%u: the key list ended early", host, port);
			deleted = -EIO;
		}
		break;
	}
	/* a reply after the deletes: they were all applied before it */
	if (deleted >= 0) {
		struct line_reader *d = r;
		d->fd = del;
		d->have = d->at = 0;
		if (send_all(del, "version\r\n", 9) < 0 || !next_line(d)) {
			snprintf(why, ws, "%s:%u: no answer after the deletes", host, port);
			deleted = -EIO;
		}
	}
out:
	if (dump >= 0)
		close(dump);
	if (del >= 0)
		close(del);
	free(r);
	return deleted;
}

/* A process that just died may have sets still queued on a server's side of
 * its socket, and they can land on one server while another is being
 * purged: sweep every server again, a little later, until a whole sweep
 * finds nothing. */
#define PURGE_SWEEPS 20
#define PURGE_PAUSE_NS 50000000L

long mc_purge(const char *arg, const char *prefix, char *why, size_t ws)
{
	struct mc_settings *set = calloc(1, sizeof(*set));
	long total = 0;
	bool *down;

	if (!set)
		return -ENOMEM;
	if (mc_settings_parse(arg, set, why, ws) < 0) {
		free(set);
		return -EINVAL;
	}
	if (set->sasl_file[0]) {
		/* -S allows no text protocol, and the binary one has no key list */
		snprintf(why, ws,
		         "SASL servers speak only memcached's binary protocol, which cannot list "
		         "keys");
		free(set);
		return -ENOTSUP;
	}
	down = calloc(set->nservers ? set->nservers : 1, sizeof(*down));
	if (!down) {
		free(set);
		return -ENOMEM;
	}
	for (int sweep = 0; sweep < PURGE_SWEEPS; sweep++) {
		long found = 0;

		for (size_t i = 0; i < set->nservers; i++) {
			char one[320];
			long pass;

			if (down[i])
				continue;
			pass = purge_server(set->hosts[i], set->ports[i], set->timeout_ms, prefix,
			                    one, sizeof(one));
			if (pass < 0) {
				/* a server down has nothing left to purge; say so, go on */
				snprintf(why, ws, "%s", one);
				down[i] = true;
				total = pass;
				continue;
			}
			found += pass;
			if (total >= 0)
				total += pass;
		}
		if (found == 0 && sweep > 0)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = PURGE_PAUSE_NS }, NULL);
	}
	free(down);
	free(set);
	return total;
}

#define MC_KIND "memcached:"

int usm_store_check_access(const char *spec, char *why, size_t ws)
{
	struct mc_settings *set;
	char user[128], pass[128];
	int rc;

	why[0] = '\0';
	if (strncmp(spec, MC_KIND, strlen(MC_KIND)))
		return 0;
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	rc = mc_settings_parse(spec + strlen(MC_KIND), set, why, ws);
	if (rc == 0 && set->sasl_file[0])
		rc = mc_credentials_read(set->sasl_file, user, sizeof(user), pass, sizeof(pass),
		                         why, ws);
	explicit_bzero(pass, sizeof(pass));
	free(set);
	return rc;
}

long usm_store_purge_run(const char *spec, const char *run, char *why, size_t ws)
{
	char prefix[128];

	why[0] = '\0';
	if (strncmp(spec, MC_KIND, strlen(MC_KIND)))
		return 0;
	mc_run_prefix(prefix, sizeof(prefix), run);
	return mc_purge(spec + strlen(MC_KIND), prefix, why, ws);
}

long usm_store_prefix_pid(const char *prefix)
{
	return mc_process_prefix_pid(prefix);
}

long usm_store_purge_process(const char *spec, const char *prefix, char *why, size_t ws)
{
	why[0] = '\0';
	if (strncmp(spec, MC_KIND, strlen(MC_KIND))) {
		snprintf(why, ws, "not a memcached store");
		return -EINVAL;
	}
	if (mc_process_prefix_pid(prefix) < 0) {
		snprintf(why, ws, "'%s' is not the key prefix of one process", prefix);
		return -EINVAL;
	}
	return mc_purge(spec + strlen(MC_KIND), prefix, why, ws);
}
