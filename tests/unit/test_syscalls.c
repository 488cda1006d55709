/* The hot-site rule of usm syscalls (lib/syscalls/sites.c), fed synthetic
 * entries and exits: which site a short gap counts for, the per-CPU
 * window, the one-second limit, every site kept; and the generated names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <usm/syscalls.h>

#include "syscalls/sites.h"

/* One syscall of thread tid at site addr on cpu: entry at *t, exit 100 ns
 * later, then a user gap of gap ns. */
static long one(struct sc_state *st, unsigned cpu, pid_t tid, uint64_t addr, uint64_t *t,
		uint64_t gap)
{
	long i;

	assert_int_equal(sc_enter(st, cpu, tid, *t), 0);
	*t += 100;
	i = sc_exit(st, 1, tid, *t, 17, addr);
	assert_true(i >= 0);
	*t += gap;
	return i;
}

static void short_gap_counts_for_the_previous_site(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;
	long a, b;

	(void)state;
	assert_int_equal(sc_state_init(&st, 1, 1300, 900, 30000), 0);
	a = one(&st, 0, 7, 0x1000, &t, 500);   /* short gap after a */
	b = one(&st, 0, 7, 0x2000, &t, 5000);  /* long gap after b */
	one(&st, 0, 7, 0x1000, &t, 500);
	assert_int_equal(st.sites[a]->short_count, 1);
	assert_int_equal(st.sites[b]->short_count, 0);
	assert_int_equal(st.sites[b]->gap.n, 1);
	assert_int_equal(st.sites[a]->kern.n, 2);
	assert_int_equal(st.sites[a]->count, 2);
	sc_state_free(&st);
}

static void hot_needs_more_than_hot_count_in_a_window(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;
	long hot = -1, edge = -1;

	(void)state;
	assert_int_equal(sc_state_init(&st, 1, 1300, 10, 100), 0);
	/* one window of 100 syscalls: 11 short after site 1, 10 after site 2 */
	for (int i = 0; i < 11; i++)
		hot = one(&st, 0, 7, 0x1000, &t, 200);
	for (int i = 0; i < 10; i++)
		edge = one(&st, 0, 7, 0x2000, &t, 200);
	one(&st, 0, 7, 0x3000, &t, 9000);
	for (int i = 0; i < 77; i++)
		one(&st, 0, 7, 0x3000 + 16 * (uint64_t)i, &t, 9000);
	assert_false(st.sites[hot]->hot);
	one(&st, 0, 7, 0x9000, &t, 9000); /* the 100th entry closes the window */
	assert_int_equal(st.windows, 1);
	assert_true(st.sites[hot]->hot);
	assert_int_equal(st.sites[hot]->hot_windows, 1);
	assert_false(st.sites[edge]->hot);
	sc_state_free(&st);
}

static void a_window_slower_than_a_second_makes_nothing_hot(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;
	long s = -1;

	(void)state;
	assert_int_equal(sc_state_init(&st, 1, 1300, 10, 100), 0);
	for (int i = 0; i < 99; i++)
		s = one(&st, 0, 7, 0x1000, &t, i == 50 ? 2000000000ull : 200);
	one(&st, 0, 7, 0x1000, &t, 200);
	assert_int_equal(st.windows, 1);
	assert_true(st.sites[s]->short_count > 10);
	assert_false(st.sites[s]->hot);
	sc_state_free(&st);
}

static void windows_are_per_cpu(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;
	long s = -1;

	(void)state;
	assert_int_equal(sc_state_init(&st, 2, 1300, 10, 100), 0);
	/* 8 short syscalls of the site on each CPU: 16 in all (hot if the
	 * windows were global), 8 in each CPU's window */
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		for (int i = 0; i < 8; i++)
			s = one(&st, cpu, 7 + (pid_t)cpu, 0x1000, &t, 200);
		for (int i = 0; i < 92; i++)
			one(&st, cpu, 7 + (pid_t)cpu, 0x5000, &t, 9000);
	}
	assert_int_equal(st.windows, 2);
	assert_int_equal(st.sites[s]->short_count, 16);
	assert_false(st.sites[s]->hot);
	sc_state_free(&st);
}

static void every_site_is_kept(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;

	(void)state;
	assert_int_equal(sc_state_init(&st, 1, 1300, 900, 30000), 0);
	for (int pid = 1; pid <= 4; pid++)
		for (uint64_t a = 0; a < 500; a++)
			assert_true(sc_site(&st, pid, 0x400000 + a * 4096) >= 0);
	assert_int_equal(st.nsites, 2000);
	assert_int_equal(sc_site(&st, 3, 0x400000 + 7 * 4096), sc_site(&st, 3, 0x400000 + 7 * 4096));
	assert_int_equal(st.nsites, 2000);
	(void)t;
	sc_state_free(&st);
}

static void lost_records_break_the_gap(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;
	long a;

	(void)state;
	assert_int_equal(sc_state_init(&st, 1, 1300, 900, 30000), 0);
	a = one(&st, 0, 7, 0x1000, &t, 200);
	sc_forget_threads(&st);
	one(&st, 0, 7, 0x2000, &t, 200);
	assert_int_equal(st.sites[a]->gap.n, 0);
	assert_int_equal(st.sites[a]->short_count, 0);
	sc_state_free(&st);
}

