/* Dirty tracking (include/usm/dirty.h), every backend this machine has:
 * random writes collected exactly, four writers racing with 1000 collects
 * losing no write, another process tracked by pid, the limits each
 * backend reports, and the mprotect baseline's VMA limit and chaining. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <usm/dirty.h>

#define PAGE 4096ULL

struct variant {
	enum usm_dirty_backend backend;
	unsigned without;
	const char *label;
};

static const struct variant variants[] = {
	{ USM_DIRTY_SCAN, 0, "scan" },
	{ USM_DIRTY_SOFTDIRTY, 0, "softdirty" },
	{ USM_DIRTY_SOFTDIRTY, USM_DIRTY_WITHOUT_PAGEMAP_SCAN, "softdirty, pagemap reads" },
	{ USM_DIRTY_UFFD, 0, "uffd" },
	{ USM_DIRTY_UFFD, USM_DIRTY_WITHOUT_WP_UNPOPULATED, "uffd, missing faults" },
	{ USM_DIRTY_MPROTECT, 0, "mprotect" },
};
#define VARIANTS (sizeof(variants) / sizeof(variants[0]))

/* Skips (with the reason printed) when the machine lacks the backend. */
static bool available(const struct variant *v, pid_t pid)
{
	const char *why = NULL;
	unsigned caps;
	int err = usm_dirty_probe(v->backend, pid, v->without, &caps, &why);

	if (err) {
		printf("# skip %s: %s (%s)\n", v->label, why ? why : "?", strerror(-err));
		return false;
	}
	return true;
}

/* Base pages: where THP is "always" (Debian's 6.1 in the QEMU guest), a
 * backend that counts a written huge page whole (USM_DIRTY_HUGE_AS_PAGES)
 * would report the 511 pages beside each write. Huge pages have their own
 * test below. */
static char *map(uint64_t pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	assert_ptr_not_equal(p, MAP_FAILED);
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	return p;
}

/* The collected pages as a bitmap of the range's pages. */
static void collected(struct usm_dirty *d, char *base, uint64_t pages, unsigned char *seen)
{
	const struct usm_dirty_range *r;
	int n = usm_dirty_collect(d, &r);

	assert_true(n >= 0);
	memset(seen, 0, pages);
	for (int i = 0; i < n; i++) {
		assert_true(r[i].start < r[i].end);
		assert_true(r[i].start >= (uint64_t)(uintptr_t)base);
		assert_true(r[i].end <= (uint64_t)(uintptr_t)base + pages * PAGE);
		if (i)
			assert_true(r[i - 1].end < r[i].start); /* sorted, merged */
		for (uint64_t a = r[i].start; a < r[i].end; a += PAGE)
			seen[(a - (uint64_t)(uintptr_t)base) / PAGE] = 1;
	}
}

static void collect_exactly(const struct variant *v, char *base, uint64_t pages);

static void random_writes_are_collected_exactly(void **state)
{
	const struct variant *v = *state;
	const uint64_t pages = 4096;
	char *base = map(pages);

	collect_exactly(v, base, pages);
	munmap(base, pages * PAGE);
}

/* Shared memory (a memfd mapped shared), where the backend says it can. */
static void shared_memory_is_collected_exactly_where_supported(void **state)
{
	const struct variant *v = *state;
	const uint64_t pages = 1024;
	unsigned caps = 0;
	int fd = memfd_create("usm-dirty-test", MFD_CLOEXEC);
	char *base;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(pages * PAGE)), 0);
	base = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_ptr_not_equal(base, MAP_FAILED);
	assert_int_equal(usm_dirty_probe(v->backend, 0, v->without, &caps, NULL), 0);
	if (caps & USM_DIRTY_SHARED) {
		collect_exactly(v, base, pages);
	} else {
		struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
		struct usm_dirty *d;

		/* not claimed: then not silently wrong either */
		printf("# %s: no shared memory, start refuses\n", v->label);
		assert_true(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &d) < 0);
	}
	munmap(base, pages * PAGE);
	close(fd);
}

