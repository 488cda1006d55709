/* usm ktrace's parts without a kernel: lib/os/kallsyms.c (text symbols
 * sorted and found, a copy of part of them bounding each symbol, hidden
 * addresses) and lib/ktrace/objects.c (allocations paired with frees into
 * CAPMAP lines that libusm's reader takes, and every event that pairs with
 * nothing counted, not invented), on synthetic input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/capmap.h>

#include "ktrace/objects.h"
#include "os/kallsyms.h"

static char *write_temp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/usm-test-ksyms-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char ksyms[] = "ffffffff81000000 T _stext\n"
                            "ffffffff81200000 t alloc_pipe_info\n"
                            "ffffffff81200100 d some_data\n"
                            "ffffffff81200200 T free_pipe_info\n"
                            "ffffffff81100000 W weak_one\n"
                            "ffffffffc0001000 t mod_fn\t[ext4]\n"
                            "ffffffffc0002000 T mod_end\t[ext4]\n";

static void finds_text_symbols_by_address(void **state)
{
	char *path = write_temp(ksyms);
	struct usm_os_kallsyms k;
	long i;

	assert_int_equal(usm_os_kallsyms_load(path, &k), 0);
	unlink(path);
	assert_int_equal(k.n, 6); /* the data symbol is left out */
	i = usm_os_kallsyms_find(&k, 0xffffffff8120005c);
	assert_true(i >= 0);
	assert_string_equal(k.syms[i].name, "alloc_pipe_info");
	assert_null(k.syms[i].module);
	/* a data symbol does not end a function: text symbols only */
	i = usm_os_kallsyms_find(&k, 0xffffffff81200150);
	assert_string_equal(k.syms[i].name, "alloc_pipe_info");
	i = usm_os_kallsyms_find(&k, 0xffffffff81100000);
	assert_string_equal(k.syms[i].name, "weak_one");
	i = usm_os_kallsyms_find(&k, 0xffffffffc0001010);
	assert_string_equal(k.syms[i].name, "mod_fn");
	assert_string_equal(k.syms[i].module, "ext4");
	/* below the first symbol, and past the last one (no end known) */
	assert_int_equal(usm_os_kallsyms_find(&k, 0xffffffff80000000), -1);
	assert_int_equal(usm_os_kallsyms_find(&k, 0xffffffffc0002010), -1);
	usm_os_kallsyms_free(&k);
}

static void a_copy_bounds_each_symbol_it_keeps(void **state)
{
	char *path = write_temp(ksyms), buf[512] = "";
	struct usm_os_kallsyms k, copy;
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	long i;

	assert_non_null(f);
	assert_int_equal(usm_os_kallsyms_load(path, &k), 0);
	unlink(path);
	i = usm_os_kallsyms_find(&k, 0xffffffff81200010);
	assert_int_equal(usm_os_kallsyms_write(&k, (size_t)i, f), 0);
	fclose(f);
	path = write_temp(buf);
	assert_int_equal(usm_os_kallsyms_load(path, &copy), 0);
	unlink(path);
	assert_int_equal(copy.n, 2);
	assert_string_equal(copy.syms[usm_os_kallsyms_find(&copy, 0xffffffff81200010)].name,
	                    "alloc_pipe_info");
	/* past alloc_pipe_info's end the copy knows nothing */
	assert_int_equal(usm_os_kallsyms_find(&copy, 0xffffffff81200210), -1);
	usm_os_kallsyms_free(&copy);
	usm_os_kallsyms_free(&k);
}

static void hidden_addresses_are_an_error(void **state)
{
	char *path = write_temp("0000000000000000 T _stext\n0000000000000000 t alloc_pipe_info\n");
	struct usm_os_kallsyms k;

	assert_int_equal(usm_os_kallsyms_load(path, &k), -EPERM);
	unlink(path);
	assert_int_equal(usm_os_kallsyms_load("/nonexistent/kallsyms", &k), -ENOENT);
}

/* Objects: events in, a CAPMAP out, read back with libusm's reader. */
struct run {
	struct kt_objects o;
	struct usm_ktrace_result res;
	FILE *body;
	char *out;
	size_t outlen;
	struct usm_capmap map;
};

static void start(struct run *r, const char *comm)
{
	memset(r, 0, sizeof(*r));
	r->body = tmpfile();
	assert_non_null(r->body);
	assert_int_equal(kt_objects_init(&r->o, r->body, comm, 1000, &r->res), 0);
}

