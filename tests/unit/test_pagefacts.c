/* Page facts (include/usm/pagefacts.h) against /proc/self/pagemap read
 * directly and against smaps totals, through PAGEMAP_SCAN and through
 * pagemap entries alike; another process's pages by pid. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/pagefacts.h>

#include "os/pagemap.h"

#define PAGE 4096ULL

static const unsigned withouts[] = { 0, USM_PAGEFACTS_WITHOUT_SCAN };

/* facts[i] of each page of [start, start + pages*PAGE), 0 for absent ones,
 * in calls of at most cap runs chained through *next. */
static unsigned facts_of(pid_t pid, uint64_t start, uint64_t pages, unsigned want,
			 unsigned without, size_t cap, unsigned *facts, uint64_t *pfns,
			 unsigned *known)
{
	struct usm_page_run *runs = calloc(cap, sizeof(*runs));
	struct usm_pagefacts_query q = { .pid = pid, .start = start,
					 .end = start + pages * PAGE, .want = want,
					 .without = without };
	unsigned calls = 0;

	memset(facts, 0, pages * sizeof(*facts));
	if (pfns)
		memset(pfns, 0, pages * sizeof(*pfns));
	while (q.start < q.end) {
		uint64_t next = 0;
		int n = usm_pagefacts(&q, runs, cap, &next, known);

		assert_true(n >= 0);
		assert_true(next > q.start && next <= q.end);
		for (int i = 0; i < n; i++) {
			assert_true(runs[i].start >= q.start && runs[i].end <= next);
			assert_true(runs[i].facts & (USM_PAGE_PRESENT | USM_PAGE_SWAPPED));
			assert_int_equal(runs[i].facts & ~*known, 0);
			for (uint64_t a = runs[i].start; a < runs[i].end; a += PAGE) {
				uint64_t k = (a - start) / PAGE;

				facts[k] = runs[i].facts;
				if (pfns && runs[i].pfn)
					pfns[k] = runs[i].pfn + (a - runs[i].start) / PAGE;
			}
		}
		q.start = next;
		calls++;
	}
	free(runs);
	return calls;
}

/* A range with written, read-only (zero page), absent and file pages. */
static char *mixed(uint64_t pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	assert_ptr_not_equal(p, MAP_FAILED);
	for (uint64_t i = 0; i < pages; i++) {
		if (i % 3 == 0)
			p[i * PAGE] = 1;
		else if (i % 3 == 1 && i % 7)
			(void)*(volatile char *)&p[i * PAGE];
	}
	return p;
}

static void facts_agree_with_pagemap_read_directly(void **state)
{
	const uint64_t pages = 300;
	char *p = mixed(pages);
	uint64_t *entries = calloc(pages, sizeof(*entries)), *pfns = calloc(pages, sizeof(*pfns));
	unsigned *facts = calloc(pages, sizeof(*facts));
	int fd = usm_os_pagemap_open(0);

	assert_true(fd >= 0);
	for (size_t w = 0; w < 2; w++) {
		unsigned known = 0;

		/* small vectors too: the continuation must lose nothing */
		for (size_t cap = 1; cap <= 1024; cap *= 32) {
			facts_of(0, (uint64_t)(uintptr_t)p, pages, 0, withouts[w], cap, facts, pfns,
				 &known);
			assert_int_equal(usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)p, entries,
							     pages),
					 0);
			assert_true(known & USM_PAGE_PRESENT);
			assert_true(known & USM_PAGE_EXCLUSIVE); /* asked for: all */
			for (uint64_t i = 0; i < pages; i++) {
				uint64_t e = entries[i];
				unsigned f = facts[i];

				assert_int_equal(!!(f & USM_PAGE_PRESENT), !!(e & USM_PM_PRESENT));
				assert_int_equal(!!(f & USM_PAGE_SWAPPED), !!(e & USM_PM_SWAPPED));
				if (!(e & (USM_PM_PRESENT | USM_PM_SWAPPED)))
					continue;
				assert_int_equal(!!(f & USM_PAGE_FILE), !!(e & USM_PM_FILE));
				assert_int_equal(!!(f & USM_PAGE_EXCLUSIVE),
						 !!(e & USM_PM_EXCLUSIVE));
				assert_int_equal(!!(f & USM_PAGE_SOFT_DIRTY),
						 !!(e & USM_PM_SOFTDIRTY));
				assert_int_equal(!!(f & USM_PAGE_WRITTEN), !(e & USM_PM_UFFD_WP));
				if (known & USM_PAGE_PFN)
					assert_int_equal(pfns[i], e & USM_PM_PFN_MASK);
				if (known & USM_PAGE_ZERO)
					/* read-only touches map the zero page */
					assert_int_equal(!!(f & USM_PAGE_ZERO), i % 3 == 1);
			}
		}
		printf("# %s: known facts 0x%x\n", w ? "pagemap" : "PAGEMAP_SCAN", known);
	}
	close(fd);
	munmap(p, pages * PAGE);
	free(entries);
	free(pfns);
	free(facts);
}