static void collect_exactly(const struct variant *v, char *base, uint64_t pages)
{
	unsigned char *want = calloc(pages, 1), *seen = calloc(pages, 1);
	struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
	struct usm_dirty *d;
	unsigned seed = 42;

	if (!available(v, 0)) {
		free(want);
		free(seen);
		skip();
	}
	/* Half the pages populated before the start: clean then, all the same. */
	for (uint64_t i = 0; i < pages; i += 2)
		base[i * PAGE] = 1;
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &d), 0);
	assert_int_equal(usm_dirty_backend(d), v->backend);

	collected(d, base, pages, seen);
	for (uint64_t i = 0; i < pages; i++)
		assert_int_equal(seen[i], 0);

	/* 1%, then 10% of the pages, then none: each collect holds exactly
	 * the pages written since the one before. */
	for (int round = 0; round < 3; round++) {
		uint64_t writes = round == 0 ? pages / 100 : round == 1 ? pages / 10 : 0;

		memset(want, 0, pages);
		for (uint64_t k = 0; k < writes; k++) {
			uint64_t p = (uint64_t)rand_r(&seed) % pages;

			base[p * PAGE + (uint64_t)rand_r(&seed) % PAGE] = (char)k;
			want[p] = 1;
		}
		collected(d, base, pages, seen);
		for (uint64_t i = 0; i < pages; i++) {
			if (want[i] && !seen[i])
				fail_msg("%s: page %llu written, not collected (round %d)",
					 v->label, (unsigned long long)i, round);
			if (!want[i] && seen[i] && !(usm_dirty_caps(d) & USM_DIRTY_FALSE_POSITIVES))
				fail_msg("%s: page %llu collected, not written (round %d)",
					 v->label, (unsigned long long)i, round);
		}
		/* none of these writes creates or moves a VMA: exact for all */
		assert_memory_equal(want, seen, pages);
	}
	assert_int_equal(usm_dirty_stop(d), 0);
	/* the range is writable again and tracking undone */
	base[0] = 2;
	free(want);
	free(seen);
}

/* Four writers, each on its own pages, against 1000 collects. A write
 * that begins after collect e started is reported by a collect numbered
 * between e and one past the last collect started when it ended. */
#define WRITERS    4
#define COLLECTS   1000
#define RACE_PAGES 1024
#define PER_EPOCH  16 /* writes per writer per collect, to spread them */

struct record {
	uint32_t page, e_start, e_end;
};

struct race {
	char *base;
	_Atomic uint32_t epoch;
	_Atomic bool stop;
	_Atomic uint32_t ready[WRITERS]; /* epoch in which a writer did its first writes */
	struct record *recs[WRITERS];
	size_t nrecs[WRITERS], cap;
};

struct writer_arg {
	struct race *r;
	int id;
};

static void *writer(void *arg)
{
	struct writer_arg *w = arg;
	struct race *r = w->r;
	unsigned seed = (unsigned)w->id * 7919u + 1;
	uint32_t epoch_seen = UINT32_MAX, in_epoch = 0;

	while (!atomic_load(&r->stop) && r->nrecs[w->id] < r->cap) {
		uint32_t e = atomic_load(&r->epoch);
		uint32_t page;

		if (e != epoch_seen) {
			epoch_seen = e;
			in_epoch = 0;
		}
		if (in_epoch == PER_EPOCH) {
			sched_yield();
			continue;
		}
		in_epoch++;
		page = (uint32_t)((unsigned)rand_r(&seed) % (RACE_PAGES / WRITERS)) * WRITERS +
		       (uint32_t)w->id;
		((volatile char *)r->base)[(uint64_t)page * PAGE + (unsigned)rand_r(&seed) % PAGE] =
			(char)e;
		r->recs[w->id][r->nrecs[w->id]++] =
			(struct record){ page, e, atomic_load(&r->epoch) };
		if (in_epoch == PER_EPOCH / 4)
			atomic_store(&r->ready[w->id], e);
	}
	return NULL;
}

