/* Write protection with a callback on the first write to each page: the
 * ranges, their per-page state, and the three ways of catching writes. */
#include <usm/wprotect.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/page.h"
#include "os/uffd.h"
#include "os/vm.h"
#include "supervisor/sigchain.h"

#define MAX_RANGES 64

/* A page's state. Only the thread that moves it ARMED -> BUSY runs the
 * callback; others writing meanwhile wait for DONE, so each first write
 * runs the callback exactly once and no write passes before it ends. */
enum { ARMED, BUSY, DONE };

struct usm_wprotect {
	uintptr_t start, end;
	enum usm_wprotect_mech mech;
	usm_wprotect_fn fn;
	void *arg;
	int uffd;                 /* -1 for MPROTECT */
	bool wp_unpopulated;
	_Atomic uint8_t *state;   /* one per page */
	atomic_uint_fast64_t traps;
	atomic_uint epoch;        /* bumped by each arm; see not_ours_twice */
	/* UFFD_THREAD */
	pthread_t thread;
	bool thread_started;
	int wakefd;
	atomic_bool closing;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct usm_wprotect *_Atomic ranges[MAX_RANGES];
/* Signal handlers that may be looking at a range: close waits for none. */
static atomic_int in_flight;
static struct usm_sigchain chain_bus = { .sig = SIGBUS };
static struct usm_sigchain chain_segv = { .sig = SIGSEGV };

/* Under MPROTECT, a fault on a page already DONE is normally one that
 * raced with the unprotect, and retrying the write succeeds. The same
 * thread faulting there twice in a row within one arming is something else
 * (the program protected the page itself) and goes to the previous
 * handler. */
static __thread uintptr_t last_done_addr __attribute__((tls_model("initial-exec")));
static __thread unsigned int last_done_epoch __attribute__((tls_model("initial-exec")));

const char *usm_wprotect_mech_name(enum usm_wprotect_mech mech)
{
	switch (mech) {
	case USM_WPROTECT_AUTO:
		return "auto";
	case USM_WPROTECT_UFFD_SIGBUS:
		return "uffd-sigbus";
	case USM_WPROTECT_MPROTECT:
		return "mprotect";
	case USM_WPROTECT_UFFD_THREAD:
		return "uffd-thread";
	}
	return NULL;
}

enum usm_wprotect_mech usm_wprotect_mech(const struct usm_wprotect *w)
{
	return w->mech;
}

int usm_wprotect_wp_unpopulated(const struct usm_wprotect *w)
{
	return w->wp_unpopulated;
}

uint64_t usm_wprotect_traps(const struct usm_wprotect *w)
{
	return atomic_load(&w->traps);
}

/* ---- the kernel side of one range ---- */

/* Lifts the protection of [a, a+len): the callback has run. Async-signal-safe. */
static int unprotect(struct usm_wprotect *w, uintptr_t a, size_t len)
{
	if (w->mech == USM_WPROTECT_MPROTECT)
		return usm_os_mprotect((void *)a, len, PROT_READ | PROT_WRITE);
	/* only the handler thread has writers asleep on the descriptor */
	return usm_os_uffd_writeprotect(w->uffd, a, len, false,
					w->mech == USM_WPROTECT_UFFD_THREAD);
}

static int protect(struct usm_wprotect *w, uintptr_t a, size_t len)
{
	if (w->mech == USM_WPROTECT_MPROTECT)
		return usm_os_mprotect((void *)a, len, PROT_READ);
	if (!w->wp_unpopulated) {
		/* Write-protect marks present page-table entries only: give the
		 * untouched pages one, the shared zero page (no memory). */
		if (usm_os_madvise((void *)a, len, MADV_POPULATE_READ) < 0) {
			/* before Linux 5.14: read them in one by one */
			for (uintptr_t p = a; p < a + len; p += USM_PAGE_SIZE)
				(void)*(volatile const char *)p;
		}
	}
	return usm_os_uffd_writeprotect(w->uffd, a, len, true, false);
}

/* A userfaultfd for write-protect faults, raised as SIGBUS or read by a
 * thread, with WP_UNPOPULATED where the kernel has it and it is wanted. */
static int open_uffd(struct usm_wprotect *w, unsigned int flags)
{
	static const enum usm_uffd_source sigbus_sources[] = {
		/* faults in the kernel fail EFAULT in SIGBUS mode whatever the
		 * descriptor: a user-mode-only one serves as well */
		USM_UFFD_SYSCALL, USM_UFFD_DEVICE, USM_UFFD_SYSCALL_USER_ONLY,
	};
	static const enum usm_uffd_source thread_sources[] = {
		/* a full descriptor first: read(2) into a protected buffer
		 * then waits for the callback instead of failing EFAULT */
		USM_UFFD_SYSCALL, USM_UFFD_DEVICE, USM_UFFD_SYSCALL_USER_ONLY,
	};
	bool sigbus = w->mech == USM_WPROTECT_UFFD_SIGBUS;
	const enum usm_uffd_source *src = sigbus ? sigbus_sources : thread_sources;
	uint64_t base = sigbus ? UFFD_FEATURE_SIGBUS : 0;
	int err = -ENOSYS;

	for (size_t i = 0; i < 3; i++) {
		bool try_unpop = !(flags & USM_WPROTECT_NO_WP_UNPOPULATED);

		for (;;) {
			uint64_t want = base | (try_unpop ? UFFD_FEATURE_WP_UNPOPULATED : 0);
			uint64_t features = 0;
			int fd = usm_os_uffd_open(src[i]);

			if (fd < 0) {
				err = fd;
				break;
			}
			err = usm_os_uffd_api(fd, want, &features, NULL);
			if (err == -EINVAL && try_unpop) {
				/* a kernel before 6.4 refuses the whole handshake */
				close(fd);
				try_unpop = false;
				continue;
			}
			if (!err && (!(features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) ||
				     (features & want) != want))
				err = -EOPNOTSUPP;
			if (err == -EINVAL)
				err = -EOPNOTSUPP; /* SIGBUS unknown (before 4.14) */
			if (err) {
				close(fd);
				return err;
			}
			w->uffd = fd;
			w->wp_unpopulated = try_unpop;
			return 0;
		}
	}
	return err;
}

static void *thread_main(void *arg);

/* Everything but the signal handler and the registry: shared with probe. */
static int setup(struct usm_wprotect *w, unsigned int flags)
{
	size_t pages = (w->end - w->start) / USM_PAGE_SIZE;
	uint64_t ioctls = 0;
	int err;

	w->uffd = w->wakefd = -1;
	w->state = calloc(pages, sizeof(*w->state));
	if (!w->state)
		return -ENOMEM;
	if (w->mech == USM_WPROTECT_MPROTECT)
		return 0;
	err = open_uffd(w, flags);
	if (err)
		return err;
	err = usm_os_uffd_register_wp_only(w->uffd, w->start, w->end - w->start, &ioctls);
	if (err)
		return err == -EINVAL ? -EOPNOTSUPP : err;
	if (!(ioctls & (1ULL << _UFFDIO_WRITEPROTECT)))
		return -EOPNOTSUPP;
	if (w->mech == USM_WPROTECT_UFFD_THREAD) {
		w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->wakefd < 0)
			return -errno;
		err = -pthread_create(&w->thread, NULL, thread_main, w);
		if (err)
			return err;
		w->thread_started = true;
	}
	return 0;
}

