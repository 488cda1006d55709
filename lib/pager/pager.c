/* The pager thread and the requests other threads send it.
 *
 * Every change to the page records happens in the pager thread, so no lock
 * guards them. Other threads hand it requests through a lock-free stack and
 * sleep on a futex until it answers: a thread of the program may fault on
 * its own stack at any moment, so nothing the pager thread ever waits for
 * may be held by such a thread. The pager thread runs on a stack from
 * usm_rawmem and never calls malloc. */
#include "pager/pager_impl.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/rawmem.h"

#include "base/clock.h"
#include "base/page.h"
#include "base/syscall.h"
#include "os/futex.h"
#include "os/uffd.h"
#include "os/vm.h"

#define MSG_BATCH 64

void usm_pager_config_defaults(struct usm_pager_config *c)
{
	*c = (struct usm_pager_config){
		.fault_size = 64 << 10,
		.limit = 0,
		.low_pct = 90,
		.batch = 256,
		.prefetch = 4,
		.policy = "refault", /* docs/run.md: fewest refaults measured, no signal to pay for */
		.store = "mem",
		.store_share_pct = 25, /* zswap: max_pool_percent is 20 */
		.spin_max_us = 50,     /* wait.c; haltpoll's guest_halt_poll_ns is 200 us */
	};
}

static const struct {
	const char *name;
	unsigned bit;
} withouts[] = {
	{ "poison", USM_PAGER_WITHOUT_POISON },
};

int usm_pager_without_parse(const char *names, unsigned *without)
{
	*without = 0;
	for (const char *s = names; s && *s;) {
		size_t n = strcspn(s, ",");
		size_t i = 0;
		while (i < sizeof(withouts) / sizeof(withouts[0]) &&
		       (strlen(withouts[i].name) != n || strncmp(s, withouts[i].name, n)))
			i++;
		if (i == sizeof(withouts) / sizeof(withouts[0]))
			return -EINVAL;
		*without |= withouts[i].bit;
		s += n + (s[n] == ',');
	}
	return 0;
}

const char *usm_pager_without_names(void)
{
	static char names[64];

	if (!names[0])
		for (size_t i = 0, at = 0; i < sizeof(withouts) / sizeof(withouts[0]); i++)
			at += (size_t)snprintf(names + at, sizeof(names) - at, "%s%s", i ? "," : "",
					       withouts[i].name);
	return names;
}

/* Runs on the pager thread: no stdio stream, whose buffer would come from
 * malloc (managed memory that this thread must never touch). */
void pager_say(const char *msg)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "usm: process %d: %s\n", (int)getpid(), msg);

	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (write(2, line, (size_t)n) < 0) {
		/* nowhere left to say it */
	}
}

void pager_fatal(struct usm_pager *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->cfg.fatal)
		p->cfg.fatal(msg);
	if (p->store)
		usm_store_sync(p->store); /* nothing of ours reaches a server after the purge */
	pager_say(msg);
	_exit(125);
}

static void futex_wait_for(atomic_int *word)
{
	while (!atomic_load_explicit(word, memory_order_acquire))
		usm_os_futex_wait(word, 0);
}

/* ---- requests, run in the pager thread ---- */

static long do_add(struct usm_pager *p, uint64_t start, uint64_t len)
{
	int rc = usm_os_uffd_register(p->uffd, start, len, true, NULL);

	if (rc < 0)
		return rc;
	region_drop_range(p, start, len); /* stale records of an earlier mapping */
	struct region *r = region_insert(p, start, len / USM_PAGE_SIZE);
	region_adopt_present(p, r);
	return 0;
}

static bool drops_contents(int advice)
{
	return advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE ||
	       advice == MADV_DONTNEED_LOCKED;
}

