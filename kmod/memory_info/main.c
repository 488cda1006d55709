// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/memory_info: commands RESET, ALL, FILTER|<name>, DEL|<name>, one per
 * write(); the file then reads the result of the last command.
 * Contract: docs/memory_info.md.
 *
 * Locking: mi_lock serialises commands and guards the snapshot and the
 * current result. A result is immutable and refcounted: a reader takes a
 * reference under mi_lock and copies to userspace without it, so a slow or
 * faulting reader never blocks writers, and never sees a half-built text.
 * Each open file keeps the result it began reading (pinned when read at
 * offset 0), so a read in several chunks is never a mix of two results.
 */
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "memory_info.h"

#define MI_PROC_NAME "memory_info"
/* Longest command, "FILTER|" + 15-byte name + "\n", with room to spare. */
#define MI_CMD_MAX 64

struct mi_result {
	refcount_t ref;
	size_t len;
	const char *text;
};

#define MI_STATIC_RESULT(s) { REFCOUNT_INIT(1), sizeof(s) - 1, s }

/* Fixed texts: never freed (their base reference is never dropped). */
static struct mi_result mi_res_empty = MI_STATIC_RESULT("");
static struct mi_result mi_res_success = MI_STATIC_RESULT("[SUCCESS]\n");
static struct mi_result mi_res_einval =
	MI_STATIC_RESULT("[ERROR]: Invalid argument\n");
static struct mi_result mi_res_efault =
	MI_STATIC_RESULT("[ERROR]: Bad address\n");
static struct mi_result mi_res_esrch =
	MI_STATIC_RESULT("[ERROR]: No such process\n");
static struct mi_result mi_res_enomem =
	MI_STATIC_RESULT("[ERROR]: Memory allocation error\n");

/*
 * Testing aid, so that a test can reach every ENOMEM path: when set to N > 0,
 * the N-th allocation from then on fails (and the count goes back to 0).
 */
static unsigned int fail_alloc;
module_param(fail_alloc, uint, 0600);
MODULE_PARM_DESC(fail_alloc, "testing: make the N-th allocation from now fail with ENOMEM (0: never)");

bool mi_fail_alloc(void)
{
	unsigned int n = READ_ONCE(fail_alloc);

	if (!n)
		return false;
	WRITE_ONCE(fail_alloc, n - 1);
	return n == 1;
}

static DEFINE_MUTEX(mi_lock);
static LIST_HEAD(mi_entries);		/* the snapshot */
static struct mi_result *mi_cur;		/* holds one reference */
static struct proc_dir_entry *mi_proc;

static struct mi_result *mi_result_get(struct mi_result *r)
{
	refcount_inc(&r->ref);
	return r;
}

static void mi_result_put(struct mi_result *r)
{
	if (r && refcount_dec_and_test(&r->ref))
		kvfree(r);
}

/* Caller holds mi_lock; takes over the caller's reference on @r. */
static void mi_set_result(struct mi_result *r)
{
	struct mi_result *old = mi_cur;

	mi_cur = r;
	mi_result_put(old);
}

/* Error result for @err, also logged at KERN_ERR; returns @err. */
static int mi_fail(int err)
{
	struct mi_result *r;

	switch (err) {
	case -EFAULT:
		r = &mi_res_efault;
		break;
	case -ESRCH:
		r = &mi_res_esrch;
		break;
	case -ENOMEM:
		r = &mi_res_enomem;
		break;
	default:
		r = &mi_res_einval;
		break;
	}
	pr_err("%s", r->text);
	mi_set_result(mi_result_get(r));
	return err;
}

/* printf into a buffer, or only measure when b->p is NULL. */
struct mi_buf {
	char *p;
	size_t len;
	size_t cap;
};

static __printf(2, 3) void mi_emit(struct mi_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->p && b->cap > b->len ? b->cap - b->len : 0;

	va_start(ap, fmt);
	b->len += vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
}

static void mi_emit_entry(struct mi_buf *b, const struct mi_entry *e)
{
	unsigned int i;

	mi_emit(b, "%s, total: %lu, valid: %lu, invalid: %lu, may_be_shared: %lu, nb_group: %lu, pid(%u): ",
		e->name, e->total, e->valid,
		e->total >= e->valid ? e->total - e->valid : 0,
		e->may_be_shared, e->nb_group, e->npids);
	for (i = 0; i < e->npids; i++)
		mi_emit(b, i ? "; %d" : "%d", e->pids[i]);
	mi_emit(b, "\n");
}

static void mi_emit_lines(struct mi_buf *b, const struct mi_entry *only)
{
	const struct mi_entry *e;

	if (only) {
		mi_emit_entry(b, only);
		return;
	}
	list_for_each_entry(e, &mi_entries, list)
		mi_emit_entry(b, e);
}

