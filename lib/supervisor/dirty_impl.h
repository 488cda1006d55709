/* What dirty.c (the front: backend choice, the result vector) shares with
 * the one file per dirty-tracking backend. */
#ifndef USM_SUPERVISOR_DIRTY_IMPL_H
#define USM_SUPERVISOR_DIRTY_IMPL_H

#include <usm/dirty.h>

#include <stddef.h>
#include <stdint.h>

struct usm_dirty;

/* The backend USM_DIRTY_AUTO takes for a fresh range of this process: the
 * first of its order whose probe succeeds (USM_DIRTY_AUTO: none). For
 * usm_features_probe. */
enum usm_dirty_backend usm_dirty_auto_backend(unsigned without);

struct usm_dirty_ops {
	enum usm_dirty_backend id;
	const char *name;
	/* 0 and *caps, or -errno and a static *why (see usm_dirty_probe) */
	int (*probe)(pid_t pid, unsigned without, unsigned *caps, const char **why);
	/* arms d->start..d->end; sets d->priv */
	int (*start)(struct usm_dirty *d);
	/* emits the written pages with usm_dirty_emit and re-arms */
	int (*collect)(struct usm_dirty *d);
	/* undoes start; frees d->priv */
	int (*stop)(struct usm_dirty *d);
};

struct usm_dirty {
	const struct usm_dirty_ops *ops;
	pid_t pid;
	uint64_t start, end;
	unsigned without, options, caps;
	struct usm_dirty_range *out;
	size_t count, cap;
	void *priv;
};

extern const struct usm_dirty_ops usm_dirty_scan_ops;
extern const struct usm_dirty_ops usm_dirty_softdirty_ops;
extern const struct usm_dirty_ops usm_dirty_uffd_ops;
extern const struct usm_dirty_ops usm_dirty_mprotect_ops;

/* Appends [start, end) to the collect result, merged with the previous
 * range when adjacent; emits must come in ascending order. 0 or -ENOMEM. */
int usm_dirty_emit(struct usm_dirty *d, uint64_t start, uint64_t end);

/* Emits the set bits of a page bitmap (bit i = page start + i) and clears
 * them, each word by one atomic exchange: a bit set concurrently is either
 * taken now or stays for the next collect. */
int usm_dirty_emit_bitmap(struct usm_dirty *d, uint64_t *bits, uint64_t pages);

/* Walks d's range with PAGEMAP_SCAN query q on pagemap and emits every
 * region it returns (vec holds cap regions; vec NULL: the walk only acts,
 * as PM_SCAN_WP_MATCHING's protect pass does). 0 or a negative errno. */
struct usm_os_pm_scan;
struct usm_os_pm_region;
int usm_dirty_emit_scan(struct usm_dirty *d, int pagemap, const struct usm_os_pm_scan *q,
			struct usm_os_pm_region *vec, size_t cap);

/* A userfaultfd with the features asked for (all of `need`, `want` if the
 * kernel has them), trying a full descriptor first. Returns the fd and the
 * features granted, or -errno (-ENOSYS when a needed feature is missing). */
int usm_dirty_uffd_open(uint64_t need, uint64_t want, uint64_t *got);

#endif
