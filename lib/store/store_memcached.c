/* The "memcached:" store: evicted blocks on a memcached cluster through
 * libmemcached (mc_cluster.h says how its memory and connections are kept
 * off the managed heap).
 *
 * memcached is a cache, so nothing it returns is trusted: each value is a
 * header (magic, length, XXH3 of the block) and the block, and the local
 * record keeps the length and the hash too; a fetch must match both. Keys
 * name the host, the run, the process, the page and a generation unique to
 * each put, so a stale copy (of a page rewritten, unmapped, or of an
 * earlier process) is never the one asked for. A block is written to its
 * ketama server and `replicas` more; a missing or bad copy is read from the
 * next holder; with none left, the get fails with the page and the server
 * named, and the pager stops the program. Sets and deletes of a batch are
 * pipelined without replies; one read of the last key written to each
 * server proves the server took the batch. A server that fails is out of
 * the ring for good, and the blocks it held are copied from their other
 * holders to new ones while the replica count allows. */
#include "store/store_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/clock.h"
#include "base/rawmem.h"
#include "store/mc_cluster.h"

#define MAGIC   0x31534d55u /* "UMS1" */
#define KEY_MAX 200
#define CHUNK   64 /* blocks per mget */

struct value_header {
	uint32_t magic;
	uint32_t len;
	uint64_t hash;
};

/* The blocks of one mget to one server (indices into the want array). */
struct asked {
	size_t idx[CHUNK];
	size_t k;
};

struct mc_block {
	struct store_slot slot;
	uint64_t gen; /* 0: not written yet */
	uint64_t addr;
	uint64_t hash;
	uint64_t holders; /* servers that took it */
	uint32_t len;
	uint8_t first; /* the first server written: named when all are out */
};

struct mc_store {
	struct usm_store base;
	struct mc_cluster c;
	struct store_slots blocks;
	char prefix[128]; /* "usm:HOST:RUN:PID:" */
	size_t prefix_len;
	uint64_t next_gen;
	char *value; /* one header + block being sent */
	size_t value_size;
	char *spare;           /* a block being repaired */
	char (*keys)[KEY_MAX]; /* CHUNK keys of an mget */
	size_t key_lens[CHUNK];
	struct asked *asked; /* per server: the blocks of its mget in flight */
	bool repair;         /* a server went out: restore replica counts */
};

static uint64_t want_copies(const struct mc_store *m)
{
	return (uint64_t)m->c.set.replicas + 1;
}

static uint64_t alive_mask(const struct mc_store *m)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < m->c.set.nservers; i++)
		if (m->c.servers[i].alive)
			mask |= 1ull << i;
	return mask;
}

static size_t make_key(const struct mc_store *m, uint64_t addr, uint64_t gen, char *out)
{
	int n = snprintf(out, KEY_MAX, "%s%" PRIx64 ":%" PRIx64, m->prefix, addr, gen);

	return n > 0 && n < KEY_MAX ? (size_t)n : 0;
}

static void make_prefix(struct mc_store *m)
{
	char pid[40];

	/* usm run sets the run's id, and purges its keys when it ends */
	mc_run_prefix(m->prefix, sizeof(m->prefix) - sizeof(pid), getenv("USM_RUN_ID"));
	/* the start time keeps a reused pid apart from an earlier process's */
	snprintf(pid, sizeof(pid), "%d.%" PRIx64 ":", (int)getpid(),
	         (uint64_t)(usm_now_ns() & 0xffffffffffu));
	strcat(m->prefix, pid);
	m->prefix_len = strlen(m->prefix);
}

/* ---- open, check, close ---- */

static int mc_spec_check(const char *arg, char *why, size_t ws)
{
	struct mc_settings *set = usm_rawmem_alloc(sizeof(*set));
	int rc;

	if (!set) {
		snprintf(why, ws, "out of memory");
		return -ENOMEM;
	}
	rc = mc_settings_parse(arg, set, why, ws);
	usm_rawmem_free(set, sizeof(*set));
	return rc;
}

static void mc_close(struct usm_store *s)
{
	struct mc_store *m = (struct mc_store *)s;

	mc_cluster_close(&m->c);
	store_slots_fini(&m->blocks);
	usm_rawmem_free(m->value, m->value_size);
	usm_rawmem_free(m->spare, m->base.block_size);
	usm_rawmem_free(m->keys, CHUNK * KEY_MAX);
	usm_rawmem_free(m->asked, MC_MAX_SERVERS * sizeof(*m->asked));
	usm_rawmem_free(m, sizeof(*m));
}

