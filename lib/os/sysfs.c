#include "os/sysfs.h"

#include <errno.h>
#include <stdio.h>

int usm_os_read_int(const char *path, int *value)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", value) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}
