/* A child held on a pipe before its exec (spawn.h). The exec's errno comes
 * back through a close-on-exec pipe: EOF means the exec happened. */
#include "os/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

int usm_os_spawn_held(char *const argv[], struct usm_os_spawn *sp)
{
	int go[2], ep[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = -errno;

		close(go[0]);
		close(go[1]);
		return e;
	}
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(go[0]);
		close(go[1]);
		close(ep[0]);
		close(ep[1]);
		return e;
	}
	if (pid == 0) {
		char c;
		int e;

		close(go[1]);
		close(ep[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(ep[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(ep[1]);
	sp->pid = pid;
	sp->go_fd = go[1];
	sp->err_fd = ep[0];
	return 0;
}

int usm_os_spawn_release(struct usm_os_spawn *sp)
{
	int e = 0, err = 0;
	ssize_t r;

	if (write(sp->go_fd, "g", 1) != 1)
		err = -errno;
	close(sp->go_fd);
	sp->go_fd = -1;
	if (err) {
		close(sp->err_fd);
		sp->err_fd = -1;
		waitpid(sp->pid, NULL, 0);
		sp->pid = 0;
		return err;
	}
	do
		r = read(sp->err_fd, &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	close(sp->err_fd);
	sp->err_fd = -1;
	if (r == sizeof(e)) {
		waitpid(sp->pid, NULL, 0);
		sp->pid = 0;
		return -e;
	}
	return 0;
}

void usm_os_spawn_abort(struct usm_os_spawn *sp)
{
	if (sp->go_fd >= 0)
		close(sp->go_fd); /* the child reads EOF and exits 127 */
	if (sp->err_fd >= 0)
		close(sp->err_fd);
	sp->go_fd = sp->err_fd = -1;
	if (sp->pid > 0)
		waitpid(sp->pid, NULL, 0);
	sp->pid = 0;
}
