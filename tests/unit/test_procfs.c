/* The /proc readers of lib/os/ (procfs.c, smaps.c, pagemap.c's present
 * walk) against this process, its children and synthetic smaps text. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "os/pagemap.h"
#include "os/procfs.h"
#include "os/smaps.h"

#define PAGE 4096

static void process_list_is_ascending_and_holds_this_process(void **state)
{
	pid_t *pids;
	size_t n;
	bool self = false;

	assert_int_equal(usm_os_proc_list(&pids, &n), 0);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			assert_true(pids[i - 1] < pids[i]);
		self |= pids[i] == getpid();
	}
	assert_true(self);
	free(pids);
}

static void comm_is_read_back_whole_newline_included(void **state)
{
	char old[16], name[USM_OS_COMM_MAX + 1];
	int dirfd = usm_os_proc_open(getpid());

	assert_true(dirfd >= 0);
	assert_int_equal(prctl(PR_GET_NAME, old), 0);
	/* comm may hold any byte but NUL; only the file's own '\n' goes */
	assert_int_equal(prctl(PR_SET_NAME, "a b\nc"), 0);
	assert_int_equal(usm_os_proc_read_comm(dirfd, name), 0);
	assert_string_equal(name, "a b\nc");
	assert_int_equal(prctl(PR_SET_NAME, "0123456789abcdefXYZ"), 0);
	assert_int_equal(usm_os_proc_read_comm(dirfd, name), 0);
	assert_string_equal(name, "0123456789abcde");
	prctl(PR_SET_NAME, old);
	close(dirfd);
}

static void vmsize_of_this_process_is_positive(void **state)
{
	int dirfd = usm_os_proc_open(getpid());
	uint64_t kb = 0;

	assert_true(dirfd >= 0);
	assert_int_equal(usm_os_proc_read_vmsize(dirfd, &kb), 0);
	assert_true(kb > 0);
	close(dirfd);
}

/* A child that waits on a pipe, so the test decides when it exits. */
static pid_t child_waiting(int *release)
{
	int fds[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) < 0);
	}
	close(fds[0]);
	*release = fds[1];
	return pid;
}

static void an_exited_process_reads_as_gone(void **state)
{
	int release, dirfd, pmfd, memfd;
	uint64_t entry, kb;
	char buf[PAGE];
	pid_t pid = child_waiting(&release);

	dirfd = usm_os_proc_open(pid);
	assert_true(dirfd >= 0);
	pmfd = usm_os_proc_open_file(dirfd, "pagemap");
	memfd = usm_os_proc_open_file(dirfd, "mem");
	assert_true(pmfd >= 0 && memfd >= 0);
	assert_int_equal(usm_os_pagemap_read(pmfd, 0, &entry, 1), 0);

	close(release);
	assert_int_equal(waitid(P_PID, (id_t)pid, NULL, WEXITED | WNOWAIT), 0);
	/* a zombie: no memory map any more */
	assert_int_equal(usm_os_proc_read_vmsize(dirfd, &kb), -ENODATA);
	assert_int_equal(usm_os_pagemap_read(pmfd, 0, &entry, 1), -ESRCH);
	assert_int_equal(usm_os_proc_read_mem(memfd, (uint64_t)(uintptr_t)buf, buf, PAGE), -ESRCH);
	assert_int_equal(usm_os_proc_open_file(dirfd, "pagemap"), -ESRCH);

	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(usm_os_proc_read_vmsize(dirfd, &kb), -ESRCH);
	assert_int_equal(usm_os_proc_open(pid), -ENOENT);
	close(pmfd);
	close(memfd);
	close(dirfd);
}

