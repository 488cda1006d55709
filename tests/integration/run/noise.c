/* Memory whose evicted pages do not compress: MB megabytes (argv[1],
 * default 64) of hashed words in 1 MiB pieces, checked and rewritten
 * in passes, then a digest. Under a budget the mem store can keep little
 * of it in memory, which is what the budget tests need. */
#include "common.h"

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	uint64_t **piece = calloc(n, sizeof(*piece)), digest = 0;
	int bad = 0;

	if (!piece || n == 0)
		return 2;
	for (size_t i = 0; i < n; i++) {
		piece[i] = malloc(MB);
		if (!piece[i])
			return 2;
		fill(piece[i], MB, i);
	}
	for (uint64_t pass = 1; pass <= 3; pass++) {
		for (size_t i = 0; i < n; i++) {
			bad |= check(piece[i], MB, i + (pass - 1) * n) != -1;
			fill(piece[i], MB, i + pass * n);
			digest ^= piece[i][(pass * 7919 + i) % (MB / 8)];
		}
	}
	printf("%zu MiB, %s, digest %016llx\n", n, bad ? "CORRUPT" : "intact",
	       (unsigned long long)digest);
	return bad;
}
