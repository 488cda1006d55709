/* Dirty tracking by mprotect(PROT_READ) and a SIGSEGV handler, the
 * portable baseline: the first write to a page after a collect faults,
 * the handler makes that page writable again and marks it. Each such page
 * splits the VMA in up to three: past vm.max_map_count mprotect fails with
 * ENOMEM, which the collect reports. This process only.
 *
 * The handler is installed by a start that does not find it in place (the
 * first one, or after the program or a test framework put another one
 * back) and chains every fault outside a tracked range to the handler that
 * was there before (SIG_DFL: restored, and the fault taken again). It is
 * async-signal-safe: a fixed table of slots read with atomics, raw
 * mprotect, atomic bitmap marks. */
#include "supervisor/dirty_impl.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/clock.h"
#include "base/page.h"
#include "os/vm.h"

#define SLOTS 64
/* How long a stopped range still counts as ours: a fault taken just before
 * its stop unprotected it may reach the handler after. */
#define RETIRED_GRACE_NS 100000000ULL

enum { SLOT_FREE, SLOT_ACTIVE, SLOT_RETIRED };

struct slot {
	_Atomic int state;
	_Atomic int users;     /* handlers inside this slot */
	_Atomic int overflow;  /* a page could not be unprotected: ENOMEM */
	_Atomic int unprotecting; /* handlers between an unprotect and its mark */
	_Atomic int collecting;   /* a collect between its protect and harvest */
	_Atomic uint64_t retired_ns; /* when it was stopped */
	uint64_t start, end;
	uint64_t *bits;
};

static struct slot slots[SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous;

static void chain(int sig, siginfo_t *si, void *uc)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, si, uc);
	} else if (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN) {
		/* Put the default back: returning takes the fault again, and
		 * this time it kills as if we had never been here. */
		sigaction(SIGSEGV, &previous, NULL);
	} else {
		previous.sa_handler(sig);
	}
}

static bool unprotect(struct slot *sl, uint64_t page)
{
	long r;

	r = usm_os_mprotect((void *)(uintptr_t)page, USM_PAGE_SIZE, PROT_READ | PROT_WRITE);
	if (r == -ENOMEM) {
		/* The VMA limit: unprotect the whole range (merging its VMAs
		 * back) and let the collect report it. */
		r = usm_os_mprotect((void *)(uintptr_t)sl->start, sl->end - sl->start,
				    PROT_READ | PROT_WRITE);
		if (r < 0)
			return false;
		atomic_store(&sl->overflow, 1);
		return true;
	}
	if (r < 0)
		return false;
	page = (page - sl->start) / USM_PAGE_SIZE;
	atomic_fetch_or((_Atomic uint64_t *)&sl->bits[page / 64], 1ULL << (page % 64));
	return true;
}

/* Returns true when the fault was in a tracked range and is handled. */
static bool handle(struct slot *sl, uint64_t addr)
{
	uint64_t page;
	bool ok;

	page = usm_page_down(addr);
	/* Unprotect and mark exclude a collect's protect and harvest (why:
	 * dirty_uffd.c, handle()). A spin, not a mutex: this is a signal
	 * handler, and a collect holds it for one mprotect and a bitmap. */
	for (;;) {
		atomic_fetch_add(&sl->unprotecting, 1);
		if (!atomic_load(&sl->collecting))
			break;
		atomic_fetch_sub(&sl->unprotecting, 1);
		while (atomic_load(&sl->collecting))
			__builtin_ia32_pause();
	}
	ok = unprotect(sl, page);
	atomic_fetch_sub(&sl->unprotecting, 1);
	return ok;
}

/* A fault in a range stopped within the grace period: the page is
 * writable now, the access is retried. */
static bool recently_stopped(uint64_t addr)
{
	uint64_t now = usm_now_ns();

	for (int i = 0; i < SLOTS; i++) {
		struct slot *sl = &slots[i];

		if (atomic_load(&sl->state) == SLOT_RETIRED && addr >= sl->start &&
		    addr < sl->end && now - atomic_load(&sl->retired_ns) < RETIRED_GRACE_NS)
			return true;
	}
	return false;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	uint64_t addr = (uint64_t)(uintptr_t)si->si_addr;
	int saved = errno;

	if (si->si_code == SEGV_ACCERR) {
		for (int i = 0; i < SLOTS; i++) {
			struct slot *sl = &slots[i];
			bool done = false;

			if (atomic_load(&sl->state) != SLOT_ACTIVE)
				continue;
			atomic_fetch_add(&sl->users, 1);
			if (atomic_load(&sl->state) == SLOT_ACTIVE && addr >= sl->start &&
			    addr < sl->end)
				done = handle(sl, addr);
			atomic_fetch_sub(&sl->users, 1);
			if (done) {
				errno = saved;
				return;
			}
		}
		if (recently_stopped(addr)) {
			errno = saved;
			return;
		}
	}
	errno = saved;
	chain(sig, si, uc);
}

