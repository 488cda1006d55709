/* Identical-page grouping (lib/page_dedup.c) on synthetic pages: the
 * assignment's two pictures, hash collisions split by memcmp, unreadable
 * pages, read errors, and batched reads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meminfo/page_dedup.h"

#define MAX_PAGES 4096

/* Sources of fake pages: page i of source s lives at address
 * i * USM_PAGE_SIZE and holds content id contents[s][i] (-1: unreadable). */
struct fake {
	int contents[2][MAX_PAGES];
	int vanish_source; /* reading it fails -ESRCH; -1: never */
	int calls;
};

static void content(unsigned char *page, int id)
{
	memset(page, 0, USM_PAGE_SIZE);
	memcpy(page + USM_PAGE_SIZE / 2, &id, sizeof(id)); /* differs from others mid-page */
}

static int fake_read(void *ctx, uint32_t source, uint64_t addr, void *buf, size_t count)
{
	struct fake *f = ctx;
	size_t first = addr / USM_PAGE_SIZE;

	f->calls++;
	if ((int)source == f->vanish_source)
		return -ESRCH;
	for (size_t i = 0; i < count; i++) {
		int id = f->contents[source][first + i];

		if (id < 0)
			return (int)i;
		content((unsigned char *)buf + i * USM_PAGE_SIZE, id);
	}
	return (int)count;
}

/* Adds page i of source s with the true hash of its contents, or `hash`
 * when non-zero (to force collisions). */
static void add(struct usm_dedup_store *s, struct fake *f, uint32_t src, size_t i, int id,
		uint64_t hash)
{
	unsigned char page[USM_PAGE_SIZE];

	f->contents[src][i] = id;
	content(page, id < 0 ? 0 : id);
	if (!hash)
		hash = usm_dedup_hash(page);
	assert_int_equal(usm_dedup_add(s, hash, src, i * USM_PAGE_SIZE), 0);
}

static struct usm_dedup_counts count(struct usm_dedup_store *s, struct fake *f)
{
	struct usm_dedup_counts c;

	assert_int_equal(usm_dedup_count(s, fake_read, f, &c), 0);
	return c;
}

static struct fake *new_fake(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->vanish_source = -1;
	return f;
}

static void two_processes_three_red_two_blue_make_five_in_two_groups(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_dedup_counts c;

	/* Scenario 1a: red in both processes, blue in both, the rest unique. */
	add(&s, f, 0, 0, 1, 0);
	add(&s, f, 0, 1, 2, 0);
	add(&s, f, 0, 2, 10, 0);
	add(&s, f, 1, 0, 1, 0);
	add(&s, f, 1, 1, 1, 0);
	add(&s, f, 1, 2, 2, 0);
	add(&s, f, 1, 3, 11, 0);
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 5);
	assert_int_equal(c.nb_group, 2);
	usm_dedup_store_free(&s);
	free(f);
}

static void one_process_two_pairs_and_a_unique_page_make_four_in_two_groups(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_dedup_counts c;

	/* Scenario 1b: one process alone. */
	add(&s, f, 0, 0, 1, 0);
	add(&s, f, 0, 1, 2, 0);
	add(&s, f, 0, 2, 1, 0);
	add(&s, f, 0, 3, 3, 0);
	add(&s, f, 0, 4, 2, 0);
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 4);
	assert_int_equal(c.nb_group, 2);
	usm_dedup_store_free(&s);
	free(f);
}

static void equal_hashes_with_different_contents_are_split_by_memcmp(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_dedup_counts c;

	/* One hash for everything: A A B B C -> two groups of two. */
	add(&s, f, 0, 0, 1, 42);
	add(&s, f, 0, 1, 2, 42);
	add(&s, f, 0, 2, 3, 42);
	add(&s, f, 1, 0, 2, 42);
	add(&s, f, 1, 1, 1, 42);
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 4);
	assert_int_equal(c.nb_group, 2);
	usm_dedup_store_free(&s);
	free(f);
}

static void equal_hashes_of_all_different_pages_make_no_group(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_dedup_counts c;

	for (size_t i = 0; i < 5; i++)
		add(&s, f, 0, i, (int)i + 1, 7);
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 0);
	assert_int_equal(c.nb_group, 0);
	usm_dedup_store_free(&s);
	free(f);
}

