/* Start-up and life cycle of the tagger in a managed process.
 *
 * Settings come from the environment that usm run prepares (docs/run.md):
 * USM_LIMIT, USM_FAULT_SIZE, USM_FIXED_FAULT_SIZE, USM_LOW_PCT, USM_BATCH,
 * USM_PREFETCH, USM_POLICY, USM_STORE, USM_STORE_MAX, USM_STORE_SHARE,
 * USM_STATS_DIR, and USM_DAEMON (the usmd socket to join) with USM_SET
 * (which of them the user gave, as USM_SET_* bits: they win over usmd's
 * config). At exit each process writes its figures to USM_STATS_DIR/PID.json;
 * a process the pager had to stop writes PID.fatal with the reason; one
 * whose store outlives it has PID.START.store there until its pages in the
 * store are deleted. */
#include "tagger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <usm/size.h>

#include "base/clock.h"
#include "pager/pager_impl.h"
#include "store/store.h"

struct usm_pager *tagger_pager;
int tagger_pager_pid;

static struct usm_pager_config config;
static char store_spec[PATH_MAX + 16];
static char daemon_store[PATH_MAX];
static const char *stats_dir;
static const char *daemon_path;
static uint32_t set_by_user;

void tagger_die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "usm: tagger[%d]: %s\n", (int)getpid(), msg);
	_exit(125);
}

static void write_file(const char *suffix, const char *text)
{
	char path[PATH_MAX];
	int fd;

	if (!stats_dir)
		return;
	snprintf(path, sizeof(path), "%s/%d.%s", stats_dir, (int)getpid(), suffix);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0) {
		/* nothing more to do: usm run reports missing figures */
	}
	close(fd);
}

static void on_fatal(const char *message)
{
	write_file("fatal", message);
}

/* A file per process that put pages in a store that outlives it, removed
 * once the process deleted them (tagger_store_ended): those left tell usm
 * run which processes ended without (killed, crashed, replaced by an exec).
 * Made on the pager thread before the first page leaves (no process that
 * put nothing, like a fork child that execs at once, leaves one), from a
 * path named at start. */
static char store_marker[PATH_MAX];

static void name_store_marker(void)
{
	store_marker[0] = '\0';
	if (stats_dir && usm_store_outlives_process(config.store))
		snprintf(store_marker, sizeof(store_marker), "%s/%d.%" PRIx64 ".store", stats_dir,
			 (int)getpid(), usm_now_ns());
}

