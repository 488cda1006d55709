/* The lib/os/ probes agree with what the kernel really does when used. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/dirty.h>
#include <usm/features.h>
#include <usm/watch.h>

#include "os/pagemap.h"
#include "os/perf_breakpoint.h"
#include "os/thp.h"
#include "os/uffd.h"

static void pagemap_shows_a_touched_page_present_and_an_untouched_one_absent(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	char *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t entries[2];
	int fd;

	assert_ptr_not_equal(mem, MAP_FAILED);
	mem[0] = 1;
	fd = usm_os_pagemap_open(0);
	assert_true(fd >= 0);
	assert_int_equal(usm_os_pagemap_read(fd, (uint64_t)(uintptr_t)mem, entries, 2), 0);
	assert_true(entries[0] & USM_PM_PRESENT);
	assert_false(entries[1] & USM_PM_PRESENT);
	close(fd);
	munmap(mem, 2 * page);
}

static void pagemap_of_a_missing_process_fails_with_enoent(void **state)
{
	/* pid_max is at most 4194304 */
	assert_int_equal(usm_os_pagemap_open(99999999), -ENOENT);
}

static void uffd_probe_matches_a_real_open(void **state)
{
	struct usm_features f;
	int fd;

	assert_int_equal(usm_features_probe(&f), 0);
	assert_true(f.kernel_release[0] != '\0');

	fd = usm_os_uffd_open(USM_UFFD_SYSCALL);
	if (fd < 0)
		fd = usm_os_uffd_open(USM_UFFD_SYSCALL_USER_ONLY);
	if (fd < 0)
		fd = usm_os_uffd_open(USM_UFFD_DEVICE);
	assert_int_equal(f.uffd_syscall || f.uffd_dev, fd >= 0);
	if (fd >= 0) {
		uint64_t features = 0;
		assert_int_equal(usm_os_uffd_api(fd, 0, &features, NULL), 0);
		assert_true(features == f.uffd_features);
		/* a second handshake on one descriptor is refused */
		assert_int_equal(usm_os_uffd_api(fd, 0, NULL, NULL), -EINVAL);
		close(fd);
	}
}

static void uffd_open_rejects_an_unknown_source(void **state)
{
	assert_int_equal(usm_os_uffd_open((enum usm_uffd_source)42), -EINVAL);
}

/* The truth, here in the test process (which has no soft-dirty user):
 * clear_refs 4, then a write, read straight from /proc/self/pagemap. */
static void soft_dirty_is_reported_where_clearing_and_writing_work(void **state)
{
	struct usm_features f;
	volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	uint64_t cleared = 0, written = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY), cr = open("/proc/self/clear_refs", O_WRONLY);
	off_t at = (off_t)((uintptr_t)p / 4096 * 8);
	bool works;

	assert_int_equal(usm_features_probe(&f), 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	assert_true(pm >= 0);
	if (cr < 0) {
		printf("# cannot write /proc/self/clear_refs: soft-dirty reported off\n");
		assert_false(f.soft_dirty);
		close(pm);
		return;
	}
	*p = 1;
	assert_int_equal(write(cr, "4", 1), 1);
	assert_int_equal(pread(pm, &cleared, 8, at), 8);
	*p = 2;
	assert_int_equal(pread(pm, &written, 8, at), 8);
	works = !(cleared & (1ULL << 55)) && (written & (1ULL << 55));
	printf("# soft-dirty here: %s\n", works ? "works" : "absent");
	assert_int_equal(f.soft_dirty, works);
	close(cr);
	close(pm);
	munmap((void *)p, 4096);
}

