/* The live-object index: which object holds an address, in O(log n).
 *
 * Objects are spread over 64 shards by the 1 MiB region their first byte
 * is in, each an AVL tree under its own reader-writer lock, so threads
 * working in different regions never share a lock's cache line. An object
 * smaller than a region spans at most two regions: a lookup asks the
 * shard of the address's region, then the shard of the region before.
 * Objects of a region or more (big mmaps, big arrays) live in one more
 * tree of their own, asked last and only when it is not empty. Live
 * objects never overlap, so the greatest start <= address is the only
 * candidate in a tree. */
#include "rt.h"

#define REGION_SHIFT 20
#define NSHARDS      64

struct shard {
	pthread_rwlock_t lock;
	struct rt_obj *root;
} __attribute__((aligned(64)));

static struct shard shards[NSHARDS + 1] = {
        [0 ... NSHARDS] = {PTHREAD_RWLOCK_INITIALIZER, NULL},
};
#define LARGE (&shards[NSHARDS])
static long nlarge;

static struct shard *shard_of_region(uintptr_t region)
{
	return &shards[(region * 0x9E3779B97F4A7C15ULL) >> 58];
}

static struct shard *shard_of(const struct rt_obj *o)
{
	return o->in_large ? LARGE : shard_of_region(o->va >> REGION_SHIFT);
}

static int height(const struct rt_obj *n)
{
	return n ? n->height : 0;
}

static void fix_height(struct rt_obj *n)
{
	int l = height(n->left), r = height(n->right);

	n->height = (l > r ? l : r) + 1;
}

static struct rt_obj *rotate_right(struct rt_obj *n)
{
	struct rt_obj *l = n->left;

	n->left = l->right;
	l->right = n;
	fix_height(n);
	fix_height(l);
	return l;
}

static struct rt_obj *rotate_left(struct rt_obj *n)
{
	struct rt_obj *r = n->right;

	n->right = r->left;
	r->left = n;
	fix_height(n);
	fix_height(r);
	return r;
}

static struct rt_obj *balance(struct rt_obj *n)
{
	int b;

	fix_height(n);
	b = height(n->left) - height(n->right);
	if (b > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (b < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

static struct rt_obj *avl_insert(struct rt_obj *root, struct rt_obj *o)
{
	if (!root) {
		o->left = o->right = NULL;
		o->height = 1;
		return o;
	}
	/* Equal starts cannot both be live; the caller removed the stale one. */
	if (o->va < root->va)
		root->left = avl_insert(root->left, o);
	else
		root->right = avl_insert(root->right, o);
	return balance(root);
}

static struct rt_obj *avl_remove_min(struct rt_obj *n, struct rt_obj **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = avl_remove_min(n->left, min);
	return balance(n);
}

/* Removes exactly o (found by address and identity). */
static struct rt_obj *avl_remove(struct rt_obj *n, struct rt_obj *o)
{
	struct rt_obj *l, *r, *min;

	if (!n)
		return NULL;
	if (n != o) {
		if (o->va < n->va)
			n->left = avl_remove(n->left, o);
		else
			n->right = avl_remove(n->right, o);
		return balance(n);
	}
	l = n->left;
	r = n->right;
	if (!r)
		return l;
	r = avl_remove_min(r, &min);
	min->left = l;
	min->right = r;
	return balance(min);
}

static struct rt_obj *avl_floor(struct rt_obj *n, uintptr_t addr)
{
	struct rt_obj *best = NULL;

	while (n) {
		if (n->va <= addr) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

static struct rt_obj *shard_find(struct shard *s, uintptr_t addr)
{
	struct rt_obj *o;

	pthread_rwlock_rdlock(&s->lock);
	o = avl_floor(s->root, addr);
	if (o && addr - o->va >= (o->extent ? o->extent : 1))
		o = NULL;
	pthread_rwlock_unlock(&s->lock);
	return o;
}

void rt_index_insert(struct rt_obj *o)
{
	struct shard *s;
	struct rt_obj *stale;

	/* A free the runtime could not see (made while it was busy) leaves a
	 * stale object over this address: the allocator never hands out bytes
	 * of a live block, so whatever still claims them is gone. */
	while ((stale = rt_index_lookup(o->va)))
		rt_obj_free(stale, 0, o->alloc_ns);

	o->in_large = o->extent >= (1UL << REGION_SHIFT);
	s = shard_of(o);
	pthread_rwlock_wrlock(&s->lock);
	s->root = avl_insert(s->root, o);
	if (o->in_large)
		__atomic_add_fetch(&nlarge, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&s->lock);
}

void rt_index_remove(struct rt_obj *o)
{
	struct shard *s = shard_of(o);

	pthread_rwlock_wrlock(&s->lock);
	s->root = avl_remove(s->root, o);
	if (o->in_large)
		__atomic_sub_fetch(&nlarge, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&s->lock);
}

struct rt_obj *rt_index_lookup(uintptr_t addr)
{
	uintptr_t region = addr >> REGION_SHIFT;
	struct shard *s = shard_of_region(region), *prev = shard_of_region(region - 1);
	struct rt_obj *o;

	o = shard_find(s, addr);
	if (!o && prev != s)
		o = shard_find(prev, addr);
	if (!o && RT_LOAD(&nlarge))
		o = shard_find(LARGE, addr);
	return o;
}

void rt_index_atfork(int phase)
{
	for (int i = 0; i <= NSHARDS; i++) {
		if (phase == RT_FORK_PREPARE)
			pthread_rwlock_wrlock(&shards[i].lock);
		else if (phase == RT_FORK_PARENT)
			pthread_rwlock_unlock(&shards[i].lock);
		else
			pthread_rwlock_init(&shards[i].lock, NULL);
	}
}
