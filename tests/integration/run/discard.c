/* MADV_DONTNEED and MADV_FREE on evicted pages: they read as zeros after,
 * the rest stays. And system calls on evicted buffers: write(2) from one,
 * read(2) into another (faults taken inside the kernel). */
#include "common.h"

#include <unistd.h>



int main(void)
{
	size_t len = 32 * MB;
	char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	fill(a, len, 5);
	push_out(64 * MB);
	expect(madvise(a, 8 * MB, MADV_DONTNEED) == 0, "MADV_DONTNEED on evicted pages");
	expect(madvise(a + 8 * MB, 8 * MB, MADV_FREE) == 0, "MADV_FREE on evicted pages");
	expect(zero(a, 8 * MB), "MADV_DONTNEED pages read as zeros");
	const uint64_t *w = (const uint64_t *)(a + 16 * MB);
	int intact = 1;
	for (size_t i = 0; i < 16 * MB / 8; i++)
		intact &= w[i] == pattern(5, 2 * MB + i);
	expect(intact, "pages not advised keep their data");
	/* MADV_FREE pages are zeros or their old data: both are right */
	fill(a + 8 * MB, 8 * MB, 6);
	expect(check(a + 8 * MB, 8 * MB, 6) == -1, "MADV_FREE pages take new data");

	char *src = malloc(16 * MB), *dst = malloc(16 * MB);
	int fds[2];
	fill(src, 16 * MB, 9);
	memset(dst, 0, 16 * MB);
	push_out(64 * MB);
	expect(pipe(fds) == 0, "pipe");
	size_t moved = 0;
	while (moved < 16 * MB) { /* in chunks the pipe holds */
		size_t n = 16 * MB - moved < 60000 ? 16 * MB - moved : 60000;
		if (write(fds[1], src + moved, n) != (ssize_t)n || read(fds[0], dst + moved, n) != (ssize_t)n)
			break;
		moved += n;
	}
	expect(moved == 16 * MB && check(dst, 16 * MB, 9) == -1, "write(2) from and read(2) into evicted buffers");
	return 0;
}
