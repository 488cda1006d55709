// SPDX-License-Identifier: GPL-2.0
/*
 * A snapshot: one mi_entry per comm name, in the order in which the first
 * process of each name appears in the task list.
 *
 * 1. Under rcu_read_lock, take a reference on every thread-group leader with
 *    an mm, with its comm, into an array allocated beforehand (no sleeping
 *    under RCU; if the array was too small, drop everything and retry).
 * 2. Outside RCU, sort that array by name so that each name's processes are
 *    contiguous, and count one name at a time: the hash store then holds the
 *    pages of a single name, and its references are dropped before the next.
 */
#include <linux/list_sort.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>

#include "memory_info.h"

struct mi_task {
	struct task_struct *task;
	unsigned int index;		/* position in the task list */
	char comm[TASK_COMM_LEN];
};

/* Give up if the process count outgrows the array this many times. */
#define MI_COLLECT_TRIES 16

static void mi_put_tasks(struct mi_task *t, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		put_task_struct(t[i].task);
}

static int mi_collect(struct mi_task **out, unsigned int *nout)
{
	unsigned int cap = 256, n, seen, tries;
	struct task_struct *p;
	struct mi_task *t;

	for (tries = 0; tries < MI_COLLECT_TRIES; tries++) {
		t = mi_fail_alloc() ? NULL :
		    kvmalloc_array(cap, sizeof(*t), GFP_KERNEL);
		if (!t)
			return -ENOMEM;
		n = 0;
		seen = 0;
		rcu_read_lock();
		for_each_process(p) {
			/* ->mm is only tested here; get_task_mm() decides later. */
			if ((p->flags & PF_KTHREAD) || !READ_ONCE(p->mm))
				continue;
			seen++;
			if (n == cap)
				continue;
			get_task_struct(p);
			t[n].task = p;
			t[n].index = n;
			get_task_comm(t[n].comm, p);
			n++;
		}
		rcu_read_unlock();
		if (seen <= cap) {
			*out = t;
			*nout = n;
			return 0;
		}
		mi_put_tasks(t, n);
		kvfree(t);
		cap = seen + seen / 4 + 64;
	}
	return -ENOMEM;
}

/* By name, then by task-list position. */
static int mi_task_cmp(const void *a, const void *b)
{
	const struct mi_task *x = a, *y = b;
	int c = strncmp(x->comm, y->comm, TASK_COMM_LEN);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int mi_entry_cmp(void *priv, const struct list_head *a,
			const struct list_head *b)
{
	const struct mi_entry *x = list_entry(a, struct mi_entry, list);
	const struct mi_entry *y = list_entry(b, struct mi_entry, list);

	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Scan one process into @e (figures, pid) and the store. A process without
 * mm any more, or exiting before we are done, is left out: its store
 * entries are dropped again.
 */
static int mi_scan_task(struct mi_walk *w, struct mi_entry *e,
			const struct mi_task *t)
{
	size_t keep = w->store->len;
	struct mm_struct *mm;
	unsigned long total;
	int err;

	if (fatal_signal_pending(current))
		return -EINTR;
	mm = get_task_mm(t->task);
	if (!mm)
		return 0;
	if (t->task->flags & PF_EXITING) {
		mmput(mm);
		return 0;
	}
	w->mm = mm;
	w->valid = 0;
	mmap_read_lock(mm);
	total = READ_ONCE(mm->total_vm);
	err = mi_walk_mm(w);
	mmap_read_unlock(mm);
	mmput(mm);
	if (err || (t->task->flags & PF_EXITING)) {
		mi_store_release(w->store, keep);
		return err;
	}
	if (!e->npids)
		e->order = t->index;
	e->total += total;
	e->valid += w->valid;
	e->pids[e->npids++] = task_tgid_nr(t->task);
	return 0;
}

/* Processes @t[0..n) all have one name: build its entry (NULL if none left). */
static int mi_scan_name(struct mi_walk *w, const struct mi_task *t,
			unsigned int n, struct mi_entry **out)
{
	struct mi_entry *e;
	unsigned int i;
	int err = 0;

	*out = NULL;
	e = mi_fail_alloc() ? NULL : kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	e->pids = mi_fail_alloc() ? NULL :
		  kmalloc_array(n, sizeof(*e->pids), GFP_KERNEL);
	if (!e->pids) {
		kfree(e);
		return -ENOMEM;
	}
	memcpy(e->name, t[0].comm, TASK_COMM_LEN);

	for (i = 0; i < n && !err; i++) {
		err = mi_scan_task(w, e, &t[i]);
		cond_resched();
	}
	if (!err && e->npids)
		mi_dedup(w->store, &e->may_be_shared, &e->nb_group);
	mi_store_release(w->store, 0);	/* every page reference of the name */

	if (err || !e->npids) {
		kfree(e->pids);
		kfree(e);
		return err;
	}
	*out = e;
	return 0;
}

void mi_snapshot_free(struct list_head *entries)
{
	struct mi_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, entries, list) {
		list_del(&e->list);
		kfree(e->pids);
		kfree(e);
	}
}

/*
 * Build a new snapshot into the empty list @entries. On error the list is
 * left empty and every reference taken is dropped.
 */
int mi_snapshot_take(struct list_head *entries)
{
	struct mi_store store;
	struct mi_walk w = { .store = &store };
	struct mi_task *t = NULL;
	unsigned int n = 0, i, j;
	int err;

	mi_store_init(&store);
	err = mi_collect(&t, &n);
	if (err)
		return err;
	w.batch = mi_fail_alloc() ? NULL :
		  kmalloc_array(MI_BATCH, sizeof(*w.batch), GFP_KERNEL);
	if (!w.batch) {
		err = -ENOMEM;
		goto out;
	}
	sort(t, n, sizeof(*t), mi_task_cmp, NULL);

	for (i = 0; i < n; i = j) {
		struct mi_entry *e;

		for (j = i + 1; j < n && !strncmp(t[i].comm, t[j].comm,
						  TASK_COMM_LEN); j++)
			;
		err = mi_scan_name(&w, &t[i], j - i, &e);
		if (err)
			goto out;
		if (e)
			list_add_tail(&e->list, entries);
	}
	/* Back to task-list order of each name's first (kept) process. */
	list_sort(NULL, entries, mi_entry_cmp);
out:
	if (err)
		mi_snapshot_free(entries);
	mi_store_free(&store);
	kfree(w.batch);
	mi_put_tasks(t, n);
	kvfree(t);
	return err;
}