/* --duty: the short gaps seen before a pause do not join the window after
 * it; a window closed after the pause is judged on its own syscalls. */
static void a_new_phase_starts_every_window_afresh(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;
	long s = -1;

	(void)state;
	assert_int_equal(sc_state_init(&st, 1, 1300, 10, 100), 0);
	/* 60 syscalls, 8 short after the site, then a pause */
	for (int i = 0; i < 8; i++)
		s = one(&st, 0, 7, 0x1000, &t, 200);
	for (int i = 0; i < 52; i++)
		one(&st, 0, 7, 0x5000, &t, 9000);
	sc_new_phase(&st);
	t += 1000000; /* a short pause: a window across it would still be fast */
	/* 100 more, 8 short after the site: 16 with those before the pause (hot,
	 * were the window to go on across it), 8 in the window */
	for (int i = 0; i < 8; i++)
		one(&st, 0, 7, 0x1000, &t, 200);
	for (int i = 0; i < 92; i++)
		one(&st, 0, 7, 0x5000, &t, 9000);
	assert_int_equal(st.windows, 1);
	assert_int_equal(st.sites[s]->short_count, 16);
	assert_false(st.sites[s]->hot);
	/* the next window, hot on its own: 11 short */
	for (int i = 0; i < 11; i++)
		one(&st, 0, 7, 0x1000, &t, 200);
	for (int i = 0; i < 89; i++)
		one(&st, 0, 7, 0x5000, &t, 9000);
	assert_int_equal(st.windows, 2);
	assert_true(st.sites[s]->hot);
	sc_state_free(&st);
}

static void a_gap_does_not_span_a_pause(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;
	long a;

	(void)state;
	assert_int_equal(sc_state_init(&st, 1, 1300, 900, 30000), 0);
	a = one(&st, 0, 7, 0x1000, &t, 200);
	sc_new_phase(&st);
	one(&st, 0, 7, 0x2000, &t, 200);
	assert_int_equal(st.sites[a]->gap.n, 0);
	assert_int_equal(st.sites[a]->kern.n, 1);
	sc_state_free(&st);
}

/* A phase may end once every busy CPU closed a window or cannot close one
 * within a second at its pace. */
static void a_phase_lasts_while_a_window_can_still_close(void **state)
{
	struct sc_state st;
	uint64_t t = 1000;

	(void)state;
	assert_int_equal(sc_state_init(&st, 2, 1300, 10, 100), 0);
	sc_new_phase(&st);
	assert_true(sc_phase_done(&st, 100000000)); /* nothing seen */
	for (int i = 0; i < 20; i++)
		one(&st, 0, 7, 0x1000, &t, 200);
	/* CPU 0: 20 of 100 in 100 ms, 200/s: a window would take 0.5 s */
	assert_false(sc_phase_done(&st, 100000000));
	/* in 300 ms, 67/s: it would take 1.5 s */
	assert_true(sc_phase_done(&st, 300000000));
	for (int i = 0; i < 80; i++)
		one(&st, 0, 7, 0x1000, &t, 200);
	assert_true(sc_phase_done(&st, 100000000)); /* closed one */
	one(&st, 1, 8, 0x1000, &t, 200);
	assert_false(sc_phase_done(&st, 1000000)); /* CPU 1: 1 in 1 ms */
	sc_new_phase(&st);
	assert_true(sc_phase_done(&st, 1000000));
	sc_state_free(&st);
}

static void histogram_quantiles_within_a_sixteenth(void **state)
{
	static struct sc_hist h;
	uint64_t p50, p99;

	(void)state;
	for (uint64_t v = 1; v <= 10000; v++)
		sc_hist_add(&h, v * 100);
	p50 = sc_hist_quantile(&h, 0.5);
	p99 = sc_hist_quantile(&h, 0.99);
	assert_true(p50 > 500000 * 15 / 16 && p50 < 500000 * 17 / 16);
	assert_true(p99 > 990000 * 15 / 16 && p99 < 990000 * 17 / 16);
	assert_int_equal(h.n, 10000);
}

static void names_come_from_the_kernel_headers(void **state)
{
	(void)state;
	assert_string_equal(usm_syscall_name(0), "read");
	assert_string_equal(usm_syscall_name(1), "write");
	assert_string_equal(usm_syscall_name(17), "pread64");
	assert_string_equal(usm_syscall_name(110), "getppid");
	assert_null(usm_syscall_name(-1));
	assert_null(usm_syscall_name(100000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(short_gap_counts_for_the_previous_site),
		cmocka_unit_test(hot_needs_more_than_hot_count_in_a_window),
		cmocka_unit_test(a_window_slower_than_a_second_makes_nothing_hot),
		cmocka_unit_test(windows_are_per_cpu),
		cmocka_unit_test(every_site_is_kept),
		cmocka_unit_test(lost_records_break_the_gap),
		cmocka_unit_test(a_new_phase_starts_every_window_afresh),
		cmocka_unit_test(a_gap_does_not_span_a_pause),
		cmocka_unit_test(a_phase_lasts_while_a_window_can_still_close),
		cmocka_unit_test(histogram_quantiles_within_a_sixteenth),
		cmocka_unit_test(names_come_from_the_kernel_headers),
	};
	return cmocka_run_group_tests_name("syscalls", tests, NULL, NULL);
}
