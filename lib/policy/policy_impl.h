/* Inside policies: the ops table each policy fills in, and the circular
 * lists of nodes they order residents in. */
#ifndef USM_POLICY_IMPL_H
#define USM_POLICY_IMPL_H

#include "policy/policy.h"

struct usm_policy_ops {
	const char *name;
	void (*inserted)(struct usm_policy *p, struct usm_policy_node *n);
	void (*accessed)(struct usm_policy *p, struct usm_policy_node *n);
	size_t (*pick)(struct usm_policy *p, struct usm_policy_node **victims, size_t max);
};

/* A circular doubly linked list; a new node goes just behind head, so that
 * it is the last one head reaches. */
struct policy_list {
	struct usm_policy_node *head;
	size_t count;
};

struct usm_policy {
	const struct usm_policy_ops *ops;
	usm_policy_rearm_fn rearm;
	void *rearm_ctx;
	/* The list every policy keeps: head is the oldest node for fifo and
	 * refault, and the hand for clock. */
	struct policy_list ring;
	/* "refault" only: protected nodes (n->hot), oldest first; empty under
	 * the other policies, so that a switch is a change of ops. */
	struct policy_list hot;
	uint32_t evict_clock;  /* "refault": nodes picked so far (never 0 once used) */
};

extern const struct usm_policy_ops usm_policy_fifo_ops;
extern const struct usm_policy_ops usm_policy_clock_ops;
extern const struct usm_policy_ops usm_policy_refault_ops;

/* Links n into l just behind its head (n->hot says nothing about which). */
void policy_list_append(struct policy_list *l, struct usm_policy_node *n);
/* Unlinks n from whichever of p's lists holds it (nothing when it is not
 * linked), moving that list's head on if it was n. */
void policy_list_unlink(struct usm_policy *p, struct usm_policy_node *n);

#endif
