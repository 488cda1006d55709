/* Large pages: a range asked for huge pages gets them (MADV_HUGEPAGE at
 * fault, MADV_COLLAPSE at once) and the query counts them; skipped, with
 * the reason printed, where the kernel has no THP or no memory for one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/hugepage.h>

#define PAGE 4096
#define HUGE_PAGES 4

/* HUGE_PAGES huge pages' worth of anonymous memory, huge-page-aligned,
 * its own mapping (guard pages of another protection on both sides). */
struct area {
	char *map, *mem;
	size_t map_len, len;
};

static void area_map(struct area *a, uint64_t huge)
{
	a->len = HUGE_PAGES * huge;
	a->map_len = a->len + 2 * huge;
	a->map = mmap(NULL, a->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(a->map, MAP_FAILED);
	a->mem = (char *)(((uintptr_t)a->map + huge) & ~(uintptr_t)(huge - 1));
	assert_int_equal(mprotect(a->map, (size_t)(a->mem - a->map), PROT_NONE), 0);
	assert_int_equal(mprotect(a->mem + a->len, (size_t)(a->map + a->map_len - a->mem - a->len),
				  PROT_NONE), 0);
}

static void area_unmap(struct area *a)
{
	munmap(a->map, a->map_len);
}

static uint64_t huge_or_skip(void)
{
	int mode = usm_huge_mode();
	uint64_t huge = usm_huge_page_size();

	if (mode < 0 || huge == 0) {
		printf("# skipped: no transparent huge pages in this kernel: %s\n",
		       strerror(mode < 0 ? -mode : EOPNOTSUPP));
		skip();
	}
	return huge;
}

static void mode_and_size_are_reported(void **state)
{
	int mode = usm_huge_mode();

	if (mode == -EOPNOTSUPP) {
		assert_int_equal(usm_huge_page_size(), 0);
		printf("# skipped: no transparent huge pages in this kernel\n");
		skip();
	}
	assert_true(mode >= USM_HUGE_NEVER && mode <= USM_HUGE_ALWAYS);
	/* a power of two above the base page */
	assert_true(usm_huge_page_size() > PAGE);
	assert_int_equal(usm_huge_page_size() & (usm_huge_page_size() - 1), 0);
	printf("# mode %d, huge page %llu bytes\n", mode, (unsigned long long)usm_huge_page_size());
}

static void an_advised_range_faults_in_huge_pages(void **state)
{
	uint64_t huge = huge_or_skip();
	struct usm_huge_info info;
	struct area a;

	if (usm_huge_mode() == USM_HUGE_NEVER) {
		printf("# skipped: THP is \"never\": faults never allocate huge pages\n");
		skip();
	}
	area_map(&a, huge);
	assert_int_equal(usm_huge_request(a.mem, a.len, 0), 0);
	assert_int_equal(usm_huge_query(a.mem, a.len, &info), 0);
	assert_true(info.advised);
	assert_true(info.exact);
	assert_int_equal(info.bytes, a.len);
	assert_int_equal(info.huge_bytes, 0); /* nothing touched yet */
	for (size_t i = 0; i < a.len; i += huge)
		a.mem[i] = 1;
	assert_int_equal(usm_huge_query(a.mem, a.len, &info), 0);
	printf("# %llu of %llu bytes in huge pages after one write per huge page\n",
	       (unsigned long long)info.huge_bytes, (unsigned long long)info.bytes);
	if (info.huge_bytes == 0) {
		area_unmap(&a);
		printf("# skipped: the kernel found no free huge page (memory fragmented)\n");
		skip();
	}
	assert_int_equal(info.huge_bytes % huge, 0);
	assert_true(info.huge_bytes <= a.len);
	area_unmap(&a);
}

static void collapse_turns_small_pages_huge_now(void **state)
{
	uint64_t huge = huge_or_skip();
	struct usm_huge_info info;
	struct area a;
	int err;

	area_map(&a, huge);
	/* small pages first: the range refuses huge pages at fault */
	assert_int_equal(madvise(a.mem, a.len, MADV_NOHUGEPAGE), 0);
	memset(a.mem, 1, a.len);
	assert_int_equal(usm_huge_query(a.mem, a.len, &info), 0);
	assert_int_equal(info.huge_bytes, 0);
	assert_false(info.advised);

	err = usm_huge_request(a.mem, a.len, USM_HUGE_COLLAPSE);
	if (err == -EOPNOTSUPP || err == -EAGAIN || err == -ENOMEM) {
		area_unmap(&a);
		printf("# skipped: MADV_COLLAPSE: %s\n", strerror(-err));
		skip();
	}
	assert_int_equal(err, 0);
	assert_int_equal(usm_huge_query(a.mem, a.len, &info), 0);
	assert_true(info.advised);
	/* a successful MADV_COLLAPSE made every huge page of the range */
	assert_int_equal(info.huge_bytes, a.len);
	/* the data survived the copy */
	for (size_t i = 0; i < a.len; i += PAGE)
		assert_int_equal(a.mem[i], 1);
	/* part of the mapping: each huge page counted at most once */
	assert_int_equal(usm_huge_query(a.mem, huge, &info), 0);
	assert_false(info.exact);
	assert_int_equal(info.huge_bytes, huge);
	area_unmap(&a);
}

static void bad_arguments_are_refused(void **state)
{
	struct usm_huge_info info;
	char buf[2 * PAGE];
	char *p = (char *)(((uintptr_t)buf + PAGE - 1) & ~(uintptr_t)(PAGE - 1));

	assert_int_equal(usm_huge_request(p + 1, PAGE, 0), -EINVAL);
	assert_int_equal(usm_huge_request(p, 0, 0), -EINVAL);
	assert_int_equal(usm_huge_request(p, PAGE, 1u << 5), -EINVAL);
	assert_int_equal(usm_huge_query(p, PAGE + 1, &info), -EINVAL);
	assert_int_equal(usm_huge_query(p, PAGE, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mode_and_size_are_reported),
		cmocka_unit_test(an_advised_range_faults_in_huge_pages),
		cmocka_unit_test(collapse_turns_small_pages_huge_now),
		cmocka_unit_test(bad_arguments_are_refused),
	};
	return cmocka_run_group_tests_name("hugepage", tests, NULL, NULL);
}