static void stop_thread(struct usm_wprotect *w)
{
	uint64_t one = 1;

	if (!w->thread_started)
		return;
	atomic_store(&w->closing, true);
	if (write(w->wakefd, &one, sizeof(one)) < 0) {
		/* an eventfd write fails only on overflow: the thread is awake */
	}
	pthread_join(w->thread, NULL);
	w->thread_started = false;
}

/* Undoes setup(); the range must be unprotected and out of the registry. */
static int teardown(struct usm_wprotect *w)
{
	int err = 0;

	stop_thread(w);
	if (w->uffd >= 0) {
		err = usm_os_uffd_unregister(w->uffd, w->start, w->end - w->start);
		close(w->uffd);
	}
	if (w->wakefd >= 0)
		close(w->wakefd);
	free(w->state);
	free(w);
	return err;
}

/* ---- the first write to a page ---- */

/* Runs the callback for the page at `page` unless another thread did or
 * does; returns when a retried write may proceed. False: not our fault. */
static bool first_write(struct usm_wprotect *w, uintptr_t page)
{
	_Atomic uint8_t *s = &w->state[(page - w->start) / USM_PAGE_SIZE];
	uint8_t expect = ARMED;

	if (atomic_compare_exchange_strong(s, &expect, BUSY)) {
		w->fn((void *)page, w->arg);
		atomic_fetch_add(&w->traps, 1);
		if (unprotect(w, page, USM_PAGE_SIZE) < 0) {
			/* mprotect out of mappings (vm.max_map_count): the write
			 * cannot proceed, it faults on as on a read-only page */
			atomic_store(s, ARMED);
			return false;
		}
		atomic_store(s, DONE);
		last_done_addr = 0;
		return true;
	}
	if (expect == BUSY) {
		while (atomic_load(s) == BUSY)
			sched_yield();
		last_done_addr = 0;
		return true;
	}
	if (w->mech != USM_WPROTECT_MPROTECT) {
		/* DONE, yet the kernel raised a write-protect fault: it raced
		 * with the unprotect (a fault on a huge page reads the entry
		 * without the lock and may see it still protected). Only usm's
		 * userfaultfd raises BUS_ADRERR in an anonymous range, and the
		 * callback has run: unprotecting again is always right. */
		unprotect(w, page, USM_PAGE_SIZE);
		return true;
	}
	/* DONE: see last_done_addr */
	unsigned int epoch = atomic_load(&w->epoch);
	if (last_done_addr == page && last_done_epoch == epoch) {
		last_done_addr = 0;
		return false;
	}
	last_done_addr = page;
	last_done_epoch = epoch;
	return true;
}