static void copy_stats(struct usm_pager *p, struct usm_pager_stats *s)
{
	struct usm_store_stats store;

	*s = p->st;
	s->resident = p->resident_pages * USM_PAGE_SIZE;
	s->pinned = p->pinned_pages * USM_PAGE_SIZE;
	s->limit = p->limit_pages * USM_PAGE_SIZE;
	s->latency_p50_ns = latency_percentile(p, 50);
	s->latency_p99_ns = latency_percentile(p, 99);
	usm_store_stats(p->store, &store);
	s->blocks_to_disk = store.puts_to_disk;
	s->store_memory = store.bytes_in_memory;
	s->store_disk = store.bytes_on_disk;
	s->metadata = usm_rawmem_committed() > store.bytes_in_memory
		? usm_rawmem_committed() - store.bytes_in_memory : 0;
}

static long run_request(struct usm_pager *p, struct request *q)
{
	const union request_args *a = &q->a;
	long rc;

	switch (q->op) {
	case REQ_ADD:
		return do_add(p, a->add.start, a->add.len);
	case REQ_MUNMAP:
		rc = usm_os_munmap(a->munmap.addr, a->munmap.len);
		if (rc == 0)
			region_drop_range(p, (uint64_t)(uintptr_t)a->munmap.addr, a->munmap.len);
		return rc;
	case REQ_MADVISE: {
		/* MADV_FREE becomes MADV_DONTNEED: the kernel could otherwise
		 * drop the page later, unseen, and a later read of it by the
		 * evictor would fault on the pager thread itself */
		int advice = a->madvise.advice == MADV_FREE ? MADV_DONTNEED : a->madvise.advice;
		rc = usm_os_madvise(a->madvise.addr, a->madvise.len, advice);
		if (rc == 0)
			region_forget_pages(p, (uint64_t)(uintptr_t)a->madvise.addr, a->madvise.len);
		return rc;
	}
	case REQ_BRK: {
		uint64_t old = (uint64_t)usm_os_brk(NULL);
		uint64_t now = (uint64_t)usm_os_brk(a->brk.addr);
		uint64_t old_top = usm_page_up(old);
		uint64_t new_top = usm_page_up(now);
		if (new_top > old_top)
			do_add(p, old_top, new_top - old_top);
		else if (new_top < old_top)
			region_drop_range(p, new_top, old_top - new_top);
		return (long)now;
	}
	case REQ_MREMAP_BEGIN:
		p->evict_hold++;
		return 0;
	case REQ_MREMAP_END: {
		uint64_t old_len = a->mremap_end.old_len, new_len = a->mremap_end.new_len;
		long result = a->mremap_end.result;
		old_len = usm_page_up(old_len);
		new_len = usm_page_up(new_len);
		p->evict_hold--;
		if (usm_syscall_failed(result))
			return 0;
		/* a move was applied when its UFFD_EVENT_REMAP was read */
		uint64_t at = (uint64_t)result;
		if (new_len < old_len)
			region_drop_range(p, at + new_len, old_len - new_len);
		else if (new_len > old_len && region_find(p, at))
			region_insert(p, at + old_len, (new_len - old_len) / USM_PAGE_SIZE);
		return 0;
	}
	case REQ_FORGET:
		region_drop_range(p, usm_page_down((uint64_t)(uintptr_t)a->forget.addr),
				  usm_page_up((uint64_t)a->forget.len));
		return 0;
	case REQ_FORK_PREPARE:
		p->evict_hold++;
		fill_all_evicted(p);
		return 0;
	case REQ_RESUME:
		p->evict_hold--;
		evict_make_room(p, 0); /* what the fork's fill put over the limit */
		return 0;
	case REQ_SET_LIMIT:
		evict_set_limit(p, a->set_limit.bytes);
		return 0;
	case REQ_SET_POLICY:
		return usm_policy_switch(p->policy, a->set_policy.name);
	case REQ_HINT:
		return hint_apply(p, a->hint.start, a->hint.len, a->hint.kind);
	case REQ_STATS:
		copy_stats(p, a->stats.out);
		return 0;
	case REQ_END_STORE:
		p->ended = true;
		return usm_store_end(p->store);
	}
	return -EINVAL;
}

