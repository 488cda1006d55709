/* mremap of regions with evicted pages: growth in place or by a move, a
 * forced move, a shrink; and realloc of a large block. The data moves with
 * the mapping, the new part reads as zeros. */
#include "common.h"



int main(void)
{
	size_t len = 32 * MB;
	char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	fill(a, len, 1);
	push_out(64 * MB);
	char *b = mremap(a, len, 48 * MB, MREMAP_MAYMOVE);
	expect(b != MAP_FAILED, "grow by 16M");
	expect(check(b, len, 1) == -1, "data kept by the growth");
	expect(zero(b + len, 16 * MB), "grown part reads as zeros");

	fill(b, 48 * MB, 2);
	push_out(64 * MB);
	char *spot = mmap(NULL, 48 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *c = mremap(b, 48 * MB, 48 * MB, MREMAP_MAYMOVE | MREMAP_FIXED, spot);
	expect(c == spot, "forced move to another address");
	expect(check(c, 48 * MB, 2) == -1, "data kept by the move");

	char *d = mremap(c, 48 * MB, 8 * MB, 0);
	expect(d == c && check(d, 8 * MB, 2) == -1, "shrink keeps the head");
	munmap(d, 8 * MB);

	uint64_t *r = malloc(24 * MB);
	fill(r, 24 * MB, 3);
	push_out(64 * MB);
	r = realloc(r, 80 * MB);
	expect(r && check(r, 24 * MB, 3) == -1, "realloc of a large block keeps its data");
	free(r);
	return 0;
}
