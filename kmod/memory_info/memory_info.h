/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memory_info: shared declarations of the module's four parts.
 *
 *   main.c      /proc/memory_info, command parsing, result buffers
 *   snapshot.c  processes grouped by comm, per-name figures
 *   pagewalk.c  hand-written page-table walk of one mm
 *   dedup.c     page hashes, sort, byte-for-byte grouping
 *
 * See docs/memory_info.md for the contract.
 */
#ifndef MEMORY_INFO_H
#define MEMORY_INFO_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/sched.h>
#include <linux/types.h>

/* One line of ALL: the figures of every process named @name. */
struct mi_entry {
	struct list_head list;
	char name[TASK_COMM_LEN];
	unsigned long total;
	unsigned long valid;
	unsigned long may_be_shared;
	unsigned long nb_group;
	unsigned int order;	/* task-list index of its first process */
	unsigned int npids;
	pid_t *pids;		/* in task-list order */
};

/* Testing aid: true when an allocation is to fail (module parameter). */
bool mi_fail_alloc(void);

int mi_snapshot_take(struct list_head *entries);
void mi_snapshot_free(struct list_head *entries);

/*
 * Hash store: one entry per readable present 4 KiB page of one name.
 * @page holds a reference (get_page) until mi_store_release(); NULL stands
 * for the shared zero page, which is never referenced.
 */
struct mi_hent {
	u64 hash;
	struct page *page;
};

struct mi_store {
	struct mi_hent *ent;
	size_t len;
	size_t cap;
	u64 seed;		/* hash seed, random for each snapshot */
	u64 zero_hash;		/* hash of a page of zeros with that seed */
	bool no_alloc;		/* set while a lock forbids growing */
};

void mi_store_init(struct mi_store *s);
int mi_store_reserve(struct mi_store *s, size_t extra);
void mi_store_add(struct mi_store *s, struct page *page);
void mi_store_release(struct mi_store *s, size_t keep);
void mi_store_free(struct mi_store *s);
void mi_dedup(struct mi_store *s, unsigned long *may_be_shared,
	      unsigned long *nb_group);

/* Page-table walk of one mm; the caller holds mmap_read_lock(mm). */
struct mi_walk {
	struct mm_struct *mm;
	struct mi_store *store;
	struct page **batch;	/* MI_BATCH slots, see pagewalk.c */
	unsigned long valid;	/* present pages found so far */
	bool hash;		/* current vma is readable: hash its pages */
};

#define MI_BATCH PTRS_PER_PTE

int mi_walk_mm(struct mi_walk *w);

#endif /* MEMORY_INFO_H */