static void serve_requests(struct usm_pager *p)
{
	struct request *list = atomic_exchange(&p->queue, NULL), *fifo = NULL;

	while (list) { /* the stack gives newest first: reverse it */
		struct request *next = list->next;
		list->next = fifo;
		fifo = list;
		list = next;
	}
	while (fifo) {
		struct request *next = fifo->next;
		fifo->result = run_request(p, fifo);
		atomic_store_explicit(&fifo->done, 1, memory_order_release);
		usm_os_futex_wake(&fifo->done, 1);
		fifo = next;
	}
}

/* A request slot from the pager's fixed pool. Callers never allocate: a
 * program thread holding an allocator lock could fault on its own stack,
 * and the pager thread, serving that fault, would need the lock. */
static struct request *claim_slot(struct usm_pager *p)
{
	for (;;) {
		for (unsigned i = 0; i < REQUEST_SLOTS; i++)
			if (!atomic_exchange_explicit(&p->slots[i].busy, true, memory_order_acquire))
				return &p->slots[i];
		sched_yield();
	}
}

static long call(struct usm_pager *p, enum request_op op, union request_args a)
{
	struct request *q;
	uint64_t one = 1;
	long result;

	if (pthread_equal(pthread_self(), p->thread)) {
		struct request local = { .op = op, .a = a };
		return run_request(p, &local);
	}
	q = claim_slot(p);
	q->op = op;
	q->a = a;
	atomic_store(&q->done, 0);
	q->next = atomic_load(&p->queue);
	while (!atomic_compare_exchange_weak(&p->queue, &q->next, q))
		;
	if (write(p->wakefd, &one, sizeof(one)) < 0) {
		/* an eventfd write only fails on counter overflow; the pager
		 * is awake then anyway */
	}
	futex_wait_for(&q->done);
	result = q->result;
	atomic_store_explicit(&q->busy, false, memory_order_release);
	return result;
}

/* ---- the fault loop ---- */

static void handle_event(struct usm_pager *p, const struct usm_uffd_event *e)
{
	switch (e->kind) {
	case USM_UFFD_FAULT: {
		uint64_t t0 = usm_now_ns();
		if (e->wp)
			fault_wp(p, e->addr);
		else
			fault_missing(p, e->addr, e->write);
		latency_record(p, usm_now_ns() - t0);
		break;
	}
	case USM_UFFD_REMAP:
		region_move_range(p, e->addr, e->to, usm_page_up(e->len));
		break;
	default:
		break;
	}
}

static void *pager_main(void *arg)
{
	struct usm_pager *p = arg;
	struct usm_uffd_event events[MSG_BATCH];
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	wait_init(p);
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = p->uffd, .events = POLLIN },
			{ .fd = p->wakefd, .events = POLLIN },
		};
		bool polled;
		if (wait_event(p, fds, 2, &polled) < 0)
			continue;
		if (fds[1].revents & POLLIN) {
			uint64_t n;
			if (read(p->wakefd, &n, sizeof(n)) < 0) {
				/* nothing to drain */
			}
			serve_requests(p);
		}
		/* the store is gone: a fault served now could only fail; the
		 * process's exit ends this thread */
		while (p->ended)
			pause();
		if (fds[0].revents & POLLIN) {
			int n = usm_os_uffd_read_events(p->uffd, events, MSG_BATCH);
			for (int i = 0; i < n; i++) {
				p->st.polled_faults += polled && events[i].kind == USM_UFFD_FAULT;
				handle_event(p, &events[i]);
			}
		}
		if (fds[0].revents & (POLLERR | POLLHUP))
			pager_fatal(p, "userfaultfd closed under the pager");
	}
	return NULL;
}

/* ---- start ---- */

static size_t evict_buf_size(const struct usm_pager_config *c)
{
	return (size_t)(c->batch < EVICT_RUN_PAGES ? c->batch : EVICT_RUN_PAGES) * USM_PAGE_SIZE;
}