static void the_scan_tells_without_entry_reads_what_it_knows(void **state)
{
	const uint64_t pages = 64;
	char *p = mixed(pages);
	unsigned *facts = calloc(pages, sizeof(*facts)), known = 0;
	int fd = usm_os_pagemap_open(0);
	bool scan = usm_os_pagemap_scan_supported(fd);

	close(fd);
	if (!scan) {
		printf("# skip: the kernel has no PAGEMAP_SCAN\n");
		munmap(p, pages * PAGE);
		free(facts);
		skip();
	}
	facts_of(0, (uint64_t)(uintptr_t)p, pages, USM_PAGE_PRESENT | USM_PAGE_ZERO, 0, 64, facts,
		 NULL, &known);
	assert_int_equal(known, USM_PAGE_PRESENT | USM_PAGE_ZERO);
	for (uint64_t i = 0; i < pages; i++) {
		bool present = i % 3 == 0 || (i % 3 == 1 && i % 7);

		assert_int_equal(!!(facts[i] & USM_PAGE_PRESENT), present);
		assert_int_equal(!!(facts[i] & USM_PAGE_ZERO), present && i % 3 == 1);
	}
	munmap(p, pages * PAGE);
	free(facts);
}

/* Rss, Swap and AnonHugePages (kB) of the smaps entry starting at start. */
static void smaps_totals(uint64_t start, uint64_t *rss, uint64_t *swap, uint64_t *huge)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;

	assert_non_null(f);
	*rss = *swap = *huge = UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		uint64_t a, b, v;

		/* a mapping's first line starts with a hex digit, its fields
		 * with a capital letter */
		if (((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) &&
		    sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b) == 2) {
			in = a == start;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %" SCNu64, &v) == 1)
			*rss = v;
		else if (sscanf(line, "Swap: %" SCNu64, &v) == 1)
			*swap = v;
		else if (sscanf(line, "AnonHugePages: %" SCNu64, &v) == 1)
			*huge = v;
	}
	fclose(f);
	assert_true(*rss != UINT64_MAX && *swap != UINT64_MAX && *huge != UINT64_MAX);
}

