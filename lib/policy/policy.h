/* Eviction policies: which resident blocks the pager evicts first.
 *
 * The pager embeds a struct usm_policy_node in each resident block and
 * tells the policy about residency and access; the policy orders the nodes
 * and picks victims. Policies never allocate per node and are used from
 * one thread at a time (the pager's).
 *   "fifo"   evicts in the order blocks became resident
 *   "clock"  second chance: a block whose referenced bit is set when the
 *            hand reaches it has the bit cleared and is passed over once
 *   "refault" a block that comes back within a short refault distance (fewer
 *            evictions since its own than blocks resident) is protected:
 *            it waits on a second, bounded list, out of reach of a scan
 */
#ifndef USM_POLICY_H
#define USM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct usm_policy_node {
	struct usm_policy_node *prev, *next;
	/* "refault": the eviction clock when the policy last picked this node
	 * (0: not evicted since it was inserted or removed). Kept in the node,
	 * which the pager keeps for an evicted page anyway, so the history of
	 * evicted pages costs no memory of its own. */
	uint32_t evicted_at;
	bool referenced;   /* the access signal; set by usm_policy_accessed */
	bool linked;       /* in the policy's structure */
	bool hot;         /* "refault": on the protected list */
};

struct usm_policy;

/* Called by "clock" for nodes whose referenced bit it clears, so that the
 * pager can re-arm its access signal for them (e.g. write-protect them so
 * that the next write is seen). Batched: nodes holds n entries. */
typedef void (*usm_policy_rearm_fn)(void *ctx, struct usm_policy_node **nodes, size_t n);

/* Returns 0 or -EINVAL for an unknown name. rearm may be NULL. */
int usm_policy_create(const char *name, usm_policy_rearm_fn rearm, void *ctx,
		      struct usm_policy **out);
void usm_policy_destroy(struct usm_policy *p);
/* Another order for the same nodes: 0 or -EINVAL for an unknown name. */
int usm_policy_switch(struct usm_policy *p, const char *name);
const char *usm_policy_name(const struct usm_policy *p);
/* One line listing the accepted names, for --help and error messages. */
const char *usm_policy_kinds(void);

/* n became resident (n->referenced is set by the policy as it sees fit). */
void usm_policy_inserted(struct usm_policy *p, struct usm_policy_node *n);
/* n was used: a refault or a write was seen. */
void usm_policy_accessed(struct usm_policy *p, struct usm_policy_node *n);
/* n is no longer resident (evicted by the pager, unmapped, discarded). */
void usm_policy_removed(struct usm_policy *p, struct usm_policy_node *n);

/* Chooses up to max victims, unlinks them, and stores them in victims.
 * Returns how many (0 only when nothing is resident). */
size_t usm_policy_pick(struct usm_policy *p, struct usm_policy_node **victims, size_t max);

/* Resident nodes the policy holds. */
size_t usm_policy_count(const struct usm_policy *p);

#endif