static void event(struct run *r, uint8_t kind, uint64_t t, uint64_t addr, uint64_t site,
                  uint64_t req, uint64_t usable, int tid)
{
	struct kt_event e = {.t = t, .addr = addr, .site = site, .req = req, .usable = usable,
	                     .pid = tid, .tid = tid, .kind = kind};

	assert_int_equal(kt_objects_event(&r->o, &e), 0);
}

static void finish(struct run *r)
{
	FILE *out = open_memstream(&r->out, &r->outlen);
	char err[128];

	assert_non_null(out);
	assert_int_equal(kt_objects_finish(&r->o, out, NULL, NULL, false), 0);
	fclose(out);
	out = fmemopen(r->out, r->outlen, "r");
	assert_int_equal(usm_capmap_read(out, &r->map, err, sizeof(err)), 0);
	fclose(out);
}

static void done(struct run *r)
{
	usm_capmap_free(&r->map);
	kt_objects_free(&r->o);
	fclose(r->body);
	free(r->out);
}

static const struct usm_capmap_obj *obj_at(const struct usm_capmap *m, uint64_t va, int nth)
{
	for (size_t i = 0; i < m->nobjs; i++)
		if (m->objs[i].va == va && nth-- == 0)
			return &m->objs[i];
	fail_msg("no object at %llx", (unsigned long long)va);
	return NULL;
}

static void pairs_allocations_with_frees(void **state)
{
	const uint64_t a = 0xffff888001000000, b = 0xffff888001000100;
	const struct usm_capmap_obj *o;
	struct run r;
	uint64_t v;

	start(&r, NULL);
	assert_int_equal(kt_objects_name(&r.o, 7, "pipes"), 0);
	event(&r, KT_ALLOC_KMALLOC, 1100, a, 0xffffffff81200010, 96, 128, 7);
	event(&r, KT_ALLOC_CACHE, 1200, b, 0xffffffff81300010, 200, 256, 7);
	event(&r, KT_FREE_SLAB, 1500, a, 0xffffffff81200210, 0, 0, 7);
	event(&r, KT_ALLOC_PAGE, 1600, 0x1234, 0, 1, 0, 7); /* order 1 */
	event(&r, KT_FREE_PAGE, 1700, 0x1234, 0, 1, 0, 7);
	event(&r, KT_FREE_SLAB, 1800, 0xffff888009999900, 0xffffffff81200210, 0, 0, 7);
	event(&r, KT_FREE_SLAB, 1900, 0, 0xffffffff81200210, 0, 0, 7); /* kfree(NULL) */
	finish(&r);
	assert_int_equal(r.map.nobjs, 3);
	assert_int_equal(r.map.naccesses, 0);
	o = obj_at(&r.map, a, 0);
	assert_string_equal(o->allocator, "kmalloc");
	assert_int_equal(o->alloc_ip, 0xffffffff81200010);
	assert_int_equal(o->size, 96);
	assert_int_equal(o->cache, 128);
	assert_int_equal(o->alloc_time, 100); /* from the trace's start, 1000 */
	assert_int_equal(o->free_time, 500);
	assert_int_equal(o->free_ip, 0xffffffff81200210);
	assert_string_equal(o->process, "pipes");
	assert_int_equal(o->pid, 7);
	o = obj_at(&r.map, b, 0);
	assert_string_equal(o->allocator, "kmem_cache");
	assert_int_equal(o->free_time, 0); /* live */
	o = obj_at(&r.map, 0x1234ull * 4096, 0);
	assert_string_equal(o->allocator, "page");
	assert_int_equal(o->size, 8192);
	assert_int_equal(o->cache, 0);
	assert_int_equal(o->free_time, 700);
	assert_int_equal(r.res.allocs[USM_KTRACE_KMALLOC], 1);
	assert_int_equal(r.res.frees[USM_KTRACE_PAGE], 1);
	assert_int_equal(r.res.live, 1);
	/* the free of an object from before the trace is counted, not invented */
	assert_int_equal(r.res.freed_unseen, 1);
	assert_true(usm_capmap_header_get(&r.map.header, "freed_before_trace", &v));
	assert_int_equal(v, 1);
	assert_true(usm_capmap_header_get(&r.map.header, "lost_events", &v));
	assert_int_equal(v, 0);
	done(&r);
}

