/* A memcached cluster as the memcached store sees it: the parsed spec,
 * one libmemcached handle per server (so that usm decides which server an
 * operation goes to and when a server is out), and a ketama ring that
 * places keys. Shared by the store (store_memcached.c) and by `usm store
 * check`, the purge of a run's keys after it and of one process's by usmd
 * (mc_admin.c).
 *
 * Every handle lives in usm_rawmem and allocates through it
 * (memcached_set_memory_allocators): the pager thread runs libmemcached,
 * and a malloc there could land in managed memory and fault on the very
 * thread that must serve the fault. Addresses are resolved and sockets
 * connected at open, on the opening thread; a server that fails once is
 * out for good and never reconnected, since a reconnect would resolve its
 * address again (getaddrinfo: libc's malloc) on the pager thread. */
#ifndef USM_MC_CLUSTER_H
#define USM_MC_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmemcached/memcached.h>

#define MC_MAX_SERVERS        64   /* a block's holders are a 64-bit mask */
#define MC_NAME_MAX           128  /* "host:port" */
#define MC_DEFAULT_TIMEOUT_MS 5000 /* a timeout takes a server out: generous */

struct mc_settings {
	char hosts[MC_MAX_SERVERS][MC_NAME_MAX]; /* host part */
	unsigned ports[MC_MAX_SERVERS];
	size_t nservers;
	unsigned replicas;   /* extra copies of each block */
	unsigned timeout_ms; /* connect, send, receive, poll */
	char sasl_file[256]; /* "" = no SASL */
};

struct mc_server {
	memcached_st mc;            /* this server alone */
	memcached_result_st result; /* what a fetch fills, reused */
	char name[MC_NAME_MAX];
	bool alive;
	bool full;     /* out of memory (-M): still read, no longer written */
	char why[160]; /* why it is out, once it is */
};

struct mc_cluster {
	struct mc_settings set;
	struct mc_server *servers; /* set.nservers of them, usm_rawmem */
	memcached_st ring;         /* all servers, ketama; never connected */
	bool ring_made;
	char user[128], pass[128]; /* SASL, from set.sasl_file */
};

/* Parses the text after "memcached:". Returns 0, or -EINVAL with the
 * reason in why. */
int mc_settings_parse(const char *arg, struct mc_settings *out, char *why, size_t why_size);

/* Reads "USER:PASSWORD" from path, refused unless it is a regular file of
 * this user that no one else may read or write. Returns 0, or a negative
 * errno with the reason in why. */
int mc_credentials_read(const char *path, char *user, size_t user_size, char *pass,
                        size_t pass_size, char *why, size_t why_size);

/* Makes the handles and connects to every server. Returns 0, or a
 * negative errno with the reason in why (the cluster is then closed). */
int mc_cluster_open(struct mc_cluster *c, const struct mc_settings *set, char *why,
                    size_t why_size);
void mc_cluster_close(struct mc_cluster *c);

/* The server a key is written to first: ketama's choice, or the next
 * server still in and not full. -1 when none is. */
int mc_cluster_place(struct mc_cluster *c, const char *key, size_t len);

/* The next server in and not full after i (wrapping), skipping those in
 * mask; -1 when there is none. */
int mc_cluster_next(const struct mc_cluster *c, int i, uint64_t mask);

size_t mc_cluster_alive(const struct mc_cluster *c);

/* Takes server i out, keeping the first reason. */
void mc_server_fail(struct mc_server *s, const char *what, memcached_return_t rc);

/* After every call on s: false (and s out) when the call failed or left an
 * error on the server's connection. libmemcached drops a broken socket and
 * reconnects on the next call, sometimes after a call that reported only
 * "not found"; its per-server error stays set until a reconnect, so this
 * catches every drop before a reconnect could happen. */
bool mc_server_ok(struct mc_server *s, const char *what, memcached_return_t rc, bool rc_ok);

/* What `stats settings` and `stats` say of a server. */
struct mc_server_facts {
	char version[32];
	uint64_t limit_maxbytes;
	uint64_t items; /* curr_items: what it holds now, every client's */
	bool evictions; /* "evictions on": it may drop what it holds */
	bool evictions_known;
};

/* Asks server i. Returns 0 or -EIO (the server did not answer). */
int mc_server_facts(struct mc_cluster *c, size_t i, struct mc_server_facts *out);

/* "usm:HOST:RUN:", the start of every key a run's processes write (RUN
 * from $USM_RUN_ID, set by usm run; "solo" without it). */
void mc_run_prefix(char *out, size_t size, const char *run);

/* The PID of a whole process prefix "usm:HOST:RUN:PID.START:" (as the
 * store makes it from mc_run_prefix), or -EINVAL for anything else: a
 * shorter prefix would name the keys of other processes too. */
long mc_process_prefix_pid(const char *prefix);

/* ---- for the usm command and usmd (mc_admin.c): never in a managed process ---- */

struct mc_report {
	char name[MC_NAME_MAX];
	bool up;
	char why[320]; /* when not up */
	struct mc_server_facts facts;
	uint64_t rtt_ns; /* median of a few gets of a missing key */
};

/* Connects to each server of spec (the text after "memcached:") on its
 * own and asks it. Fills up to max reports. Returns the number of servers,
 * or -EINVAL with why for a bad spec. */
int mc_check(const char *arg, struct mc_report *out, size_t max, char *why, size_t why_size);

/* Deletes every key that starts with prefix from every server of arg,
 * found with `lru_crawler metadump all`. Returns the number deleted, or a
 * negative errno with why (a server down, dumping disabled with -X;
 * -ENOTSUP for SASL servers, whose keys cannot be listed). */
long mc_purge(const char *arg, const char *prefix, char *why, size_t why_size);

#endif
