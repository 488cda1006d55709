/* Reading the transparent huge page settings of sysfs. */
#include "os/thp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"

int usm_os_thp_setting(const char *file, char *buf, size_t size)
{
	char path[128], line[256];
	char *open_br, *close_br;
	FILE *f;

	snprintf(path, sizeof(path), THP_DIR "%s", file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	open_br = strchr(line, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (!close_br || (size_t)(close_br - open_br - 1) >= size)
		return -EINVAL;
	memcpy(buf, open_br + 1, (size_t)(close_br - open_br - 1));
	buf[close_br - open_br - 1] = '\0';
	return 0;
}

uint64_t usm_os_thp_pmd_size(void)
{
	FILE *f = fopen(THP_DIR "hpage_pmd_size", "re");
	unsigned long long v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}
