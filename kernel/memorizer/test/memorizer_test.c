// SPDX-License-Identifier: GPL-2.0
/*
 * Memorizer's guest test module: known objects, a known number of reads and
 * writes to each from a thread bound to CPU 0 and one bound to CPU 1, at the
 * same time. The guest test (tests/kernel/guest/memorizer.sh) reads the
 * objects' addresses and the threads' pids from dmesg and checks that kmap
 * holds exactly these counts.
 *
 *   A  kmalloc(64)        CPU 0: 1000 writes 300 reads; CPU 1: 700 writes 500 reads
 *   B  kmem_cache (48)    CPU 0: 50 writes
 *   C  vmalloc(8192)      CPU 1: 40 writes 60 reads
 *   D  alloc_page         CPU 0: 20 writes 10 reads
 *
 * A and C are freed when loading ends, B and D at unload.
 */
#include <linux/completion.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

struct work {
	u64 *obj;
	unsigned int writes, reads;
};

struct worker {
	struct work work[3];
	struct completion done;
	pid_t pid;
};

static struct worker workers[2];
static struct kmem_cache *cache;
static u64 *objb;
static struct page *paged;

/* One instrumented store or load per iteration: *_ONCE are volatile. */
static noinline void touch(struct work *w)
{
	u64 sum = 0;
	unsigned int i;

	for (i = 0; i < w->writes; i++)
		WRITE_ONCE(w->obj[i % 4], i);
	for (i = 0; i < w->reads; i++)
		sum += READ_ONCE(w->obj[i % 4]);
	barrier_data(&sum);
}

static int worker_fn(void *data)
{
	struct worker *wk = data;
	int i;

	for (i = 0; i < 3; i++)
		if (wk->work[i].obj)
			touch(&wk->work[i]);
	complete(&wk->done);
	return 0;
}

static int run_workers(void)
{
	struct task_struct *t[2];
	int cpu;

	for (cpu = 0; cpu < 2; cpu++) {
		init_completion(&workers[cpu].done);
		t[cpu] = kthread_create(worker_fn, &workers[cpu], "mzt/%d", cpu);
		if (IS_ERR(t[cpu]))
			return PTR_ERR(t[cpu]);
		kthread_bind(t[cpu], cpu);
		workers[cpu].pid = t[cpu]->pid;
	}
	for (cpu = 0; cpu < 2; cpu++)
		wake_up_process(t[cpu]);
	for (cpu = 0; cpu < 2; cpu++)
		wait_for_completion(&workers[cpu].done);
	return 0;
}

static int __init memorizer_test_init(void)
{
	u64 *obja, *objc;
	int err;

	if (num_online_cpus() < 2) {
		pr_err("memorizer_test: needs 2 CPUs\n");
		return -ENODEV;
	}
	cache = kmem_cache_create("memorizer_test", 48, 0, 0, NULL);
	obja = kmalloc(64, GFP_KERNEL);
	objb = cache ? kmem_cache_alloc(cache, GFP_KERNEL) : NULL;
	objc = vmalloc(8192);
	paged = alloc_page(GFP_KERNEL);
	if (!obja || !objb || !objc || !paged) {
		err = -ENOMEM;
		goto fail;
	}
	workers[0].work[0] = (struct work){ obja, 1000, 300 };
	workers[0].work[1] = (struct work){ objb, 50, 0 };
	workers[0].work[2] = (struct work){ page_address(paged), 20, 10 };
	workers[1].work[0] = (struct work){ obja, 700, 500 };
	workers[1].work[1] = (struct work){ objc, 40, 60 };
	err = run_workers();
	if (err)
		goto fail;
	pr_info("memorizer_test: pids %d %d\n", workers[0].pid, workers[1].pid);
	pr_info("memorizer_test: A %px 64\n", obja);
	pr_info("memorizer_test: B %px 48\n", objb);
	pr_info("memorizer_test: C %px 8192\n", objc);
	pr_info("memorizer_test: D %px 4096\n", page_address(paged));
	kfree(obja);
	vfree(objc);
	return 0;
fail:
	kfree(obja);
	vfree(objc);
	if (paged)
		__free_page(paged);
	if (objb)
		kmem_cache_free(cache, objb);
	kmem_cache_destroy(cache);
	return err;
}

static void __exit memorizer_test_exit(void)
{
	kmem_cache_free(cache, objb);
	kmem_cache_destroy(cache);
	__free_page(paged);
}

module_init(memorizer_test_init);
module_exit(memorizer_test_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Memorizer's guest test: known objects, known accesses from two CPUs");