/* Result of ALL (@only NULL) or FILTER: measure, allocate, then print. */
static int mi_print(const struct mi_entry *only)
{
	struct mi_buf b = { };
	struct mi_result *r;

	mi_emit_lines(&b, only);
	if (!b.len) {
		mi_set_result(mi_result_get(&mi_res_empty));
		return 0;
	}
	r = mi_fail_alloc() ? NULL : kvmalloc(sizeof(*r) + b.len + 1, GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	refcount_set(&r->ref, 1);
	r->text = (char *)(r + 1);
	b.p = (char *)(r + 1);
	b.cap = b.len + 1;
	b.len = 0;
	mi_emit_lines(&b, only);	/* same snapshot: mi_lock is held */
	r->len = min(b.len, b.cap - 1);
	mi_set_result(r);
	return 0;
}

static struct mi_entry *mi_find(const char *name)
{
	struct mi_entry *e;

	list_for_each_entry(e, &mi_entries, list)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

static int mi_reset(void)
{
	LIST_HEAD(fresh);
	int err;

	/* Built aside: on failure the current snapshot stays as it was. */
	err = mi_snapshot_take(&fresh);
	if (err)
		return err;
	mi_snapshot_free(&mi_entries);
	list_splice(&fresh, &mi_entries);
	mi_set_result(mi_result_get(&mi_res_success));
	return 0;
}

/*
 * "<cmd>|<name>": @name must be 1 to 15 bytes (a comm); a newline left in it
 * after the one trailing '\n' was stripped is a second newline: malformed.
 */
static int mi_parse_name(const char *cmd, size_t len, const char *prefix,
			 char *name)
{
	size_t plen = strlen(prefix), nlen;

	if (len <= plen || memcmp(cmd, prefix, plen))
		return -EINVAL;
	nlen = len - plen;
	if (nlen > TASK_COMM_LEN - 1 || memchr(cmd + plen, '\n', nlen))
		return -EINVAL;
	memcpy(name, cmd + plen, nlen);
	name[nlen] = '\0';
	return 0;
}

/* Run one command; mi_lock held. Returns 0, -ESRCH (not found) or error. */
static int mi_command(const char *cmd, size_t len)
{
	char name[TASK_COMM_LEN];
	struct mi_entry *e;

	if (len && cmd[len - 1] == '\n')
		len--;			/* the one '\n' echo adds */
	if (memchr(cmd, '\0', len))
		return -EINVAL;		/* no comm can contain a NUL */

	if (len == 5 && !memcmp(cmd, "RESET", 5))
		return mi_reset();
	if (len == 3 && !memcmp(cmd, "ALL", 3))
		return mi_print(NULL);
	if (!mi_parse_name(cmd, len, "FILTER|", name)) {
		e = mi_find(name);
		return e ? mi_print(e) : -ESRCH;
	}
	if (!mi_parse_name(cmd, len, "DEL|", name)) {
		e = mi_find(name);
		if (!e)
			return -ESRCH;
		list_del(&e->list);
		kfree(e->pids);
		kfree(e);
		mi_set_result(mi_result_get(&mi_res_success));
		return 0;
	}
	return -EINVAL;
}

static ssize_t mi_write(struct file *file, const char __user *ubuf,
			size_t count, loff_t *ppos)
{
	char cmd[MI_CMD_MAX];
	int err = 0;

	if (!count || count > sizeof(cmd))
		err = -EINVAL;
	else if (copy_from_user(cmd, ubuf, count))
		err = -EFAULT;

	if (mutex_lock_interruptible(&mi_lock))
		return -ERESTARTSYS;
	if (!err)
		err = mi_command(cmd, count);
	if (err == -ESRCH) {
		mi_fail(err);		/* reported in the file, not by write() */
		err = 0;
	} else if (err && err != -EINTR) {
		mi_fail(err);
	}
	mutex_unlock(&mi_lock);
	return err ? err : count;
}

static int mi_open(struct inode *inode, struct file *file)
{
	file->private_data = NULL;	/* result pinned by the first read */
	return 0;
}

static ssize_t mi_read(struct file *file, char __user *ubuf, size_t count,
		       loff_t *ppos)
{
	struct mi_result *r, *old = NULL;
	ssize_t ret;

	if (mutex_lock_interruptible(&mi_lock))
		return -ERESTARTSYS;
	if (*ppos == 0 || !file->private_data) {
		old = file->private_data;
		file->private_data = mi_result_get(mi_cur);
	}
	r = mi_result_get(file->private_data);
	mutex_unlock(&mi_lock);
	mi_result_put(old);

	ret = simple_read_from_buffer(ubuf, count, ppos, r->text, r->len);
	mi_result_put(r);
	return ret;
}

static int mi_release(struct inode *inode, struct file *file)
{
	mi_result_put(file->private_data);
	return 0;
}

static const struct proc_ops mi_proc_ops = {
	.proc_open	= mi_open,
	.proc_read	= mi_read,
	.proc_write	= mi_write,
	.proc_lseek	= default_llseek,
	.proc_release	= mi_release,
};

static int __init mi_init(void)
{
	int err;

	mi_cur = mi_result_get(&mi_res_empty);
	err = mi_snapshot_take(&mi_entries);
	if (err)
		return err;
	/* Anyone may read; only root may make the module scan memory. */
	mi_proc = proc_create(MI_PROC_NAME, 0644, NULL, &mi_proc_ops);
	if (!mi_proc) {
		mi_snapshot_free(&mi_entries);
		return -ENOMEM;
	}
	return 0;
}

static void __exit mi_exit(void)
{
	/* Waits for every open/read/write in progress to return. */
	proc_remove(mi_proc);
	mi_snapshot_free(&mi_entries);
	mi_set_result(NULL);
}

module_init(mi_init);
module_exit(mi_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Per-name memory figures and identical pages in /proc/memory_info");
