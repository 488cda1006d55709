/* The pager on its own, in this process: a region handed to it is paged
 * under a small budget, and the mapping calls keep its records right. */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/features.h>
#include <usm/hint.h>
#include <usm/pager.h>
#include "base/rawmem.h"

#define MB (1UL << 20)
#define LIMIT (1 * MB)

static struct usm_pager *pager;

static uint64_t word(uint64_t seed, uint64_t i)
{
	return (seed << 40) ^ (i * 0x9e3779b97f4a7c15ULL);
}

static void fill(uint64_t *w, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++)
		w[i] = word(seed, i);
}

static int intact(const uint64_t *w, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != word(seed, i))
			return 0;
	return 1;
}

/* How often the pager said a first block was about to leave (the tagger
 * marks then that the process has pages in a store that outlives it). */
static atomic_int first_puts;

static int count_first_put(void)
{
	atomic_fetch_add(&first_puts, 1);
	return 0;
}

static int setup(void **state)
{
	struct usm_pager_config c;
	struct usm_features f;

	usm_features_probe(&f);
	if (!f.uffd_kernel_faults)
		return 0; /* the tests skip */
	usm_pager_config_defaults(&c);
	c.limit = LIMIT;
	c.prefetch = 0;
	c.policy = "fifo";
	c.store_first_put = count_first_put;
	return usm_pager_start(&c, &pager);
}

static uint64_t *managed_region(size_t len)
{
	uint64_t *w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_ptr_not_equal(w, MAP_FAILED);
	assert_int_equal(usm_pager_add(pager, w, len), 0);
	return w;
}

/* Run first: nothing has left yet. The callback comes once, before the
 * first eviction's put, however many follow. */
static void the_first_put_is_announced_once(void **state)
{
	struct usm_pager_stats s;
	size_t len = 4 * MB;

	if (!pager)
		skip();
	assert_int_equal(atomic_load(&first_puts), 0);
	uint64_t *w = managed_region(len);
	fill(w, len, 7);
	usm_pager_get_stats(pager, &s);
	assert_true(s.evictions > 0);
	assert_int_equal(atomic_load(&first_puts), 1);
	fill(w, len, 8);
	assert_true(intact(w, len, 8));
	assert_int_equal(atomic_load(&first_puts), 1);
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
}

static void data_survives_eviction_within_the_budget(void **state)
{
	struct usm_pager_stats before, after;
	size_t len = 8 * MB;

	if (!pager)
		skip();
	usm_pager_get_stats(pager, &before);
	uint64_t *w = managed_region(len);
	fill(w, len, 1);
	assert_true(intact(w, len, 1));
	usm_pager_get_stats(pager, &after);
	assert_true(after.evictions > before.evictions);
	assert_true(after.refaults > before.refaults);
	assert_true(after.peak_resident <= LIMIT);
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
}

static void dontneed_reads_zeros_and_keeps_the_rest(void **state)
{
	size_t len = 4 * MB;

	if (!pager)
		skip();
	uint64_t *w = managed_region(len);
	fill(w, len, 2);
	/* the first half was evicted by the second */
	assert_int_equal(usm_pager_madvise(pager, w, MB, MADV_DONTNEED), 0);
	for (size_t i = 0; i < MB / 8; i++)
		assert_true(w[i] == 0);
	for (size_t i = MB / 8; i < len / 8; i++)
		assert_true(w[i] == word(2, i));
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
}

static void mremap_moves_evicted_pages_with_the_mapping(void **state)
{
	size_t len = 4 * MB;

	if (!pager)
		skip();
	uint64_t *w = managed_region(len);
	fill(w, len, 3);
	usm_pager_mremap_begin(pager);
	void *moved = mremap(w, len, 2 * len, MREMAP_MAYMOVE);
	usm_pager_mremap_end(pager, w, len, 2 * len, moved == MAP_FAILED ? -errno : (long)moved);
	assert_ptr_not_equal(moved, MAP_FAILED);
	assert_true(intact(moved, len, 3));
	const uint64_t *grown = (const uint64_t *)((char *)moved + len);
	for (size_t i = 0; i < len / 8; i++)
		assert_true(grown[i] == 0);
	assert_int_equal(usm_pager_munmap(pager, moved, 2 * len), 0);
}

