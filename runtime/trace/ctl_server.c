/* The control channel: Memorizer's debugfs files (memorizer_enabled,
 * memorizer_log_access, print_live_obj, clear_dead_objs,
 * clear_printed_list, kmap) as one-line commands on an abstract UNIX
 * socket that a thread of the traced process serves (include/usm/trace.h
 * has the protocol). The thread runs with rt_busy set for good, so nothing
 * it does is traced, and with every signal blocked, so the program's
 * signals still reach the program's threads. */
#include "rt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <usm/trace.h>

static int listen_fd = -1;

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

void rt_ctl_command(const char *line, char *reply, size_t len)
{
	char verb[32] = "", arg[PATH_MAX] = "", extra[8] = "";
	int *flag = NULL, n, v;
	long nobjs = 0;

	n = sscanf(line, "%31s %4095s %7s", verb, arg, extra);
	if (n <= 0) {
		snprintf(reply, len, "error: empty command");
		return;
	}
	if (!strcmp(verb, "enabled"))
		flag = &rt.enabled;
	else if (!strcmp(verb, "log_access"))
		flag = &rt.log_access;
	else if (!strcmp(verb, "print_live_obj"))
		flag = &rt.print_live;
	if (flag) {
		if (n != 2 || parse_bool(arg, &v) < 0) {
			snprintf(reply, len, "error: '%s' takes one value, on or off", verb);
			return;
		}
		RT_STORE(flag, v);
		rt_update_flags();
		snprintf(reply, len, "ok %s %s", verb, v ? "on" : "off");
	} else if (!strcmp(verb, "clear_dead_objs") || !strcmp(verb, "clear_printed_list")) {
		if (n != 1) {
			snprintf(reply, len, "error: '%s' takes no value", verb);
			return;
		}
		rt_objs_clear(verb[6] == 'p');
		snprintf(reply, len, "ok %s", verb);
	} else if (!strcmp(verb, "dump")) {
		const char *path = n >= 2 ? arg : rt.output;
		int err;

		if (n > 2) {
			snprintf(reply, len, "error: 'dump' takes at most one path");
			return;
		}
		err = rt_capmap_write(path, rt.json, &nobjs);
		if (err < 0)
			snprintf(reply, len, "error: cannot write %s: %s", path, strerror(-err));
		else
			snprintf(reply, len, "ok wrote %ld objects to %s", nobjs, path);
	} else if (!strcmp(verb, "status")) {
		if (n != 1) {
			snprintf(reply, len, "error: 'status' takes no value");
			return;
		}
		snprintf(reply, len, "ok enabled=%s log_access=%s print_live_obj=%s output=%s",
		         rt.enabled ? "on" : "off", rt.log_access ? "on" : "off",
		         rt.print_live ? "on" : "off", rt.output);
	} else {
		snprintf(reply, len,
		         "error: unknown command '%s' (enabled, log_access, print_live_obj, "
		         "clear_dead_objs, clear_printed_list, dump, status)",
		         verb);
	}
}

static void serve(int c)
{
	struct timeval tv = {2, 0};
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char line[PATH_MAX + 64], reply[PATH_MAX + 128];
	size_t got = 0;

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		snprintf(reply, sizeof(reply), "error: permission denied\n");
		goto send;
	}
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(line) - 1) {
		ssize_t n = read(c, line + got, sizeof(line) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(line, '\n', got))
			break;
	}
	line[got] = 0;
	line[strcspn(line, "\n")] = 0;
	if (got == sizeof(line) - 1)
		snprintf(reply, sizeof(reply), "error: command too long");
	else
		rt_ctl_command(line, reply, sizeof(reply) - 1);
	strcat(reply, "\n");
send:
	if (write(c, reply, strlen(reply)) < 0) {
		/* the client went away: nothing to tell */
	}
}

static void *ctl_main(void *arg)
{
	int fd = (int)(intptr_t)arg;

	rt_busy = 1;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		serve(c);
		close(c);
	}
	return NULL;
}

void rt_ctl_start(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;
	socklen_t alen;
	int n;

	if (listen_fd >= 0)
		close(listen_fd); /* the parent's, inherited through fork */
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return;
	/* abstract name: sun_path[0] == 0 */
	n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, USM_TRACE_CTL_PREFIX "%d",
	             (int)rt.pid);
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if (bind(listen_fd, (struct sockaddr *)&addr, alen) < 0 || listen(listen_fd, 8) < 0) {
		close(listen_fd);
		listen_fd = -1;
		return;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, ctl_main, (void *)(intptr_t)listen_fd) == 0)
		pthread_setname_np(th, "usm-trace-ctl");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
