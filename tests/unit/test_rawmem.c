/* usm_rawmem: the allocator of usm's own machinery hands out zeroed memory
 * from its window, keeps contents across realloc and reuses what is freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include "base/rawmem.h"

static const size_t sizes[] = {
	0, 1, 15, 16, 17, 100, 4096, 4097, 32767, 32768, 32769, 64 << 10, (64 << 10) + 1, 1 << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static bool all_equal(const unsigned char *p, size_t len, unsigned char v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	return all_equal(p, len, 0);
}

static void allocates_and_frees_many_sizes(void **state)
{
	unsigned char *p[NSIZES][8];

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < NSIZES; i++) {
			for (int j = 0; j < 8; j++) {
				p[i][j] = usm_rawmem_alloc(sizes[i]);
				assert_non_null(p[i][j]);
				memset(p[i][j], (int)(i * 8 + (size_t)j + 1), sizes[i]);
			}
		}
		/* no block overlaps another: each still holds its own pattern */
		for (size_t i = 0; i < NSIZES; i++) {
			for (int j = 0; j < 8; j++) {
				assert_true(all_equal(p[i][j], sizes[i],
						      (unsigned char)(i * 8 + (size_t)j + 1)));
				usm_rawmem_free(p[i][j], sizes[i]);
			}
		}
	}
}

static void memory_is_zeroed_even_when_reused(void **state)
{
	for (size_t i = 0; i < NSIZES; i++) {
		unsigned char *p = usm_rawmem_alloc(sizes[i]);

		assert_non_null(p);
		assert_true(all_zero(p, sizes[i]));
		memset(p, 0xff, sizes[i]);
		usm_rawmem_free(p, sizes[i]);
		p = usm_rawmem_alloc(sizes[i]);
		assert_true(all_zero(p, sizes[i]));
		usm_rawmem_free(p, sizes[i]);
	}
}

static void owns_its_blocks_and_not_mallocs(void **state)
{
	void *start;
	size_t len;
	char *heap = malloc(64);

	for (size_t i = 0; i < NSIZES; i++) {
		char *p = usm_rawmem_alloc(sizes[i]);

		assert_true(usm_rawmem_owns(p, sizes[i]));
		usm_rawmem_free(p, sizes[i]);
	}
	assert_non_null(heap);
	assert_false(usm_rawmem_owns(heap, 64));
	free(heap);
	usm_rawmem_window(&start, &len);
	assert_non_null(start);
	assert_true(len > 0);
	assert_true(usm_rawmem_owns(start, len));
	assert_false(usm_rawmem_owns(start, len + 1));
}

static void realloc_keeps_the_contents(void **state)
{
	static const size_t steps[] = {100, 5000, 200000, 300000, 50, 70000};
	size_t size = 10;
	unsigned char *p = usm_rawmem_alloc(size);

	for (size_t b = 0; b < size; b++)
		p[b] = (unsigned char)(b * 7);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		size_t kept = size < steps[s] ? size : steps[s];

		p = usm_rawmem_realloc(p, size, steps[s]);
		assert_non_null(p);
		for (size_t b = 0; b < kept; b++)
			assert_int_equal(p[b], (unsigned char)(b * 7));
		for (size_t b = kept; b < steps[s]; b++)
			p[b] = (unsigned char)(b * 7);
		size = steps[s];
	}
	usm_rawmem_free(p, size);
	p = usm_rawmem_realloc(NULL, 0, 64);
	assert_non_null(p);
	assert_true(all_zero(p, 64));
	usm_rawmem_free(p, 64);
}

static void freed_large_chunks_are_reused(void **state)
{
	char *big = usm_rawmem_alloc(1 << 20), *again, *part;

	assert_non_null(big);
	usm_rawmem_free(big, 1 << 20);
	again = usm_rawmem_alloc(1 << 20);
	assert_ptr_equal(again, big);
	usm_rawmem_free(again, 1 << 20);
	/* a smaller large block is carved out of the freed run */
	part = usm_rawmem_alloc(256 << 10);
	assert_true(part >= big && part + (256 << 10) <= big + (1 << 20));
	usm_rawmem_free(part, 256 << 10);
}

/* A block takes its size class: at least what was asked, at most a fifth
 * more past 64 bytes, and a class is the smallest that fits. */
static void footprints_are_tight_size_classes(void **state)
{
	size_t prev = 0;

	for (size_t size = 1; size <= 32768; size++) {
		size_t f = usm_rawmem_footprint(size);
		assert_true(f >= size);
		assert_true(f % 16 == 0);
		if (size > 64)
			assert_true(f * 4 <= size * 5 + 64);
		assert_true(f >= prev);
		prev = f;
	}
	assert_int_equal(usm_rawmem_footprint(4096), 4096);
	assert_int_equal(usm_rawmem_footprint(32769), 65536);
	assert_int_equal(usm_rawmem_footprint(65537), 131072);
}

/* Slabs whose blocks are all freed go back to the kernel, so memory freed
 * in one class is not held for it: committed returns to where it was, less
 * the one slab a class keeps. */
static void empty_slabs_are_released(void **state)
{
	enum { N = 2000 };
	static void *p[N];
	size_t before = usm_rawmem_committed(), during;

	for (int i = 0; i < N; i++) {
		p[i] = usm_rawmem_alloc(2500);
		assert_non_null(p[i]);
		memset(p[i], 0xab, 2500);
	}
	during = usm_rawmem_committed();
	assert_true(during >= before + (size_t)N * 2500);
	for (int i = 0; i < N; i++) /* every other one first: slabs stay partly full */
		if (i % 2)
			usm_rawmem_free(p[i], 2500);
	assert_true(usm_rawmem_committed() == during);
	for (int i = 0; i < N; i++)
		if (i % 2 == 0)
			usm_rawmem_free(p[i], 2500);
	assert_true(usm_rawmem_committed() <= before + 65536);
	/* and what was released is handed out again, zeroed */
	for (int i = 0; i < N; i++) {
		unsigned char *b = usm_rawmem_alloc(2500);
		assert_non_null(b);
		assert_int_equal(b[0] | b[2499], 0);
		p[i] = b;
	}
	for (int i = 0; i < N; i++)
		usm_rawmem_free(p[i], 2500);
}

/* The malloc-shaped twins free and grow without being told the size. */
static void malloc_twins_keep_sizes_themselves(void **state)
{
	char *p = usm_rawmem_malloc(100);

	assert_non_null(p);
	assert_true(usm_rawmem_owns(p, 100));
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0x3c, 100);
	p = usm_rawmem_mrealloc(p, 100000);
	assert_non_null(p);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 0x3c);
	assert_int_equal(p[100], 0);
	p = usm_rawmem_mrealloc(p, 10);
	assert_int_equal(p[9], 0x3c);
	usm_rawmem_mfree(p);
	usm_rawmem_mfree(NULL);
	p = usm_rawmem_mrealloc(NULL, 32);
	assert_non_null(p);
	usm_rawmem_mfree(p);
	assert_null(usm_rawmem_malloc(SIZE_MAX - 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(allocates_and_frees_many_sizes),
		cmocka_unit_test(memory_is_zeroed_even_when_reused),
		cmocka_unit_test(owns_its_blocks_and_not_mallocs),
		cmocka_unit_test(realloc_keeps_the_contents),
		cmocka_unit_test(freed_large_chunks_are_reused),
		cmocka_unit_test(footprints_are_tight_size_classes),
		cmocka_unit_test(empty_slabs_are_released),
		cmocka_unit_test(malloc_twins_keep_sizes_themselves),
	};
	return cmocka_run_group_tests_name("rawmem", tests, NULL, NULL);
}
