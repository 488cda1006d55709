/* Internals of the pager, shared by its files:
 *   pager.c    thread, requests from other threads, start
 *   region.c   the table of managed regions and their per-page records
 *   fault.c    serving missing and write-protect faults, prefetch
 *   wait.c     how the pager thread waits: polling, then sleeping
 *   evict.c    the budget and eviction
 *   latency.c  the fault-latency histogram */
#ifndef USM_PAGER_IMPL_H
#define USM_PAGER_IMPL_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <usm/pager.h>
#include "policy/policy.h"
#include "store/store.h"

#include "base/page.h"

#define WRITE_SCORE_MAX 3          /* residencies a written page comes back writable */
#define LEAF_PAGES 512

/* PAGE_POISONED: evicted, and the store could not return it: the kernel
 * holds a poison marker there (UFFDIO_POISON), a SIGBUS for whoever
 * touches it, until the program drops the page (MADV_DONTNEED, munmap). */
enum page_state { PAGE_RESIDENT = 1, PAGE_EVICTED = 2, PAGE_POISONED = 3 };

/* A 4 KiB page of a managed region that is resident or evicted; pages never
 * touched have no record. */
struct mpage {
	struct usm_policy_node node;  /* first: victims come back as nodes */
	struct region *region;
	uint64_t index;               /* page index in region */
	uint64_t copy;                /* store handle; 0 = no copy */
	uint32_t copy_len;
	uint8_t state;
	bool dirty;                   /* differs from copy (or has none) */
	bool wp;                      /* write-protected now */
	bool wp_faulted;              /* written since it came back protected */
	uint8_t write_score;          /* > 0: comes back writable (fault.c) */
	bool pinned;                  /* usm_hint PIN: resident, out of the policy's reach */
};

struct region {
	uint64_t start, npages;
	struct mpage ***leaves;       /* npages/LEAF_PAGES leaves, each made on first use */
	uint64_t nleaves;
	bool sequential;              /* usm_hint SEQUENTIAL: every fault prefetches */
	uint32_t block_pages;         /* what a fault fills here now (fault.c: adapts) */
};

enum request_op {
	REQ_ADD, REQ_MUNMAP, REQ_MADVISE, REQ_BRK,
	REQ_MREMAP_BEGIN, REQ_MREMAP_END, REQ_FORGET, REQ_FORK_PREPARE, REQ_RESUME,
	REQ_SET_LIMIT, REQ_SET_POLICY, REQ_HINT, REQ_STATS, REQ_END_STORE,
};

/* Each op's arguments (REQ_MREMAP_BEGIN, REQ_FORK_PREPARE, REQ_RESUME take none). */
union request_args {
	struct { uint64_t start, len; } add;             /* REQ_ADD, whole pages */
	struct { void *addr; size_t len; } munmap;       /* REQ_MUNMAP */
	struct { void *addr; size_t len; int advice; } madvise;
	struct { void *addr; } brk;
	struct { size_t old_len, new_len; long result; } mremap_end;
	struct { void *addr; size_t len; } forget;       /* REQ_FORGET */
	struct { uint64_t bytes; } set_limit;
	struct { const char *name; } set_policy;
	struct { uint64_t start, len; int kind; } hint;  /* whole pages */
	struct { struct usm_pager_stats *out; } stats;
};

struct request {
	struct request *next;
	atomic_bool busy;             /* slot taken by a caller */
	enum request_op op;
	union request_args a;
	long result;
	atomic_int done;
};

#define LAT_BUCKETS (64 * 8)
/* Pages read out of the program per eviction run at most: the buffer they
 * pass through is usm's memory, which the budget counts. */
#define EVICT_RUN_PAGES 64
#define REQUEST_SLOTS 64

struct usm_pager {
	struct usm_pager_config cfg;
	int uffd, wakefd, memfd;
	bool poison;                  /* UFFD_FEATURE_POISON granted: see fault.c */
	struct usm_store *store;
	struct usm_policy *policy;

	struct region **regions;      /* sorted by start */
	size_t nregions, cap;

	uint64_t resident_pages, limit_pages, low_pages;
	uint64_t pinned_pages;
	unsigned evict_hold;          /* > 0: no eviction (mremap, fork) */
	bool ended;                   /* usm_pager_end_store: serves nothing more */
	bool store_used;              /* cfg.store_first_put was called */

