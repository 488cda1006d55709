/* usm_parse_size / usm_format_size: what users type for --limit and friends. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_plain_bytes_and_binary_suffixes),
		cmocka_unit_test(rejects_malformed_text),
		cmocka_unit_test(rejects_overflow),
		cmocka_unit_test(formats_with_one_decimal),
	};
	return cmocka_run_group_tests_name("size", tests, NULL, NULL);
}