/* Everything usm_pager_start allocated or opened, whatever it got to. */
static void pager_free(struct usm_pager *p)
{
	if (p->uffd >= 0)
		close(p->uffd);
	if (p->wakefd >= 0)
		close(p->wakefd);
	if (p->memfd >= 0)
		close(p->memfd);
	if (p->store)
		usm_store_close(p->store);
	if (p->policy)
		usm_policy_destroy(p->policy);
	usm_rawmem_free(p->fill_buf, p->fill_buf_size);
	usm_rawmem_free((void *)p->zero_buf, p->fill_buf_size);
	usm_rawmem_free(p->evict_buf, evict_buf_size(&p->cfg));
	usm_rawmem_free(p->victims, (size_t)p->cfg.batch * sizeof(*p->victims));
	usm_rawmem_free(p->io, p->io_cap * sizeof(*p->io));
	usm_rawmem_free(p->stack, p->stack_size);
	usm_rawmem_free(p, sizeof(*p));
}

/* The pager's descriptor, its handshake done. Only one that also sees
 * faults taken inside the kernel will do: a read(2) into an evicted buffer
 * must wait, not fail. UFFD_FEATURE_POISON is asked for where the kernel
 * has it (6.6+) and the config does not forbid it: a kernel refuses a
 * handshake that asks for what it lacks. */
static int open_uffd(struct usm_pager *p)
{
	enum usm_uffd_source source = USM_UFFD_SYSCALL;
	uint64_t want = UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_PAGEFAULT_FLAG_WP, offered = 0;
	int fd = usm_os_uffd_open(source), rc;

	if (fd < 0) {
		source = USM_UFFD_DEVICE;
		fd = usm_os_uffd_open(source);
	}
	if (fd < 0)
		return -EPERM;
	if (!(p->cfg.without & USM_PAGER_WITHOUT_POISON) &&
	    usm_os_uffd_offered(source, &offered) == 0 && (offered & UFFD_FEATURE_POISON))
		want |= UFFD_FEATURE_POISON;
	rc = usm_os_uffd_api(fd, want, NULL, NULL);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	p->poison = want & UFFD_FEATURE_POISON;
	return fd;
}

int usm_pager_start(const struct usm_pager_config *c, struct usm_pager **out)
{
	struct usm_pager *p;
	pthread_attr_t attr;
	int rc;

	if (c->fault_size < USM_PAGE_SIZE || c->fault_size % USM_PAGE_SIZE ||
	    c->fault_size > (64 << 20) || c->batch == 0 || c->low_pct > 100 ||
	    c->store_share_pct == 0 || c->store_share_pct > 100)
		return -EINVAL;
	p = usm_rawmem_alloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *c;
	p->uffd = p->wakefd = p->memfd = -1;
	evict_set_limit(p, c->limit); /* nothing is resident yet: sets, evicts nothing */

	rc = usm_policy_create(c->policy, evict_rearm, p, &p->policy);
	if (rc < 0)
		goto fail;
	rc = usm_store_open(c->store, USM_PAGE_SIZE, c->store_max, &p->store);
	if (rc < 0)
		goto fail;
	evict_set_limit(p, c->limit); /* now also the store's share */
	rc = p->uffd = open_uffd(p);
	if (rc < 0)
		goto fail;
	p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wakefd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = p->memfd = usm_os_self_mem_open();
	if (rc < 0)
		goto fail;

	p->fill_buf_size = c->fault_size * (1 + (size_t)c->prefetch);
	p->fill_buf = usm_rawmem_alloc(p->fill_buf_size);
	p->zero_buf = usm_rawmem_alloc(p->fill_buf_size);
	p->evict_buf = usm_rawmem_alloc(evict_buf_size(c));
	p->victims = usm_rawmem_alloc((size_t)c->batch * sizeof(*p->victims));
	p->io_cap = p->fill_buf_size / USM_PAGE_SIZE > c->batch ? p->fill_buf_size / USM_PAGE_SIZE
								 : c->batch;
	p->io = usm_rawmem_alloc(p->io_cap * sizeof(*p->io));
	p->stack_size = 256 << 10;
	p->stack = usm_rawmem_alloc(p->stack_size);
	if (!p->fill_buf || !p->zero_buf || !p->evict_buf || !p->victims || !p->io || !p->stack) {
		rc = -ENOMEM;
		goto fail;
	}
	/* a stack of our own: one from glibc would be managed memory */
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, p->stack, p->stack_size);
	rc = -pthread_create(&p->thread, &attr, pager_main, p);
	pthread_attr_destroy(&attr);
	if (rc < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	pager_free(p);
	return rc;
}