static void facts_add_up_to_the_smaps_totals_of_a_mapping(void **state)
{
	/* 8 MiB, 2 MiB-aligned, asking for huge pages: some of it THP when
	 * the machine allows, some 4 KiB pages, some zero pages. */
	const uint64_t len = 8ULL << 20, pages = len / PAGE;
	char *raw = mmap(NULL, len + (2 << 20), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = (char *)(((uintptr_t)raw + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	unsigned *facts = calloc(pages, sizeof(*facts));
	uint64_t rss, swap, huge;

	assert_ptr_not_equal(raw, MAP_FAILED);
	/* its own VMA, so that smaps shows exactly this range */
	assert_int_equal(mprotect(p, len, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
	madvise(p, 4 << 20, MADV_HUGEPAGE);
	madvise(p + (4 << 20), 4 << 20, MADV_NOHUGEPAGE);
	memset(p, 1, 4 << 20);
	for (uint64_t i = 1024; i < pages; i += 5)
		p[i * PAGE] = (char)i;
	for (uint64_t i = 1026; i < pages; i += 5)
		(void)*(volatile char *)&p[i * PAGE];
	/* the two halves are two VMAs (their madvise differs): one smaps
	 * entry each */
	for (size_t w = 0; w < 2; w++) {
		unsigned known = 0;

		facts_of(0, (uint64_t)(uintptr_t)p, pages, 0, withouts[w], 4096, facts, NULL,
			 &known);
		for (uint64_t half = 0; half < 2; half++) {
			uint64_t present = 0, zero = 0, swapped = 0, hugepages = 0;

			smaps_totals((uint64_t)(uintptr_t)p + half * (len / 2), &rss, &swap, &huge);
			for (uint64_t i = half * pages / 2; i < (half + 1) * pages / 2; i++) {
				present += !!(facts[i] & USM_PAGE_PRESENT);
				zero += !!(facts[i] & USM_PAGE_ZERO);
				swapped += !!(facts[i] & USM_PAGE_SWAPPED);
				hugepages += (facts[i] & (USM_PAGE_HUGE | USM_PAGE_PRESENT)) ==
					     (USM_PAGE_HUGE | USM_PAGE_PRESENT);
			}
			printf("# %s, half %" PRIu64 ": Rss %" PRIu64 " kB, %" PRIu64
			       " present, %" PRIu64 " zero, %" PRIu64
			       " huge, AnonHugePages %" PRIu64 " kB\n",
			       w ? "pagemap" : "PAGEMAP_SCAN", half, rss, present, zero, hugepages,
			       huge);
			assert_int_equal(swap, swapped * 4);
			if (known & USM_PAGE_ZERO) {
				/* smaps counts no zero page in Rss */
				assert_int_equal(rss, (present - zero) * 4);
				if (half)
					assert_true(zero > 0);
			} else {
				assert_true(rss <= present * 4);
			}
			if (known & USM_PAGE_HUGE)
				assert_int_equal(huge, hugepages * 4);
		}
	}
	munmap(raw, len + (2 << 20));
	free(facts);
}

static void another_process_pages_by_pid(void **state)
{
	const uint64_t pages = 32;
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	unsigned facts[32], known;
	uint64_t raw[32];
	int to[2], from[2], status, fd;
	char k;
	pid_t pid;

	assert_ptr_not_equal(p, MAP_FAILED);
	p[0] = 1; /* shared with the child after fork: not exclusive there */
	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		p[5 * PAGE] = 1;
		p[6 * PAGE] = 1;
		if (write(from[1], "r", 1) != 1 || read(to[0], &k, 1) != 1)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(read(from[0], &k, 1), 1);
	fd = usm_os_pagemap_open(pid);
	assert_true(fd >= 0);
	assert_int_equal(usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)p, raw, pages), 0);
	close(fd);
	for (size_t w = 0; w < 2; w++) {
		facts_of(pid, (uint64_t)(uintptr_t)p, pages, 0, withouts[w], 8, facts, NULL,
			 &known);
		for (uint64_t i = 0; i < pages; i++)
			assert_int_equal(!!(facts[i] & USM_PAGE_PRESENT),
					 i == 0 || i == 5 || i == 6);
		assert_true(facts[5] & USM_PAGE_EXCLUSIVE);
		assert_false(facts[0] & USM_PAGE_EXCLUSIVE);
		/* and as the child's pagemap reads directly */
		for (uint64_t i = 0; i < pages; i++) {
			uint64_t e = raw[i];

			assert_int_equal(!!(facts[i] & USM_PAGE_PRESENT), !!(e & USM_PM_PRESENT));
			assert_int_equal(!!(facts[i] & USM_PAGE_EXCLUSIVE),
					 !!(e & USM_PM_EXCLUSIVE));
			if (e & USM_PM_PRESENT)
				assert_int_equal(!!(facts[i] & USM_PAGE_WRITTEN),
						 !(e & USM_PM_UFFD_WP));
		}
	}
	assert_int_equal(write(to[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* gone: the pagemap of a reaped pid does not open */
	struct usm_pagefacts_query gone = { .pid = pid, .start = (uint64_t)(uintptr_t)p,
					    .end = (uint64_t)(uintptr_t)p + PAGE };
	struct usm_page_run run;
	uint64_t next;

	assert_int_equal(usm_pagefacts(&gone, &run, 1, &next, NULL), -ENOENT);
	close(to[0]);
	close(to[1]);
	close(from[0]);
	close(from[1]);
	munmap(p, pages * PAGE);
}

static void bad_queries_are_refused(void **state)
{
	struct usm_page_run run;
	uint64_t next;

	assert_int_equal(usm_pagefacts(&(struct usm_pagefacts_query){ .start = 8192, .end = 4096 },
				       &run, 1, &next, NULL),
			 -EINVAL);
	assert_int_equal(usm_pagefacts(&(struct usm_pagefacts_query){ .start = 1, .end = 4096 },
				       &run, 1, &next, NULL),
			 -EINVAL);
	assert_int_equal(usm_pagefacts(&(struct usm_pagefacts_query){ .start = 0, .end = 4096 },
				       &run, 0, &next, NULL),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(facts_agree_with_pagemap_read_directly),
		cmocka_unit_test(the_scan_tells_without_entry_reads_what_it_knows),
		cmocka_unit_test(facts_add_up_to_the_smaps_totals_of_a_mapping),
		cmocka_unit_test(another_process_pages_by_pid),
		cmocka_unit_test(bad_queries_are_refused),
	};

	return cmocka_run_group_tests_name("pagefacts", tests, NULL, NULL);
}