static void four_writers_lose_nothing_over_1000_collects(void **state)
{
	const struct variant *v = *state;
	static unsigned char seen[COLLECTS + 2][RACE_PAGES];
	struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
	struct race r = { .cap = 200000 };
	struct writer_arg args[WRITERS];
	pthread_t threads[WRITERS];
	struct usm_dirty *d;
	size_t checked = 0;

	if (!available(v, 0))
		skip();
	r.base = map(RACE_PAGES);
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)r.base, RACE_PAGES * PAGE, &d),
			 0);
	if (usm_dirty_caps(d) & USM_DIRTY_RACY_COLLECT) {
		printf("# skip %s: the backend reports racy collects here\n", v->label);
		usm_dirty_stop(d);
		munmap(r.base, RACE_PAGES * PAGE);
		skip();
	}
	for (int i = 0; i < WRITERS; i++) {
		r.recs[i] = malloc(r.cap * sizeof(struct record));
		assert_non_null(r.recs[i]);
		args[i] = (struct writer_arg){ &r, i };
		assert_int_equal(pthread_create(&threads[i], NULL, writer, &args[i]), 0);
	}
	for (uint32_t e = 1; e <= COLLECTS; e++) {
		/* Some writes in every epoch, the rest racing with the collect. */
		for (int i = 0; i < WRITERS; i++)
			while (e > 1 && atomic_load(&r.ready[i]) != e - 1 && r.nrecs[i] < r.cap)
				sched_yield();
		atomic_store(&r.epoch, e);
		collected(d, r.base, RACE_PAGES, seen[e]);
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(threads[i], NULL);
	/* a last collect takes the writes of the last epoch */
	atomic_store(&r.epoch, COLLECTS + 1);
	collected(d, r.base, RACE_PAGES, seen[COLLECTS + 1]);

	for (int i = 0; i < WRITERS; i++) {
		for (size_t k = 0; k < r.nrecs[i]; k++) {
			const struct record *w = &r.recs[i][k];
			uint32_t first = w->e_start ? w->e_start : 1, last = w->e_end + 1;
			bool found = false;

			for (uint32_t e = first; e <= last && e <= COLLECTS + 1 && !found; e++)
				found = seen[e][w->page];
			if (!found)
				fail_msg("%s: write to page %u between collects %u and %u lost",
					 v->label, w->page, w->e_start, w->e_end);
			checked++;
		}
		free(r.recs[i]);
	}
	printf("# %s: %zu writes checked\n", v->label, checked);
	assert_true(checked > COLLECTS);
	assert_int_equal(usm_dirty_stop(d), 0);
	munmap(r.base, RACE_PAGES * PAGE);
}

/* A child that writes the pages it is told, one command per pipe byte
 * pair: page number (< 256) then a go. */
static pid_t child_writer(char *base, int *cmd, int *ack)
{
	int to[2], from[2];
	pid_t pid;

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char p;

		close(to[1]);
		close(from[0]);
		while (read(to[0], &p, 1) == 1) {
			if (p != 255)
				base[p * PAGE] = 3;
			if (write(from[1], "k", 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	*cmd = to[1];
	*ack = from[0];
	return pid;
}

static void tell(int cmd, int ack, unsigned char page)
{
	char k;

	assert_int_equal(write(cmd, &page, 1), 1);
	assert_int_equal(read(ack, &k, 1), 1);
}

static void another_process_is_tracked_by_pid(void **state)
{
	const struct variant *v = *state;
	const uint64_t pages = 64;
	char *base = map(pages);
	unsigned char seen[64];
	struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
	const char *why = NULL;
	struct usm_dirty *d;
	unsigned caps = 0;
	int cmd, ack, status, err;
	pid_t pid;

	for (uint64_t i = 0; i < pages; i++)
		base[i * PAGE] = 1;
	pid = child_writer(base, &cmd, &ack);
	c.pid = pid;
	err = usm_dirty_probe(v->backend, pid, v->without, &caps, &why);
	if (v->backend == USM_DIRTY_UFFD || v->backend == USM_DIRTY_MPROTECT) {
		/* the limit is reported, and start refuses */
		assert_int_equal(err, -EOPNOTSUPP);
		assert_non_null(why);
		assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &d),
				 -EOPNOTSUPP);
	} else if (err) {
		printf("# skip %s on another process: %s\n", v->label, why);
	} else if (v->backend == USM_DIRTY_SCAN) {
		/* The child never registered the range for async write-protect,
		 * and only it could. */
		assert_true(caps & USM_DIRTY_OTHER_PROCESS);
		assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &d),
				 -EOPNOTSUPP);
	} else {
		assert_true(caps & USM_DIRTY_OTHER_PROCESS);
		assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &d),
				 0);
		assert_true(usm_dirty_caps(d) & USM_DIRTY_RACY_COLLECT);
		collected(d, base, pages, seen);
		for (uint64_t i = 0; i < pages; i++)
			assert_int_equal(seen[i], 0);
		tell(cmd, ack, 3);
		tell(cmd, ack, 40);
		tell(cmd, ack, 41);
		collected(d, base, pages, seen);
		for (uint64_t i = 0; i < pages; i++)
			assert_int_equal(seen[i], i == 3 || i == 40 || i == 41);
		tell(cmd, ack, 7);
		collected(d, base, pages, seen);
		for (uint64_t i = 0; i < pages; i++)
			assert_int_equal(seen[i], i == 7);
		/* the parent's own writes are not the child's */
		base[9 * PAGE] = 5;
		collected(d, base, pages, seen);
		for (uint64_t i = 0; i < pages; i++)
			assert_int_equal(seen[i], 0);
		assert_int_equal(usm_dirty_stop(d), 0);
	}
	close(cmd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ack);
	munmap(base, pages * PAGE);
}