static void unmapped_memory_leaves_the_budget(void **state)
{
	struct usm_pager_stats s;
	size_t len = 2 * MB;

	if (!pager)
		skip();
	uint64_t *w = managed_region(len);
	fill(w, len, 4);
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
	usm_pager_get_stats(pager, &s);
	assert_int_equal(s.resident, 0);
	assert_int_equal(s.managed_bytes, 0);
	/* a bad range is the kernel's error, and changes nothing */
	assert_int_equal(usm_pager_munmap(pager, (void *)1, 4096), -EINVAL);
}

/* usmd moves a process's budget: a lower limit is met before the call
 * returns, a higher one lets more stay resident. */
static void a_new_limit_is_met_before_the_call_returns(void **state)
{
	struct usm_pager_stats s;
	size_t len = 2 * MB;

	if (!pager)
		skip();
	usm_pager_get_stats(pager, &s);
	uint64_t evictions = s.evictions;
	/* the limit counts usm's own memory too: room for it and for len */
	uint64_t limit = 2 * len + usm_rawmem_committed() + MB;
	usm_pager_set_limit(pager, limit);
	uint64_t *w = managed_region(len);
	fill(w, len, 5);
	usm_pager_get_stats(pager, &s);
	assert_int_equal(s.evictions, evictions); /* all of it fits the raised limit */
	assert_int_equal(s.resident, len);
	assert_int_equal(s.limit, limit);
	usm_pager_set_limit(pager, LIMIT / 2);
	usm_pager_get_stats(pager, &s);
	assert_true(s.resident <= LIMIT / 2);
	assert_true(intact(w, len, 5));
	usm_pager_set_limit(pager, LIMIT);
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
}

static void policy_switches_keep_the_data(void **state)
{
	size_t len = 4 * MB;

	if (!pager)
		skip();
	uint64_t *w = managed_region(len);
	fill(w, len, 6);
	assert_int_equal(usm_pager_set_policy(pager, "clock"), 0);
	assert_true(intact(w, len, 6));
	assert_int_equal(usm_pager_set_policy(pager, "nope"), -EINVAL);
	assert_int_equal(usm_pager_set_policy(pager, "refault"), 0);
	fill(w, len, 6); /* refaults under refault: some protected */
	assert_int_equal(usm_pager_set_policy(pager, "fifo"), 0);
	assert_true(intact(w, len, 6));
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
}

static void pinned_pages_stay_and_cold_ones_go(void **state)
{
	struct usm_pager_stats s;
	size_t len = 4 * MB, pin = LIMIT / 4;

	if (!pager)
		skip();
	uint64_t *w = managed_region(len);
	fill(w, len, 7);
	assert_int_equal(usm_pager_hint(pager, w, pin, USM_HINT_PIN), 0);
	assert_int_equal(usm_pager_hint(pager, w, LIMIT, USM_HINT_PIN), -ENOMEM);
	usm_pager_get_stats(pager, &s);
	assert_int_equal(s.pinned, pin);
	uint64_t evictions = s.evictions;
	fill(w + pin / 8, len - pin, 8); /* streams past the pinned head */
	assert_true(intact(w, pin, 7));
	usm_pager_get_stats(pager, &s);
	assert_true(s.evictions > evictions);
	/* the head never left */
	unsigned char v[LIMIT / 4 / 4096];
	assert_int_equal(mincore(w, pin, v), 0);
	for (size_t i = 0; i < sizeof(v); i++)
		assert_true(v[i] & 1);
	assert_int_equal(usm_pager_hint(pager, w, pin, USM_HINT_UNPIN), 0);
	assert_int_equal(usm_pager_hint(pager, w, pin, USM_HINT_COLD), 0);
	assert_int_equal(mincore(w, pin, v), 0);
	for (size_t i = 0; i < sizeof(v); i++)
		assert_false(v[i] & 1);
	assert_true(intact(w, pin, 7));
	assert_int_equal(usm_pager_hint(pager, w, pin, 42), -EINVAL);
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
}

