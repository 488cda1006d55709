/* "fifo": evicts in the order blocks became resident; access changes
 * nothing. The list's head is the oldest node. */
#include "policy/policy_impl.h"

static void fifo_inserted(struct usm_policy *p, struct usm_policy_node *n)
{
	if (n->linked)
		return;
	n->referenced = false;
	policy_list_append(&p->ring, n);
}

static void fifo_accessed(struct usm_policy *p, struct usm_policy_node *n)
{
}

static size_t fifo_pick(struct usm_policy *p, struct usm_policy_node **victims, size_t max)
{
	size_t found = 0;

	while (found < max && p->ring.head) {
		victims[found++] = p->ring.head;
		policy_list_unlink(p, p->ring.head);
	}
	return found;
}

const struct usm_policy_ops usm_policy_fifo_ops = {
	.name = "fifo",
	.inserted = fifo_inserted,
	.accessed = fifo_accessed,
	.pick = fifo_pick,
};
