/* usm_capmap_read: the CAPMAP grammar of docs/capmap.md, field by field,
 * and one clear error (with its line) for every way a file can be bad;
 * usm_capmap_report: the sums per allocation site and per object;
 * usm_capmap_scan, usm_capmap_aggregate and usm_capmap_diff: the same file
 * one object at a time, summed per site with verdicts, access sites and a
 * bounded sample, and two such sums side by side. */
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

/* Memorizer's kmap: kernel addresses, pid 0 (swapper), the kernel's allocators. */
static void reads_the_kernel_allocators_of_a_kmap(void **state)
{
	const char *text = "ffffffff812a3b4c,0,ffff888003a1b000,64,5000,9000,ffffffff812a3c00,kmalloc,"
	                   "swapper/0,64\n"
	                   "  ffffffffc0001234,700,500,42\n"
	                   "ffffffff81000000,1,ffff888003a1c000,48,1,0,0,kmem_cache,insmod,48\n"
	                   "ffffffff81000000,1,ffff888004000000,4096,1,0,0,page,insmod,-\n"
	                   "ffffffff81000000,1,ffffc90000010000,8192,1,0,0,vmalloc,insmod,-\n";
	static const char *const want[] = {"kmalloc", "kmem_cache", "page", "vmalloc"};
	struct usm_capmap map;
	char err[128];

	assert_int_equal(parse(text, &map, err, sizeof(err)), 0);
	assert_int_equal(map.nobjs, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(map.objs[i].allocator, want[i]);
	assert_int_equal(map.objs[0].va, 0xffff888003a1b000ULL);
	assert_int_equal(map.objs[0].pid, 0);
	assert_string_equal(map.objs[0].process, "swapper/0");
	assert_int_equal(map.accesses[0].writes, 700);
	assert_int_equal(map.accesses[0].tid, 42);
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
	        {"4011ae,1,2,3,4,5,6,slab,p,-\n", "unknown allocator"},
	        {"4011ae,1,2,3,4,5,6,malloc,,-\n", "bad process"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,0\n", "bad cache"},
	        {"  1,2,3,4\n", "before any object"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n 1,2,3,4\n", "indentation"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n   1,2,3,4\n", "indentation"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n  1,2,3\n", "4 comma-separated"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n  1,2,x,4\n", "bad reads"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n  1,2,3,4", "truncated"},
	        {"#lost_events=1\n", "'# key=value'"},
	        {"# lost_events\n", "'# key=value'"},
	        {"# Lost=1\n", "bad header key"},
	        {"# =1\n", "bad header key"},
	        {"# lost_events=-1\n", "bad header value"},
	        {"# lost_events=\n", "bad header value"},
	        {"# a=1\n# a=2\n", "given twice"},
	        {"4011ae,1,2,3,4,5,6,malloc,p,-\n# lost_events=1\n", "after an object line"},
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

/* usm ktrace's file: statistics before the objects, the kernel's allocators */
static void reads_header_statistics_and_kernel_allocators(void **state)
{
	const char *text = "# lost_events=12\n"
	                   "# throttled=0\n"
	                   "ffffffff81234567,77,ffff888004a1b000,96,10,20,ffffffff8123aaaa,kmalloc,pipes,96\n"
	                   "ffffffff81234568,77,ffff888004a1c000,232,11,0,0,kmem_cache,pipes,256\n"
	                   "0,77,12345000,8192,12,30,0,page,pipes,8192\n";
	struct usm_capmap map;
	uint64_t v = 99;
	char err[128];

	assert_int_equal(parse(text, &map, err, sizeof(err)), 0);
	assert_int_equal(map.header.nstats, 2);
	assert_true(usm_capmap_header_get(&map.header, "lost_events", &v));
	assert_int_equal(v, 12);
	assert_true(usm_capmap_header_get(&map.header, "throttled", &v));
	assert_int_equal(v, 0);
	assert_false(usm_capmap_header_get(&map.header, "lost", &v));
	assert_int_equal(map.nobjs, 3);
	assert_string_equal(map.objs[0].allocator, "kmalloc");
	assert_string_equal(map.objs[1].allocator, "kmem_cache");
	assert_string_equal(map.objs[2].allocator, "page");
	usm_capmap_free(&map);
}

/* The streaming reader fills the header before the first object, and an
 * aggregate carries it */
static int header_seen_first(void *ctx, const struct usm_capmap_obj *o,
                             const struct usm_capmap_access *acc)
{
	const struct usm_capmap_header *h = ctx;
	uint64_t v = 0;

	(void)o;
	(void)acc;
	assert_true(usm_capmap_header_get(h, "lost_events", &v));
	assert_int_equal(v, 3);
	return 0;
}

static void scans_the_header_before_the_objects(void **state)
{
	const char text[] = "# lost_events=3\n4011ae,1,2,3,4,5,6,malloc,p,-\n";
	const struct usm_capmap_agg_opts opts = {.samples = 1, .read_mostly = 1};
	struct usm_capmap_header h;
	struct usm_capmap_agg a;
	uint64_t v = 0;
	char err[128];
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(f);
	assert_int_equal(usm_capmap_scan(f, &h, header_seen_first, &h, err, sizeof(err)), 0);
	fclose(f);
	f = fmemopen((void *)text, strlen(text), "r");
	assert_non_null(f);
	assert_int_equal(usm_capmap_aggregate(f, &opts, &a, err, sizeof(err)), 0);
	fclose(f);
	assert_true(usm_capmap_header_get(&a.header, "lost_events", &v));
	assert_int_equal(v, 3);
	assert_int_equal(a.objects, 1);
	usm_capmap_agg_free(&a);
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

struct seen {
	int objects, accesses;
	uint64_t last_va;
	int stop_after;
};

static int count_obj(void *ctx, const struct usm_capmap_obj *o, const struct usm_capmap_access *acc)
{
	struct seen *s = ctx;

	s->objects++;
	s->accesses += (int)o->naccesses;
	s->last_va = o->va;
	assert_int_equal(o->first_access, 0);
	if (o->naccesses)
		assert_int_equal(acc[o->naccesses - 1].tid, 1235);
	return s->objects == s->stop_after ? -ECANCELED : 0;
}

static int scan(const char *text, struct seen *s, char *err, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	assert_non_null(f);
	ret = usm_capmap_scan(f, NULL, count_obj, s, err, len);
	fclose(f);
	return ret;
}

static void scans_one_object_at_a_time(void **state)
{
	const char *text = "4011ae,1234,55d0c0a0,400,100,250,4011f0,malloc,prog,408\n"
	                   "  4011c3,100,0,1234\n"
	                   "  4011d9,0,50,1235\n"
	                   "404040,1234,404040,8,0,0,0,global,prog,-\n"
	                   "404050,1234,404050,8,0,0,0,global,prog,-\n"
	                   "  4011d9,0,50,1235\n";
	struct seen s = {0};
	char err[128];

	assert_int_equal(scan(text, &s, err, sizeof(err)), 0);
	assert_int_equal(s.objects, 3);
	assert_int_equal(s.accesses, 3);
	assert_int_equal(s.last_va, 0x404050);
	/* the callback's error stops the scan, at the line that ended the object */
	s = (struct seen){.stop_after = 1};
	assert_int_equal(scan(text, &s, err, sizeof(err)), -ECANCELED);
	assert_int_equal(s.objects, 1);
	assert_string_equal(err, "stopped at line 4");
	/* a bad line is found before the object it follows is handed over */
	s = (struct seen){0};
	assert_int_equal(scan("404040,1,404040,8,0,0,0,global,p,-\n  1,2\n", &s, err, sizeof(err)),
	                 -EINVAL);
	assert_int_equal(s.objects, 0);
	assert_string_equal(err, "line 2: an access line has 4 comma-separated fields");
}

static int aggregate(const char *text, size_t samples, struct usm_capmap_agg *a)
{
	const struct usm_capmap_agg_opts opts = {
	        .samples = samples, .short_lived_ns = 1000, .read_mostly = 10};
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	char err[128];
	int ret;

	assert_non_null(f);
	ret = usm_capmap_aggregate(f, &opts, a, err, sizeof(err));
	fclose(f);
	return ret;
}

/* Site A: a short-lived object read by two threads at one IP, a calloc
 * only read (never written, read-mostly), a live untouched one; site B: a
 * live object only written. */
static const char agg_text[] = "4011ae,1,1000,100,10,40,4011f0,malloc,p,-\n"
                               "  4011c3,5,7,1\n"
                               "  4011c3,1,3,2\n"
                               "500000,1,4000,1000,15,0,0,malloc,p,-\n"
                               "  500010,20,0,1\n"
                               "4011ae,1,2000,50,20,5020,4011f0,calloc,p,-\n"
                               "  4011d0,0,2,2\n"
                               "4011ae,1,3000,100,30,0,0,malloc,p,-\n";

static void aggregates_sites_with_verdicts_touches_and_samples(void **state)
{
	struct usm_capmap_agg a;
	const struct usm_capmap_agg_site *s;

	assert_int_equal(aggregate(agg_text, 2, &a), 0);
	assert_int_equal(a.objects, 4);
	assert_int_equal(a.live, 2);
	assert_int_equal(a.bytes, 1250);
	assert_int_equal(a.reads, 12);
	assert_int_equal(a.writes, 26);
	assert_int_equal(a.access_lines, 4);
	assert_int_equal(a.sampled, 3);
	assert_int_equal(a.end_time, 5020);
	assert_int_equal(a.nsites, 2);

	s = &a.sites[0]; /* B: most bytes */
	assert_int_equal(s->sum.alloc_ip, 0x500000);
	assert_int_equal(s->verdicts[USM_VERDICT_NEVER_READ], 1);
	assert_int_equal(s->verdicts[USM_VERDICT_WRITE_ONLY], 1);
	assert_int_equal(s->verdicts[USM_VERDICT_NEVER_WRITTEN], 0);
	assert_int_equal(s->min_lifetime, 0); /* none freed */

	s = &a.sites[1];
	assert_int_equal(s->sum.alloc_ip, 0x4011ae);
	assert_int_equal(s->sum.objects, 3);
	assert_int_equal(s->sum.bytes, 250);
	assert_int_equal(s->sum.reads, 12);
	assert_int_equal(s->sum.writes, 6);
	assert_int_equal(s->sum.live, 1);
	assert_int_equal(s->sum.freed, 2);
	assert_int_equal(s->sum.lifetime_sum, 30 + 5000);
	assert_true(s->sum.mixed);
	assert_int_equal(s->min_size, 50);
	assert_int_equal(s->max_size, 100);
	assert_int_equal(s->min_lifetime, 30);
	assert_int_equal(s->max_lifetime, 5000);
	assert_int_equal(s->lifetimes[0], 1); /* 30ns: < 1us */
	assert_int_equal(s->lifetimes[1], 1); /* 5us: < 10us */
	assert_int_equal(s->verdicts[USM_VERDICT_NEVER_READ], 1);
	assert_int_equal(s->verdicts[USM_VERDICT_NEVER_WRITTEN], 2);
	assert_int_equal(s->verdicts[USM_VERDICT_WRITE_ONLY], 0);
	assert_int_equal(s->verdicts[USM_VERDICT_SHORT_LIVED], 1);
	assert_int_equal(s->verdicts[USM_VERDICT_READ_MOSTLY], 1);
	/* one access site per IP, whatever the threads; the busiest first */
	assert_int_equal(s->ntouches, 2);
	assert_int_equal(s->touches[0].ip, 0x4011c3);
	assert_int_equal(s->touches[0].reads, 10);
	assert_int_equal(s->touches[0].writes, 6);
	assert_int_equal(s->touches[0].objects, 1);
	assert_int_equal(s->touches[1].ip, 0x4011d0);
	assert_int_equal(s->touches[1].reads, 2);
	/* two samples of three: the largest, the live one first among equals */
	assert_int_equal(s->nsamples, 2);
	assert_int_equal(s->samples[0].va, 0x3000);
	assert_int_equal(s->samples[0].free_time, 0);
	assert_int_equal(s->samples[1].va, 0x1000);
	assert_int_equal(s->samples[1].reads, 10);
	assert_int_equal(s->samples[1].verdicts, 1u << USM_VERDICT_SHORT_LIVED);
	usm_capmap_agg_free(&a);

	assert_int_equal(aggregate(agg_text, 0, &a), 0);
	assert_int_equal(a.sampled, 0);
	assert_int_equal(a.sites[1].nsamples, 0);
	usm_capmap_agg_free(&a);
	assert_int_equal(aggregate("404040,1,404040,8,0,0,0,bogus,p,-\n", 2, &a), -EINVAL);
	assert_int_equal(a.nsites, 0);
}

static void diffs_sites_by_key(void **state)
{
	/* after: two sites with A's key (summed), one new */
	const char *after = "600000,1,1000,10,0,0,0,malloc,p,-\n"
	                    "  600010,0,4,1\n"
	                    "700000,1,2000,5,0,0,0,malloc,p,-\n"
	                    "800000,1,3000,7,0,0,0,malloc,p,-\n";
	const char *akeys[] = {"b", "a"};      /* agg_text's sites: B, A */
	const char *bkeys[] = {"a", "c", "a"}; /* by bytes: 600000, 800000, 700000 */
	struct usm_capmap_agg a, b;
	struct usm_capmap_diff d;

	assert_int_equal(aggregate(agg_text, 0, &a), 0);
	assert_int_equal(aggregate(after, 0, &b), 0);
	assert_int_equal(b.sites[1].sum.alloc_ip, 0x800000);
	assert_int_equal(usm_capmap_diff(&a, akeys, &b, bkeys, &d), 0);
	assert_int_equal(d.nrows, 3);
	/* the largest change in bytes first */
	assert_string_equal(d.rows[0].key, "b");
	assert_int_equal(d.rows[0].before, 0);
	assert_int_equal(d.rows[0].after, SIZE_MAX);
	assert_int_equal(d.rows[0].a.bytes, 1000);
	assert_int_equal(d.rows[0].b.bytes, 0);
	assert_string_equal(d.rows[1].key, "a");
	assert_int_equal(d.rows[1].a.objects, 3);
	assert_int_equal(d.rows[1].a.bytes, 250);
	assert_int_equal(d.rows[1].a.reads, 12);
	assert_int_equal(d.rows[1].b.objects, 2);
	assert_int_equal(d.rows[1].b.bytes, 15);
	assert_int_equal(d.rows[1].b.reads, 4);
	assert_int_equal(d.rows[1].after, 0);
	assert_string_equal(d.rows[2].key, "c");
	assert_int_equal(d.rows[2].before, SIZE_MAX);
	assert_int_equal(d.rows[2].b.bytes, 7);
	assert_int_equal(d.a.bytes, 1250);
	assert_int_equal(d.b.bytes, 22);
	assert_int_equal(d.b.objects, 3);
	usm_capmap_diff_free(&d);
	usm_capmap_agg_free(&a);
	usm_capmap_agg_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(reads_objects_and_their_accesses),
	        cmocka_unit_test(reads_the_kernel_allocators_of_a_kmap),
	        cmocka_unit_test(an_empty_file_has_no_objects),
	        cmocka_unit_test(rejects_every_malformed_line),
	        cmocka_unit_test(reads_header_statistics_and_kernel_allocators),
	        cmocka_unit_test(scans_the_header_before_the_objects),
	        cmocka_unit_test(names_the_line_of_the_error),
	        cmocka_unit_test(rejects_binary_data),
	        cmocka_unit_test(sums_per_site_and_per_object),
	        cmocka_unit_test(an_empty_map_has_an_empty_report),
	        cmocka_unit_test(scans_one_object_at_a_time),
	        cmocka_unit_test(aggregates_sites_with_verdicts_touches_and_samples),
	        cmocka_unit_test(diffs_sites_by_key),
	};
	return cmocka_run_group_tests_name("capmap", tests, NULL, NULL);
}