static int mark_store(void)
{
	int fd;

	if (!store_marker[0])
		return 0;
	fd = open(store_marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

void tagger_store_ended(void)
{
	if (store_marker[0])
		unlink(store_marker);
}

static uint64_t env_size(const char *name, uint64_t fallback)
{
	const char *v = getenv(name);
	uint64_t n;

	if (!v || !*v)
		return fallback;
	if (usm_parse_size(v, &n) < 0)
		tagger_die("%s=%s is not a size", name, v);
	return n;
}

/* Every process of the tree needs a swap file of its own ("file:PATH" and
 * "mem...+file:PATH"; an unnamed one in "file:DIR/" is its own already). */
static void choose_store(const char *store)
{
	const char *file = store ? strstr(store, "file:") : NULL;
	size_t len = store ? strlen(store) : 0;

	if (file && len && store[len - 1] != '/') {
		snprintf(store_spec, sizeof(store_spec), "%s.%d", store, (int)getpid());
		config.store = store_spec;
	} else if (store) {
		config.store = store;
	}
}

static void read_config(void)
{
	usm_pager_config_defaults(&config);
	config.limit = env_size("USM_LIMIT", 0);
	config.fault_size = env_size("USM_FAULT_SIZE", config.fault_size);
	config.fixed_fault_size = env_size("USM_FIXED_FAULT_SIZE", 0) != 0;
	config.low_pct = (unsigned)env_size("USM_LOW_PCT", config.low_pct);
	config.batch = (unsigned)env_size("USM_BATCH", config.batch);
	config.spin_max_us = (unsigned)env_size("USM_SPIN_US", config.spin_max_us);
	config.prefetch = (unsigned)env_size("USM_PREFETCH", config.prefetch);
	config.store_max = env_size("USM_STORE_MAX", 0);
	config.store_share_pct = (unsigned)env_size("USM_STORE_SHARE", config.store_share_pct);
	if (getenv("USM_POLICY"))
		config.policy = getenv("USM_POLICY");
	choose_store(getenv("USM_STORE"));
	if (usm_pager_without_parse(getenv("USM_WITHOUT"), &config.without) < 0)
		tagger_die("USM_WITHOUT=%s: not a list of %s", getenv("USM_WITHOUT"),
			   usm_pager_without_names());
	config.fatal = on_fatal;
	config.store_first_put = mark_store;
	stats_dir = getenv("USM_STATS_DIR");
	daemon_path = getenv("USM_DAEMON");
	set_by_user = (uint32_t)env_size("USM_SET", 0);
}

/* With usmd: its grant is the limit, its config may choose policy and
 * store. Without it (or when it refuses us) the process pages on its own;
 * one that did not answer is joined later by the link thread. Returns
 * whether to start the link thread. */
static bool join_daemon(bool may_setenv)
{
	int rc;

	if (!daemon_path || !*daemon_path)
		return false;
	daemon_store[0] = '\0'; /* a fork child's own answer, not its parent's */
	rc = tagger_link_join(daemon_path, &config, set_by_user, daemon_store, sizeof(daemon_store),
			      may_setenv);
	if (rc == 0 && daemon_store[0])
		choose_store(daemon_store);
	return rc >= 0;
}

static void start_pager(void)
{
	int rc;

	name_store_marker();
	rc = usm_pager_start(&config, &tagger_pager);

	tagger_pager_pid = (int)getpid();
	if (rc < 0 && usm_store_open_error()[0])
		tagger_die("cannot open the store: %s", usm_store_open_error());
	if (rc == -EPERM)
		tagger_die("this user cannot get a userfaultfd that sees faults inside system calls "
			   "(run as root, or allow /dev/userfaultfd)");
	if (rc < 0)
		tagger_die("cannot start the pager: %s", strerror(-rc));
	/* the swap file stays open for the store; unlinked now, it can never
	 * outlive the process, however the process ends */
	if (config.store == store_spec)
		unlink(strstr(store_spec, "file:") + strlen("file:"));
}

/* Before the program runs, so before any page leaves for the store. */
static void tell_store(void)
{
	const struct usm_store *s = usm_pager_store(tagger_pager);

	tagger_link_store(usm_store_describe(s), usm_store_key_prefix(s));
}

static void start_link(void)
{
	int rc = tagger_link_start(tagger_pager);

	if (rc < 0)
		tagger_die("cannot start the link to usmd: %s", strerror(-rc));
}

static void fork_prepare(void)
{
	if (tagger_pager)
		usm_pager_prepare_fork(tagger_pager);
}

static void fork_parent(void)
{
	if (tagger_pager)
		usm_pager_resume(tagger_pager);
}

static void fork_child(void)
{
	if (!tagger_pager)
		return;
	/* The child has the parent's data (all of it resident: see
	 * usm_pager_prepare_fork) but none of its registrations, threads or
	 * store: it starts a pager of its own. */
	usm_pager_abandon(tagger_pager);  /* and the parent's rawmem with it */
	tagger_pager = NULL;
	tagger_link_forget();
	read_config();
	/* no setenv here: another thread of the parent may have held the
	 * environment's lock when it forked */
	bool joined = join_daemon(false);
	start_pager();
	if (joined)
		tell_store();
	tagger_scan_mappings(tagger_pager);
	if (joined)
		start_link();
}

__attribute__((constructor)) static void tagger_init(void)
{
	int rc;
	bool joined;

	read_config();
	joined = join_daemon(true);
	start_pager();
	if (joined)
		tell_store();
	rc = tagger_patch_libc();
	if (rc < 0)
		tagger_die("cannot hook libc's mapping calls: %s", strerror(-rc));
	tagger_scan_mappings(tagger_pager);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	if (joined)
		start_link();
}

/* usm_hint() of libusm finds this by name (lib/hint.c): the one symbol
 * the tagger exports (tagger.map). */
__attribute__((visibility("default"))) long usm_tagger_hint(void *addr, size_t len, int kind)
{
	long rc;

	if (!tagger_pager)
		return -ENOSYS;
	rc = usm_pager_hint(tagger_pager, addr, len, kind);
	if (rc == 0)
		tagger_link_hint(kind, len);
	return rc;
}

/* One flat JSON object, a key per field of USM_PAGER_STAT_FIELDS, that usm
 * run reads with json-c; built on the stack: the program is exiting. */
__attribute__((destructor)) static void tagger_exit(void)
{
	struct usm_pager_stats s;
	char json[2048];
	size_t n;

	tagger_link_leave();
	if (!tagger_pager || !stats_dir)
		return;
	usm_pager_get_stats(tagger_pager, &s);
	n = (size_t)snprintf(json, sizeof(json), "{\"pid\": %d", (int)getpid());
	for (size_t i = 0; i < usm_pager_stat_nfields && n < sizeof(json); i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, ", \"%s\": %" PRIu64,
				      usm_pager_stat_fields[i].name,
				      usm_pager_stat_get(&s, &usm_pager_stat_fields[i]));
	if (n + 3 > sizeof(json))
		return;  /* cut short: usm run reports missing figures */
	memcpy(json + n, "}\n", 3);
	write_file("json", json);
}
