/* Policies: name -> ops, the calls every policy shares, and the circular
 * lists the policies keep their nodes in. The orders themselves are
 * policy_fifo.c, policy_clock.c and policy_refault.c. */
#include "policy/policy_impl.h"

#include <errno.h>
#include <string.h>

#include "base/rawmem.h"

static const struct usm_policy_ops *const policies[] = {
	&usm_policy_fifo_ops,
	&usm_policy_clock_ops,
	&usm_policy_refault_ops,
};

const char *usm_policy_kinds(void)
{
	return "fifo, clock, refault";
}

static const struct usm_policy_ops *find_ops(const char *name)
{
	for (size_t i = 0; name && i < sizeof(policies) / sizeof(policies[0]); i++)
		if (strcmp(name, policies[i]->name) == 0)
			return policies[i];
	return NULL;
}

int usm_policy_create(const char *name, usm_policy_rearm_fn rearm, void *ctx,
		      struct usm_policy **out)
{
	const struct usm_policy_ops *ops = find_ops(name);
	struct usm_policy *p;

	if (!ops)
		return -EINVAL;
	p = usm_rawmem_alloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ops = ops;
	p->rearm = rearm;
	p->rearm_ctx = ctx;
	*out = p;
	return 0;
}

/* Every policy keeps the same ring (policy_list_*); only the order in
 * which it inserts and picks differs, so a switch is a change of ops, once
 * refault's protected nodes have joined the ring (as its newest). */
int usm_policy_switch(struct usm_policy *p, const char *name)
{
	const struct usm_policy_ops *ops = find_ops(name);

	if (!ops)
		return -EINVAL;
	while (p->hot.head) {
		struct usm_policy_node *n = p->hot.head;

		policy_list_unlink(p, n);
		policy_list_append(&p->ring, n);
	}
	p->ops = ops;
	return 0;
}

/* The nodes belong to the pager; they are only let go of. */
void usm_policy_destroy(struct usm_policy *p)
{
	if (!p)
		return;
	while (p->ring.head)
		policy_list_unlink(p, p->ring.head);
	while (p->hot.head)
		policy_list_unlink(p, p->hot.head);
	usm_rawmem_free(p, sizeof(*p));
}

const char *usm_policy_name(const struct usm_policy *p)
{
	return p->ops->name;
}

void usm_policy_inserted(struct usm_policy *p, struct usm_policy_node *n)
{
	p->ops->inserted(p, n);
}

void usm_policy_accessed(struct usm_policy *p, struct usm_policy_node *n)
{
	p->ops->accessed(p, n);
}

/* Not an eviction: a page that comes back after this is no refault. */
void usm_policy_removed(struct usm_policy *p, struct usm_policy_node *n)
{
	policy_list_unlink(p, n);
	n->evicted_at = 0;
}

size_t usm_policy_pick(struct usm_policy *p, struct usm_policy_node **victims, size_t max)
{
	return p->ops->pick(p, victims, max);
}

size_t usm_policy_count(const struct usm_policy *p)
{
	return p->ring.count + p->hot.count;
}

void policy_list_append(struct policy_list *l, struct usm_policy_node *n)
{
	if (!l->head) {
		n->prev = n->next = n;
		l->head = n;
	} else {
		struct usm_policy_node *tail = l->head->prev;

		n->prev = tail;
		n->next = l->head;
		tail->next = n;
		l->head->prev = n;
	}
	n->linked = true;
	l->count++;
}

void policy_list_unlink(struct usm_policy *p, struct usm_policy_node *n)
{
	struct policy_list *l = n->hot ? &p->hot : &p->ring;

	if (!n->linked)
		return;
	if (n->next == n) {
		l->head = NULL;
	} else {
		n->prev->next = n->next;
		n->next->prev = n->prev;
		if (l->head == n)
			l->head = n->next;
	}
	n->prev = n->next = NULL;
	n->linked = false;
	n->hot = false;
	l->count--;
}