/* A server that may drop what it holds would turn eviction into data
 * loss: refused before the first page leaves. */
static int check_servers(struct mc_store *m, char *why, size_t ws)
{
	for (size_t i = 0; i < m->c.set.nservers; i++) {
		struct mc_server_facts f;
		if (mc_server_facts(&m->c, i, &f) < 0) {
			snprintf(why, ws, "memcached server %.120s: %.150s", m->c.servers[i].name,
			         m->c.servers[i].why);
			return -EHOSTUNREACH;
		}
		if (!f.evictions_known || f.evictions) {
			snprintf(why, ws,
			         "memcached server %.120s evicts items when full (evictions %s): "
			         "it would lose pages; start it with -M",
			         m->c.servers[i].name, f.evictions_known ? "on" : "unknown");
			return -EINVAL;
		}
	}
	return 0;
}

static int mc_open(const char *arg, size_t block_size, struct usm_store **out)
{
	struct mc_store *m = usm_rawmem_alloc(sizeof(*m));
	struct mc_settings *set = usm_rawmem_alloc(sizeof(*set));
	char why[320] = "";
	int rc;

	if (!m || !set) {
		usm_rawmem_free(m, sizeof(*m));
		usm_rawmem_free(set, sizeof(*set));
		return -ENOMEM;
	}
	store_slots_init(&m->blocks, sizeof(struct mc_block));
	rc = mc_settings_parse(arg, set, why, sizeof(why));
	if (rc == 0)
		rc = mc_cluster_open(&m->c, set, why, sizeof(why));
	usm_rawmem_free(set, sizeof(*set));
	if (rc < 0) {
		store_slots_fini(&m->blocks);
		usm_rawmem_free(m, sizeof(*m));
		store_set_open_error("%s", why);
		return rc;
	}
	m->value_size = sizeof(struct value_header) + block_size;
	m->value = usm_rawmem_alloc(m->value_size);
	m->keys = usm_rawmem_alloc(CHUNK * KEY_MAX);
	m->base.block_size = block_size; /* store.c sets it too; mc_close needs it first */
	m->spare = usm_rawmem_alloc(block_size);
	m->asked = usm_rawmem_alloc(MC_MAX_SERVERS * sizeof(*m->asked));
	rc = m->value && m->keys && m->spare && m->asked ? check_servers(m, why, sizeof(why))
	                                                 : -ENOMEM;
	if (rc < 0) {
		store_set_open_error("%s", why);
		mc_close(&m->base);
		return rc;
	}
	make_prefix(m);
	*out = &m->base;
	return 0;
}

/* ---- reading ---- */

/* Whether a fetched value is exactly block b. */
static bool value_good(const struct mc_block *b, const char *v, size_t vlen)
{
	struct value_header h;

	if (vlen != sizeof(h) + b->len)
		return false;
	memcpy(&h, v, sizeof(h));
	return h.magic == MAGIC && h.len == b->len && h.hash == b->hash &&
	       XXH3_64bits(v + sizeof(h), b->len) == b->hash;
}

struct want {
	struct mc_block *b;
	void *dst;
	uint64_t tried; /* servers asked */
	char why[224];  /* what the last one said */
	bool done;
};

/* The first holder of b still in and not yet asked. */
static int pick_holder(const struct mc_store *m, const struct want *w)
{
	uint64_t left = w->b->holders & alive_mask(m) & ~w->tried;

	return left ? __builtin_ctzll(left) : -1;
}

/* Sends one mget to server t for every unfinished block whose next holder
 * is t (target[i], or pick_holder when target is NULL). Keys go in
 * m->keys[i]: each block is asked of one server at a time. */
static void ask(struct mc_store *m, int t, struct want *w, size_t n, const int *target,
                struct asked *a)
{
	struct mc_server *srv = &m->c.servers[t];
	const char *keys[CHUNK];
	size_t lens[CHUNK];
	memcached_return_t rc;

	a->k = 0;
	for (size_t i = 0; i < n; i++) {
		if (w[i].done || (target ? target[i] : pick_holder(m, &w[i])) != t)
			continue;
		m->key_lens[i] = make_key(m, w[i].b->addr, w[i].b->gen, m->keys[i]);
		keys[a->k] = m->keys[i];
		lens[a->k] = m->key_lens[i];
		a->idx[a->k++] = i;
		w[i].tried |= 1ull << t;
		snprintf(w[i].why, sizeof(w[i].why),
		         "%.120s has no copy (evicted, flushed or restarted)", srv->name);
	}
	if (a->k == 0)
		return;
	rc = memcached_mget(&srv->mc, keys, lens, a->k);
	if (!mc_server_ok(srv, "get", rc, rc == MEMCACHED_SUCCESS))
		m->repair = true;
}