/* A child that tracks its own range with the scan backend (registering it
 * for async write-protect) lets its parent track it by pid. */
static void scan_tracks_another_process_that_registered_itself(void **state)
{
	const struct variant v = { USM_DIRTY_SCAN, 0, "scan" };
	const uint64_t pages = 64;
	char *base = map(pages);
	unsigned char seen[64];
	struct usm_dirty_config c = { .backend = USM_DIRTY_SCAN };
	struct usm_dirty *d;
	int to[2], from[2], status;
	char k;
	pid_t pid;

	if (!available(&v, 0))
		skip();
	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct usm_dirty *own;

		if (usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &own))
			_exit(2);
		if (write(from[1], "r", 1) != 1 || read(to[0], &k, 1) != 1)
			_exit(3);
		base[5 * PAGE] = 1;
		base[6 * PAGE] = 1;
		if (write(from[1], "w", 1) != 1 || read(to[0], &k, 1) != 1)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(read(from[0], &k, 1), 1);
	c.pid = pid;
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &d), 0);
	assert_int_equal(write(to[1], "g", 1), 1);
	assert_int_equal(read(from[0], &k, 1), 1);
	collected(d, base, pages, seen);
	for (uint64_t i = 0; i < pages; i++)
		assert_int_equal(seen[i], i == 5 || i == 6);
	collected(d, base, pages, seen);
	for (uint64_t i = 0; i < pages; i++)
		assert_int_equal(seen[i], 0);
	assert_int_equal(write(to[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the tracked process is gone */
	assert_int_equal(usm_dirty_collect(d, &(const struct usm_dirty_range *){ NULL }), -ESRCH);
	assert_int_equal(usm_dirty_stop(d), 0);
	close(to[0]);
	close(to[1]);
	close(from[0]);
	close(from[1]);
	munmap(base, pages * PAGE);
}

static void a_missing_kernel_feature_is_reported_and_auto_falls_back(void **state)
{
	const unsigned old_kernel = USM_DIRTY_WITHOUT_PAGEMAP_SCAN | USM_DIRTY_WITHOUT_WP_ASYNC |
				    USM_DIRTY_WITHOUT_WP_UNPOPULATED;
	struct usm_dirty_config c = { .backend = USM_DIRTY_AUTO, .without = old_kernel };
	const char *why = NULL;
	struct usm_dirty *d, *d2;
	char *base = map(16);

	assert_int_equal(usm_dirty_probe(USM_DIRTY_SCAN, 0, USM_DIRTY_WITHOUT_WP_ASYNC, NULL, &why),
			 -ENOSYS);
	assert_non_null(why);
	assert_int_equal(usm_dirty_probe(USM_DIRTY_AUTO, 0, 0, NULL, NULL), -EINVAL);
	assert_string_equal(usm_dirty_backend_name(USM_DIRTY_SCAN), "scan");
	assert_string_equal(usm_dirty_backend_name(USM_DIRTY_MPROTECT), "mprotect");

	/* as on Debian's 6.1: not the scan backend */
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, 8 * PAGE, &d), 0);
	assert_int_not_equal(usm_dirty_backend(d), USM_DIRTY_SCAN);
	if (usm_dirty_backend(d) == USM_DIRTY_SOFTDIRTY) {
		/* without WP_UNPOPULATED the collect cannot be fenced */
		assert_true(usm_dirty_caps(d) & USM_DIRTY_RACY_COLLECT);
		assert_true(usm_dirty_caps(d) & USM_DIRTY_PROCESS_WIDE);
		/* one soft-dirty tracker per process: a second goes elsewhere */
		struct usm_dirty_config sd = { .backend = USM_DIRTY_SOFTDIRTY };
		uint64_t second = (uint64_t)(uintptr_t)base + 8 * PAGE;

		assert_int_equal(usm_dirty_start(&sd, second, 8 * PAGE, &d2), -EBUSY);
		assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base + 8 * PAGE,
						 8 * PAGE, &d2),
				 0);
		assert_int_not_equal(usm_dirty_backend(d2), USM_DIRTY_SOFTDIRTY);
		assert_int_equal(usm_dirty_stop(d2), 0);
	}
	assert_int_equal(usm_dirty_stop(d), 0);
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base + 1, 8 * PAGE, &d),
			 -EINVAL);
	munmap(base, 16 * PAGE);
}

