/* usm_capmap_read: the CAPMAP grammar of docs/capmap.md, field by field,
 * and one clear error (with its line) for every way a file can be bad. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <usm/capmap.h>

static int parse(const char *text, struct usm_capmap *map, char *err, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	assert_non_null(f);
	ret = usm_capmap_read(f, map, err, len);
	fclose(f);
	return ret;
}

static void reads_objects_and_their_accesses(void **state)
{
	const char *text = "4011ae,1234,55d0c0a0,400,100,250,4011f0,malloc,prog,408\n"
	                   "  4011c3,100,0,1234\n"
	                   "  4011d9,0,50,1235\n"
	                   "404040,1234,404040,8,0,0,0,global,prog,-\n";
	struct usm_capmap map;
	char err[128];

	assert_int_equal(parse(text, &map, err, sizeof(err)), 0);
	assert_int_equal(map.nobjs, 2);
	assert_int_equal(map.naccesses, 2);
	assert_int_equal(map.objs[0].alloc_ip, 0x4011ae);
	assert_int_equal(map.objs[0].pid, 1234);
	assert_int_equal(map.objs[0].va, 0x55d0c0a0);
	assert_int_equal(map.objs[0].size, 400);
	assert_int_equal(map.objs[0].alloc_time, 100);
	assert_int_equal(map.objs[0].free_time, 250);
	assert_int_equal(map.objs[0].free_ip, 0x4011f0);
	assert_string_equal(map.objs[0].allocator, "malloc");
	assert_string_equal(map.objs[0].process, "prog");
	assert_int_equal(map.objs[0].cache, 408);
	assert_int_equal(map.objs[0].naccesses, 2);
	assert_int_equal(map.accesses[0].ip, 0x4011c3);
	assert_int_equal(map.accesses[0].writes, 100);
	assert_int_equal(map.accesses[0].reads, 0);
	assert_int_equal(map.accesses[1].reads, 50);
	assert_int_equal(map.accesses[1].tid, 1235);
	assert_int_equal(map.objs[1].naccesses, 0);
	assert_int_equal(map.objs[1].cache, 0);
	usm_capmap_free(&map);
}

static void an_empty_file_has_no_objects(void **state)
{
	struct usm_capmap map;
	char err[128];

	assert_int_equal(parse("", &map, err, sizeof(err)), 0);
	assert_int_equal(map.nobjs, 0);
	usm_capmap_free(&map);
}

static void rejects_every_malformed_line(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
	        {"4011ae,1,2,3,4,5,6,malloc,p,-", "truncated"},
	        {"4011ae,1,2,3,4,5,6,malloc,p\n", "10 comma-separated"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-,x\n", "10 comma-separated"},
	        {"0x4011ae,1,2,3,4,5,6,malloc,p,-\n", "bad alloc_ip"},
	        {"4011AE,1,2,3,4,5,6,malloc,p,-\n", "bad alloc_ip"},
	        {"4011ae,-1,2,3,4,5,6,malloc,p,-\n", "bad pid"},
	        {"4011ae,1,,3,4,5,6,malloc,p,-\n", "bad va"},
	        {"4011ae,1,2,3a,4,5,6,malloc,p,-\n", "bad size"},
	        {"4011ae,1,2,3,99999999999999999999999,5,6,malloc,p,-\n", "bad alloc_time"},
	        {"4011ae,1,2,3,4,5,6,kmalloc,p,-\n", "unknown allocator"},
	        {"4011ae,1,2,3,4,5,6,malloc,,-\n", "bad process"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,0\n", "bad cache"},
	        {"  1,2,3,4\n", "before any object"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n 1,2,3,4\n", "indentation"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n   1,2,3,4\n", "indentation"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n  1,2,3\n", "4 comma-separated"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n  1,2,x,4\n", "bad reads"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n  1,2,3,4", "truncated"},
	};
	struct usm_capmap map;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].text, &map, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, bad[i].why));
		assert_non_null(strstr(err, "line "));
		assert_null(map.objs);
	}
}

static void names_the_line_of_the_error(void **state)
{
	const char *text = "4011ae,1,2,3,4,5,6,malloc,p,-\n  1,2,3,4\nzz,1,2,3,4,5,6,malloc,p,-\n";
	struct usm_capmap map;
	char err[128];

	assert_int_equal(parse(text, &map, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3: bad alloc_ip 'zz'"));
}

static void rejects_binary_data(void **state)
{
	static const char bin[] = "\x7f"
	                          "ELF\x02\x01\x01\0\0\0\n";
	FILE *f = fmemopen((void *)bin, sizeof(bin) - 1, "r");
	struct usm_capmap map;
	char err[128];

	assert_non_null(f);
	assert_int_equal(usm_capmap_read(f, &map, err, sizeof(err)), -EINVAL);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(reads_objects_and_their_accesses),
	        cmocka_unit_test(an_empty_file_has_no_objects),
	        cmocka_unit_test(rejects_every_malformed_line),
	        cmocka_unit_test(names_the_line_of_the_error),
	        cmocka_unit_test(rejects_binary_data),
	};
	return cmocka_run_group_tests_name("capmap", tests, NULL, NULL);
}