static void mem_reads_stop_at_the_first_unreadable_page(void **state)
{
	unsigned char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char buf[3 * PAGE];
	int dirfd = usm_os_proc_open(getpid());
	int memfd;

	assert_ptr_not_equal(p, MAP_FAILED);
	assert_true(dirfd >= 0);
	memfd = usm_os_proc_open_file(dirfd, "mem");
	assert_true(memfd >= 0);
	memset(p, 0xa5, 2 * PAGE);
	assert_int_equal(munmap(p + 2 * PAGE, PAGE), 0);

	assert_int_equal(usm_os_proc_read_mem(memfd, (uint64_t)(uintptr_t)p, buf, 3 * PAGE),
			 2 * PAGE);
	assert_memory_equal(buf, p, 2 * PAGE);
	assert_int_equal(usm_os_proc_read_mem(memfd, (uint64_t)(uintptr_t)(p + 2 * PAGE), buf, PAGE),
			 -EIO);
	close(memfd);
	close(dirfd);
	munmap(p, 2 * PAGE);
}

struct runs {
	uint64_t base;
	size_t n;
	uint64_t start[2048], end[2048]; /* in pages from base */
	int stop_after;                   /* return 1 after this many runs; 0: never */
};

static int record(void *ctx, uint64_t start, uint64_t end)
{
	struct runs *r = ctx;

	assert_true(r->n < 2048);
	r->start[r->n] = (start - r->base) / PAGE;
	r->end[r->n] = (end - r->base) / PAGE;
	r->n++;
	return r->stop_after && (int)r->n == r->stop_after;
}

/* Both ways of finding present pages, when this kernel has both. */
static void for_each_way(void (*check)(bool scan))
{
	int fd = usm_os_pagemap_open(0);
	bool scan = usm_os_pagemap_scan_supported(fd);

	close(fd);
	check(false);
	if (scan)
		check(true);
}

static void check_runs(bool scan)
{
	/* 65536 entries per read: a run across pages B-2..B+1 straddles two
	 * reads; 700 separate pages fill more than one PAGEMAP_SCAN vector. */
	const size_t b = 65536, far = b + 8;
	size_t pages = far + 1400;
	unsigned char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct runs *r = calloc(1, sizeof(*r));
	volatile unsigned char sink;
	int fd = usm_os_pagemap_open(0);

	assert_ptr_not_equal(p, MAP_FAILED);
	assert_non_null(r);
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	p[0] = p[PAGE] = p[2 * PAGE] = 1;
	sink = p[5 * PAGE]; /* a read fault: the zero page, present too */
	(void)sink;
	for (size_t i = b - 2; i < b + 2; i++)
		p[i * PAGE] = 1;
	for (size_t i = 0; i < 700; i++)
		p[(far + 2 * i) * PAGE] = 1;
	r->base = (uint64_t)(uintptr_t)p;

	assert_int_equal(usm_os_pagemap_for_each_present(fd, r->base, r->base + pages * PAGE, scan,
							 record, r), 0);
	assert_int_equal(r->n, 3 + 700);
	assert_int_equal(r->start[0], 0);
	assert_int_equal(r->end[0], 3);
	assert_int_equal(r->start[1], 5);
	assert_int_equal(r->end[1], 6);
	assert_int_equal(r->start[2], b - 2);
	assert_int_equal(r->end[2], b + 2);
	for (size_t i = 0; i < 700; i++) {
		assert_int_equal(r->start[3 + i], far + 2 * i);
		assert_int_equal(r->end[3 + i], far + 1 + 2 * i);
	}

	/* the callback's non-zero return stops the walk and comes back */
	r->n = 0;
	r->stop_after = 2;
	assert_int_equal(usm_os_pagemap_for_each_present(fd, r->base, r->base + pages * PAGE, scan,
							 record, r), 1);
	assert_int_equal(r->n, 2);
	close(fd);
	free(r);
	munmap(p, pages * PAGE);
}

static void present_runs_are_exact_and_whole(void **state)
{
	for_each_way(check_runs);
}

static struct usm_os_smaps *smaps_of(const char *text)
{
	struct usm_os_smaps *it;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(f);
	assert_int_equal(usm_os_smaps_from_stream(f, &it), 0);
	return it;
}

