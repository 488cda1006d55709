/* Kernel object lifecycles from kmem events (objects.h). An allocation
 * opens an object keyed by its address (a slab pointer, or the pfn of a
 * page block); the free of that address closes it and writes its line at
 * once, so that memory holds only the live objects. What the events
 * cannot say is counted, not invented: a free of an address never
 * allocated in the trace (allocated before it began), and an allocation
 * at an address still open (its free was done by a task outside the
 * trace: the old object is written as live). */
#include "ktrace/objects.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "os/kallsyms.h"

struct kt_obj {
	uint64_t site, size, usable, t;
	int tid;
	uint8_t allocator; /* enum usm_ktrace_allocator */
	char comm[16];
};

struct kt_comm {
	char comm[16];
};

/* Page blocks and slab objects share the table: kernel pointers have
 * their top bits set, pfns (under 2^52) never, and this bit keeps pfn 0
 * a nonzero key. */
#define PAGE_KEY (1ull << 62)

/* MurmurHash3's finalizer: slab addresses differ in few low bits. */
static size_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return (size_t)k;
}

static uint64_t *slot_key(struct kt_hash *h, size_t i)
{
	return (uint64_t *)(void *)(h->slots + i * h->size);
}

static int hash_init(struct kt_hash *h, size_t value_size)
{
	h->size = sizeof(uint64_t) + ((value_size + 7) & ~(size_t)7);
	h->cap = 1024;
	h->n = 0;
	h->slots = calloc(h->cap, h->size);
	return h->slots ? 0 : -ENOMEM;
}

static void *hash_find(struct kt_hash *h, uint64_t key)
{
	for (size_t i = mix(key) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
		uint64_t *k = slot_key(h, i);

		if (*k == key)
			return k + 1;
		if (!*k)
			return NULL;
	}
}

static int hash_grow(struct kt_hash *h)
{
	struct kt_hash old = *h;

	h->cap *= 2;
	h->n = 0;
	h->slots = calloc(h->cap, h->size);
	if (!h->slots) {
		*h = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++) {
		uint64_t *k = slot_key(&old, i);

		if (*k) {
			size_t j = mix(*k) & (h->cap - 1);

			while (*slot_key(h, j))
				j = (j + 1) & (h->cap - 1);
			memcpy(slot_key(h, j), k, h->size);
			h->n++;
		}
	}
	free(old.slots);
	return 0;
}

/* The value of key, zeroed when new; NULL when out of memory. */
static void *hash_put(struct kt_hash *h, uint64_t key, bool *is_new)
{
	size_t i;

	*is_new = false;
	if ((h->n + 1) * 2 > h->cap && hash_grow(h) < 0)
		return NULL;
	for (i = mix(key) & (h->cap - 1); *slot_key(h, i); i = (i + 1) & (h->cap - 1))
		if (*slot_key(h, i) == key)
			return slot_key(h, i) + 1;
	memset(slot_key(h, i), 0, h->size);
	*slot_key(h, i) = key;
	h->n++;
	*is_new = true;
	return slot_key(h, i) + 1;
}

