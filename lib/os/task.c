/* The threads of this process, listed from /proc/self/task. */
#include "os/task.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

int usm_os_task_list(pid_t **tids, size_t *count)
{
	DIR *d = opendir("/proc/self/task");
	size_t n = 0, cap = 16;
	pid_t *v = malloc(cap * sizeof(*v));
	struct dirent *e;

	if (!d || !v) {
		int err = d ? -ENOMEM : -errno;
		if (d)
			closedir(d);
		free(v);
		return err;
	}
	while ((e = readdir(d))) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		if (n == cap) {
			pid_t *bigger = realloc(v, 2 * cap * sizeof(*v));
			if (!bigger) {
				closedir(d);
				free(v);
				return -ENOMEM;
			}
			v = bigger;
			cap *= 2;
		}
		v[n++] = (pid_t)tid;
	}
	closedir(d);
	*tids = v;
	*count = n;
	return 0;
}
