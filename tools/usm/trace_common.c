/* What usm trace report and usm trace diff share (trace_common.h). */
#include "trace_common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <usm/usm.h>

int trace_open_maps(const char *cmd, const char *path, const char *maps,
                    struct usm_symbolizer **symz)
{
	char mapsbuf[4200];

	*symz = NULL;
	if (!maps) {
		snprintf(mapsbuf, sizeof(mapsbuf), "%s.maps", path);
		if (access(mapsbuf, R_OK) == 0) {
			maps = mapsbuf;
		} else {
			/* usm ktrace's: the kernel symbols its sites are in */
			snprintf(mapsbuf, sizeof(mapsbuf), "%s.kallsyms", path);
			if (access(mapsbuf, R_OK) == 0 && usm_symbolizer_open_kallsyms(mapsbuf, symz) < 0)
				*symz = NULL;
			return 0;
		}
	} else if (access(maps, R_OK) != 0) {
		usm_error_errno(-errno, "%s: %s", cmd, maps);
		return 1;
	}
	/* Without a usable maps copy the report still works, with addresses. */
	if (maps && usm_symbolizer_open(maps, symz) < 0)
		*symz = NULL;
	return 0;
}

static void place_of(struct usm_symbolizer *symz, uint64_t ip, uint64_t addr, struct trace_place *p)
{
	struct usm_symbol *y = &p->sym;

	memset(y, 0, sizeof(*y));
	if (!symz || usm_symbolize(symz, addr, y) < 0 || (!y->function && !y->module)) {
		memset(y, 0, sizeof(*y));
		snprintf(p->where, sizeof(p->where), "%" PRIx64, ip);
		return;
	}
	if (y->function && y->file)
		snprintf(p->where, sizeof(p->where), "%s (%s:%d)", y->function, y->file, y->line);
	else if (y->function)
		snprintf(p->where, sizeof(p->where), "%s+0x%" PRIx64 " (%s)", y->function,
		         y->offset, y->module ? y->module : "?");
	else
		snprintf(p->where, sizeof(p->where), "%" PRIx64 " (%s)", ip, y->module);
}

void trace_place_site(struct usm_symbolizer *symz, uint64_t alloc_ip, const char *allocator,
                      struct trace_place *p)
{
	bool global = !strcmp(allocator, "global");

	place_of(symz, alloc_ip, global || !alloc_ip ? alloc_ip : alloc_ip - 1, p);
}

void trace_place_ip(struct usm_symbolizer *symz, uint64_t ip, struct trace_place *p)
{
	place_of(symz, ip, ip ? ip - 1 : 0, p);
}

int trace_aggregate(const char *cmd, const char *path, const struct usm_capmap_agg_opts *opts,
                    struct usm_capmap_agg *agg)
{
	char err[256];
	FILE *f = fopen(path, "re");
	int ret;

	if (!f) {
		usm_error_errno(-errno, "%s: %s", cmd, path);
		return 1;
	}
	ret = usm_capmap_aggregate(f, opts, agg, err, sizeof(err));
	fclose(f);
	if (ret == -EINVAL) {
		usm_error("%s: %s: not a valid CAPMAP: %s", cmd, path, err);
		return 1;
	}
	if (ret < 0) {
		usm_error_errno(ret, "%s: %s", cmd, path);
		return 1;
	}
	return 0;
}