/* Removes the slot whose value is v: later slots of its run move back. */
static void hash_remove(struct kt_hash *h, void *v)
{
	size_t i = (size_t)((unsigned char *)v - sizeof(uint64_t) - h->slots) / h->size;
	size_t j = i;

	for (;;) {
		uint64_t *k;
		size_t home;

		j = (j + 1) & (h->cap - 1);
		k = slot_key(h, j);
		if (!*k)
			break;
		home = mix(*k) & (h->cap - 1);
		/* k may fill the hole at i unless its home lies in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			memcpy(slot_key(h, i), k, h->size);
			i = j;
		}
	}
	*slot_key(h, i) = 0;
	h->n--;
}

int kt_objects_init(struct kt_objects *o, FILE *body, const char *comm, uint64_t t0,
		    struct usm_ktrace_result *res)
{
	memset(o, 0, sizeof(*o));
	o->body = body;
	o->comm = comm;
	o->t0 = t0;
	o->res = res;
	if (hash_init(&o->objs, sizeof(struct kt_obj)) || hash_init(&o->comms, sizeof(struct kt_comm)) ||
	    hash_init(&o->sites, 0)) {
		kt_objects_free(o);
		return -ENOMEM;
	}
	return 0;
}

void kt_objects_free(struct kt_objects *o)
{
	free(o->objs.slots);
	free(o->comms.slots);
	free(o->sites.slots);
	memset(o, 0, sizeof(*o));
}

/* tids are keys + 1: the idle task is 0 */
int kt_objects_name(struct kt_objects *o, int tid, const char *comm)
{
	bool is_new;
	struct kt_comm *c = hash_put(&o->comms, (uint64_t)tid + 1, &is_new);

	if (!c)
		return -ENOMEM;
	snprintf(c->comm, sizeof(c->comm), "%s", comm);
	return 0;
}

/* The task's name now: what a COMM or FORK record said, or /proc's. */
static const char *comm_of(struct kt_objects *o, int tid)
{
	struct kt_comm *c = hash_find(&o->comms, (uint64_t)tid + 1);
	char path[64], name[32] = "";
	FILE *f;

	if (c)
		return c->comm;
	snprintf(path, sizeof(path), "/proc/%d/comm", tid);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(name, sizeof(name), f))
			name[0] = 0;
		fclose(f);
	}
	name[strcspn(name, "\n")] = 0;
	if (kt_objects_name(o, tid, name[0] ? name : "?") < 0)
		return "?";
	c = hash_find(&o->comms, (uint64_t)tid + 1);
	return c ? c->comm : "?";
}

static int add_site(struct kt_objects *o, uint64_t ip)
{
	bool is_new;

	if (!ip)
		return 0;
	if (!hash_put(&o->sites, ip, &is_new))
		return -ENOMEM;
	return 0;
}

static const char *const allocator_names[] = { "kmalloc", "kmem_cache", "page" };

const char *usm_ktrace_allocator_name(enum usm_ktrace_allocator a)
{
	return a < USM_KTRACE_NALLOCATORS ? allocator_names[a] : "?";
}

