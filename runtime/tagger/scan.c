/* Of the anonymous memory that exists before the hooks, only the heap is
 * handed to the pager. The rest stays with the kernel: the zero-filled
 * tails (.bss) of loaded objects hold state that the pager thread itself
 * reads (libc's, and the tagger's own), so a fault there could never be
 * served; ld.so's early allocations and the main thread's stack are small.
 * Everything mapped after start goes through the hooks. */
#include "tagger.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/rawmem.h"

#define MAPS_MAX (4 << 20)

static bool wanted(const char *perms, unsigned long inode, const char *path)
{
	return perms[3] == 'p' && inode == 0 && !strcmp(path, "[heap]");
}

void tagger_scan_mappings(struct usm_pager *p)
{
	char *buf = usm_rawmem_alloc(MAPS_MAX);
	size_t used = 0;
	int fd;

	if (!buf)
		return;
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	for (ssize_t n; used < MAPS_MAX - 1 && (n = read(fd, buf + used, MAPS_MAX - 1 - used)) > 0;)
		used += (size_t)n;
	close(fd);
	buf[used] = '\0';

	/* read everything first: registering changes the file as we go */
	for (char *line = buf, *next; line && *line; line = next) {
		unsigned long start, end, inode;
		char perms[5] = "", path[256] = "";
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%lx-%lx %4s %*s %*s %lu %255s", &start, &end, perms, &inode, path) < 4)
			continue;
		if (wanted(perms, inode, path) && !usm_rawmem_owns((void *)start, end - start))
			usm_pager_add(p, (void *)start, end - start);
	}
out:
	usm_rawmem_free(buf, MAPS_MAX);
}