/* The whole pages [addr, addr+len) touches. */
static void page_span(const void *addr, size_t len, uint64_t *start, uint64_t *end)
{
	*start = usm_page_down((uint64_t)(uintptr_t)addr);
	*end = usm_page_up((uint64_t)(uintptr_t)addr + len);
}

int usm_pager_add(struct usm_pager *p, void *addr, size_t len)
{
	uint64_t start, end;

	page_span(addr, len, &start, &end);
	if (usm_rawmem_owns(addr, len))
		return -EINVAL;
	return (int)call(p, REQ_ADD, (union request_args){ .add = { start, end - start } });
}

long usm_pager_munmap(struct usm_pager *p, void *addr, size_t len)
{
	return call(p, REQ_MUNMAP, (union request_args){ .munmap = { addr, len } });
}

long usm_pager_madvise(struct usm_pager *p, void *addr, size_t len, int advice)
{
	if (!drops_contents(advice))
		return usm_os_madvise(addr, len, advice);
	return call(p, REQ_MADVISE, (union request_args){ .madvise = { addr, len, advice } });
}

long usm_pager_brk(struct usm_pager *p, void *addr)
{
	return call(p, REQ_BRK, (union request_args){ .brk = { addr } });
}

void usm_pager_mremap_begin(struct usm_pager *p)
{
	call(p, REQ_MREMAP_BEGIN, (union request_args){ 0 });
}

void usm_pager_mremap_end(struct usm_pager *p, void *old, size_t old_len, size_t new_len, long result)
{
	call(p, REQ_MREMAP_END,
	     (union request_args){ .mremap_end = { old_len, new_len, result } });
}

void usm_pager_prepare_fork(struct usm_pager *p)
{
	call(p, REQ_FORK_PREPARE, (union request_args){ 0 });
}

void usm_pager_resume(struct usm_pager *p)
{
	call(p, REQ_RESUME, (union request_args){ 0 });
}

void usm_pager_forget(struct usm_pager *p, void *addr, size_t len)
{
	call(p, REQ_FORGET, (union request_args){ .forget = { addr, len } });
}

void usm_pager_abandon(struct usm_pager *p)
{
	close(p->uffd);
	close(p->wakefd);
	close(p->memfd);
	/* p itself lives there: nothing may touch it after this */
	usm_rawmem_reset_after_fork();
}

void usm_pager_set_limit(struct usm_pager *p, uint64_t limit)
{
	call(p, REQ_SET_LIMIT, (union request_args){ .set_limit = { limit } });
}

int usm_pager_set_policy(struct usm_pager *p, const char *name)
{
	return (int)call(p, REQ_SET_POLICY, (union request_args){ .set_policy = { name } });
}

long usm_pager_hint(struct usm_pager *p, void *addr, size_t len, int kind)
{
	uint64_t start, end;

	page_span(addr, len, &start, &end);
	if (end < start)
		return -EINVAL;
	return call(p, REQ_HINT, (union request_args){ .hint = { start, end - start, kind } });
}

int usm_pager_end_store(struct usm_pager *p)
{
	return (int)call(p, REQ_END_STORE, (union request_args){ 0 });
}

const struct usm_store *usm_pager_store(const struct usm_pager *p)
{
	return p->store;
}

/* A snapshot taken by the pager thread: a thread woken by a fill may run
 * before the pager has counted the pages it filled. */
void usm_pager_get_stats(struct usm_pager *p, struct usm_pager_stats *s)
{
	call(p, REQ_STATS, (union request_args){ .stats = { s } });
}
