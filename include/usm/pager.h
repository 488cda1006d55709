/* The pager: userspace paging of registered anonymous memory under a
 * resident budget, through userfaultfd.
 *
 * One pager thread serves every fault of the process: a first touch is
 * filled with zeros, a refault with the copy from the store, a fault-size
 * block at a time (and further ahead on sequential runs). When a fill would
 * pass the limit, the policy picks victims: they are write-protected, what is
 * dirty is written to the store, and they are dropped with MADV_DONTNEED.
 *
 * Mapping changes of managed memory (munmap, mremap, madvise, brk) must go
 * through usm_pager_munmap() & co, which run them in the pager thread so
 * that they never race with an eviction. */
#ifndef USM_PAGER_H
#define USM_PAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <usm/stats.h>  /* struct usm_pager_stats */

struct usm_pager_config {
	size_t fault_size;       /* fill granularity, a multiple of 4 KiB: the largest
				  * block, unless fixed_fault_size */
	bool fixed_fault_size;   /* every fault fills fault_size: no adapting per region */
	uint64_t limit;          /* cap in bytes on resident pages plus usm's own memory
	                          * (the mem store, metadata); 0 = no cap */
	unsigned low_pct;        /* eviction, once started, goes down to this % of limit */
	unsigned batch;          /* pages evicted per round at most */
	unsigned prefetch;       /* extra fault-size blocks filled on a sequential run */
	const char *policy;      /* "fifo", "clock" or "refault" (docs/run.md) */
	const char *store;       /* "mem", "mem:zstd", "file:PATH" (docs/run.md) */
	uint64_t store_max;      /* store cap in bytes; 0 = none */
	unsigned store_share_pct; /* of the limit, the most a mem store keeps in memory */
	void (*fatal)(const char *message);  /* called when paging cannot go on */
	unsigned without;        /* USM_PAGER_WITHOUT_*: newer kernel calls left unused */
	unsigned spin_max_us;    /* the pager polls for its next event up to this long
	                          * before it sleeps (lib/pager/wait.c); 0 = never */
	/* called on the pager thread before the first block goes to the store
	 * (NULL: nothing); a negative errno stops paging as fatal does */
	int (*store_first_put)(void);
};

/* Kernel features the pager does without, as if the kernel lacked them: to
 * test on a new kernel the fallbacks an older one (Debian 12's 6.1) takes. */
#define USM_PAGER_WITHOUT_POISON (1u << 0) /* UFFDIO_POISON, Linux 6.6 */

/* Reads "poison[,...]" (the names of USM_PAGER_WITHOUT_*; "" is none)
 * into *without. Returns 0, or -EINVAL for a name it does not know. */
int usm_pager_without_parse(const char *names, unsigned *without);
/* The names usm_pager_without_parse knows, for a usage line. */
const char *usm_pager_without_names(void);

void usm_pager_config_defaults(struct usm_pager_config *c);

struct usm_pager;

/* Opens the userfaultfd and starts the pager thread. Returns 0 or -errno:
 * -EPERM when this user cannot have faults taken inside the kernel delivered
 * (see usm features), -EINVAL for a bad policy, store or fault size. */
int usm_pager_start(const struct usm_pager_config *c, struct usm_pager **out);

/* Manages [addr, addr+len): registers it and adopts its present pages.
 * Returns 0 or -errno (the range stays unmanaged). */
int usm_pager_add(struct usm_pager *p, void *addr, size_t len);

/* The mapping calls, run in the pager thread; they return what the system
 * call returns (a value or a negative errno). */
long usm_pager_munmap(struct usm_pager *p, void *addr, size_t len);
long usm_pager_madvise(struct usm_pager *p, void *addr, size_t len, int advice);
long usm_pager_brk(struct usm_pager *p, void *addr);
/* mremap is run by the caller between these two, with evictions held off;
 * the kernel reports moves to the pager itself (UFFD_EVENT_REMAP). */
void usm_pager_mremap_begin(struct usm_pager *p);
void usm_pager_mremap_end(struct usm_pager *p, void *old, size_t old_len, size_t new_len,
			  long result);

/* Before fork(): fills every evicted page back and holds off evictions, so
 * that the child, whose mappings the kernel does not register, sees all
 * data. After fork() the parent calls usm_pager_resume. */
void usm_pager_prepare_fork(struct usm_pager *p);
void usm_pager_resume(struct usm_pager *p);

/* Drops records of [addr, addr+len) without a system call: the program
 * replaced that memory itself (mmap with MAP_FIXED). */
void usm_pager_forget(struct usm_pager *p, void *addr, size_t len);

/* In a child after fork(): closes the descriptors of the parent's pager,
 * whose thread does not exist here, and gives back the memory of every
 * pager of the parent: p is gone after this, and the child may start a
 * pager of its own. */
void usm_pager_abandon(struct usm_pager *p);

void usm_pager_get_stats(struct usm_pager *p, struct usm_pager_stats *s);

/* A new resident cap in bytes (0 = none). A lower cap is met, by eviction,
 * before this returns (except while evictions are held for a fork or an
 * mremap: then as soon as they resume). */
void usm_pager_set_limit(struct usm_pager *p, uint64_t limit);

/* Switches the eviction policy; resident pages keep their order.
 * 0 or -EINVAL for an unknown name. */
int usm_pager_set_policy(struct usm_pager *p, const char *name);

/* Acts on a usm_hint() of the program (enum usm_hint_kind in usm/hint.h)
 * for the managed pages of [addr, addr+len): 0 or -errno (-EINVAL for a bad
 * kind, -ENOMEM when pinning would hold more than half the limit). */
long usm_pager_hint(struct usm_pager *p, void *addr, size_t len, int kind);

#endif
