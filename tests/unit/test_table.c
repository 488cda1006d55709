/* tools/usm/table.c, the printer every usm command's table and --json come
 * from: alignment, joined and one-sided columns, the zero and null texts,
 * and JSON with the declared keys in the declared order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

enum { C_PID, C_NAME, C_GRANT, C_LIMIT, C_LAT, C_SECRET, C_NOTE };
static const struct table_col cols[] = {
	[C_PID] = { .key = "pid", .head = "PID", .type = TABLE_UINT, .width = 5 },
	[C_NAME] = { .key = "name", .head = "NAME", .type = TABLE_STR, .width = -6, .zero = "-" },
	[C_GRANT] = { .key = "grant", .head = "SHARE/LIMIT", .type = TABLE_SIZE, .width = 12 },
	[C_LIMIT] = { .key = "limit", .type = TABLE_SIZE, .flags = TABLE_JOIN, .zero = "none" },
	[C_LAT] = { .key = "lat_ns", .head = "LAT", .type = TABLE_NS, .width = 8, .decimals = 2 },
	[C_SECRET] = { .key = "ip", .type = TABLE_ADDR, .flags = TABLE_JSON_ONLY },
	[C_NOTE] = { .head = "NOTE", .type = TABLE_STR, .flags = TABLE_TEXT_ONLY },
};

static void fill(struct table *t)
{
	table_init(t, TABLE_COLS(cols));
	table_row(t);
	table_add_uint(t, 42);
	table_add_str(t, "cat");
	table_add_uint(t, 2 << 20);
	table_add_uint(t, 0);
	table_add_uint(t, 1500);
	table_add_uint(t, 0x4011ae);
	table_add_str(t, "x");
	table_row(t);
	table_add_uint(t, 7);
	table_add_str(t, "");
	table_add_uint(t, 1024);
	table_add_uint(t, 4 << 20);
	table_add_null(t);
	table_add_uint(t, 0);
	table_add_str(t, "y");
}

/* Runs print into a string (freed by the caller). */
static char *capture(const struct table *t, int (*print)(const struct table *, FILE *, bool))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(print(t, f, true), 0);
	fclose(f);
	return buf;
}

static void text_aligns_joins_and_hides_json_only_columns(void **state)
{
	struct table t;
	char *out;

	fill(&t);
	out = capture(&t, table_print_text);
	assert_string_equal(out, "  PID NAME    SHARE/LIMIT      LAT NOTE\n"
				 "   42 cat       2.0M/none   1.50us x\n"
				 "    7 -         1.0K/4.0M        - y\n");
	free(out);
	table_free(&t);
}

/* A streamed row is the line the whole table prints for it. */
static void one_row_prints_as_in_the_table(void **state)
{
	struct table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fill(&t);
	assert_int_equal(table_print_row(&t, f, 1, true), 0);
	assert_int_equal(table_print_row(&t, f, 0, false), 0);
	assert_int_equal(table_print_row(&t, f, 2, false), -EINVAL);
	fclose(f);
	assert_string_equal(buf, "  PID NAME    SHARE/LIMIT      LAT NOTE\n"
				 "    7 -         1.0K/4.0M        - y\n"
				 "   42 cat       2.0M/none   1.50us x\n");
	free(buf);
	table_free(&t);
}

static void text_order_moves_only_the_text(void **state)
{
	static const size_t order[] = { C_NOTE, C_PID };
	struct table t;
	json_object *row;
	char *out;

	fill(&t);
	table_text_order(&t, TABLE_COLS(order));
	out = capture(&t, table_print_text);
	assert_string_equal(out, "NOTE   PID\nx    42\ny     7\n");
	row = table_json_row(&t, 0);
	assert_string_equal(json_object_to_json_string_ext(row, JSON_C_TO_STRING_PLAIN),
			    "{\"pid\":42,\"name\":\"cat\",\"grant\":2097152,\"limit\":0,"
			    "\"lat_ns\":1500,\"ip\":\"4011ae\"}");
	json_object_put(row);
	free(out);
	table_free(&t);
}

