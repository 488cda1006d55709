/* The lib/os/ probes agree with what the kernel really does when used. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/features.h>

#include "os/pagemap.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pagemap_shows_a_touched_page_present_and_an_untouched_one_absent),
		cmocka_unit_test(pagemap_of_a_missing_process_fails_with_enoent),
		cmocka_unit_test(uffd_probe_matches_a_real_open),
		cmocka_unit_test(uffd_open_rejects_an_unknown_source),
	};
	return cmocka_run_group_tests_name("features", tests, NULL, NULL);
}
