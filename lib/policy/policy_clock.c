/* "clock": second chance. The list's head is the hand; a new node goes just
 * behind it, so the hand reaches it last. A node the hand finds referenced
 * has the bit cleared and is passed over; one it finds clear is evicted. */
#include "policy/policy_impl.h"

/* Nodes handed to rearm at once: small enough for the stack, large enough
 * that the pager can batch its write-protect calls. */
#define REARM_BATCH 64

static void clock_inserted(struct usm_policy *p, struct usm_policy_node *n)
{
	n->referenced = true;
	if (!n->linked)
		policy_list_append(&p->ring, n);
}

static void clock_accessed(struct usm_policy *p, struct usm_policy_node *n)
{
	n->referenced = true;
}

static void flush_rearm(struct usm_policy *p, struct usm_policy_node **batch, size_t *n)
{
	if (*n && p->rearm)
		p->rearm(p->rearm_ctx, batch, *n);
	*n = 0;
}

/* One revolution at most: every node of the ring as it is now is met once,
 * so the batch holds only nodes that are still resident when it is
 * flushed, at the latest at the end of the lap. */
static size_t sweep_lap(struct usm_policy *p, struct usm_policy_node **victims, size_t found,
			size_t max)
{
	struct usm_policy_node *rearm[REARM_BATCH];
	size_t cleared = 0, steps = p->ring.count;

	while (found < max && p->ring.head && steps--) {
		struct usm_policy_node *n = p->ring.head;

		if (n->referenced) {
			n->referenced = false;
			p->ring.head = n->next;
			rearm[cleared++] = n;
			if (cleared == REARM_BATCH)
				flush_rearm(p, rearm, &cleared);
		} else {
			victims[found++] = n;
			policy_list_unlink(p, n);
		}
	}
	flush_rearm(p, rearm, &cleared);
	return found;
}

/* The first lap clears every bit it does not take a victim for, so the
 * second finds victims whenever nodes are resident; stopping there bounds
 * the work even if the rearm hook sets bits again. A node cleared in the
 * first lap may be taken in the second, after its rearm. */
static size_t clock_pick(struct usm_policy *p, struct usm_policy_node **victims, size_t max)
{
	size_t found = 0;

	for (int lap = 0; lap < 2 && found < max && p->ring.head; lap++)
		found = sweep_lap(p, victims, found, max);
	return found;
}

const struct usm_policy_ops usm_policy_clock_ops = {
	.name = "clock",
	.inserted = clock_inserted,
	.accessed = clock_accessed,
	.pick = clock_pick,
};