static void an_address_allocated_again_keeps_its_old_object_as_live(void **state)
{
	const uint64_t a = 0xffff888001000000;
	struct run r;
	uint64_t v;

	start(&r, NULL);
	event(&r, KT_ALLOC_KMALLOC, 1100, a, 0xffffffff81200010, 8, 8, 7);
	event(&r, KT_ALLOC_KMALLOC, 1200, a, 0xffffffff81200020, 16, 16, 7);
	event(&r, KT_FREE_SLAB, 1300, a, 0xffffffff81200210, 0, 0, 7);
	finish(&r);
	assert_int_equal(r.map.nobjs, 2);
	assert_int_equal(obj_at(&r.map, a, 0)->size, 8);
	assert_int_equal(obj_at(&r.map, a, 0)->free_time, 0);
	assert_int_equal(obj_at(&r.map, a, 1)->size, 16);
	assert_int_equal(obj_at(&r.map, a, 1)->free_time, 300);
	assert_true(usm_capmap_header_get(&r.map.header, "reallocated_unfreed", &v));
	assert_int_equal(v, 1);
	done(&r);
}

static void names_follow_exec_and_fork_and_filter(void **state)
{
	struct kt_event comm = {.t = 1100, .tid = 7, .pid = 7, .kind = KT_COMM};
	struct kt_event fork = {.t = 1200, .tid = 8, .pid = 8, .req = 7, .usable = 7, .kind = KT_FORK};
	struct run r;

	start(&r, "pipes");
	assert_int_equal(kt_objects_name(&r.o, 7, "sh"), 0);
	event(&r, KT_ALLOC_KMALLOC, 1050, 0xffff888001000000, 1, 8, 8, 7); /* sh: filtered */
	strcpy(comm.comm, "pipes");
	assert_int_equal(kt_objects_event(&r.o, &comm), 0);
	assert_int_equal(kt_objects_event(&r.o, &fork), 0);
	event(&r, KT_ALLOC_KMALLOC, 1300, 0xffff888001000100, 1, 8, 8, 8);
	/* the unrecorded object's free, by a task now of the name: counted */
	event(&r, KT_FREE_SLAB, 1400, 0xffff888001000000, 1, 0, 0, 7);
	finish(&r);
	assert_int_equal(r.map.nobjs, 1);
	assert_string_equal(r.map.objs[0].process, "pipes");
	assert_int_equal(r.map.objs[0].pid, 8);
	assert_int_equal(r.res.freed_unseen, 1);
	done(&r);
}

/* Many objects freed in another order than made: the table's deletions
 * (moving later slots back) must leave every object findable. */
static void every_object_is_found_under_churn(void **state)
{
	enum { N = 20000 };
	uint64_t *addrs = malloc(N * sizeof(*addrs));
	struct run r;

	assert_non_null(addrs);
	start(&r, NULL);
	for (int i = 0; i < N; i++) {
		addrs[i] = 0xffff888000000000ull + (uint64_t)i * 64;
		event(&r, KT_ALLOC_CACHE, 2000 + (uint64_t)i, addrs[i], 5, 64, 64, 7);
	}
	srand(1);
	for (int i = N - 1; i > 0; i--) {
		int j = rand() % (i + 1);
		uint64_t t = addrs[i];

		addrs[i] = addrs[j];
		addrs[j] = t;
	}
	for (int i = 0; i < N; i++)
		event(&r, KT_FREE_SLAB, 100000 + (uint64_t)i, addrs[i], 6, 0, 0, 7);
	finish(&r);
	assert_int_equal(r.map.nobjs, N);
	assert_int_equal(r.res.live, 0);
	assert_int_equal(r.res.freed_unseen, 0);
	assert_int_equal(r.res.frees[USM_KTRACE_KMEM_CACHE], N);
	free(addrs);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(finds_text_symbols_by_address),
	        cmocka_unit_test(a_copy_bounds_each_symbol_it_keeps),
	        cmocka_unit_test(hidden_addresses_are_an_error),
	        cmocka_unit_test(pairs_allocations_with_frees),
	        cmocka_unit_test(an_address_allocated_again_keeps_its_old_object_as_live),
	        cmocka_unit_test(names_follow_exec_and_fork_and_filter),
	        cmocka_unit_test(every_object_is_found_under_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
