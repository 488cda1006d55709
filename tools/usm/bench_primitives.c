/* usm bench primitives: each primitive timed as the median of runs, usm's
 * API against the classic way (bench_classic.c) in the same process:
 *   syscall         an empty system call, the unit of everything below
 *   faults          a kernel anonymous fault; a userfaultfd missing fault
 *                   served by usm's pager
 *   write-protect   Appel and Li's PROT1,TRAP,UNPROT and PROTN,TRAP,UNPROT
 *                   for each usm_wprotect mechanism
 *   dirty tracking  a cycle (writes, then one collect) over the range for
 *                   each usm_dirty backend, 0.1%, 1% and 10% written; and
 *                   every second page written, where the classic way runs
 *                   into vm.max_map_count. */
#include "bench_primitives.h"
#include "bench_bare.h"
#include "bench_classic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <usm/usm.h>

#include "base/clock.h"

#define PAGE 4096UL
/* Past this many writes the VMA-limit pattern is not worth reaching. */
#define VMA_PATTERN_MAX_WRITES (1UL << 20)

static const double fractions[] = {0.1, 1.0, 10.0};
#define NFRACTIONS (sizeof(fractions) / sizeof(fractions[0]))

static const enum usm_dirty_backend backends[] = {
        USM_DIRTY_SCAN,
        USM_DIRTY_SOFTDIRTY,
        USM_DIRTY_UFFD,
        USM_DIRTY_MPROTECT,
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

static const enum usm_wprotect_mech mechs[] = {
        USM_WPROTECT_UFFD_SIGBUS,
        USM_WPROTECT_MPROTECT,
        USM_WPROTECT_UFFD_THREAD,
};
#define NMECHS (sizeof(mechs) / sizeof(mechs[0]))

/* ---- rows ---- */

static struct bench_row *add_row(struct bench_rows *rows, const char *primitive,
                                 const char *mechanism, const char *way, uint64_t pages)
{
	struct bench_row *r;

	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 32;
		struct bench_row *v = realloc(rows->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		rows->v = v;
		rows->cap = cap;
	}
	r = &rows->v[rows->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->primitive, sizeof(r->primitive), "%s", primitive);
	snprintf(r->mechanism, sizeof(r->mechanism), "%s", mechanism);
	r->way = way;
	r->pages = pages;
	r->written_pct = -1;
	return r;
}

static void note(struct bench_row *r, enum bench_status status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void note(struct bench_row *r, enum bench_status status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
}

void bench_rows_free(struct bench_rows *rows)
{
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

static void progress(const struct bench_config *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void progress(const struct bench_config *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->progress)
		return;
	fprintf(c->progress, "usm bench: ");
	va_start(ap, fmt);
	vfprintf(c->progress, fmt, ap);
	va_end(ap);
	fputc('\n', c->progress);
	fflush(c->progress);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t bench_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* Private anonymous pages in base pages only (a huge page would change
 * what a fault and a protect cost), populated by a write when asked. */
static char *map_pages(size_t pages, bool populate)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	               0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	if (populate)
		for (size_t i = 0; i < pages; i++)
			p[i * PAGE] = 1;
	return p;
}

static inline void touch(char *base, size_t page, char v)
{
	*(volatile char *)(base + page * PAGE) = v;
}

/* ---- syscall ---- */

static int bench_syscall(const struct bench_config *c, struct bench_rows *rows, uint64_t *ns)
{
	size_t iters = c->quick ? 20000 : 500000;
	uint64_t t[c->runs];
	struct bench_row *r;

	for (unsigned run = 0; run < c->runs; run++) {
		uint64_t t0 = usm_now_ns();

		for (size_t i = 0; i < iters; i++)
			syscall(SYS_getppid);
		t[run] = (usm_now_ns() - t0) / iters;
	}
	r = add_row(rows, "syscall", "getppid", "kernel", 0);
	if (!r)
		return -ENOMEM;
	*ns = r->ns = median(t, c->runs);
	note(r, BENCH_OK, "an empty system call, the unit of the rest");
	return 0;
}

/* ---- faults ---- */

static int bench_faults(const struct bench_config *c, struct bench_rows *rows)
{
	size_t pages = c->quick ? 512 : 4096;
	uint64_t tk[c->runs], tp[c->runs];
	struct usm_pager_config pc;
	struct usm_pager *pager = NULL;
	struct bench_row *rk, *rp;
	const char *what = "usm_pager_start";
	int err;

	progress(c, "faults: kernel anonymous, userfaultfd missing (usm pager)");
	usm_pager_config_defaults(&pc);
	pc.fault_size = PAGE;
	pc.prefetch = 0;
	pc.limit = 0;
	err = usm_pager_start(&pc, &pager);
	/* the pager has no stop: its thread sleeps until the process ends */
	/* each run times both, one after the other, so that a burst of load on
	 * this shared machine falls on both */
	for (unsigned run = 0; run < c->runs; run++) {
		char *p = map_pages(pages, false);
		uint64_t t0;

		if (!p)
			return -ENOMEM;
		t0 = usm_now_ns();
		for (size_t i = 0; i < pages; i++)
			touch(p, i, 1);
		tk[run] = (usm_now_ns() - t0) / pages;
		munmap(p, pages * PAGE);
		if (err)
			continue;
		p = map_pages(pages, false);
		if (!p)
			return -ENOMEM;
		err = usm_pager_add(pager, p, pages * PAGE);
		if (err) {
			what = "usm_pager_add";
			munmap(p, pages * PAGE);
			continue;
		}
		t0 = usm_now_ns();
		for (size_t i = 0; i < pages; i++)
			touch(p, i, 1);
		tp[run] = (usm_now_ns() - t0) / pages;
		usm_pager_munmap(pager, p, pages * PAGE);
	}
	rk = add_row(rows, "first-write fault", "kernel anonymous", "classic", 1);
	rp = rk ? add_row(rows, "first-write fault", "uffd missing (pager)", "usm", 1) : NULL;
	if (!rp)
		return -ENOMEM;
	rk = rp - 1;
	rk->ns = rk->classic_ns = median(tk, c->runs);
	note(rk, BENCH_OK, "first write to a page, per page of %zu", pages);
	if (err) {
		note(rp, BENCH_UNAVAILABLE, "unavailable: %s: %s", what, strerror(-err));
		return 0;
	}
	rp->ns = median(tp, c->runs);
	rp->classic_ns = rk->ns;
	note(rp, BENCH_OK,
	     "first write, filled by the pager thread (4K blocks, no prefetch), per page of %zu",
	     pages);
	return 0;
}

/* ---- write-protect traps ---- */

static void wp_callback(void *page, void *arg)
{
	(void)page;
	(void)arg;
}

/* One run of PROT1 (protect a page, write it: the trap, whose handler
 * unprotects it) and PROTN (protect n pages at once, then the same per
 * page) the classic way; per page. */
static int classic_traps(char *a, size_t n, uint64_t *prot1, uint64_t *protn)
{
	int err = classic_begin(a, n * PAGE, false);
	uint64_t t0;

	if (err)
		return err;
	t0 = usm_now_ns();
	for (size_t i = 0; i < n && !err; i++) {
		err = classic_protect(a + i * PAGE, PAGE);
		touch(a, i, 2);
	}
	*prot1 = (usm_now_ns() - t0) / n;
	t0 = usm_now_ns();
	if (!err)
		err = classic_protect(a, n * PAGE);
	for (size_t i = 0; i < n && !err; i++)
		touch(a, i, 3);
	*protn = (usm_now_ns() - t0) / n;
	if (!err && classic_unprotects() != 2 * n)
		err = -EIO;
	classic_end();
	return err;
}

/* The same through usm_wprotect with mech. */
static int usm_traps(char *a, size_t n, enum usm_wprotect_mech mech, uint64_t *prot1,
                     uint64_t *protn, const char **what)
{
	struct usm_wprotect *w;
	uint64_t t0;
	int err;

	*what = "usm_wprotect_open";
	err = usm_wprotect_open(a, n * PAGE, mech, 0, wp_callback, NULL, &w);
	if (err)
		return err;
	/* open protects the whole range: take those first traps */
	for (size_t i = 0; i < n; i++)
		touch(a, i, 1);
	*what = "usm_wprotect_arm";
	t0 = usm_now_ns();
	for (size_t i = 0; i < n && !err; i++) {
		err = usm_wprotect_arm(w, a + i * PAGE, PAGE);
		touch(a, i, 2);
	}
	*prot1 = (usm_now_ns() - t0) / n;
	t0 = usm_now_ns();
	if (!err)
		err = usm_wprotect_arm(w, a, n * PAGE);
	for (size_t i = 0; i < n && !err; i++)
		touch(a, i, 3);
	*protn = (usm_now_ns() - t0) / n;
	if (!err && usm_wprotect_traps(w) != 3 * n) {
		*what = "callback count";
		err = -EIO;
	}
	usm_wprotect_close(w);
	return err;
}

static int bench_traps(const struct bench_config *c, struct bench_rows *rows)
{
	size_t n = c->quick ? 64 : 1024;
	/* [0] the classic way, [1 + m] mechs[m] */
	uint64_t t1[NMECHS + 1][c->runs], tn[NMECHS + 1][c->runs];
	const char *what[NMECHS + 1] = {""};
	int err[NMECHS + 1] = {0};
	char *a = map_pages(n, true);
	size_t first;

	if (!a)
		return -ENOMEM;
	progress(c, "write-protect traps: classic, then each usm_wprotect mechanism");
	for (size_t m = 0; m < NMECHS; m++)
		if ((err[1 + m] = usm_wprotect_probe(mechs[m])))
			what[1 + m] = "unavailable";
	/* each run takes every way in turn: a burst of load falls on all */
	for (unsigned run = 0; run < c->runs; run++) {
		if (!err[0])
			err[0] = classic_traps(a, n, &t1[0][run], &tn[0][run]);
		for (size_t m = 0; m < NMECHS; m++)
			if (!err[1 + m])
				err[1 + m] = usm_traps(a, n, mechs[m], &t1[1 + m][run],
				                       &tn[1 + m][run], &what[1 + m]);
	}
	munmap(a, n * PAGE);
	first = rows->n; /* the classic rows, then the mechanisms' */
	for (size_t m = 0; m <= NMECHS; m++) {
		const char *name = m ? usm_wprotect_mech_name(mechs[m - 1]) : "mprotect+SIGSEGV";
		const char *way = m ? "usm" : "classic";
		struct bench_row *r1 = add_row(rows, "PROT1,TRAP,UNPROT", name, way, 1);
		struct bench_row *rn = r1 ? add_row(rows, "PROTN,TRAP,UNPROT", name, way, n) : NULL;

		if (!rn)
			return -ENOMEM;
		r1 = rn - 1;
		if (err[m] && !strcmp(what[m], "unavailable")) {
			note(r1, BENCH_UNAVAILABLE, "unavailable: %s", strerror(-err[m]));
			note(rn, BENCH_UNAVAILABLE, "unavailable: %s", strerror(-err[m]));
			continue;
		}
		if (err[m]) {
			note(r1, BENCH_FAILED, "failed: %s%s%s", what[m], *what[m] ? ": " : "",
			     strerror(-err[m]));
			note(rn, BENCH_FAILED, "failed: %s%s%s", what[m], *what[m] ? ": " : "",
			     strerror(-err[m]));
			continue;
		}
		r1->ns = median(t1[m], c->runs);
		rn->ns = median(tn[m], c->runs);
		if (!err[0]) {
			r1->classic_ns = rows->v[first].ns;
			rn->classic_ns = rows->v[first + 1].ns;
		}
		if (m) {
			note(r1, BENCH_OK, "per page: usm_wprotect_arm of a page, trap, callback");
			note(rn, BENCH_OK,
			     "per page: usm_wprotect_arm of %zu pages, then trap, callback", n);
		} else {
			note(r1, BENCH_OK, "per page: mprotect, trap, handler's mprotect");
			note(rn, BENCH_OK,
			     "per page: one mprotect of %zu pages, then trap, mprotect", n);
		}
	}
	return 0;
}

/* ---- dirty tracking ---- */

/* The classic tracker, the bare scan mechanism or a usm backend, behind
 * the same three calls. */
enum tracker_kind { CLASSIC, BARE_SCAN, USM };

struct tracker {
	enum tracker_kind kind;
	enum usm_dirty_backend backend; /* USM */
	struct usm_dirty *d;
	struct bare_scan *bare;
	char *base;
	size_t len;
};

static int tracker_start(struct tracker *t)
{
	struct usm_dirty_config dc = {.backend = t->backend};
	int err;

	if (t->kind == USM)
		return usm_dirty_start(&dc, (uint64_t)(uintptr_t)t->base, t->len, &t->d);
	if (t->kind == BARE_SCAN)
		return bare_scan_start(t->base, t->len, &t->bare);
	err = classic_begin(t->base, t->len, true);
	if (!err)
		err = classic_protect(t->base, t->len);
	if (err)
		classic_end();
	return err;
}

/* Pages written since the last collect, or a negative errno. */
static long tracker_collect(struct tracker *t)
{
	const struct usm_dirty_range *r;
	long pages = 0;
	int n;

	if (t->kind == CLASSIC)
		return classic_collect();
	if (t->kind == BARE_SCAN)
		return bare_scan_collect(t->bare);
	n = usm_dirty_collect(t->d, &r);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		pages += (long)((r[i].end - r[i].start) / PAGE);
	return pages;
}

static void tracker_stop(struct tracker *t)
{
	if (t->kind == USM) {
		usm_dirty_stop(t->d);
		t->d = NULL;
	} else if (t->kind == BARE_SCAN) {
		bare_scan_stop(t->bare);
		t->bare = NULL;
	} else {
		classic_unprotect(t->base, t->len);
		classic_end();
	}
}

/* One cycle: the k pages of order written, then a collect. */
static long cycle(struct tracker *t, const uint32_t *order, size_t k, uint64_t *cycle_ns,
                  uint64_t *collect_ns)
{
	uint64_t t0 = usm_now_ns(), t1;
	long got;

	for (size_t i = 0; i < k; i++)
		touch(t->base, order[i], (char)i);
	t1 = usm_now_ns();
	got = tracker_collect(t);
	*collect_ns = usm_now_ns() - t1;
	*cycle_ns = usm_now_ns() - t0;
	return got;
}

/* The trackers of each pattern in order: the classic one first (the
 * baseline), the bare mechanism, then usm's backends. */
static const char *tracker_set(struct tracker *t, size_t i)
{
	t->kind = i == 0 ? CLASSIC : i == 1 ? BARE_SCAN : USM;
	t->backend = i >= 2 ? backends[i - 2] : USM_DIRTY_AUTO;
	return i == 0   ? "mprotect+SIGSEGV"
	       : i == 1 ? "bare PAGEMAP_SCAN"
	                : usm_dirty_backend_name(t->backend);
}

static const char *tracker_way(const struct tracker *t)
{
	return t->kind == CLASSIC ? "classic" : t->kind == BARE_SCAN ? "bare" : "usm";
}

#define NTRACKERS (NBACKENDS + 2)

static void start_failed(struct bench_row *r, const struct tracker *t, int err)
{
	if (t->kind == BARE_SCAN && (err == -ENOSYS || err == -ENOTTY))
		note(r, BENCH_UNAVAILABLE,
		     "unavailable: needs UFFD_FEATURE_WP_ASYNC and "
		     "PAGEMAP_SCAN (Linux 6.7+)");
	else if (t->kind == BARE_SCAN && err == -EPERM)
		note(r, BENCH_UNAVAILABLE, "unavailable: no userfaultfd for this user");
	else
		note(r, BENCH_FAILED, "failed: start: %s", strerror(-err));
}

/* A fixed shuffle of the range's pages: the first k of it are the k
 * written pages of each share, the same for every backend. */
static uint32_t *shuffle(size_t pages)
{
	uint32_t *v = malloc(pages * sizeof(*v));
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	if (!v)
		return NULL;
	for (size_t i = 0; i < pages; i++)
		v[i] = (uint32_t)i;
	for (size_t i = pages - 1; i > 0; i--) {
		size_t j;
		uint32_t tmp;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = (size_t)(x % (i + 1));
		tmp = v[i];
		v[i] = v[j];
		v[j] = tmp;
	}
	return v;
}

static size_t written_pages(size_t pages, double pct)
{
	size_t k = (size_t)((double)pages * pct / 100.0 + 0.5);

	return k ? k : 1;
}

static int bench_tracking(const struct bench_config *c, struct bench_rows *rows)
{
	size_t pages = c->size / PAGE;
	struct {
		const char *unavailable; /* the probe's reason */
		int start_err;
		bool failed[NFRACTIONS];
		long got[NFRACTIONS]; /* when failed: the collect's error or count */
	} res[NTRACKERS] = {0};
	/* [tracker][share][run] */
	uint64_t *tc = calloc(NTRACKERS * NFRACTIONS * c->runs, sizeof(*tc));
	uint64_t *tl = calloc(NTRACKERS * NFRACTIONS * c->runs, sizeof(*tl));
	uint32_t *order = shuffle(pages);
	struct tracker t = {.len = pages * PAGE};
	uint64_t classic_ns[NFRACTIONS] = {0};
	char size[32];
	int ret = 0;

	usm_format_size(c->size, size, sizeof(size));
	t.base = tc && tl && order ? map_pages(pages, true) : NULL;
	if (!t.base) {
		free(tc);
		free(tl);
		free(order);
		return -ENOMEM;
	}
	for (size_t b = 0; b < NTRACKERS; b++) {
		const char *why = NULL;
		unsigned caps;

		tracker_set(&t, b);
		if (t.kind == USM && usm_dirty_probe(t.backend, 0, 0, &caps, &why))
			res[b].unavailable = why ? why : "the backend's probe failed";
	}
	/* Each run takes every tracker in turn (a start, at each share a
	 * cycle to warm up and a timed one, a stop): a burst of load on this
	 * shared machine falls on all of them, not on one row. */
	for (unsigned run = 0; run < c->runs; run++) {
		progress(c, "tracking cycles over %s, each backend in turn: run %u of %u", size,
		         run + 1, c->runs);
		for (size_t b = 0; b < NTRACKERS; b++) {
			tracker_set(&t, b);
			if (res[b].unavailable || res[b].start_err)
				continue;
			if ((res[b].start_err = tracker_start(&t)))
				continue;
			for (size_t f = 0; f < NFRACTIONS; f++) {
				size_t k = written_pages(pages, fractions[f]);
				size_t at = (b * NFRACTIONS + f) * c->runs + run;
				long got;

				if (res[b].failed[f])
					continue;
				got = cycle(&t, order, k, &tc[at], &tl[at]);
				if (got == (long)k)
					got = cycle(&t, order, k, &tc[at], &tl[at]);
				if (got != (long)k) {
					res[b].failed[f] = true;
					res[b].got[f] = got;
				}
			}
			tracker_stop(&t);
		}
	}
	munmap(t.base, t.len);
	free(order);

	for (size_t b = 0; b < NTRACKERS && !ret; b++) {
		const char *name = tracker_set(&t, b), *way = tracker_way(&t);
		struct bench_row *r;

		if (res[b].unavailable || res[b].start_err) {
			if (!(r = add_row(rows, "tracking cycle", name, way, pages)))
				ret = -ENOMEM;
			else if (res[b].unavailable)
				note(r, BENCH_UNAVAILABLE, "unavailable: %s", res[b].unavailable);
			else
				start_failed(r, &t, res[b].start_err);
			continue;
		}
		for (size_t f = 0; f < NFRACTIONS && !ret; f++) {
			size_t k = written_pages(pages, fractions[f]);
			size_t at = (b * NFRACTIONS + f) * c->runs;
			long got = res[b].got[f];

			if (!(r = add_row(rows, "tracking cycle", name, way, pages))) {
				ret = -ENOMEM;
				break;
			}
			r->written_pct = fractions[f];
			if (res[b].failed[f] && got < 0) {
				note(r, BENCH_FAILED, "failed: collect: %s", strerror((int)-got));
				continue;
			}
			if (res[b].failed[f]) {
				note(r, BENCH_FAILED,
				     "failed: collected %ld pages, %zu were written", got, k);
				continue;
			}
			r->ns = median(&tc[at], c->runs);
			r->collect_ns = median(&tl[at], c->runs);
			if (t.kind == CLASSIC)
				classic_ns[f] = r->ns;
			r->classic_ns = classic_ns[f];
			note(r, BENCH_OK, "%zu random pages written, then one collect", k);
		}
	}
	free(tc);
	free(tl);
	return ret;
}

/* Every second page written: each unprotected page is a VMA of its own,
 * the classic way fails once they pass vm.max_map_count. */
static int bench_vma_limit(const struct bench_config *c, struct bench_rows *rows)
{
	uint64_t max = bench_max_map_count();
	size_t writes = max, pages = 2 * writes;
	/* a cycle here is long (the uffd backend's 65 530 traps): one will do
	 * for a test */
	unsigned runs = c->quick ? 1 : c->runs;
	uint64_t tc[runs];
	uint32_t *order;
	struct tracker t = {.len = pages * PAGE};
	const char *primitive = "tracking, every 2nd page";
	char size[32];
	int ret = 0;

	if (!max || max > VMA_PATTERN_MAX_WRITES) {
		struct bench_row *r = add_row(rows, primitive, "mprotect+SIGSEGV", "classic", 0);

		if (!r)
			return -ENOMEM;
		note(r, BENCH_UNAVAILABLE,
		     "unavailable: vm.max_map_count is %llu: the limit is out of reach",
		     (unsigned long long)max);
		return 0;
	}
	usm_format_size(pages * PAGE, size, sizeof(size));
	progress(c, "every second page of %s written: the VMA limit (vm.max_map_count %llu)", size,
	         (unsigned long long)max);
	order = malloc(writes * sizeof(*order));
	t.base = order ? map_pages(pages, false) : NULL;
	if (!t.base) {
		free(order);
		return -ENOMEM;
	}
	for (size_t i = 0; i < writes; i++) {
		order[i] = (uint32_t)(2 * i);
		touch(t.base, order[i], 1);
	}
	for (size_t b = 0; b < NTRACKERS; b++) {
		const char *name = tracker_set(&t, b), *why = "";
		struct bench_row *r = add_row(rows, primitive, name, tracker_way(&t), pages);
		uint64_t collect_ns;
		unsigned caps;
		long got = 0;
		int err;

		if (!r)
			goto nomem;
		r->written_pct = 50;
		if (t.kind == USM && (err = usm_dirty_probe(t.backend, 0, 0, &caps, &why))) {
			note(r, BENCH_UNAVAILABLE, "unavailable: %s", why);
			continue;
		}
		if ((err = tracker_start(&t))) {
			start_failed(r, &t, err);
			continue;
		}
		if (t.kind == CLASSIC) {
			/* the writes stop where the handler could not unprotect */
			size_t i;

			for (i = 0; i < writes && !classic_overflowed(); i++)
				touch(t.base, order[i], 2);
			got = classic_overflowed() ? -ENOMEM : 0;
			tracker_collect(&t);
			tracker_stop(&t);
			if (got == -ENOMEM) {
				note(r, BENCH_FAILED,
				     "failed: ENOMEM after %llu of %zu pages (vm.max_map_count "
				     "%llu)",
				     (unsigned long long)classic_unprotects(), writes,
				     (unsigned long long)max);
				continue;
			}
			got = 0;
		}
		for (unsigned run = 0; run < runs; run++) {
			got = cycle(&t, order, writes, &tc[run], &collect_ns);
			if (got != (long)writes)
				break;
		}
		tracker_stop(&t);
		if (got == -ENOMEM)
			note(r, BENCH_FAILED,
			     "failed: collect: ENOMEM (vm.max_map_count %llu): the whole range "
			     "must be taken as written",
			     (unsigned long long)max);
		else if (got < 0)
			note(r, BENCH_FAILED, "failed: collect: %s", strerror((int)-got));
		else if (got != (long)writes)
			note(r, BENCH_FAILED, "failed: collected %ld pages, %zu were written", got,
			     writes);
		else {
			r->ns = median(tc, runs);
			note(r, BENCH_OK, "%zu pages written, then one collect%s", writes,
			     t.kind == CLASSIC ? "" : "; the classic way fails here");
		}
	}
	goto out;
nomem:
	ret = -ENOMEM;
out:
	munmap(t.base, t.len);
	free(order);
	return ret;
}

int bench_primitives(const struct bench_config *c, struct bench_rows *rows)
{
	uint64_t syscall_ns;
	int err;

	if ((err = bench_syscall(c, rows, &syscall_ns)) || (err = bench_faults(c, rows)) ||
	    (err = bench_traps(c, rows)) || (err = bench_tracking(c, rows)) ||
	    (err = bench_vma_limit(c, rows)))
		return err;
	return 0;
}