/* Asking UFFDIO_API for a feature succeeds exactly when it is reported. */
static void uffd_feature_bits_agree_with_asking_for_each(void **state)
{
	static const struct {
		uint64_t bit;
		size_t field;
		const char *name;
	} asks[] = {
		{ UFFD_FEATURE_SIGBUS, offsetof(struct usm_features, uffd_sigbus), "SIGBUS" },
		{ UFFD_FEATURE_WP_UNPOPULATED, offsetof(struct usm_features, uffd_wp_unpopulated),
		  "WP_UNPOPULATED" },
		{ UFFD_FEATURE_WP_HUGETLBFS_SHMEM, offsetof(struct usm_features, uffd_wp_shmem),
		  "WP_HUGETLBFS_SHMEM" },
		{ UFFD_FEATURE_POISON, offsetof(struct usm_features, uffd_poison), "POISON" },
		{ UFFD_FEATURE_MOVE, offsetof(struct usm_features, uffd_move), "MOVE" },
	};
	struct usm_features f;

	assert_int_equal(usm_features_probe(&f), 0);
	if (!f.uffd_syscall && !f.uffd_dev) {
		printf("# no userfaultfd here: every feature reported off\n");
		assert_false(f.uffd_sigbus || f.uffd_wp_unpopulated || f.uffd_wp_shmem ||
			     f.uffd_poison || f.uffd_move);
		return;
	}
	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		int fd = usm_os_uffd_open(f.uffd_syscall ? USM_UFFD_SYSCALL_USER_ONLY
							 : USM_UFFD_DEVICE);
		bool reported = *(const bool *)((const char *)&f + asks[i].field);
		int err;

		assert_true(fd >= 0);
		err = usm_os_uffd_api(fd, asks[i].bit, NULL, NULL);
		printf("# %s: reported %d, asking gives %d\n", asks[i].name, reported, err);
		assert_int_equal(err == 0, reported);
		close(fd);
	}
}

static sigjmp_buf sigbus_jump;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jump, 1);
}

/* Where SIGBUS is reported, a missing fault in a registered range really
 * arrives as SIGBUS in the faulting thread, with no handler thread. */
static void uffd_sigbus_delivers_a_missing_fault_as_sigbus(void **state)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	struct uffdio_register reg = { 0 };
	struct usm_features f;
	volatile char *p;
	volatile int got = 0;
	int fd;

	assert_int_equal(usm_features_probe(&f), 0);
	if (!f.uffd_sigbus) {
		printf("# no UFFD_FEATURE_SIGBUS here\n");
		return;
	}
	fd = usm_os_uffd_open(f.uffd_syscall ? USM_UFFD_SYSCALL_USER_ONLY : USM_UFFD_DEVICE);
	assert_true(fd >= 0);
	assert_int_equal(usm_os_uffd_api(fd, UFFD_FEATURE_SIGBUS, NULL, NULL), 0);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	reg.range.start = (uintptr_t)p;
	reg.range.len = 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	assert_int_equal(ioctl(fd, UFFDIO_REGISTER, &reg), 0);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGBUS, &sa, &old), 0);
	if (sigsetjmp(sigbus_jump, 1) == 0)
		got = p[0] + 1;
	else
		got = -1;
	sigaction(SIGBUS, &old, NULL);
	assert_int_equal(got, -1);
	close(fd);
	munmap((void *)p, 4096);
}

/* The word in brackets of transparent_hugepage/enabled, read here. */
static void thp_mode_is_the_selected_word_of_the_sysfs_file(void **state)
{
	struct usm_features f;
	char line[256], want[16] = "", *open_br, *close_br;
	FILE *in = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	assert_int_equal(usm_features_probe(&f), 0);
	if (in) {
		assert_non_null(fgets(line, sizeof(line), in));
		fclose(in);
		open_br = strchr(line, '[');
		close_br = open_br ? strchr(open_br, ']') : NULL;
		assert_non_null(close_br);
		*close_br = '\0';
		snprintf(want, sizeof(want), "%s", open_br + 1);
	}
	assert_string_equal(f.thp_enabled, want);
}

/* MADV_COLLAPSE on a touched, aligned huge page's worth: EINVAL only from
 * a kernel that does not know it (busy pages or no memory may refuse it
 * otherwise, with EAGAIN or ENOMEM). */
