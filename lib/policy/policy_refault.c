/* "refault": FIFO with a protected list chosen by refault distance, as the
 * kernel's mm/workingset.c chooses what to activate. Userspace sees no
 * accessed bit, but it sees every miss: each pick stamps its victim with
 * the eviction clock, and when the victim comes back, the evictions since
 * then (its refault distance) tell how soon it was needed again. One back
 * within fewer evictions than there are pages resident was wanted again
 * before a page takes to pass through memory: it belongs to the working
 * set, and is protected. A scan larger than memory never comes back that
 * soon, so it only ever passes through the ring.
 *
 * Victims come from the ring, oldest first. The protected list holds at
 * most HOT_MAX_PCT of what is resident: past that its oldest node goes back
 * to the ring as the newest, so a working set that moves on is let go of.
 * A ring node written since it came back (the write-protect fault the
 * pager takes anyway) is protected instead of evicted. */
#include "policy/policy_impl.h"

/* The ring keeps a tenth for a scan to pass through. Measured against
 * half (the kernel's active:inactive ratio on small machines, where the
 * accessed bit ages its active list) and three quarters: 2-5% fewer
 * refaults than half on perl's hash, 2% on python3's sort, 9% on
 * bench/scan (docs/performance.md). */
#define HOT_MAX_PCT 90

static size_t resident(const struct usm_policy *p)
{
	return p->ring.count + p->hot.count;
}

static void protect(struct usm_policy *p, struct usm_policy_node *n)
{
	policy_list_append(&p->hot, n);
	n->hot = true;
	while (p->hot.count > 1 && p->hot.count * 100 > resident(p) * HOT_MAX_PCT) {
		struct usm_policy_node *old = p->hot.head;

		policy_list_unlink(p, old);
		old->referenced = false;
		policy_list_append(&p->ring, old);
	}
}

static void refault_inserted(struct usm_policy *p, struct usm_policy_node *n)
{
	if (n->linked)
		return;
	/* unsigned: the clock may have wrapped since the stamp */
	uint32_t distance = p->evict_clock - n->evicted_at;
	bool back_soon = n->evicted_at && distance < resident(p);

	n->evicted_at = 0;
	n->referenced = false;
	if (back_soon)
		protect(p, n);
	else
		policy_list_append(&p->ring, n);
}

/* A protected node used again moves to the young end of its list; a ring
 * node is marked, and protected when the pick reaches it. */
static void refault_accessed(struct usm_policy *p, struct usm_policy_node *n)
{
	if (!n->linked)
		return;
	if (n->hot) {
		policy_list_unlink(p, n);
		protect(p, n);
	} else {
		n->referenced = true;
	}
}

/* Ends: each node is protected at most once per pick (protecting clears
 * its mark, and a node sent back to the ring leaves unmarked), and every
 * other step takes a victim. */
static size_t refault_pick(struct usm_policy *p, struct usm_policy_node **victims, size_t max)
{
	size_t found = 0;

	while (found < max && resident(p)) {
		struct usm_policy_node *n = p->ring.head ? p->ring.head : p->hot.head;

		if (!n->hot && n->referenced) {
			n->referenced = false;
			policy_list_unlink(p, n);
			protect(p, n);
			continue;
		}
		policy_list_unlink(p, n);
		if (++p->evict_clock == 0)
			p->evict_clock = 1; /* 0 means "not evicted" */
		n->evicted_at = p->evict_clock;
		victims[found++] = n;
	}
	return found;
}

const struct usm_policy_ops usm_policy_refault_ops = {
	.name = "refault",
	.inserted = refault_inserted,
	.accessed = refault_accessed,
	.pick = refault_pick,
};
