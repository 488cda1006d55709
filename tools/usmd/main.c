/* usmd: the pool daemon. This file reads the options and the config, opens
 * the socket, detaches unless --foreground, and hands over to server.c.
 * Usage errors exit 2, runtime errors 1, each as one line "usmd: ...". */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <usm/usm.h>

#include "base/page.h"

#include "config.h"
#include "usmd_log.h"
#include "server.h"
#include "socket.h"

static void usage(FILE *out)
{
	char path[256];

	if (usm_daemon_socket_path(path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "(too long)");
	fprintf(out,
	        "usage: usmd --pool SIZE [--socket PATH] [--config FILE] [--foreground]\n"
	        "\n"
	        "Holds one memory pool that every process usm run manages shares: each\n"
	        "leases frames from it, and gives some back when usmd asks, by the fair or\n"
	        "priority policy of the config. 'usm status' shows the pool. See docs/usmd.md.\n"
	        "\n"
	        "  -p, --pool SIZE     what the managed processes may keep resident together\n"
	        "                      (K, M, G, T suffixes); wins over size in the config\n"
	        "  -s, --socket PATH   where to listen (default: $USM_SOCKET, else\n"
	        "                      /run/usm/usmd.sock for root, else\n"
	        "                      $XDG_RUNTIME_DIR/usm/usmd.sock, else\n"
	        "                      /tmp/usm-UID/usmd.sock; here: %s)\n"
	        "  -c, --config FILE   the pool's policy and, per process name, weight,\n"
	        "                      priority, limit, eviction policy, store, threshold\n"
	        "                      rule; SIGHUP reloads it\n"
	        "  -f, --foreground    stay attached and log each event to stderr (else\n"
	        "                      detach and log to syslog)\n"
	        "  -h, --help          show this help\n"
	        "  -V, --version       show the version\n",
	        path);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "usmd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'usmd --help')\n");
	return 2;
}

/* Detaches: the parent returns to the shell at once (the socket already
 * listens), the child leaves the session and logs to syslog. */
static int daemonize(void)
{
	pid_t pid = fork();
	int null;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	if (chdir("/") < 0)
		return -errno;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return -errno;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
	usmd_log_to_syslog();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	        {"pool", required_argument, NULL, 'p'},
	        {"socket", required_argument, NULL, 's'},
	        {"config", required_argument, NULL, 'c'},
	        {"foreground", no_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	struct usmd_settings set = {0};
	struct usmd_config cfg;
	const char *pool_arg = NULL;
	char path[256], err[512];
	bool foreground = false;
	uint64_t pool = 0;
	sigset_t sigs;
	int c, fd;

	usm_log_set_prog("usmd");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:s:c:fhV", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			pool_arg = optarg;
			break;
		case 's':
			set.socket_path = optarg;
			break;
		case 'c':
			set.config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("usmd %s (libusm %s, protocol %d)\n", USM_VERSION, usm_version(),
			       USM_PROTO_VERSION);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (pool_arg) {
		if (usm_parse_size(pool_arg, &pool) < 0)
			return usage_error("--pool: '%s' is not a size (e.g. 512M, 2G)", pool_arg);
		if (pool < USM_PAGE_SIZE)
			return usage_error("--pool: the pool needs at least 4K");
	}

	if (set.config_path) {
		if (usmd_config_load(set.config_path, &cfg, err, sizeof(err)) < 0) {
			usm_error("%s", err);
			usmd_config_free(&cfg);
			return 1;
		}
	} else {
		usmd_config_init(&cfg);
	}
	set.pool_from_cli = pool_arg != NULL;
	set.pool_size = pool_arg ? pool : cfg.pool_size;
	if (!set.pool_size) {
		usmd_config_free(&cfg);
		return usage_error(
		        "no pool size: give --pool SIZE (or size in the config's [pool])");
	}
	if (!set.socket_path) {
		if (usm_daemon_socket_path(path, sizeof(path)) < 0) {
			usm_error("the default socket path is too long (set --socket)");
			usmd_config_free(&cfg);
			return 1;
		}
		set.socket_path = path;
	}

	/* blocked from here on, read through server.c's signalfd: a SIGTERM
	 * during start-up still ends in a clean shutdown */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	fd = usmd_listen(set.socket_path, err, sizeof(err));
	if (fd < 0) {
		usm_error("%s", err);
		usmd_config_free(&cfg);
		return 1;
	}
	if (!foreground) {
		int rc = daemonize();
		if (rc < 0) {
			usm_error_errno(rc, "cannot detach");
			close(fd);
			unlink(set.socket_path);
			usmd_config_free(&cfg);
			return 1;
		}
	}
	c = usmd_serve(fd, &set, &cfg);
	usmd_log_close();
	return c;
}
