/* The reference's hot-site rule over a stream of syscall entries and exits,
 * with every site kept in a growing hash table instead of its 16 slots. */
#include "syscalls/sites.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sc_hist_add(struct sc_hist *h, uint64_t v)
{
	size_t i;

	h->n++;
	h->sum += v;
	if (v < SC_HIST_SUB) {
		i = v;
	} else {
		unsigned e = 63 - (unsigned)__builtin_clzll(v);

		if (e >= SC_HIST_MAX_EXP)
			i = SC_HIST_BUCKETS - 1;
		else
			i = SC_HIST_SUB + (e - 4) * SC_HIST_SUB + ((v >> (e - 4)) & (SC_HIST_SUB - 1));
	}
	h->b[i]++;
}

static uint64_t bucket_mid(size_t i)
{
	unsigned e;
	uint64_t low;

	if (i < SC_HIST_SUB)
		return i;
	e = (unsigned)((i - SC_HIST_SUB) / SC_HIST_SUB) + 4;
	low = (uint64_t)(SC_HIST_SUB + (i - SC_HIST_SUB) % SC_HIST_SUB) << (e - 4);
	return low + ((1ull << (e - 4)) >> 1);
}

uint64_t sc_hist_quantile(const struct sc_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (size_t i = 0; i < SC_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return bucket_mid(i);
	}
	return bucket_mid(SC_HIST_BUCKETS - 1);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

int sc_state_init(struct sc_state *st, unsigned ncpu, uint64_t short_gap_ns, uint64_t hot_count,
		  uint64_t window)
{
	memset(st, 0, sizeof(*st));
	st->short_gap_ns = short_gap_ns;
	st->hot_count = hot_count;
	st->window = window;
	st->ncpu = ncpu;
	st->cpus = calloc(ncpu, sizeof(*st->cpus));
	return st->cpus ? 0 : -ENOMEM;
}

void sc_state_free(struct sc_state *st)
{
	for (size_t i = 0; i < st->nsites; i++) {
		free(st->sites[i]->win_short);
		free(st->sites[i]->callers);
		free(st->sites[i]);
	}
	free(st->sites);
	free(st->site_map);
	free(st->threads);
	free(st->cpus);
	memset(st, 0, sizeof(*st));
}

static struct sc_thread *thread(struct sc_state *st, pid_t tid)
{
	size_t mask, i;

	if ((st->nthreads + 1) * 2 > st->threads_cap) {
		size_t ncap = st->threads_cap ? st->threads_cap * 2 : 64;
		struct sc_thread *nt = calloc(ncap, sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t j = 0; j < st->threads_cap; j++) {
			struct sc_thread *o = &st->threads[j];

			if (!o->tid)
				continue;
			for (i = mix((uint64_t)o->tid) & (ncap - 1); nt[i].tid; i = (i + 1) & (ncap - 1))
				;
			nt[i] = *o;
		}
		free(st->threads);
		st->threads = nt;
		st->threads_cap = ncap;
	}
	mask = st->threads_cap - 1;
	for (i = mix((uint64_t)tid) & mask; st->threads[i].tid; i = (i + 1) & mask)
		if (st->threads[i].tid == tid)
			return &st->threads[i];
	st->threads[i] = (struct sc_thread){ .tid = tid, .site = SIZE_MAX };
	st->nthreads++;
	return &st->threads[i];
}

static uint64_t site_hash(pid_t pid, uint64_t addr)
{
	return mix(addr ^ ((uint64_t)(uint32_t)pid << 47));
}

long sc_site(struct sc_state *st, pid_t pid, uint64_t addr)
{
	size_t mask, i;
	struct sc_site *s;

	if ((st->nsites + 1) * 2 > st->site_map_cap) {
		size_t ncap = st->site_map_cap ? st->site_map_cap * 2 : 64;
		size_t *nm = malloc(ncap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		memset(nm, 0xff, ncap * sizeof(*nm));
		for (size_t j = 0; j < st->nsites; j++) {
			for (i = site_hash(st->sites[j]->pid, st->sites[j]->addr) & (ncap - 1);
			     nm[i] != SIZE_MAX; i = (i + 1) & (ncap - 1))
				;
			nm[i] = j;
		}
		free(st->site_map);
		st->site_map = nm;
		st->site_map_cap = ncap;
	}
	mask = st->site_map_cap - 1;
	for (i = site_hash(pid, addr) & mask; st->site_map[i] != SIZE_MAX; i = (i + 1) & mask) {
		s = st->sites[st->site_map[i]];
		if (s->pid == pid && s->addr == addr)
			return (long)st->site_map[i];
	}
	if (st->nsites == st->sites_cap) {
		size_t ncap = st->sites_cap ? st->sites_cap * 2 : 32;
		struct sc_site **ns = realloc(st->sites, ncap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		st->sites = ns;
		st->sites_cap = ncap;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->win_short = calloc(st->ncpu, sizeof(*s->win_short)))) {
		free(s);
		return -ENOMEM;
	}
	s->pid = pid;
	s->addr = addr;
	st->sites[st->nsites] = s;
	st->site_map[i] = st->nsites;
	return (long)st->nsites++;
}

/* The end of a window of st->window syscalls on cpu: the rule of
 * zz_lkm/stat.c, a site with more than hot_count short syscalls in it is
 * hot, when the window took under a second (a slow trickle is not hot). */
static void end_window(struct sc_state *st, unsigned cpu, uint64_t t)
{
	struct sc_cpu *c = &st->cpus[cpu];
	bool fast = t - c->start_ns < USM_SYSCALLS_WINDOW_MAX_NS;

	for (size_t i = 0; i < st->nsites; i++) {
		struct sc_site *s = st->sites[i];

		if (fast && s->win_short[cpu] > st->hot_count) {
			s->hot = true;
			s->hot_windows++;
		}
		s->win_short[cpu] = 0;
	}
	st->windows++;
	c->phase_windows++;
	c->n = 0;
	c->start_ns = t;
}

int sc_enter(struct sc_state *st, unsigned cpu, pid_t tid, uint64_t t)
{
	struct sc_thread *th = thread(st, tid);
	struct sc_cpu *c = &st->cpus[cpu];

	if (!th)
		return -ENOMEM;
	st->syscalls++;
	if (th->exit_ns && th->site != SIZE_MAX && t >= th->exit_ns) {
		struct sc_site *s = st->sites[th->site];
		uint64_t gap = t - th->exit_ns;

		sc_hist_add(&s->gap, gap);
		if (gap < st->short_gap_ns) {
			s->short_count++;
			s->win_short[cpu]++;
		}
	}
	th->enter_ns = t;
	th->exit_ns = 0;
	if (c->n == 0 && c->start_ns == 0)
		c->start_ns = t;
	c->phase_n++;
	if (++c->n >= st->window)
		end_window(st, cpu, t);
	return 0;
}

long sc_exit(struct sc_state *st, pid_t pid, pid_t tid, uint64_t t, int nr, uint64_t addr)
{
	struct sc_thread *th = thread(st, tid);
	long i;
	struct sc_site *s;
	unsigned k;

	if (!th)
		return -ENOMEM;
	i = sc_site(st, pid, addr);
	if (i < 0)
		return i;
	s = st->sites[i];
	s->count++;
	for (k = 0; k < s->nnrs && s->nrs[k] != nr; k++)
		;
	if (k == s->nnrs) {
		if (k < USM_SYSCALLS_MAX_NRS)
			s->nrs[s->nnrs++] = nr;
		else
			s->more_nrs = true;
	}
	if (th->enter_ns && t >= th->enter_ns)
		sc_hist_add(&s->kern, t - th->enter_ns);
	th->enter_ns = 0;
	th->exit_ns = t;
	th->site = (size_t)i;
	return i;
}

int sc_add_caller(struct sc_state *st, size_t i, uint64_t caller)
{
	struct sc_site *s = st->sites[i];
	size_t k;

	s->stack_samples++;
	if (!caller) {
		s->stack_failed++;
		return 0;
	}
	for (k = 0; k < s->ncallers; k++) {
		if (s->callers[k].addr == caller) {
			s->callers[k].samples++;
			return 0;
		}
	}
	if (s->ncallers == s->callers_cap) {
		size_t ncap = s->callers_cap ? s->callers_cap * 2 : 4;
		struct sc_caller *nc = realloc(s->callers, ncap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		s->callers = nc;
		s->callers_cap = ncap;
	}
	s->callers[s->ncallers++] = (struct sc_caller){ caller, 1 };
	return 0;
}

void sc_forget_threads(struct sc_state *st)
{
	for (size_t j = 0; j < st->threads_cap; j++) {
		st->threads[j].enter_ns = 0;
		st->threads[j].exit_ns = 0;
	}
}

void sc_new_phase(struct sc_state *st)
{
	for (unsigned c = 0; c < st->ncpu; c++)
		st->cpus[c] = (struct sc_cpu){ 0 };
	for (size_t i = 0; i < st->nsites; i++)
		memset(st->sites[i]->win_short, 0, st->ncpu * sizeof(*st->sites[i]->win_short));
	sc_forget_threads(st);
}

bool sc_phase_done(const struct sc_state *st, uint64_t elapsed_ns)
{
	for (unsigned c = 0; c < st->ncpu; c++) {
		const struct sc_cpu *p = &st->cpus[c];

		if (!p->phase_n || p->phase_windows)
			continue;
		/* on track for a window within a second: worth waiting for */
		if ((double)p->phase_n * 1e9 >= (double)st->window * (double)elapsed_ns)
			return false;
	}
	return true;
}