/* A write into a transparent huge page: one page back where the backend
 * splits it, all 512 where it says a huge page counts whole. */
static void a_written_huge_page_is_reported_as_the_backend_says(void **state)
{
	const struct variant *v = *state;
	const uint64_t huge = 2 << 20, pages = 2 * huge / PAGE;
	char *raw = mmap(NULL, 3 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
	char *p = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	unsigned char *seen = calloc(pages, 1);
	struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
	struct usm_dirty *d;
	unsigned caps;
	uint64_t n = 0;

	assert_ptr_not_equal(raw, MAP_FAILED);
	madvise(p, 2 * huge, MADV_HUGEPAGE); /* THP where the machine allows it */
	memset(p, 1, 2 * huge);
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)p, 2 * huge, &d), 0);
	caps = usm_dirty_caps(d);
	p[3 * PAGE] = 2;
	p[huge + 5 * PAGE] = 3;
	collected(d, p, pages, seen);
	for (uint64_t i = 0; i < pages; i++)
		n += seen[i];
	assert_true(seen[3] && seen[512 + 5]);
	if (caps & USM_DIRTY_HUGE_AS_PAGES)
		assert_true(n == 2 || n == 1024); /* 2: the machine gave no THP */
	else
		assert_int_equal(n, 2);
	printf("# %s: %llu pages reported for 2 writes in 2 huge pages\n", v->label,
	       (unsigned long long)n);
	assert_int_equal(usm_dirty_stop(d), 0);
	munmap(raw, 3 * huge);
	free(seen);
}

/* Forced backends refuse what they cannot take: an unmapped range, a range
 * another userfaultfd user registered (the errors dirty.h names). */
static void a_range_a_backend_cannot_take_is_refused(void **state)
{
	char *base = map(8);
	const uint64_t start = (uint64_t)(uintptr_t)base;

	munmap(base + 4 * PAGE, 4 * PAGE);
	for (int b = USM_DIRTY_SCAN; b < USM_DIRTY_BACKENDS; b++) {
		struct usm_dirty_config c = { .backend = (enum usm_dirty_backend)b };
		struct usm_dirty *d, *d2;
		unsigned caps;
		int err;

		if (usm_dirty_probe(c.backend, 0, 0, &caps, NULL))
			continue;
		err = usm_dirty_start(&c, start + 4 * PAGE, 4 * PAGE, &d);
		if (c.backend == USM_DIRTY_SOFTDIRTY) {
			/* clear_refs has no range to check: documented, not refused */
			if (!err)
				usm_dirty_stop(d);
		} else {
			assert_true(err == -EINVAL || err == -ENOMEM);
		}
		if (!(caps & USM_DIRTY_USES_UFFD))
			continue;
		assert_int_equal(usm_dirty_start(&c, start, 4 * PAGE, &d), 0);
		assert_int_equal(usm_dirty_start(&c, start, 4 * PAGE, &d2), -EBUSY);
		assert_int_equal(usm_dirty_stop(d), 0);
	}
	munmap(base, 4 * PAGE);
}

