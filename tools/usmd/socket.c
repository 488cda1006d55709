/* usmd's listening socket (see socket.h). */
#include "socket.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/proto.h"

/* mkdir -p of path's directory, each new component 0755. */
static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int usmd_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "%s: socket path longer than %zu characters", path,
		         sizeof(addr.sun_path) - 1);
		return -1;
	}
	rc = make_parent(path);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(-rc));
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -1;
		}
		fd = usm_daemon_connect(path);
		if (fd >= 0) {
			close(fd);
			snprintf(err, errlen, "another usmd is serving %s", path);
			return -1;
		}
		if (fd != -ECONNREFUSED && fd != -ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(-fd));
			return -1;
		}
		/* nobody answers: a usmd that died left it */
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "%s: cannot remove the stale socket: %s", path,
			         strerror(errno));
			return -1;
		}
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* 0666: other users must reach the SO_PEERCRED check to hear why not */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, 0666) < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}