static uint64_t resident_now(void)
{
	struct usm_pager_stats s;

	usm_pager_get_stats(pager, &s);
	return s.resident;
}

/* Blocks adapt to the faults (lib/pager/fault.c): scattered first touches
 * soon fill one page each instead of a 64K block, and a sequential run
 * grows the block back to 64K. Nothing is evicted here: the limit is
 * raised, so resident memory counts exactly what each fault filled. */
static void scattered_faults_fill_pages_and_a_scan_fills_blocks(void **state)
{
	size_t len = 4 * MB, page = 4096, words = page / 8;
	uint64_t grew = 0, last_fill = 0;

	if (!pager)
		skip();
	usm_pager_set_limit(pager, 64 * MB);
	uint64_t *w = managed_region(len);
	/* 40 touches 11 pages apart in the upper half (more than any block
	 * filled by then): never where a run would fault next, so each halves
	 * the block; from the fifth on it is one page */
	for (size_t i = 0; i < 40; i++) {
		uint64_t before = resident_now();
		w[(512 + i * 11) * words] = i + 1;
		uint64_t filled = resident_now() - before;
		if (i >= 4)
			assert_int_equal(filled, page);
		else
			assert_true(filled >= page && filled <= 64 << 10);
	}
	/* a walk over the lower half, page after page: the block doubles on
	 * each fault until a fault fills 64K */
	for (size_t p = 0; p < 256; p++) {
		uint64_t before = resident_now();
		w[p * words] = p + 1;
		uint64_t filled = resident_now() - before;
		if (filled) {
			assert_true(filled <= 64 << 10);
			last_fill = filled;
			grew = filled > grew ? filled : grew;
		}
	}
	assert_int_equal(grew, 64 << 10);
	assert_int_equal(last_fill, 64 << 10);
	for (size_t p = 0; p < 256; p++)
		assert_true(w[p * words] == p + 1);
	usm_pager_set_limit(pager, LIMIT);
	assert_int_equal(usm_pager_munmap(pager, w, len), 0);
}

/* A start that fails after it allocated its buffers gives all of them back
 * (and closes its descriptors). The buffers come from usm_rawmem, which
 * ASan does not see, so the proof is the window's room: each failed start
 * here takes 128 MiB (the fill and zero buffers) before the eviction
 * buffer, batch pages of 4 KiB, cannot fit, and 600 leaks would need more
 * than the 64 GiB the window has. */
static void a_failed_start_frees_what_it_allocated(void **state)
{
	struct usm_pager_config c;
	struct usm_pager *p = NULL;
	int fd_before = dup(0), fd_after;

	if (!pager)
		skip();
	close(fd_before);
	usm_pager_config_defaults(&c);
	c.fault_size = 64 * MB;
	c.prefetch = 0;
	c.batch = UINT_MAX;
	for (int i = 0; i < 600; i++)
		assert_int_equal(usm_pager_start(&c, &p), -ENOMEM);
	assert_null(p);
	void *room = usm_rawmem_alloc(2 * c.fault_size);
	assert_non_null(room);
	usm_rawmem_free(room, 2 * c.fault_size);
	fd_after = dup(0);
	close(fd_after);
	assert_int_equal(fd_after, fd_before);
	/* the failures before the buffers: a bad policy, a bad store */
	usm_pager_config_defaults(&c);
	c.policy = "nope";
	assert_int_equal(usm_pager_start(&c, &p), -EINVAL);
	usm_pager_config_defaults(&c);
	c.store = "nope:";
	assert_true(usm_pager_start(&c, &p) < 0);
	assert_null(p);
	fd_after = dup(0);
	close(fd_after);
	assert_int_equal(fd_after, fd_before);
}

/* In a forked child: a pager of its own started with c (the parent's is
 * abandoned, its thread is not here) and a region of len that it manages;
 * NULL when either fails. */
static uint64_t *child_pager_region(const struct usm_pager_config *c, size_t len,
				    struct usm_pager **p)
{
	if (pager)
		usm_pager_abandon(pager);
	if (usm_pager_start(c, p) < 0)
		return NULL;
	uint64_t *w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED || usm_pager_add(*p, w, len) < 0)
		return NULL;
	return w;
}