/* One object line (docs/capmap.md); free_t 0: live. */
static int write_obj(struct kt_objects *o, uint64_t key, const struct kt_obj *b, uint64_t free_t,
		     uint64_t free_ip)
{
	char comm[16];
	uint64_t va = b->allocator == USM_KTRACE_PAGE ? (key & ~PAGE_KEY) * 4096 : key;
	uint64_t at = b->t > o->t0 ? b->t - o->t0 : 0, ft = 0;
	int n;

	if (free_t)
		ft = free_t > o->t0 ? free_t - o->t0 : 1;
	if (free_t && ft == 0)
		ft = 1; /* 0 would read as live */
	snprintf(comm, sizeof(comm), "%s", b->comm[0] ? b->comm : "?");
	for (char *c = comm; *c; c++)
		if (*c == ',' || (unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '_';
	if (b->usable)
		n = fprintf(o->body, "%" PRIx64 ",%d,%" PRIx64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
				     ",%" PRIx64 ",%s,%s,%" PRIu64 "\n",
			    b->site, b->tid, va, b->size, at, ft, free_ip,
			    allocator_names[b->allocator], comm, b->usable);
	else
		n = fprintf(o->body, "%" PRIx64 ",%d,%" PRIx64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
				     ",%" PRIx64 ",%s,%s,-\n",
			    b->site, b->tid, va, b->size, at, ft, free_ip,
			    allocator_names[b->allocator], comm);
	if (n < 0)
		return -EIO;
	o->res->objects++;
	return 0;
}

static int alloc_event(struct kt_objects *o, const struct kt_event *e, const char *comm)
{
	bool page = e->kind == KT_ALLOC_PAGE, is_new;
	uint64_t key = page ? e->addr | PAGE_KEY : e->addr;
	struct kt_obj *b;
	int err;

	if (!page && e->addr <= 16)
		return 0; /* a failed kmalloc, or ZERO_SIZE_PTR: no object */
	b = hash_put(&o->objs, key, &is_new);
	if (!b)
		return -ENOMEM;
	if (!is_new) {
		o->res->reused_unfreed++;
		err = write_obj(o, key, b, 0, 0);
		if (err)
			return err;
	}
	memset(b, 0, sizeof(*b));
	b->site = e->site;
	b->t = e->t;
	b->tid = e->tid;
	snprintf(b->comm, sizeof(b->comm), "%s", comm);
	if (page) {
		b->allocator = USM_KTRACE_PAGE;
		b->size = 4096ull << (e->req & 63);
	} else {
		b->allocator = e->kind == KT_ALLOC_KMALLOC ? USM_KTRACE_KMALLOC : USM_KTRACE_KMEM_CACHE;
		b->size = e->req;
		b->usable = e->usable;
	}
	o->res->allocs[b->allocator]++;
	return add_site(o, e->site);
}

static int free_event(struct kt_objects *o, const struct kt_event *e, bool comm_ok)
{
	bool page = e->kind == KT_FREE_PAGE;
	uint64_t key = page ? e->addr | PAGE_KEY : e->addr;
	struct kt_obj *b;
	int err;

	if (!page && e->addr <= 16)
		return 0; /* kfree(NULL) */
	b = hash_find(&o->objs, key);
	if (!b) {
		if (comm_ok)
			o->res->freed_unseen++;
		return 0;
	}
	o->res->frees[b->allocator]++;
	err = write_obj(o, key, b, e->t, e->site);
	hash_remove(&o->objs, b);
	return err ? err : add_site(o, e->site);
}

int kt_objects_event(struct kt_objects *o, const struct kt_event *e)
{
	const char *comm;
	bool comm_ok;

	switch (e->kind) {
	case KT_COMM:
		return kt_objects_name(o, e->tid, e->comm);
	case KT_FORK: {
		struct kt_comm *parent = hash_find(&o->comms, (uint64_t)e->usable + 1);
		char name[16];

		if (!parent)
			return 0; /* named from /proc, or "?", at its first event */
		memcpy(name, parent->comm, sizeof(name));
		return kt_objects_name(o, e->tid, name);
	}
	default:
		break;
	}
	comm = comm_of(o, e->tid);
	comm_ok = !o->comm || !strcmp(comm, o->comm);
	if (e->kind == KT_FREE_SLAB || e->kind == KT_FREE_PAGE)
		return free_event(o, e, comm_ok);
	return comm_ok ? alloc_event(o, e, comm) : 0;
}

static int copy_body(FILE *body, FILE *out)
{
	char buf[65536];
	size_t n;

	if (fflush(body) != 0 || fseek(body, 0, SEEK_SET) != 0)
		return -EIO;
	while ((n = fread(buf, 1, sizeof(buf), body)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			return -EIO;
	return ferror(body) ? -EIO : 0;
}

/* The kallsyms lines of the symbols the sites are in, each with the one
 * after it, in address order. */
static int write_syms(struct kt_objects *o, FILE *syms, const struct usm_os_kallsyms *k)
{
	unsigned char *mark = calloc(k->n ? k->n : 1, 1);
	int err = 0;

	if (!mark)
		return -ENOMEM;
	for (size_t i = 0; i < o->sites.cap; i++) {
		uint64_t ip = *slot_key(&o->sites, i);
		long s;

		/* a call site is a return address: its call is the byte before */
		if (ip && (s = usm_os_kallsyms_find(k, ip - 1)) >= 0) {
			mark[s] = 1;
			o->res->sites_named++;
		}
	}
	for (size_t i = 0; i < k->n && !err; i++)
		if (mark[i])
			err = usm_os_kallsyms_write(k, i, syms);
	free(mark);
	return err;
}

int kt_objects_finish(struct kt_objects *o, FILE *out, FILE *syms,
		      const struct usm_os_kallsyms *ksyms, bool hidden)
{
	struct usm_ktrace_result *r = o->res;
	int err = 0;

	for (size_t i = 0; i < o->objs.cap && !err; i++) {
		uint64_t *k = slot_key(&o->objs, i);

		if (*k) {
			r->live++;
			err = write_obj(o, *k, (const struct kt_obj *)(k + 1), 0, 0);
		}
	}
	if (err)
		return err;
	/* what the reader must know to trust the counts (docs/ktrace.md) */
	if (fprintf(out,
		    "# lost_events=%" PRIu64 "\n# throttled=%" PRIu64 "\n# freed_before_trace=%" PRIu64
		    "\n# reallocated_unfreed=%" PRIu64 "\n",
		    r->lost, r->throttled, r->freed_unseen, r->reused_unfreed) < 0)
		return -EIO;
	err = copy_body(o->body, out);
	r->sites = o->sites.n;
	r->symbols_hidden = hidden;
	if (!err && syms && ksyms)
		err = write_syms(o, syms, ksyms);
	return err;
}