	_Atomic(struct request *) queue;
	struct request slots[REQUEST_SLOTS];  /* callers never allocate: see pager.c */
	pthread_t thread;
	void *stack;
	size_t stack_size;

	uint8_t *fill_buf;            /* fault_size * (1 + prefetch) */
	const uint8_t *zero_buf;      /* as large, never written */
	size_t fill_buf_size;
	uint8_t *evict_buf;           /* batch pages */
	struct usm_store_io *io;      /* one store batch: max(batch, fill pages) */
	size_t io_cap;
	struct usm_policy_node **victims;

	uint64_t next_seq_addr;       /* where a sequential run would fault next */
	uint64_t spin_max_ns;         /* wait.c: 0 = never polls */
	uint64_t spin_window_ns;      /* how long it polls now */
	unsigned spin_off;            /* events to wait for without polling */

	struct usm_pager_stats st;
	uint64_t lat_hist[LAT_BUCKETS];
};

/* region.c */
struct region *region_find(struct usm_pager *p, uint64_t addr);
struct region *region_next(struct usm_pager *p, uint64_t addr);  /* holding addr, or the next one */
struct region *region_insert(struct usm_pager *p, uint64_t start, uint64_t npages);
struct mpage *region_page(struct region *r, uint64_t index, bool create);
static inline uint64_t region_end(const struct region *r)
{
	return r->start + r->npages * USM_PAGE_SIZE;
}
static inline uint64_t page_addr(const struct mpage *m)
{
	return m->region->start + m->index * USM_PAGE_SIZE;
}
void region_drop_range(struct usm_pager *p, uint64_t start, uint64_t len);
void region_forget_pages(struct usm_pager *p, uint64_t start, uint64_t len);
void region_move_range(struct usm_pager *p, uint64_t from, uint64_t to, uint64_t len);
void region_adopt_present(struct usm_pager *p, struct region *r);
void page_forget(struct usm_pager *p, struct mpage *m);
void page_adopt(struct usm_pager *p, struct region *r, uint64_t index);

/* fault.c */
enum fill_flags {
	FILL_PREFETCH = 1 << 0,       /* ahead of a fault: counted as prefetched */
	FILL_WRITE = 1 << 1,          /* for a write: never-touched pages get real zeroed pages */
};
void fault_missing(struct usm_pager *p, uint64_t addr, bool write);
void fault_wp(struct usm_pager *p, uint64_t addr);
void fill_all_evicted(struct usm_pager *p);
int fill_range(struct usm_pager *p, struct region *r, uint64_t first, uint64_t count,
	       enum fill_flags flags);

/* evict.c */
void evict_make_room(struct usm_pager *p, uint64_t need_pages);
void evict_set_limit(struct usm_pager *p, uint64_t limit_bytes);
uint64_t evict_resident_budget(const struct usm_pager *p);  /* in pages */
void evict_pages(struct usm_pager *p, struct mpage **v, size_t n);  /* unlinked from the policy */
void evict_rearm(void *ctx, struct usm_policy_node **nodes, size_t n);

/* hint.c */
long hint_apply(struct usm_pager *p, uint64_t addr, uint64_t len, int kind);

/* wait.c */
void wait_init(struct usm_pager *p);
/* poll(2) on fds until an event; *polled says it came while polling */
int wait_event(struct usm_pager *p, struct pollfd *fds, nfds_t n, bool *polled);

/* latency.c */
void latency_record(struct usm_pager *p, uint64_t ns);
uint64_t latency_percentile(const struct usm_pager *p, double pct);

/* For the tagger at _exit, when no code of the program runs again: the
 * store's blocks deleted where they outlive the process (usm_store_end),
 * on the pager thread, which owns the store. The pager serves nothing
 * after: a thread still faulting waits for the exit to end it. Returns
 * usm_store_end's result. */
int usm_pager_end_store(struct usm_pager *p);

/* For the tagger, to tell usmd: the store, whose spec and key prefix never
 * change once it is open (so any thread may read them). */
const struct usm_store *usm_pager_store(const struct usm_pager *p);

/* Says "usm: process PID: msg" on stderr, without stdio (no malloc). */
void pager_say(const char *msg);
void pager_fatal(struct usm_pager *p, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
