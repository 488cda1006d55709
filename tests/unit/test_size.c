/* usm_parse_size / usm_format_size: what users type for --limit and friends;
 * usm_parse_count/pid/seconds and usm_format_ns, the other option values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <usm/size.h>

static void parses_plain_bytes_and_binary_suffixes(void **state)
{
	uint64_t v;

	assert_int_equal(usm_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(usm_parse_size("64K", &v), 0);
	assert_int_equal(v, 64 << 10);
	assert_int_equal(usm_parse_size("64m", &v), 0);
	assert_int_equal(v, 64 << 20);
	assert_int_equal(usm_parse_size("3G", &v), 0);
	assert_int_equal(v, 3ULL << 30);
	assert_int_equal(usm_parse_size("2TiB", &v), 0);
	assert_int_equal(v, 2ULL << 40);
	assert_int_equal(usm_parse_size("5MB", &v), 0);
	assert_int_equal(v, 5ULL << 20);
	assert_int_equal(usm_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
}

static void rejects_malformed_text(void **state)
{
	static const char *bad[] = { "", "M", "-1", "1.5G", "12X", "12 M", "1MM", "1Mi", " 1", "0x10", NULL };
	uint64_t v = 77;

	for (int i = 0; bad[i]; i++) {
		assert_int_equal(usm_parse_size(bad[i], &v), -EINVAL);
		assert_int_equal(v, 77); /* untouched on error */
	}
	assert_int_equal(usm_parse_size(NULL, &v), -EINVAL);
}

static void rejects_overflow(void **state)
{
	uint64_t v;

	assert_int_equal(usm_parse_size("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(usm_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(usm_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(usm_parse_size("16777215T", &v), 0);
}

static void formats_with_one_decimal(void **state)
{
	char buf[32];

	assert_string_equal(usm_format_size(512, buf, sizeof(buf)), "512B");
	assert_string_equal(usm_format_size(64 << 20, buf, sizeof(buf)), "64.0M");
	assert_string_equal(usm_format_size(1536, buf, sizeof(buf)), "1.5K");
	assert_string_equal(usm_format_size(3ULL << 40, buf, sizeof(buf)), "3.0T");
}

static void counts_and_pids_are_digits_only(void **state)
{
	static const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1x", "0x10", NULL };
	uint64_t v = 77;
	pid_t pid = 77;

	assert_int_equal(usm_parse_count("256", 256, &v), 0);
	assert_int_equal(v, 256);
	assert_int_equal(usm_parse_count("257", 256, &v), -ERANGE);
	assert_int_equal(usm_parse_count("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 256);
	for (int i = 0; bad[i]; i++) {
		assert_int_equal(usm_parse_count(bad[i], 1000, &v), -EINVAL);
		assert_int_equal(usm_parse_pid(bad[i], &pid), -EINVAL);
	}
	assert_int_equal(usm_parse_pid("0", &pid), -ERANGE);
	assert_int_equal(usm_parse_pid("2147483648", &pid), -ERANGE);
	assert_int_equal(pid, 77);
	assert_int_equal(usm_parse_pid("2147483647", &pid), 0);
	assert_int_equal(pid, 2147483647);
}

/* Address ranges are read as /proc/PID/maps writes them. */
static void address_ranges_are_hex_pairs(void **state)
{
	static const char *const bad[] = { "", "1000", "1000-", "-2000", "2000-1000", "1000-1000",
					   "1000-2000x", "g000-2000", "1000 -2000",
					   "10000000000000000-20000000000000000", "0x-2000" };
	uint64_t a, b;

	(void)state;
	assert_int_equal(usm_parse_addr_range("7f00a000-7f00c000", &a, &b), 0);
	assert_int_equal(a, 0x7f00a000);
	assert_int_equal(b, 0x7f00c000);
	assert_int_equal(usm_parse_addr_range("0x1000-0XFFFFFFFFFFFFFFFF", &a, &b), 0);
	assert_int_equal(a, 0x1000);
	assert_int_equal(b, UINT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(usm_parse_addr_range(bad[i], &a, &b), -EINVAL);
}

static void seconds_are_positive_and_bounded(void **state)
{
	double s = 7;

	assert_int_equal(usm_parse_seconds("0.25", 10, &s), 0);
	assert_true(s == 0.25);
	assert_int_equal(usm_parse_seconds("0", 10, &s), -ERANGE);
	assert_int_equal(usm_parse_seconds("10.5", 10, &s), -ERANGE);
	assert_int_equal(usm_parse_seconds("nan", 10, &s), -EINVAL);
	assert_int_equal(usm_parse_seconds("1s", 10, &s), -EINVAL);
	assert_int_equal(usm_parse_seconds("", 10, &s), -EINVAL);
	assert_true(s == 0.25);
}

static void formats_durations_with_the_decimals_asked(void **state)
{
	char buf[32];

	assert_string_equal(usm_format_ns(999, 1, buf, sizeof(buf)), "999ns");
	assert_string_equal(usm_format_ns(12345, 1, buf, sizeof(buf)), "12.3us");
	assert_string_equal(usm_format_ns(12345, 2, buf, sizeof(buf)), "12.35us");
	assert_string_equal(usm_format_ns(4560000, 2, buf, sizeof(buf)), "4.56ms");
	assert_string_equal(usm_format_ns(2000000000, 1, buf, sizeof(buf)), "2.0s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_plain_bytes_and_binary_suffixes),
		cmocka_unit_test(rejects_malformed_text),
		cmocka_unit_test(rejects_overflow),
		cmocka_unit_test(formats_with_one_decimal),
		cmocka_unit_test(counts_and_pids_are_digits_only),
		cmocka_unit_test(address_ranges_are_hex_pairs),
		cmocka_unit_test(seconds_are_positive_and_bounded),
		cmocka_unit_test(formats_durations_with_the_decimals_asked),
	};
	return cmocka_run_group_tests_name("size", tests, NULL, NULL);
}