static void smaps_text_gives_ranges_and_flags(void **state)
{
	struct usm_os_smaps *it = smaps_of(
		"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/my prog (deleted)\n"
		"Size:                328 kB\n"
		"Rss:                 100 kB\n"
		"VmFlags: rd ex mr mw me dw \n"
		"7fff1000-7fff3000 rw-s 00000000 00:05 12 /dev/fb0\n"
		"Size:                  8 kB\n"
		"VmFlags: rd wr sh mr mw me ms io pf dd \n"
		"7fff4000-7fff5000 ---p 00000000 00:00 0 \n"
		"VmFlags: mr mw me \n"
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
		"Size:                  4 kB\n"
		"VmFlags: ex \n");
	struct usm_os_mapping m;

	assert_int_equal(usm_os_smaps_next(it, &m), 1);
	assert_int_equal(m.start, 0x400000);
	assert_int_equal(m.end, 0x452000);
	assert_true(m.readable && !m.io && !m.pfnmap && !m.vsyscall);
	assert_int_equal(usm_os_smaps_next(it, &m), 1);
	assert_true(m.readable && m.io && m.pfnmap && !m.vsyscall);
	assert_int_equal(usm_os_smaps_next(it, &m), 1);
	assert_true(!m.readable && !m.io && !m.pfnmap && !m.vsyscall);
	assert_int_equal(usm_os_smaps_next(it, &m), 1);
	assert_int_equal(m.start, 0xffffffffff600000ULL);
	assert_true(m.vsyscall && !m.readable);
	assert_int_equal(usm_os_smaps_next(it, &m), 0);
	usm_os_smaps_close(it);
}

static void smaps_text_cut_inside_a_mapping_is_an_error(void **state)
{
	struct usm_os_smaps *it = smaps_of("00400000-00452000 r-xp 00000000 08:02 1 /bin/x\n"
					   "Size:                328 kB\n");
	struct usm_os_mapping m;

	assert_int_equal(usm_os_smaps_next(it, &m), -ENODATA);
	usm_os_smaps_close(it);
	it = smaps_of("Size: 4 kB\n");
	assert_int_equal(usm_os_smaps_next(it, &m), -EINVAL);
	usm_os_smaps_close(it);
}

/* maps text, walked in place: its lines give ranges, sharing, inode and
 * the [heap] name (the tagger's scan picks the private anonymous heap). */
static void maps_text_gives_ranges_inode_sharing_and_heap(void **state)
{
	struct usm_os_maps it;
	struct usm_os_mapping m;

	usm_os_maps_init(&it, "00400000-00452000 r-xp 00000000 08:02 173521  /usr/bin/prog\n"
			      "01a3c000-01a5d000 rw-p 00000000 00:00 0                  [heap]\n"
			      "7fff1000-7fff3000 rw-s 00000000 00:05 12 /dev/fb0\n"
			      "7fff4000-7fff5000 ---p 00000000 00:00 0 \n"
			      "7fff6000-7fff7000 rw-p 00000000 00:00 0");
	assert_int_equal(usm_os_maps_next(&it, &m), 1);
	assert_int_equal(m.start, 0x400000);
	assert_int_equal(m.end, 0x452000);
	assert_int_equal(m.inode, 173521);
	assert_true(m.readable && !m.writable && !m.shared && !m.heap);
	assert_int_equal(m.name_len, strlen("/usr/bin/prog"));
	assert_memory_equal(m.name, "/usr/bin/prog", m.name_len);
	assert_int_equal(usm_os_maps_next(&it, &m), 1);
	assert_int_equal(m.start, 0x1a3c000);
	assert_int_equal(m.inode, 0);
	assert_true(m.readable && m.writable && !m.shared && m.heap && !m.vsyscall);
	assert_memory_equal(m.name, "[heap]", m.name_len);
	assert_int_equal(usm_os_maps_next(&it, &m), 1);
	assert_true(m.shared && !m.heap);
	assert_int_equal(usm_os_maps_next(&it, &m), 1);
	assert_true(!m.readable && !m.writable && !m.shared && !m.heap);
	/* anonymous memory: no name, not even the trailing blank */
	assert_int_equal(m.name_len, 0);
	/* the last line has no newline: the read was cut short */
	assert_int_equal(usm_os_maps_next(&it, &m), -ENODATA);
	usm_os_maps_init(&it, "Size: 4 kB\n");
	assert_int_equal(usm_os_maps_next(&it, &m), -EINVAL);
	usm_os_maps_init(&it, "");
	assert_int_equal(usm_os_maps_next(&it, &m), 0);
}