/* The classic way does not scale: every second page of a large range
 * written splits a VMA each, past vm.max_map_count. */
static void mprotect_reports_the_vma_limit_as_enomem(void **state)
{
	const struct variant v = { USM_DIRTY_MPROTECT, 0, "mprotect" };
	const uint64_t pages = 160000;
	struct usm_dirty_config c = { .backend = USM_DIRTY_MPROTECT };
	const struct usm_dirty_range *r;
	struct usm_dirty *d;
	char *base;

	if (!available(&v, 0))
		skip();
	base = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_ptr_not_equal(base, MAP_FAILED);
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, pages * PAGE, &d), 0);
	assert_true(usm_dirty_caps(d) & USM_DIRTY_VMA_LIMIT);
	for (uint64_t i = 0; i < pages; i += 2)
		base[i * PAGE] = 1; /* never a crash: the handler unprotects all */
	assert_int_equal(usm_dirty_collect(d, &r), -ENOMEM);
	/* re-armed whole: the next round works */
	base[PAGE] = 1;
	assert_int_equal(usm_dirty_collect(d, &r), 1);
	assert_true(r[0].start == (uint64_t)(uintptr_t)base + PAGE);
	assert_int_equal(usm_dirty_stop(d), 0);
	munmap(base, pages * PAGE);
}

static sigjmp_buf jump;
static volatile sig_atomic_t jump_armed;

/* Stays installed under the tracker's handler after its test: outside the
 * test a fault crashes as it would have. */
static void test_segv(int sig)
{
	if (jump_armed)
		siglongjmp(jump, 1);
	signal(SIGSEGV, SIG_DFL);
}

static void a_fault_outside_tracked_ranges_reaches_the_previous_handler(void **state)
{
	const struct variant v = { USM_DIRTY_MPROTECT, 0, "mprotect" };
	struct usm_dirty_config c = { .backend = USM_DIRTY_MPROTECT };
	struct sigaction sa = { .sa_handler = test_segv };
	struct usm_dirty *d;
	char *base = map(4), *none;
	volatile int reached = 0;

	if (!available(&v, 0))
		skip();
	none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(none, MAP_FAILED);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0);
	/* the first mprotect tracker of the process installs its handler on
	 * top of ours (this test runs first) */
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, 4 * PAGE, &d), 0);
	jump_armed = 1;
	if (sigsetjmp(jump, 1) == 0) {
		base[PAGE] = 1; /* tracked: handled there, no jump */
		reached = 1;
		*(volatile char *)none = 1;
		reached = 3;
	} else {
		reached++;
	}
	jump_armed = 0;
	assert_int_equal(usm_dirty_stop(d), 0);
	assert_int_equal(reached, 2);
	munmap(none, PAGE);
	munmap(base, 4 * PAGE);
}

/* A backend or kernel feature the machine lacks: its tests are not run,
 * the reason is printed, and this one proves that the lack is reported
 * (by the probe and by a forced start, with the same error) and that
 * AUTO does not pick it. */
static void a_missing_backend_is_refused_with_the_probes_reason(void **state)
{
	const struct variant *v = *state;
	struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
	const char *why = NULL;
	struct usm_dirty *d;
	char *base = map(4);
	int err = usm_dirty_probe(v->backend, 0, v->without, NULL, &why);

	assert_true(err < 0);
	assert_non_null(why);
	printf("# skip %s: %s (%s)\n", v->label, why, strerror(-err));
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, 4 * PAGE, &d), err);
	c.backend = USM_DIRTY_AUTO;
	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, 4 * PAGE, &d), 0);
	assert_int_not_equal(usm_dirty_backend(d), v->backend);
	assert_int_equal(usm_dirty_stop(d), 0);
	munmap(base, 4 * PAGE);
}

/* A backend whose collects cannot be fenced here says so: the 4-writer
 * test, which would lose writes by design, is not run. */