/* Reads server t's answers to ask(), checking every value. */
static void take_answers(struct mc_store *m, int t, struct want *w, const struct asked *a)
{
	struct mc_server *srv = &m->c.servers[t];
	memcached_return_t rc;

	while (a->k && srv->alive) {
		memcached_result_st *r = memcached_fetch_result(&srv->mc, &srv->result, &rc);
		if (!mc_server_ok(srv, "get", rc,
		                  r || rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND)) {
			m->repair = true;
			break;
		}
		if (!r)
			break;
		const char *key = memcached_result_key_value(r);
		size_t klen = memcached_result_key_length(r);
		for (size_t q = 0; q < a->k; q++) {
			size_t i = a->idx[q];
			struct want *x = &w[i];
			if (x->done || m->key_lens[i] != klen || memcmp(m->keys[i], key, klen))
				continue;
			if (value_good(x->b, memcached_result_value(r),
			               memcached_result_length(r))) {
				memcpy(x->dst,
				       memcached_result_value(r) + sizeof(struct value_header),
				       x->b->len);
				x->done = true;
			} else {
				snprintf(x->why, sizeof(x->why),
				         "the copy on %.120s is damaged (length or checksum)",
				         srv->name);
			}
			break;
		}
	}
	if (!srv->alive)
		for (size_t q = 0; q < a->k; q++)
			if (!w[a->idx[q]].done)
				snprintf(w[a->idx[q]].why, sizeof(w[a->idx[q]].why),
				         "%.100s is out (%.90s)", srv->name, srv->why);
}

/* One server's round trip for the blocks whose next holder is t. */
static void fetch_from(struct mc_store *m, int t, struct want *w, size_t n)
{
	struct asked a;

	ask(m, t, w, n, NULL, &a);
	take_answers(m, t, w, &a);
}

/* Reads up to CHUNK blocks; on a block no holder can give, names it. */
static int get_chunk(struct mc_store *m, struct want *w, size_t n, size_t *failed)
{
	for (;;) {
		bool pending = false;
		for (size_t i = 0; i < n; i++) {
			if (w[i].done)
				continue;
			int t = pick_holder(m, &w[i]);
			if (t < 0 && !w[i].why[0]) {
				const struct mc_server *out = &m->c.servers[w[i].b->first];
				snprintf(w[i].why, sizeof(w[i].why), "%.100s is out (%.100s)",
				         out->name, out->why);
			}
			if (t < 0) {
				snprintf(m->base.error, sizeof(m->base.error),
				         "the page at 0x%" PRIx64
				         " is lost: %.200s, and no other server "
				         "holds a copy",
				         w[i].b->addr, w[i].why);
				*failed = i;
				return -EIO;
			}
			pending = true;
		}
		if (!pending)
			return 0;
		/* every server asked first, then every answer read: one round
		 * trip for the whole run, however ketama spread it */
		int target[CHUNK];
		uint64_t servers = 0;
		for (size_t i = 0; i < n; i++) {
			target[i] = w[i].done ? -1 : pick_holder(m, &w[i]);
			if (target[i] >= 0)
				servers |= 1ull << target[i];
		}
		for (uint64_t left = servers; left; left &= left - 1)
			ask(m, __builtin_ctzll(left), w, n, target,
			    &m->asked[__builtin_ctzll(left)]);
		for (uint64_t left = servers; left; left &= left - 1)
			take_answers(m, __builtin_ctzll(left), w, &m->asked[__builtin_ctzll(left)]);
	}
}

static void repair(struct mc_store *m);

static int get_some(struct mc_store *m, struct usm_store_io *io, size_t n, size_t *failed)
{
	struct want w[CHUNK];
	int rc = 0;

	for (size_t base = 0; base < n && rc == 0; base += CHUNK) {
		size_t k = n - base < CHUNK ? n - base : CHUNK, bad = 0;
		for (size_t i = 0; i < k; i++) {
			struct mc_block *b = store_slots_find(&m->blocks, io[base + i].handle);
			if (!b || !b->gen || b->len != io[base + i].len) {
				*failed = base + i;
				return -EINVAL;
			}
			w[i] = (struct want){.b = b, .dst = io[base + i].data};
		}
		rc = get_chunk(m, w, k, &bad);
		if (rc < 0)
			*failed = base + bad;
	}
	if (m->repair)
		repair(m);
	return rc;
}