static int install(void)
{
	struct sigaction sa, now;

	if (sigaction(SIGSEGV, NULL, &now) < 0)
		return -errno;
	if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_segv)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &previous) < 0)
		return -errno;
	return 0;
}

static int mprotect_probe(pid_t pid, unsigned without, unsigned *caps, const char **why)
{
	(void)without;
	if (pid) {
		*why = "mprotect changes this process's mappings only";
		return -EOPNOTSUPP;
	}
	*caps = USM_DIRTY_SHARED | USM_DIRTY_TRAPS_WRITES | USM_DIRTY_OWNS_PROTECTION |
		USM_DIRTY_VMA_LIMIT | USM_DIRTY_SPLITS_HUGE;
	return 0;
}

static int mprotect_start(struct usm_dirty *d)
{
	uint64_t pages = (d->end - d->start) / USM_PAGE_SIZE;
	uint64_t *bits = calloc((pages + 63) / 64, sizeof(*bits));
	struct slot *sl = NULL;
	long r;
	int err;

	if (!bits)
		return -ENOMEM;
	pthread_mutex_lock(&slots_lock);
	err = install();
	/* A free slot first; a retired one only when none is left (a fault
	 * that raced with its stop may still be on its way). */
	for (int i = 0; i < SLOTS && !sl && !err; i++)
		if (atomic_load(&slots[i].state) == SLOT_FREE)
			sl = &slots[i];
	for (int i = 0; i < SLOTS && !sl && !err; i++)
		if (atomic_load(&slots[i].state) == SLOT_RETIRED)
			sl = &slots[i];
	if (!sl && !err)
		err = -EBUSY;
	if (!err) {
		atomic_store(&sl->state, SLOT_FREE);
		sl->start = d->start;
		sl->end = d->end;
		sl->bits = bits;
		atomic_store(&sl->overflow, 0);
		atomic_store(&sl->collecting, 0);
		atomic_store(&sl->state, SLOT_ACTIVE);
	}
	pthread_mutex_unlock(&slots_lock);
	if (err) {
		free(bits);
		return err;
	}
	r = usm_os_mprotect((void *)(uintptr_t)d->start, d->end - d->start, PROT_READ);
	if (r < 0) {
		atomic_store(&sl->retired_ns, usm_now_ns());
		atomic_store(&sl->state, SLOT_RETIRED);
		while (atomic_load(&sl->users))
			sched_yield();
		free(bits);
		sl->bits = NULL;
		return (int)r;
	}
	d->priv = sl;
	return 0;
}

static int mprotect_collect(struct usm_dirty *d)
{
	struct slot *sl = d->priv;
	uint64_t pages = (d->end - d->start) / USM_PAGE_SIZE;
	long r;
	int err;

	/* Protect first, then take the marks, no handler in between. */
	atomic_store(&sl->collecting, 1);
	while (atomic_load(&sl->unprotecting))
		sched_yield();
	r = usm_os_mprotect((void *)(uintptr_t)d->start, d->end - d->start, PROT_READ);
	if (r < 0) {
		err = (int)r;
	} else if (atomic_exchange(&sl->overflow, 0)) {
		/* Every page may have been written unseen: the marks mean
		 * nothing now, the caller takes the whole range. */
		for (uint64_t w = 0; w < (pages + 63) / 64; w++)
			atomic_store((_Atomic uint64_t *)&sl->bits[w], 0);
		err = -ENOMEM;
	} else {
		err = usm_dirty_emit_bitmap(d, sl->bits, pages);
	}
	atomic_store(&sl->collecting, 0);
	return err;
}

static int mprotect_stop(struct usm_dirty *d)
{
	struct slot *sl = d->priv;
	long r;

	r = usm_os_mprotect((void *)(uintptr_t)d->start, d->end - d->start,
			    PROT_READ | PROT_WRITE);
	atomic_store(&sl->retired_ns, usm_now_ns());
	atomic_store(&sl->state, SLOT_RETIRED);
	while (atomic_load(&sl->users))
		sched_yield();
	free(sl->bits);
	sl->bits = NULL;
	return r < 0 ? (int)r : 0;
}

const struct usm_dirty_ops usm_dirty_mprotect_ops = {
	.id = USM_DIRTY_MPROTECT,
	.name = "mprotect",
	.probe = mprotect_probe,
	.start = mprotect_start,
	.collect = mprotect_collect,
	.stop = mprotect_stop,
};
