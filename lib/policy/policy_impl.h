/* Inside policies: the ops table each policy fills in, and the circular
 * list of nodes they all order residents in. */
#ifndef USM_POLICY_IMPL_H
#define USM_POLICY_IMPL_H

#include "policy/policy.h"

struct usm_policy_ops {
	const char *name;
	void (*inserted)(struct usm_policy *p, struct usm_policy_node *n);
	void (*accessed)(struct usm_policy *p, struct usm_policy_node *n);
	size_t (*pick)(struct usm_policy *p, struct usm_policy_node **victims, size_t max);
};

struct usm_policy {
	const struct usm_policy_ops *ops;
	usm_policy_rearm_fn rearm;
	void *rearm_ctx;
	/* A circular doubly linked list; head is the oldest node for fifo and
	 * the hand for clock. Either way a new node goes just behind it. */
	struct usm_policy_node *head;
	size_t count;
};

extern const struct usm_policy_ops usm_policy_fifo_ops;
extern const struct usm_policy_ops usm_policy_clock_ops;

/* Links n just behind head, so that it is the last one head reaches. */
void policy_list_append(struct usm_policy *p, struct usm_policy_node *n);
/* Unlinks n (nothing when it is not linked), moving head on if it was n. */
void policy_list_unlink(struct usm_policy *p, struct usm_policy_node *n);

#endif