#ifdef USM_FAULT_INJECTION
/* In a child of its own (a SIGBUS or the pager's exit must not end the
 * test): a pager whose store fails every read from the first, a region
 * four times its limit written and read back. */
static sigjmp_buf bus_jump;
static void *volatile bus_addr;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	bus_addr = si->si_addr;
	siglongjmp(bus_jump, 1);
}

enum lost_page_verdict {
	LOST_SIGBUS_THEN_ZEROS = 10, /* SIGBUS at a page of the region; after DONTNEED, zeros */
	LOST_NO_SIGBUS, LOST_SIGBUS_ELSEWHERE, LOST_NOT_COUNTED, LOST_STILL_POISONED,
	LOST_START_FAILED,
};

static void read_lost_pages_in_a_child(unsigned without)
{
	struct usm_pager_config c;
	struct usm_pager *p;
	struct usm_pager_stats st;
	struct sigaction sa = { .sa_sigaction = on_bus, .sa_flags = SA_SIGINFO };
	size_t len = 4 * LIMIT;

	setenv("USM_INJECT_STORE_READ_FAILURE", "1", 1);
	usm_pager_config_defaults(&c);
	c.limit = LIMIT;
	c.prefetch = 0;
	c.policy = "fifo";
	c.without = without;
	uint64_t *w = child_pager_region(&c, len, &p);
	if (!w)
		_exit(LOST_START_FAILED);
	fill(w, len, 7);
	/* ASan's SIGBUS handler would report and abort: ours instead */
	sigaction(SIGBUS, &sa, NULL);
	if (!sigsetjmp(bus_jump, 1)) {
		volatile int read_all = intact(w, len, 7); /* volatile: the reads must happen */
		(void)read_all;
		_exit(LOST_NO_SIGBUS);
	}
	if ((char *)bus_addr < (char *)w || (char *)bus_addr >= (char *)w + len)
		_exit(LOST_SIGBUS_ELSEWHERE);
	usm_pager_get_stats(p, &st);
	if (st.poisoned == 0)
		_exit(LOST_NOT_COUNTED);
	/* the program drops what it lost: the page reads as new again */
	usm_pager_madvise(p, w, len, MADV_DONTNEED);
	if (sigsetjmp(bus_jump, 1))
		_exit(LOST_STILL_POISONED);
	for (size_t i = 0; i < len / 8; i += 512)
		if (w[i] != 0)
			_exit(LOST_STILL_POISONED);
	_exit(LOST_SIGBUS_THEN_ZEROS);
}

static int lost_page_outcome(unsigned without)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		read_lost_pages_in_a_child(without);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Where the kernel has UFFDIO_POISON, a page the store cannot return is a
 * SIGBUS for the thread that reads it, at that page, counted, and gone once
 * the program drops the page; elsewhere the pager stops the process with
 * its exit status 125, never handing out a wrong page. */
static void a_page_the_store_cannot_return_is_a_sigbus_or_a_stop(void **state)
{
	struct usm_features f;

	if (!pager)
		skip();
	usm_features_probe(&f);
	printf("# UFFDIO_POISON here: %s\n", f.uffd_poison ? "yes" : "no");
	assert_int_equal(lost_page_outcome(0), f.uffd_poison ? LOST_SIGBUS_THEN_ZEROS : 125);
}

/* The fallback of kernels before 6.6, forced on this one. */
static void without_poison_a_lost_page_stops_the_process(void **state)
{
	if (!pager)
		skip();
	assert_int_equal(lost_page_outcome(USM_PAGER_WITHOUT_POISON), 125);
}
#else
static void a_page_the_store_cannot_return_is_a_sigbus_or_a_stop(void **state)
{
	printf("# built without -Dfault_injection=true (make check builds with it)\n");
	skip();
}

static void without_poison_a_lost_page_stops_the_process(void **state)
{
	skip();
}
#endif

/* In a child (the pager's polling and the affinity are its own): a pager
 * polling up to spin_us, on one CPU if one_cpu, pages a region four times
 * its limit. Exits with whether it found faults while polling. */
enum polled_verdict { POLLED_NONE = 20, POLLED_SOME, POLLED_DATA_LOST, POLLED_START_FAILED };