/* The SIGBUS (UFFD_SIGBUS) and SIGSEGV (MPROTECT) handler of every range. */
static bool on_fault(int sig, siginfo_t *si, void *uc)
{
	enum usm_wprotect_mech mech = sig == SIGBUS ? USM_WPROTECT_UFFD_SIGBUS
						    : USM_WPROTECT_MPROTECT;
	/* userfaultfd's SIGBUS is BUS_ADRERR; a write to a read-only page is
	 * SEGV_ACCERR. Anything else (a signal sent by kill, a hardware
	 * error, a missing mapping) is never ours. */
	int code = sig == SIGBUS ? BUS_ADRERR : SEGV_ACCERR;
	uintptr_t a = (uintptr_t)si->si_addr;
	int saved_errno = errno;
	bool ours = false;

	if (si->si_code != code)
		return false;
	atomic_fetch_add(&in_flight, 1);
	for (size_t i = 0; i < MAX_RANGES; i++) {
		struct usm_wprotect *w = atomic_load(&ranges[i]);

		if (w && w->mech == mech && a >= w->start && a < w->end) {
			ours = first_write(w, usm_page_down(a));
			break;
		}
	}
	atomic_fetch_sub(&in_flight, 1);
	errno = saved_errno;
	return ours;
}

static void *thread_main(void *arg)
{
	struct usm_wprotect *w = arg;
	struct usm_uffd_event events[32];
	sigset_t all;

	/* the program's signals are for its own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&w->closing)) {
		struct pollfd fds[2] = {
			{ .fd = w->uffd, .events = POLLIN },
			{ .fd = w->wakefd, .events = POLLIN },
		};

		if (poll(fds, 2, -1) < 0 || !(fds[0].revents & POLLIN))
			continue;
		int n = usm_os_uffd_read_events(w->uffd, events, 32);
		for (int i = 0; i < n; i++) {
			const struct usm_uffd_event *e = &events[i];
			uintptr_t page;

			if (e->kind != USM_UFFD_FAULT || !e->wp)
				continue;
			page = usm_page_down(e->addr);
			if (page < w->start || page >= w->end || atomic_load(&w->closing))
				continue;
			/* only this thread runs this range's callbacks: a page is
			 * ARMED, or DONE when a second writer's message comes
			 * after the first was served and only needs waking */
			if (atomic_load(&w->state[(page - w->start) / USM_PAGE_SIZE]) != ARMED ||
			    !first_write(w, page))
				usm_os_uffd_wake(w->uffd, page, USM_PAGE_SIZE);
		}
	}
	return NULL;
}

/* ---- ranges ---- */

static bool overlaps_locked(uintptr_t start, uintptr_t end)
{
	for (size_t i = 0; i < MAX_RANGES; i++) {
		struct usm_wprotect *w = atomic_load(&ranges[i]);

		if (w && start < w->end && w->start < end)
			return true;
	}
	return false;
}

static int open_one(uintptr_t start, uintptr_t end, enum usm_wprotect_mech mech,
		    unsigned int flags, usm_wprotect_fn fn, void *arg, struct usm_wprotect **out)
{
	struct usm_wprotect *w = calloc(1, sizeof(*w));
	struct usm_sigchain *chain = NULL;
	size_t slot = MAX_RANGES;
	int err;

	if (!w)
		return -ENOMEM;
	/* checked again below: before the registration, so that overlapping a
	 * userfaultfd range says -EEXIST, not the kernel's -EBUSY */
	pthread_mutex_lock(&lock);
	err = overlaps_locked(start, end) ? -EEXIST : 0;
	pthread_mutex_unlock(&lock);
	if (err) {
		free(w);
		return err;
	}
	w->start = start;
	w->end = end;
	w->mech = mech;
	w->fn = fn;
	w->arg = arg;
	err = setup(w, flags);
	if (err)
		goto fail;
	if (mech == USM_WPROTECT_UFFD_SIGBUS)
		chain = &chain_bus;
	else if (mech == USM_WPROTECT_MPROTECT)
		chain = &chain_segv;

	pthread_mutex_lock(&lock);
	if (overlaps_locked(start, end)) {
		err = -EEXIST;
	} else {
		for (slot = 0; slot < MAX_RANGES && atomic_load(&ranges[slot]); slot++)
			;
		err = slot == MAX_RANGES ? -ENOSPC : 0;
	}
	if (!err && chain)
		err = usm_sigchain_install(chain, on_fault);
	if (!err)
		atomic_store(&ranges[slot], w); /* after its state is ready */
	pthread_mutex_unlock(&lock);
	if (err)
		goto fail;

	err = protect(w, start, end - start);
	if (err) {
		usm_wprotect_close(w);
		return err;
	}
	*out = w;
	return 0;
fail:
	teardown(w);
	return err;
}