/* This process's maps, read whole, show its heap once the break moved. */
static void maps_of_this_process_show_the_heap(void **state)
{
	static char buf[1 << 20];
	struct usm_os_maps it;
	struct usm_os_mapping m;
	int dirfd = usm_os_proc_open(getpid()), heaps = 0, err;
	char *grow = sbrk(PAGE); /* not malloc: ASan's does not use the break */

	assert_true(dirfd >= 0);
	assert_ptr_not_equal(grow, (void *)-1);
	grow[0] = 1;
	assert_true(usm_os_proc_read_file(dirfd, "maps", buf, sizeof(buf)) > 0);
	usm_os_maps_init(&it, buf);
	while ((err = usm_os_maps_next(&it, &m)) > 0)
		if (m.heap) {
			assert_true(m.inode == 0 && !m.shared && m.readable);
			assert_true((uint64_t)(uintptr_t)grow >= m.start &&
				    (uint64_t)(uintptr_t)grow < m.end);
			heaps++;
		}
	assert_int_equal(err, 0);
	assert_int_equal(heaps, 1);
	sbrk(-PAGE);
	close(dirfd);
}

static void smaps_of_this_process_shows_readable_and_protnone_mappings(void **state)
{
	/* A file mapping of its own never merges with its neighbours. */
	int memfd = memfd_create("usm-test", MFD_CLOEXEC);
	int dirfd = usm_os_proc_open(getpid());
	struct usm_os_smaps *it;
	struct usm_os_mapping m;
	unsigned char *p;
	int found = 0, err;

	assert_true(memfd >= 0 && dirfd >= 0);
	assert_int_equal(ftruncate(memfd, 2 * PAGE), 0);
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, memfd, 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	assert_int_equal(mprotect(p + PAGE, PAGE, PROT_NONE), 0);
	assert_int_equal(usm_os_smaps_open(dirfd, &it), 0);
	while ((err = usm_os_smaps_next(it, &m)) > 0) {
		if (m.start == (uint64_t)(uintptr_t)p) {
			assert_int_equal(m.end, m.start + PAGE);
			assert_true(m.readable);
			found++;
		} else if (m.start == (uint64_t)(uintptr_t)(p + PAGE)) {
			assert_int_equal(m.end, m.start + PAGE);
			assert_false(m.readable);
			found++;
		}
	}
	assert_int_equal(err, 0);
	assert_int_equal(found, 2);
	usm_os_smaps_close(it);
	munmap(p, 2 * PAGE);
	close(memfd);
	close(dirfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(process_list_is_ascending_and_holds_this_process),
		cmocka_unit_test(comm_is_read_back_whole_newline_included),
		cmocka_unit_test(vmsize_of_this_process_is_positive),
		cmocka_unit_test(an_exited_process_reads_as_gone),
		cmocka_unit_test(mem_reads_stop_at_the_first_unreadable_page),
		cmocka_unit_test(present_runs_are_exact_and_whole),
		cmocka_unit_test(smaps_text_gives_ranges_and_flags),
		cmocka_unit_test(smaps_text_cut_inside_a_mapping_is_an_error),
		cmocka_unit_test(smaps_of_this_process_shows_readable_and_protnone_mappings),
		cmocka_unit_test(maps_text_gives_ranges_inode_sharing_and_heap),
		cmocka_unit_test(maps_of_this_process_show_the_heap),
	};
	return cmocka_run_group_tests_name("procfs", tests, NULL, NULL);
}
