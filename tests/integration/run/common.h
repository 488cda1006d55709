/* Helpers shared by the usm run test programs: patterned memory that can be
 * checked, and a way to push earlier memory out of a small budget. */
#ifndef RUN_COMMON_H
#define RUN_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MB (1UL << 20)

static inline uint64_t pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + i;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 27);
}

static inline void fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;
	for (size_t i = 0; i < len / 8; i++)
		w[i] = pattern(seed, i);
}

/* Index of the first wrong word, or -1. */
static inline long check(const void *p, size_t len, uint64_t seed)
{
	const uint64_t *w = p;
	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != pattern(seed, i))
			return (long)i;
	return -1;
}

static inline int zero(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Touches `len` bytes of fresh memory so that, under a budget smaller than
 * that, what the program touched before gets evicted. */
static inline void push_out(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		exit(3);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
}

static inline void expect(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		exit(1);
}

#endif