static int mc_get_batch(struct usm_store *s, struct usm_store_io *io, size_t n, size_t *failed)
{
	return get_some((struct mc_store *)s, io, n, failed);
}

static int mc_get(struct usm_store *s, uint64_t handle, void *data, size_t len)
{
	struct usm_store_io io = {.data = data, .len = len, .handle = handle};
	size_t failed;

	return get_some((struct mc_store *)s, &io, 1, &failed);
}

/* ---- writing ---- */

/* Sends block b (data) to servers until it has the copies it should.
 * Returns the servers it was sent to in *sent. */
static void send_block(struct mc_store *m, struct mc_block *b, const void *data, uint64_t *last,
                       uint64_t *sent)
{
	struct value_header h = {MAGIC, b->len, b->hash};
	char key[KEY_MAX];
	size_t klen = make_key(m, b->addr, b->gen, key);
	int t = -1;

	memcpy(m->value, &h, sizeof(h));
	memcpy(m->value + sizeof(h), data, b->len);
	while (__builtin_popcountll(b->holders & alive_mask(m)) < (int)want_copies(m)) {
		t = t < 0 && !b->holders ? mc_cluster_place(&m->c, key, klen)
		                         : mc_cluster_next(&m->c, t < 0 ? 0 : t, b->holders);
		if (t < 0)
			return;
		struct mc_server *srv = &m->c.servers[t];
		memcached_return_t rc =
		        memcached_set(&srv->mc, key, klen, m->value, sizeof(h) + b->len, 0, 0);
		if (mc_server_ok(srv, "set", rc,
		                 rc == MEMCACHED_SUCCESS || rc == MEMCACHED_BUFFERED)) {
			if (!b->holders)
				b->first = (uint8_t)t;
			b->holders |= 1ull << t;
			*sent |= 1ull << t;
			last[t] = (uint64_t)(uintptr_t)b;
		} else {
			m->repair = true;
		}
	}
}

/* Flushes what each server in sent was given and reads its last block
 * back. A server that lost it is full (with -M it refuses sets when out
 * of memory; noreply hides the refusal): every block of the batch sent to
 * it is read back, and those it does not hold lose it as a holder (and
 * are sent elsewhere by the caller). */
static void prove(struct mc_store *m, const uint64_t *last, uint64_t sent, struct usm_store_io *io,
                  size_t n)
{
	struct want pw[MC_MAX_SERVERS];
	int target[MC_MAX_SERVERS];
	size_t ns = m->c.set.nservers;
	uint64_t asking = 0;

	/* every server flushed and asked for its last block, then every answer
	 * read: one round trip for the batch, however many servers it went to */
	for (size_t t = 0; t < ns; t++) {
		struct mc_server *srv = &m->c.servers[t];
		pw[t] = (struct want){.done = true};
		target[t] = -1;
		if (!(sent & (1ull << t)) || !srv->alive)
			continue;
		memcached_return_t rc = memcached_flush_buffers(&srv->mc);
		if (!mc_server_ok(srv, "send", rc, rc == MEMCACHED_SUCCESS)) {
			m->repair = true;
			continue;
		}
		struct mc_block *b = (struct mc_block *)(uintptr_t)last[t];
		/* only t is asked: the others are marked as tried */
		pw[t] = (struct want){.b = b, .dst = m->spare, .tried = b->holders & ~(1ull << t)};
		target[t] = (int)t;
		asking |= 1ull << t;
	}
	for (uint64_t left = asking; left; left &= left - 1)
		ask(m, __builtin_ctzll(left), pw, ns, target, &m->asked[__builtin_ctzll(left)]);
	for (uint64_t left = asking; left; left &= left - 1)
		take_answers(m, __builtin_ctzll(left), pw, &m->asked[__builtin_ctzll(left)]);
	for (uint64_t left = asking; left; left &= left - 1) {
		size_t t = (size_t)__builtin_ctzll(left);
		struct mc_server *srv = &m->c.servers[t];
		if (pw[t].done || !srv->alive)
			continue;
		srv->full = true;
		snprintf(srv->why, sizeof(srv->why), "full: it refused a block (memory limit)");
		for (size_t base = 0; base < n; base += CHUNK) {
			struct want ws[CHUNK];
			size_t k = 0;
			for (size_t i = base; i < n && i < base + CHUNK; i++) {
				struct mc_block *x = store_slots_find(&m->blocks, io[i].handle);
				if (!x || !(x->holders & (1ull << t)))
					continue;
				ws[k++] = (struct want){.b = x,
				                        .dst = m->spare,
				                        .tried = x->holders & ~(1ull << t)};
			}
			/* the blocks land in spare one after another: only presence counts */
			fetch_from(m, (int)t, ws, k);
			for (size_t q = 0; q < k; q++)
				if (!ws[q].done)
					ws[q].b->holders &= ~(1ull << t);
		}
	}
}