static void json_has_the_declared_keys_in_order_with_raw_values(void **state)
{
	struct table t;
	json_object *rows;

	fill(&t);
	rows = table_json_rows(&t);
	assert_non_null(rows);
	assert_string_equal(json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PLAIN),
			    "[{\"pid\":42,\"name\":\"cat\",\"grant\":2097152,\"limit\":0,"
			    "\"lat_ns\":1500,\"ip\":\"4011ae\"},"
			    "{\"pid\":7,\"name\":\"\",\"grant\":1024,\"limit\":4194304,"
			    "\"lat_ns\":null,\"ip\":\"0\"}]");
	json_object_put(rows);
	table_free(&t);
}

static void fields_print_one_line_per_column(void **state)
{
	static const struct table_col fcols[] = {
		{ .key = "wp", .head = "write-protect", .type = TABLE_BOOL },
		{ .key = "bits", .head = "feature bits", .type = TABLE_HEX },
	};
	struct table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	table_init(&t, TABLE_COLS(fcols));
	table_row(&t);
	table_add_uint(&t, 1);
	table_add_uint(&t, 0x1f);
	assert_int_equal(table_print_fields(&t, f, 5, 6), 0);
	fclose(f);
	assert_string_equal(buf, "wp    yes    write-protect\nbits  0x1f   feature bits\n");
	free(buf);
	table_free(&t);
}

static void a_row_with_too_many_cells_fails_to_print(void **state)
{
	static const struct table_col one[] = { { .key = "a", .head = "A", .type = TABLE_UINT } };
	struct table t;
	FILE *f = fopen("/dev/null", "w");

	table_init(&t, TABLE_COLS(one));
	table_row(&t);
	table_add_uint(&t, 1);
	table_add_uint(&t, 2);
	assert_int_equal(table_print_text(&t, f, true), -ENOMEM);
	assert_null(table_json_rows(&t));
	fclose(f);
	table_free(&t);
}

/* usm syscalls' rows: a rate with decimals, the syscall names of a site,
 * and its callers as nested rows of a second table. */
static void doubles_string_lists_and_nested_rows(void **state)
{
	static const struct table_col sub[] = {
		{ .key = "fn", .type = TABLE_STR },
		{ .key = "n", .type = TABLE_UINT },
	};
	static const struct table_col top[] = {
		{ .key = "rate", .head = "RATE", .type = TABLE_DOUBLE, .width = 6, .decimals = 1 },
		{ .key = "names", .head = "NAMES", .type = TABLE_STR_LIST, .width = -12,
		  .zero = "-" },
		{ .key = "callers", .head = "CALLERS", .type = TABLE_JSON },
	};
	static const char *const names[] = { "pread64", "write" };
	struct table t, s;
	json_object *rows;
	char *out;

	table_init(&s, TABLE_COLS(sub));
	table_row(&s);
	table_add_str(&s, "loop");
	table_add_uint(&s, 3);
	table_init(&t, TABLE_COLS(top));
	table_row(&t);
	table_add_double(&t, 12.34);
	table_add_strs(&t, names, 2);
	table_add_json(&t, table_json_rows(&s));
	table_row(&t);
	table_add_double(&t, 0.5);
	table_add_strs(&t, NULL, 0);
	table_add_json(&t, NULL);
	table_free(&s); /* the nested rows live on in t's cell */
	out = capture(&t, table_print_text);
	assert_string_equal(out, "  RATE NAMES        CALLERS\n"
				 "  12.3 pread64,write [{\"fn\":\"loop\",\"n\":3}]\n"
				 "   0.5 -            -\n");
	rows = table_json_rows(&t);
	assert_string_equal(json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PLAIN),
			    "[{\"rate\":12.34,\"names\":[\"pread64\",\"write\"],"
			    "\"callers\":[{\"fn\":\"loop\",\"n\":3}]},"
			    "{\"rate\":0.5,\"names\":[],\"callers\":null}]");
	json_object_put(rows);
	free(out);
	table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_aligns_joins_and_hides_json_only_columns),
		cmocka_unit_test(one_row_prints_as_in_the_table),
		cmocka_unit_test(text_order_moves_only_the_text),
		cmocka_unit_test(json_has_the_declared_keys_in_order_with_raw_values),
		cmocka_unit_test(fields_print_one_line_per_column),
		cmocka_unit_test(a_row_with_too_many_cells_fails_to_print),
		cmocka_unit_test(doubles_string_lists_and_nested_rows),
	};
	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