static void page_in_a_child(unsigned spin_us, bool one_cpu)
{
	struct usm_pager_config c;
	struct usm_pager *p;
	struct usm_pager_stats st;
	size_t len = 4 * LIMIT;

	if (one_cpu) {
		cpu_set_t cpus;
		CPU_ZERO(&cpus);
		CPU_SET(sched_getcpu(), &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus) < 0)
			_exit(POLLED_START_FAILED);
	}
	usm_pager_config_defaults(&c);
	c.limit = LIMIT;
	c.policy = "fifo";
	c.spin_max_us = spin_us;
	uint64_t *w = child_pager_region(&c, len, &p);
	if (!w)
		_exit(POLLED_START_FAILED);
	fill(w, len, 3);
	if (!intact(w, len, 3))
		_exit(POLLED_DATA_LOST);
	usm_pager_get_stats(p, &st);
	_exit(st.polled_faults ? POLLED_SOME : POLLED_NONE);
}

static int polled_outcome(unsigned spin_us, bool one_cpu)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		page_in_a_child(spin_us, one_cpu);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The pager polls for its next event before it sleeps (lib/pager/wait.c):
 * with a window far longer than any fault's service, the faults of a
 * region written and read back are found while it polls; with the window
 * 0, or the process on one CPU, where polling would keep the program from
 * running, none is. */
static void the_pager_polls_unless_told_not_to_or_alone_on_a_cpu(void **state)
{
	cpu_set_t cpus;

	if (!pager)
		skip();
	assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
	if (CPU_COUNT(&cpus) >= 2)
		assert_int_equal(polled_outcome(100000, false), POLLED_SOME);
	else
		printf("# one CPU here: the polling case is not run\n");
	assert_int_equal(polled_outcome(0, false), POLLED_NONE);
	assert_int_equal(polled_outcome(100000, true), POLLED_NONE);
}

static void the_without_names_are_read_and_checked(void **state)
{
	unsigned w = 7;

	assert_int_equal(usm_pager_without_parse("", &w), 0);
	assert_int_equal(w, 0);
	assert_int_equal(usm_pager_without_parse(NULL, &w), 0);
	assert_int_equal(w, 0);
	assert_int_equal(usm_pager_without_parse("poison", &w), 0);
	assert_int_equal(w, USM_PAGER_WITHOUT_POISON);
	assert_int_equal(usm_pager_without_parse("poison,poison", &w), 0);
	assert_int_equal(w, USM_PAGER_WITHOUT_POISON);
	assert_int_equal(usm_pager_without_parse("poisonx", &w), -EINVAL);
	assert_int_equal(usm_pager_without_parse("poison,move", &w), -EINVAL);
	/* what the usage line lists is what the parser takes */
	assert_string_equal(usm_pager_without_names(), "poison");
	assert_int_equal(usm_pager_without_parse(usm_pager_without_names(), &w), 0);
	assert_int_equal(w, USM_PAGER_WITHOUT_POISON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_first_put_is_announced_once),
		cmocka_unit_test(data_survives_eviction_within_the_budget),
		cmocka_unit_test(dontneed_reads_zeros_and_keeps_the_rest),
		cmocka_unit_test(mremap_moves_evicted_pages_with_the_mapping),
		cmocka_unit_test(unmapped_memory_leaves_the_budget),
		cmocka_unit_test(a_new_limit_is_met_before_the_call_returns),
		cmocka_unit_test(policy_switches_keep_the_data),
		cmocka_unit_test(pinned_pages_stay_and_cold_ones_go),
		cmocka_unit_test(scattered_faults_fill_pages_and_a_scan_fills_blocks),
		cmocka_unit_test(a_failed_start_frees_what_it_allocated),
		cmocka_unit_test(a_page_the_store_cannot_return_is_a_sigbus_or_a_stop),
		cmocka_unit_test(without_poison_a_lost_page_stops_the_process),
		cmocka_unit_test(the_without_names_are_read_and_checked),
		cmocka_unit_test(the_pager_polls_unless_told_not_to_or_alone_on_a_cpu),
	};
	return cmocka_run_group_tests_name("pager", tests, setup, NULL);
}
