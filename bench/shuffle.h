/* The fixed shuffle of the benches' random phases (scan.c, fault_paths.c):
 * order[] gets 0..n-1 in an order that is the same on every run. */
#ifndef USM_BENCH_SHUFFLE_H
#define USM_BENCH_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

static inline void shuffled_order(size_t *order, size_t n)
{
	uint64_t x = 88172645463325252ULL; /* xorshift64 */

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0 && n > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t j = x % (i + 1), tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
}

#endif