int usm_wprotect_open(void *addr, size_t len, enum usm_wprotect_mech mech, unsigned int flags,
		      usm_wprotect_fn fn, void *arg, struct usm_wprotect **out)
{
	static const enum usm_wprotect_mech order[] = {
		USM_WPROTECT_UFFD_SIGBUS, USM_WPROTECT_MPROTECT,
	};
	uintptr_t start = (uintptr_t)addr, end = start + len;
	int err = -EINVAL;

	if (!fn || !out || len == 0 || start % USM_PAGE_SIZE || len % USM_PAGE_SIZE ||
	    end < start ||
	    (flags & ~(unsigned int)USM_WPROTECT_NO_WP_UNPOPULATED) ||
	    !usm_wprotect_mech_name(mech))
		return -EINVAL;
	if (mech != USM_WPROTECT_AUTO)
		return open_one(start, end, mech, flags, fn, arg, out);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		err = open_one(start, end, order[i], flags, fn, arg, out);
		/* a range problem is the same for every mechanism */
		if (!err || err == -EEXIST || err == -ENOSPC || err == -ENOMEM)
			break;
	}
	return err;
}

static void no_callback(void *page, void *arg)
{
}

int usm_wprotect_probe(enum usm_wprotect_mech mech)
{
	struct usm_wprotect *w;
	long map;
	int err;

	if (!usm_wprotect_mech_name(mech))
		return -EINVAL;
	if (mech == USM_WPROTECT_AUTO)
		mech = usm_wprotect_probe(USM_WPROTECT_UFFD_SIGBUS) == 0 ? USM_WPROTECT_UFFD_SIGBUS
									 : USM_WPROTECT_MPROTECT;
	if (mech == USM_WPROTECT_MPROTECT)
		return 0;
	map = usm_os_mmap(NULL, USM_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map < 0)
		return (int)map;
	w = calloc(1, sizeof(*w));
	if (!w) {
		usm_os_munmap((void *)map, USM_PAGE_SIZE);
		return -ENOMEM;
	}
	w->start = (uintptr_t)map;
	w->end = w->start + USM_PAGE_SIZE;
	w->mech = mech;
	w->fn = no_callback;
	err = setup(w, 0);
	teardown(w);
	usm_os_munmap((void *)map, USM_PAGE_SIZE);
	return err;
}

int usm_wprotect_arm(struct usm_wprotect *w, void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr, end = start + len;

	if (start % USM_PAGE_SIZE || len % USM_PAGE_SIZE || start < w->start || end > w->end ||
	    end < start)
		return -EINVAL;
	atomic_fetch_add(&w->epoch, 1);
	for (uintptr_t p = start; p < end; p += USM_PAGE_SIZE) {
		_Atomic uint8_t *s = &w->state[(p - w->start) / USM_PAGE_SIZE];
		uint8_t cur = atomic_load(s);

		/* ARMED before the kernel protects: a fault in between finds
		 * the page armed, never DONE while protected */
		while (cur == BUSY || !atomic_compare_exchange_weak(s, &cur, ARMED)) {
			if (cur == BUSY) {
				sched_yield();
				cur = atomic_load(s);
			}
		}
	}
	return len ? protect(w, start, len) : 0;
}

int usm_wprotect_close(struct usm_wprotect *w)
{
	int err;

	if (!w)
		return 0;
	/* no new faults, then no handler left looking at w; the handler
	 * thread runs no callback once the writers have been let go */
	atomic_store(&w->closing, true);
	err = unprotect(w, w->start, w->end - w->start);
	if (w->mech == USM_WPROTECT_UFFD_THREAD && w->uffd >= 0)
		usm_os_uffd_wake(w->uffd, w->start, w->end - w->start);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < MAX_RANGES; i++)
		if (atomic_load(&ranges[i]) == w)
			atomic_store(&ranges[i], NULL);
	pthread_mutex_unlock(&lock);
	while (atomic_load(&in_flight))
		sched_yield();
	int err2 = teardown(w);
	return err ? err : err2;
}
