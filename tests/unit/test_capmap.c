/* usm_capmap_read: the CAPMAP grammar of docs/capmap.md, field by field,
 * and one clear error (with its line) for every way a file can be bad;
 * usm_capmap_report: the sums per allocation site and per object. */
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

/* Four sites: A (two freed objects of two allocators), B (one live object,
 * the most accesses), C and D (no accesses: the bigger first). */
static void sums_per_site_and_per_object(void **state)
{
	const char *text = "4011ae,1,1000,100,10,40,4011f0,malloc,p,-\n"
	                   "  4011c3,5,7,1\n"
	                   "500000,1,3000,1000,15,0,0,malloc,p,-\n"
	                   "  500010,20,0,1\n"
	                   "4011ae,1,2000,50,20,80,4011f0,calloc,p,-\n"
	                   "  4011c3,1,0,1\n"
	                   "  4011d0,0,2,2\n"
	                   "600000,1,4000,8,0,0,0,global,p,-\n"
	                   "700000,1,5000,16,30,0,0,malloc,p,-\n";
	struct usm_capmap map;
	struct usm_capmap_report r;
	const struct usm_capmap_site *s;
	char err[128];

	assert_int_equal(parse(text, &map, err, sizeof(err)), 0);
	assert_int_equal(usm_capmap_report(&map, &r), 0);
	assert_int_equal(r.reads, 9);
	assert_int_equal(r.writes, 26);
	assert_int_equal(r.live, 3);

	assert_int_equal(r.nsites, 4);
	s = &r.sites[0]; /* B: 20 accesses */
	assert_int_equal(s->alloc_ip, 0x500000);
	assert_int_equal(s->objects, 1);
	assert_int_equal(s->live, 1);
	assert_int_equal(s->writes, 20);
	assert_int_equal(s->freed, 0);
	s = &r.sites[1]; /* A: 15 accesses */
	assert_int_equal(s->alloc_ip, 0x4011ae);
	assert_int_equal(s->objects, 2);
	assert_int_equal(s->live, 0);
	assert_int_equal(s->bytes, 150);
	assert_int_equal(s->reads, 9);
	assert_int_equal(s->writes, 6);
	assert_int_equal(s->freed, 2);
	assert_int_equal(s->lifetime_sum, 30 + 60);
	assert_true(s->mixed);
	assert_string_equal(s->allocator, "malloc");
	assert_int_equal(r.sites[2].alloc_ip, 0x700000); /* 16 bytes before 8 */
	assert_int_equal(r.sites[3].alloc_ip, 0x600000);
	assert_false(r.sites[3].mixed);
	assert_string_equal(r.sites[3].allocator, "global");

	assert_int_equal(r.nobjs, 5);
	assert_int_equal(r.objs[0].obj->va, 0x3000);
	assert_int_equal(r.objs[0].site, 0);
	assert_int_equal(r.objs[1].obj->va, 0x1000);
	assert_int_equal(r.objs[1].reads + r.objs[1].writes, 12);
	assert_int_equal(r.objs[1].site, 1);
	assert_int_equal(r.objs[2].obj->va, 0x2000);
	assert_int_equal(r.objs[2].reads, 2);
	assert_int_equal(r.objs[2].writes, 1);
	assert_int_equal(r.objs[2].site, 1);
	assert_int_equal(r.objs[3].obj->va, 0x4000); /* no accesses: by va */
	assert_int_equal(r.objs[3].site, 3);
	assert_int_equal(r.objs[4].obj->va, 0x5000);
	assert_int_equal(r.objs[4].site, 2);
	usm_capmap_report_free(&r);
	usm_capmap_free(&map);
}

static void an_empty_map_has_an_empty_report(void **state)
{
	struct usm_capmap map = { 0 };
	struct usm_capmap_report r;

	assert_int_equal(usm_capmap_report(&map, &r), 0);
	assert_int_equal(r.nsites, 0);
	assert_int_equal(r.nobjs, 0);
	assert_int_equal(r.reads + r.writes + r.live, 0);
	usm_capmap_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(reads_objects_and_their_accesses),
	        cmocka_unit_test(an_empty_file_has_no_objects),
	        cmocka_unit_test(rejects_every_malformed_line),
	        cmocka_unit_test(names_the_line_of_the_error),
	        cmocka_unit_test(rejects_binary_data),
	        cmocka_unit_test(sums_per_site_and_per_object),
	        cmocka_unit_test(an_empty_map_has_an_empty_report),
	};
	return cmocka_run_group_tests_name("capmap", tests, NULL, NULL);
}