static void madv_collapse_is_reported_where_the_kernel_knows_it(void **state)
{
	uint64_t huge = usm_os_thp_pmd_size();
	struct usm_features f;
	char *p, *aligned;
	int rc;

	assert_int_equal(usm_features_probe(&f), 0);
	if (huge == 0) {
		printf("# no THP here: MADV_COLLAPSE reported off\n");
		assert_false(f.madv_collapse);
		return;
	}
	p = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	aligned = (char *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	memset(aligned, 1, huge);
	rc = madvise(aligned, huge, MADV_COLLAPSE) == 0 ? 0 : -errno;
	printf("# MADV_COLLAPSE of a touched huge page: %d (reported %d)\n", rc, f.madv_collapse);
	assert_int_equal(rc != -EINVAL, f.madv_collapse);
	munmap(p, 2 * huge);
}

/* As many breakpoints as reported open at once, and no more; none
 * reported where usm_watch cannot work either. */
static void hw_breakpoints_are_counted_exactly(void **state)
{
	static volatile uint64_t words[9];
	struct usm_features f;
	int fds[9], extra;

	assert_int_equal(usm_features_probe(&f), 0);
	printf("# %d data breakpoints, usm_watch_probe %d\n", f.hw_breakpoints, usm_watch_probe());
	if (f.hw_breakpoints == 0) {
		assert_int_not_equal(usm_watch_probe(), 0);
		return;
	}
	assert_in_range(f.hw_breakpoints, 1, 8);
	for (int i = 0; i < f.hw_breakpoints; i++) {
		fds[i] = usm_os_perf_breakpoint_counting((uint64_t)(uintptr_t)&words[i], 8);
		assert_true(fds[i] >= 0);
	}
	extra = usm_os_perf_breakpoint_counting((uint64_t)(uintptr_t)&words[8], 8);
	if (f.hw_breakpoints < 8)
		assert_int_equal(extra, -ENOSPC);
	if (extra >= 0)
		close(extra);
	for (int i = 0; i < f.hw_breakpoints; i++)
		close(fds[i]);
}

/* The backend reported is the one an AUTO tracker takes on a fresh range. */
static void dirty_auto_is_the_backend_an_auto_tracker_takes(void **state)
{
	struct usm_dirty_config c = { .backend = USM_DIRTY_AUTO };
	struct usm_features f;
	struct usm_dirty *d;
	char *p = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_ptr_not_equal(p, MAP_FAILED);
	assert_int_equal(usm_features_probe(&f), 0);
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)p, 4 * 4096, &d), 0);
	printf("# auto picks %s\n", usm_dirty_backend_name(usm_dirty_backend(d)));
	assert_int_equal(f.dirty_auto, usm_dirty_backend(d));
	assert_int_equal(usm_dirty_stop(d), 0);
	munmap(p, 4 * 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pagemap_shows_a_touched_page_present_and_an_untouched_one_absent),
		cmocka_unit_test(pagemap_of_a_missing_process_fails_with_enoent),
		cmocka_unit_test(uffd_probe_matches_a_real_open),
		cmocka_unit_test(uffd_open_rejects_an_unknown_source),
		cmocka_unit_test(soft_dirty_is_reported_where_clearing_and_writing_work),
		cmocka_unit_test(uffd_feature_bits_agree_with_asking_for_each),
		cmocka_unit_test(uffd_sigbus_delivers_a_missing_fault_as_sigbus),
		cmocka_unit_test(thp_mode_is_the_selected_word_of_the_sysfs_file),
		cmocka_unit_test(madv_collapse_is_reported_where_the_kernel_knows_it),
		cmocka_unit_test(hw_breakpoints_are_counted_exactly),
		cmocka_unit_test(dirty_auto_is_the_backend_an_auto_tracker_takes),
	};
	return cmocka_run_group_tests_name("features", tests, NULL, NULL);
}
