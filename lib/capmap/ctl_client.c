/* The client side of a traced process's control socket
 * (include/usm/trace.h): connect, send one line, read one line. */
#include <usm/trace.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int usm_trace_ctl(pid_t pid, const char *cmd, char *reply, size_t len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {10, 0};
	size_t got = 0, cmdlen = strlen(cmd);
	socklen_t alen;
	int fd, n, err = 0;

	if (len == 0 || strchr(cmd, '\n'))
		return -EINVAL;
	n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, USM_TRACE_CTL_PREFIX "%d",
	             (int)pid);
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a dump of a big trace takes a while; a process that hangs must not
	 * hang the client for ever */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, alen) < 0) {
		err = -errno;
		goto out;
	}
	if (write(fd, cmd, cmdlen) != (ssize_t)cmdlen || write(fd, "\n", 1) != 1) {
		err = -EIO;
		goto out;
	}
	while (got < len - 1) {
		ssize_t r = read(fd, reply + got, len - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (memchr(reply, '\n', got))
			break;
	}
	reply[got] = 0;
	reply[strcspn(reply, "\n")] = 0;
	if (got == 0)
		err = -EPROTO;
out:
	close(fd);
	return err;
}