static void racy_collects_are_reported(void **state)
{
	const struct variant *v = *state;
	struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
	struct usm_dirty *d;
	char *base = map(4);

	assert_int_equal(usm_dirty_start(&c, (uint64_t)(uintptr_t)base, 4 * PAGE, &d), 0);
	assert_true(usm_dirty_caps(d) & USM_DIRTY_RACY_COLLECT);
	printf("# skip %s: 4 writers: the backend reports racy collects here\n", v->label);
	assert_int_equal(usm_dirty_stop(d), 0);
	munmap(base, 4 * PAGE);
}

/* cmocka's TAP output marks a skipped case "not ok": the tests of what the
 * machine lacks are chosen here instead, each lack printed by a test. */
static bool racy_here(const struct variant *v)
{
	struct usm_dirty_config c = { .backend = v->backend, .without = v->without };
	struct usm_dirty *d;
	char *base = map(4);
	bool racy = false;

	if (usm_dirty_start(&c, (uint64_t)(uintptr_t)base, 4 * PAGE, &d) == 0) {
		racy = usm_dirty_caps(d) & USM_DIRTY_RACY_COLLECT;
		usm_dirty_stop(d);
	}
	munmap(base, 4 * PAGE);
	return racy;
}

#define TEST_WITH(label, fn, v) \
	((struct CMUnitTest){ .name = (label), .test_func = (fn), .initial_state = (void *)(v) })

int main(void)
{
	static const struct variant scan = { USM_DIRTY_SCAN, 0, "scan" };
	static const struct variant mprot = { USM_DIRTY_MPROTECT, 0, "mprotect" };
	static char names[VARIANTS][5][128];
	struct CMUnitTest tests[5 * VARIANTS + 5];
	size_t n = 0;

	/* The chaining test first: the first mprotect tracker's handler goes
	 * on top of the test's own. */
	if (usm_dirty_probe(USM_DIRTY_MPROTECT, 0, 0, NULL, NULL) == 0)
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(
			a_fault_outside_tracked_ranges_reaches_the_previous_handler);
	for (size_t i = 0; i < VARIANTS; i++) {
		const struct variant *v = &variants[i];
		char(*name)[128] = names[i];

		if (usm_dirty_probe(v->backend, 0, v->without, NULL, NULL)) {
			snprintf(name[0], sizeof(name[0]), "%s: missing here, refused", v->label);
			tests[n++] = TEST_WITH(
				name[0], a_missing_backend_is_refused_with_the_probes_reason, v);
			continue;
		}
		snprintf(name[0], sizeof(name[0]), "%s: random writes collected exactly", v->label);
		tests[n++] = TEST_WITH(name[0], random_writes_are_collected_exactly, v);
		snprintf(name[4], sizeof(name[4]), "%s: a written huge page as reported", v->label);
		tests[n++] =
			TEST_WITH(name[4], a_written_huge_page_is_reported_as_the_backend_says, v);
		snprintf(name[3], sizeof(name[3]), "%s: shared memory exactly or refused",
			 v->label);
		tests[n++] =
			TEST_WITH(name[3], shared_memory_is_collected_exactly_where_supported, v);
		if (racy_here(v)) {
			snprintf(name[1], sizeof(name[1]), "%s: racy collects reported", v->label);
			tests[n++] = TEST_WITH(name[1], racy_collects_are_reported, v);
		} else {
			snprintf(name[1], sizeof(name[1]),
				 "%s: 4 writers lose nothing over 1000 collects", v->label);
			tests[n++] =
				TEST_WITH(name[1], four_writers_lose_nothing_over_1000_collects, v);
		}
		snprintf(name[2], sizeof(name[2]), "%s: another process tracked by pid or refused",
			 v->label);
		tests[n++] = TEST_WITH(name[2], another_process_is_tracked_by_pid, v);
	}
	if (usm_dirty_probe(scan.backend, 0, 0, NULL, NULL) == 0)
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(
			scan_tracks_another_process_that_registered_itself);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
		a_missing_kernel_feature_is_reported_and_auto_falls_back);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(a_range_a_backend_cannot_take_is_refused);
	if (usm_dirty_probe(mprot.backend, 0, 0, NULL, NULL) == 0)
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(
			mprotect_reports_the_vma_limit_as_enomem);
	return _cmocka_run_group_tests("dirty", tests, n, NULL, NULL);
}
