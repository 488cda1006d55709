#include "os/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <usm/size.h>

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* The entries of a /proc directory named by a pid (/proc itself, or a
 * process's task/), sorted upwards: readdir happens to walk them upwards,
 * sorting makes it a promise rather than an observation. */
static int list_pid_dir(const char *path, size_t first_cap, pid_t **pids, size_t *count)
{
	DIR *dir = opendir(path);
	pid_t *list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *d;
	int err = 0;

	if (!dir)
		return -errno;
	errno = 0;
	while ((d = readdir(dir))) {
		pid_t pid;

		/* such an entry is named by its pid and nothing else */
		if (usm_parse_pid(d->d_name, &pid) < 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : first_cap;
			pid_t *grown = realloc(list, ncap * sizeof(*list));

			if (!grown) {
				err = -ENOMEM;
				break;
			}
			list = grown;
			cap = ncap;
		}
		list[n++] = pid;
	}
	if (!err && errno)
		err = -errno;
	closedir(dir);
	if (err) {
		free(list);
		return err;
	}
	qsort(list, n, sizeof(*list), cmp_pid);
	*pids = list;
	*count = n;
	return 0;
}

int usm_os_proc_list(pid_t **pids, size_t *count)
{
	return list_pid_dir("/proc", 256, pids, count);
}

int usm_os_proc_open(pid_t pid)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int usm_os_proc_open_file(int dirfd, const char *file)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

ssize_t usm_os_proc_read_file(int dirfd, const char *file, char *buf, size_t size)
{
	int fd = usm_os_proc_open_file(dirfd, file);
	size_t len = 0;

	if (fd < 0)
		return fd;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int usm_os_proc_read_maps(pid_t pid, char **text)
{
	int dir = usm_os_proc_open(pid ? pid : getpid());
	size_t size = 64 * 1024;

	if (dir < 0)
		return dir;
	/* seq_file gives no size: double the buffer until the file fits */
	for (;;) {
		char *buf = malloc(size);
		ssize_t n;

		if (!buf) {
			close(dir);
			return -ENOMEM;
		}
		n = usm_os_proc_read_file(dir, "maps", buf, size);
		if (n >= 0 && (size_t)n < size - 1) {
			close(dir);
			*text = buf;
			return 0;
		}
		free(buf);
		if (n < 0) {
			close(dir);
			return (int)n;
		}
		size *= 2;
	}
}

int usm_os_proc_read_comm(int dirfd, char name[USM_OS_COMM_MAX + 1])
{
	/* Workqueue kthreads show more than comm here ("kworker/0:1-events");
	 * a process shows its comm and one '\n'. comm itself may hold any
	 * byte but NUL (prctl(PR_SET_NAME)), a '\n' included. */
	char buf[128];
	ssize_t len = usm_os_proc_read_file(dirfd, "comm", buf, sizeof(buf));

	if (len < 0)
		return (int)len;
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > USM_OS_COMM_MAX)
		len = USM_OS_COMM_MAX;
	memcpy(name, buf, (size_t)len);
	name[len] = '\0';
	return 0;
}

int usm_os_proc_read_vmsize(int dirfd, uint64_t *kb)
{
	char buf[8192];
	ssize_t len = usm_os_proc_read_file(dirfd, "status", buf, sizeof(buf));
	const char *line;

	if (len < 0)
		return (int)len;
	for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (!strncmp(line, "VmSize:", 7))
			return sscanf(line + 7, "%" SCNu64, kb) == 1 ? 0 : -EINVAL;
	}
	return -ENODATA;
}

ssize_t usm_os_proc_read_mem(int memfd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n;

	do
		n = pread(memfd, buf, len, (off_t)addr);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0 && len)
		return -ESRCH;
	return n;
}

int usm_os_proc_list_tasks(pid_t pid, pid_t **tids, size_t *count)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	return list_pid_dir(path, 16, tids, count);
}

static bool has_task(const pid_t *list, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == tid)
			return true;
	return false;
}

int usm_os_proc_each_task(pid_t pid, int (*fn)(void *ctx, pid_t tid), void *ctx)
{
	pid_t *done = NULL, *tids;
	size_t ndone = 0, n;
	int err = 0;

	for (int pass = 0; pass < 2 && !err; pass++) {
		err = usm_os_proc_list_tasks(pid, &tids, &n);
		if (err) {
			err = err == -ENOENT ? -ESRCH : err;
			break;
		}
		for (size_t i = 0; i < n && !err; i++) {
			pid_t *grown;

			if (has_task(done, ndone, tids[i]))
				continue;
			err = fn(ctx, tids[i]);
			if (err == -ESRCH) { /* that thread just ended */
				err = 0;
				continue;
			}
			grown = err ? NULL : realloc(done, (ndone + 1) * sizeof(*done));
			if (!err && !grown)
				err = -ENOMEM;
			if (!err) {
				done = grown;
				done[ndone++] = tids[i];
			}
		}
		free(tids);
	}
	free(done);
	return !err && !ndone ? -ESRCH : err;
}
