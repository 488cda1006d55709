/* Of the anonymous memory that exists before the hooks, only the heap is
 * handed to the pager. The rest stays with the kernel: the zero-filled
 * tails (.bss) of loaded objects hold state that the pager thread itself
 * reads (libc's, and the tagger's own), so a fault there could never be
 * served; ld.so's early allocations and the main thread's stack are small.
 * Everything mapped after start goes through the hooks. */
#include "tagger.h"

#include <unistd.h>

#include "base/rawmem.h"

#include "os/procfs.h"
#include "os/smaps.h"

#define MAPS_MAX (4 << 20)

static bool wanted(const struct usm_os_mapping *m)
{
	return !m->shared && m->inode == 0 && m->heap;
}

void tagger_scan_mappings(struct usm_pager *p)
{
	char *buf = usm_rawmem_alloc(MAPS_MAX);
	struct usm_os_maps it;
	struct usm_os_mapping m;
	int dirfd;

	if (!buf)
		return;
	dirfd = usm_os_proc_open(getpid());
	if (dirfd < 0)
		goto out;
	/* read everything first: registering changes the file as we go */
	if (usm_os_proc_read_file(dirfd, "maps", buf, MAPS_MAX) < 0)
		buf[0] = '\0';
	close(dirfd);
	usm_os_maps_init(&it, buf);
	while (usm_os_maps_next(&it, &m) > 0) {
		void *start = (void *)(uintptr_t)m.start;
		if (wanted(&m) && !usm_rawmem_owns(start, m.end - m.start))
			usm_pager_add(p, start, m.end - m.start);
	}
out:
	usm_rawmem_free(buf, MAPS_MAX);
}