static void unreadable_pages_join_no_group(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_dedup_counts c;

	/* Three pages alike but the first (the would-be representative) and
	 * one in the middle of a batch cannot be read back. */
	add(&s, f, 0, 0, 5, 99);
	add(&s, f, 0, 1, 5, 99);
	add(&s, f, 0, 2, 5, 99);
	add(&s, f, 0, 3, 5, 99);
	add(&s, f, 0, 4, 5, 99);
	f->contents[0][0] = -1;
	f->contents[0][2] = -1;
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 3);
	assert_int_equal(c.nb_group, 1);
	usm_dedup_store_free(&s);
	free(f);
}

static int cmp_ref(const void *a, const void *b)
{
	const struct usm_page_ref *x = a, *y = b;

	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return (x->addr > y->addr) - (x->addr < y->addr);
}

static void a_read_error_stops_the_count_and_keeps_every_ref(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_page_ref before[6];
	struct usm_dedup_counts c;

	for (size_t i = 0; i < 3; i++) {
		add(&s, f, 0, i, 1, 0);
		add(&s, f, 1, i, 1, 0);
	}
	memcpy(before, s.refs, sizeof(before));
	f->vanish_source = 1;
	assert_int_equal(usm_dedup_count(&s, fake_read, f, &c), -ESRCH);
	assert_int_equal(s.len, 6);
	qsort(before, 6, sizeof(before[0]), cmp_ref);
	qsort(s.refs, 6, sizeof(s.refs[0]), cmp_ref);
	assert_memory_equal(before, s.refs, sizeof(before));

	/* What meminfo does next: forget the vanished process, count again. */
	usm_dedup_drop_source(&s, 1);
	assert_int_equal(s.len, 3);
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 3);
	assert_int_equal(c.nb_group, 1);
	usm_dedup_store_free(&s);
	free(f);
}

static void consecutive_pages_are_read_back_in_batches(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_dedup_counts c;

	for (size_t i = 0; i < 1000; i++)
		add(&s, f, 0, i, 3, 0);
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 1000);
	assert_int_equal(c.nb_group, 1);
	/* the representative with the first batch, all in batches of 64 */
	assert_int_equal(f->calls, (1000 + 63) / 64);
	usm_dedup_store_free(&s);
	free(f);
}

static void fewer_than_two_pages_make_no_group(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	struct usm_dedup_counts c;

	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 0);
	add(&s, f, 0, 0, 1, 0);
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, 0);
	assert_int_equal(c.nb_group, 0);
	assert_int_equal(f->calls, 0);
	usm_dedup_store_free(&s);
	free(f);
}

static void many_pages_with_colliding_hashes_agree_with_a_naive_count(void **state)
{
	struct usm_dedup_store s = { 0 };
	struct fake *f = new_fake();
	unsigned occurrences[300] = { 0 };
	struct usm_dedup_counts c;
	uint64_t want_shared = 0, want_groups = 0;
	unsigned seed = 1;

	for (uint32_t src = 0; src < 2; src++) {
		for (size_t i = 0; i < MAX_PAGES; i++) {
			int id;

			seed = seed * 1103515245 + 12345;
			id = (int)((seed >> 16) % 300);
			/* a weak hash: seven buckets, many collisions */
			add(&s, f, src, i, id, (uint64_t)(id % 7) + 1);
			occurrences[id]++;
		}
	}
	for (int id = 0; id < 300; id++) {
		if (occurrences[id] >= 2) {
			want_shared += occurrences[id];
			want_groups++;
		}
	}
	c = count(&s, f);
	assert_int_equal(c.may_be_shared, want_shared);
	assert_int_equal(c.nb_group, want_groups);
	usm_dedup_store_free(&s);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_processes_three_red_two_blue_make_five_in_two_groups),
		cmocka_unit_test(one_process_two_pairs_and_a_unique_page_make_four_in_two_groups),
		cmocka_unit_test(equal_hashes_with_different_contents_are_split_by_memcmp),
		cmocka_unit_test(equal_hashes_of_all_different_pages_make_no_group),
		cmocka_unit_test(unreadable_pages_join_no_group),
		cmocka_unit_test(a_read_error_stops_the_count_and_keeps_every_ref),
		cmocka_unit_test(consecutive_pages_are_read_back_in_batches),
		cmocka_unit_test(fewer_than_two_pages_make_no_group),
		cmocka_unit_test(many_pages_with_colliding_hashes_agree_with_a_naive_count),
	};
	return cmocka_run_group_tests_name("page_dedup", tests, NULL, NULL);
}