static void forget_copies(struct mc_store *m, const struct mc_block *b);

static int mc_put_batch(struct usm_store *s, struct usm_store_io *io, size_t n, uint64_t room,
                        uint64_t *cost)
{
	struct mc_store *m = (struct mc_store *)s;
	uint64_t last[MC_MAX_SERVERS], total = 0;
	int rc = 0;
	size_t taken = 0;

	for (size_t i = 0; i < n; i++)
		total += io[i].len;
	if (total > room)
		return -ENOSPC;
	for (; taken < n; taken++) {
		struct mc_block *b;
		rc = store_slots_take(&m->blocks, &io[taken].handle, (void **)&b);
		if (rc < 0)
			break;
		b->gen = ++m->next_gen;
		b->addr = io[taken].addr;
		b->len = (uint32_t)io[taken].len;
		b->hash = XXH3_64bits(io[taken].data, io[taken].len);
	}
	/* a server lost in a round leaves its blocks short: send them again */
	for (unsigned round = 0; rc == 0 && round <= m->c.set.nservers; round++) {
		uint64_t sent = 0;
		bool short_of_copies = false;
		for (size_t i = 0; i < n; i++) {
			struct mc_block *b = store_slots_find(&m->blocks, io[i].handle);
			b->holders &= alive_mask(m);
			if ((uint64_t)__builtin_popcountll(b->holders) < want_copies(m))
				send_block(m, b, io[i].data, last, &sent);
		}
		if (!sent)
			break;
		prove(m, last, sent, io, n);
		uint64_t can = mc_cluster_alive(&m->c) < want_copies(m) ? mc_cluster_alive(&m->c)
		                                                        : want_copies(m);
		for (size_t i = 0; i < n; i++) {
			struct mc_block *b = store_slots_find(&m->blocks, io[i].handle);
			short_of_copies |=
			        (uint64_t)__builtin_popcountll(b->holders & alive_mask(m)) < can;
		}
		if (!short_of_copies)
			break;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct mc_block *b = store_slots_find(&m->blocks, io[i].handle);
		if ((b->holders & alive_mask(m)) == 0) {
			bool any_full = false;
			for (size_t t = 0; t < m->c.set.nservers; t++)
				any_full |= m->c.servers[t].alive && m->c.servers[t].full;
			if (any_full && mc_cluster_next(&m->c, 0, 0) < 0) {
				snprintf(s->error, sizeof(s->error),
				         "every memcached server still in is full (memory limit)");
				rc = -ENOSPC;
				break;
			}
			const struct mc_server *out = &m->c.servers[0];
			for (size_t t = 0; t < m->c.set.nservers; t++)
				if (!m->c.servers[t].alive)
					out = &m->c.servers[t]; /* the last one out says why */
			snprintf(s->error, sizeof(s->error),
			         "no memcached server is left to take the page at 0x%" PRIx64
			         " (%.100s: %.150s)",
			         b->addr, out->name, out->why);
			rc = -EIO;
		}
	}
	if (rc < 0) {
		for (size_t i = 0; i < taken; i++) {
			struct mc_block *b = store_slots_find(&m->blocks, io[i].handle);
			forget_copies(m, b);
			store_slots_give(&m->blocks, io[i].handle);
			io[i].handle = 0;
		}
		return rc;
	}
	if (m->repair)
		repair(m);
	*cost = total;
	return 0;
}

static int mc_put(struct usm_store *s, const void *data, size_t len, uint64_t room,
                  uint64_t *handle, uint64_t *cost)
{
	struct usm_store_io io = {.data = (void *)data, .len = len};
	int rc = mc_put_batch(s, &io, 1, room, cost);

	*handle = io.handle;
	return rc;
}

/* ---- dropping, repair ---- */

/* Deletes b's copies (pipelined, no reply: it goes out with the next
 * batch). A copy a server fails to delete is one it no longer serves. */
