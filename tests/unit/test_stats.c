/* The pager's figures walked by name (usm/stats.h, lib/pager/stats.c): the
 * table covers every field once, and usm run's merge of processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <usm/stats.h>

static const struct usm_pager_stat_field *find(const char *name)
{
	for (size_t i = 0; i < usm_pager_stat_nfields; i++)
		if (!strcmp(usm_pager_stat_fields[i].name, name))
			return &usm_pager_stat_fields[i];
	return NULL;
}

static void the_table_names_every_field_once(void **state)
{
	assert_int_equal(usm_pager_stat_nfields * sizeof(uint64_t), sizeof(struct usm_pager_stats));
	for (size_t i = 0; i < usm_pager_stat_nfields; i++) {
		assert_int_equal(usm_pager_stat_fields[i].offset, i * sizeof(uint64_t));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(usm_pager_stat_fields[i].name,
						usm_pager_stat_fields[j].name);
	}
	/* the keys of usm run --stats that users and tests read */
	assert_string_equal(find("first_write_faults")->run_key, "first_write_faults");
	assert_string_equal(find("evictions_clean")->run_key, "evictions_clean");
	assert_string_equal(find("first_touch")->run_key, "first_touch_faults");
	assert_string_equal(find("prefetched")->run_key, "prefetched_pages");
	assert_string_equal(find("peak_resident")->run_key, "peak_resident_bytes");
	assert_string_equal(find("latency_p99_ns")->run_key, "fault_latency_p99_ns");
	assert_null(find("resident")->run_key);
	assert_null(find("wp_faults"));
	assert_null(find("dropped_clean"));
}

static void merge_sums_counts_keeps_peaks_and_the_commands_latency(void **state)
{
	struct usm_pager_stats total = { 0 };
	struct usm_pager_stats child = {.first_touch = 5, .evictions_clean = 2, .peak_resident = 900,
					.latency_p50_ns = 70, .resident = 1, .limit = 4096};
	struct usm_pager_stats cmd = {.first_touch = 10, .evictions_clean = 3, .peak_resident = 400,
				      .latency_p50_ns = 30, .peak_resident_held = 50};

	usm_pager_stats_merge(&total, &child, false);
	assert_int_equal(total.latency_p50_ns, 70);      /* none yet: the child's */
	usm_pager_stats_merge(&total, &cmd, true);
	usm_pager_stats_merge(&total, &child, false);
	assert_int_equal(total.first_touch, 20);
	assert_int_equal(total.evictions_clean, 7);
	assert_int_equal(total.peak_resident, 900);
	assert_int_equal(total.peak_resident_held, 50);
	assert_int_equal(total.latency_p50_ns, 30);      /* the command's, once seen */
	assert_int_equal(total.resident, 0);             /* not merged */
	assert_int_equal(total.limit, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_table_names_every_field_once),
		cmocka_unit_test(merge_sums_counts_keeps_peaks_and_the_commands_latency),
	};
	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
