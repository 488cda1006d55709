/* tracefs: where it is mounted, mounting it when it is not (it is not at
 * boot on Debian), and the ids of tracepoints under events/. */
#include "os/tracefs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "os/sysfs.h"

static bool has_events(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/events", dir);
	return access(path, F_OK) == 0;
}

int usm_os_tracefs_find(char *dir, size_t len, bool may_mount, bool *mounted)
{
	static const char *const places[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

	*mounted = false;
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		struct statfs sf;

		if (has_events(places[i])) {
			snprintf(dir, len, "%s", places[i]);
			return 0;
		}
		/* mounted, but its root directory is root's alone (mode 0700) */
		if (statfs(places[i], &sf) == 0 && sf.f_type == TRACEFS_MAGIC) {
			snprintf(dir, len, "%s", places[i]);
			return -EACCES;
		}
	}
	if (access(places[0], F_OK) != 0)
		return -ENODEV; /* no tracefs mount point: a kernel without it */
	if (!may_mount)
		return -EPERM;
	if (mount("nodev", places[0], "tracefs", 0, NULL) != 0)
		return -errno;
	if (!has_events(places[0]))
		return -ENODEV;
	*mounted = true;
	snprintf(dir, len, "%s", places[0]);
	return 0;
}

int usm_os_tracepoint_id(const char *dir, const char *system, const char *event)
{
	char path[512];
	int id, err;

	snprintf(path, sizeof(path), "%s/events/%s/%s/id", dir, system, event);
	err = usm_os_read_int(path, &id);
	if (err < 0)
		return err;
	return id > 0 ? id : -EINVAL;
}

int usm_os_tracepoint_field(const char *dir, const char *system, const char *event,
			    const char *field, unsigned *offset, unsigned *size)
{
	char path[512], line[512];
	size_t flen = strlen(field);
	FILE *f;
	int err = -ENOENT;

	snprintf(path, sizeof(path), "%s/events/%s/%s/format", dir, system, event);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	/* lines read "\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;" */
	while (fgets(line, sizeof(line), f)) {
		char *decl = strstr(line, "field:"), *semi, *name;

		if (!decl || !(semi = strchr(decl, ';')))
			continue;
		for (name = semi; name > decl && name[-1] != ' ' && name[-1] != '*'; name--)
			;
		if ((size_t)(semi - name) != flen || strncmp(name, field, flen))
			continue;
		if (sscanf(semi, "; offset:%u; size:%u;", offset, size) == 2) /* spaces match tabs */
			err = 0;
		else
			err = -EINVAL;
		break;
	}
	fclose(f);
	return err;
}