static void forget_copies(struct mc_store *m, const struct mc_block *b)
{
	char key[KEY_MAX];
	size_t klen = make_key(m, b->addr, b->gen, key);

	for (size_t t = 0; t < m->c.set.nservers; t++) {
		struct mc_server *srv = &m->c.servers[t];
		if (!(b->holders & (1ull << t)) || !srv->alive)
			continue;
		memcached_return_t rc = memcached_delete(&srv->mc, key, klen, 0);
		if (!mc_server_ok(srv, "delete", rc,
		                  rc == MEMCACHED_SUCCESS || rc == MEMCACHED_BUFFERED))
			m->repair = true;
	}
}

static int64_t mc_drop(struct usm_store *s, uint64_t handle)
{
	struct mc_store *m = (struct mc_store *)s;
	struct mc_block *b = store_slots_find(&m->blocks, handle);
	uint32_t len;

	if (!b)
		return -EINVAL;
	len = b->len;
	forget_copies(m, b);
	store_slots_give(&m->blocks, handle);
	return len;
}

/* Blocks left with fewer copies than asked get new ones, copied from a
 * holder still in. Runs until no server goes out during it. */
static void repair(struct mc_store *m)
{
	uint64_t last[MC_MAX_SERVERS];

	while (m->repair) {
		uint64_t sent = 0;
		m->repair = false;
		for (uint64_t h = 1; h <= m->blocks.high; h++) {
			struct mc_block *b = store_slots_find(&m->blocks, h);
			if (!b || !b->gen)
				continue;
			uint64_t had = b->holders;
			b->holders &= alive_mask(m);
			if (b->holders == had || !b->holders ||
			    (uint64_t)__builtin_popcountll(b->holders) >= want_copies(m))
				continue;
			struct want w = {.b = b, .dst = m->spare};
			int t = pick_holder(m, &w);
			if (t < 0)
				continue;
			fetch_from(m, t, &w, 1);
			if (!w.done)
				continue; /* lost or its server went out: a get will say so */
			send_block(m, b, m->spare, last, &sent);
			if (sent) {
				struct usm_store_io one = {.handle = h};
				prove(m, last, sent, &one, 1);
			}
			sent = 0;
		}
	}
}

/* A get of a key never set, on each server still in: its reply comes
 * after every command sent before it on that connection. */
static void mc_sync(struct usm_store *s)
{
	struct mc_store *m = (struct mc_store *)s;
	const char *key = "usm:sync";
	size_t len = strlen(key);

	for (size_t t = 0; t < m->c.set.nservers; t++) {
		struct mc_server *srv = &m->c.servers[t];
		memcached_return_t rc;
		if (!srv->alive)
			continue;
		rc = memcached_flush_buffers(&srv->mc);
		if (!mc_server_ok(srv, "send", rc, rc == MEMCACHED_SUCCESS))
			continue;
		rc = memcached_mget(&srv->mc, &key, &len, 1);
		if (!mc_server_ok(srv, "get", rc, rc == MEMCACHED_SUCCESS))
			continue;
		while (memcached_fetch_result(&srv->mc, &srv->result, &rc))
			;
		mc_server_ok(srv, "get", rc, rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND);
	}
}

/* The process ends: every block's copies go (pipelined), then a sync
 * proves each server applied the deletes. A copy on a server that is out
 * may still be there: that server may only have been slow. */
static int mc_end(struct usm_store *s)
{
	struct mc_store *m = (struct mc_store *)s;
	uint64_t stranded = 0;

	for (uint64_t h = 1; h <= m->blocks.high; h++) {
		struct mc_block *b = store_slots_find(&m->blocks, h);
		if (!b || !b->gen)
			continue;
		forget_copies(m, b);
		stranded |= b->holders;
		store_slots_give(&m->blocks, h);
	}
	mc_sync(s);
	return stranded & ~alive_mask(m) ? -EIO : 0;
}

static const char *mc_key_prefix(const struct usm_store *s)
{
	return ((const struct mc_store *)s)->prefix;
}

const struct usm_store_ops usm_store_memcached_ops = {
        .sync = mc_sync,
        .end = mc_end,
        .key_prefix = mc_key_prefix,
        .open = mc_open,
        .put = mc_put,
        .get = mc_get,
        .drop = mc_drop,
        .close = mc_close,
        .put_batch = mc_put_batch,
        .get_batch = mc_get_batch,
        .check = mc_spec_check,
};
