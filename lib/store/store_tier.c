/* The "mem" stores as users get them: blocks compressed in memory (a
 * store_mem.c store) up to a cap the pager sets from the budget, and the
 * blocks beyond it in a file, as zswap writes back to swap. The file is
 * the one named by "mem+file:PATH", or else an unnamed temporary file in
 * $TMPDIR, else /var/tmp ("file:DIR/"), made the first time a block does
 * not fit, so a run that never spills touches no disk. */
#include "store/store_impl.h"

#include <errno.h>
#include <stdlib.h>

#include "base/rawmem.h"

/* A handle's top bit says the file holds the block; memory's handles are
 * its own, small and reused. */
#define ON_DISK ((uint64_t)1 << 63)

struct tier_store {
	struct usm_store base;
	struct usm_store *mem;
	struct usm_store *file; /* NULL until the first spill when unnamed */
	char *path;             /* NULL: a temporary file in tmpdir */
	size_t path_size;
	char *tmpdir;           /* "DIR/", read at open: the pager thread reads no environment */
	size_t tmpdir_size;
};

static void tier_close(struct usm_store *s)
{
	struct tier_store *t = (struct tier_store *)s;

	usm_store_close(t->mem);
	usm_store_close(t->file);
	usm_rawmem_free(t->path, t->path_size);
	usm_rawmem_free(t->tmpdir, t->tmpdir_size);
	usm_rawmem_free(t, sizeof(*t));
}

/* A failure here is the pager's to report: it ends the program, as a full
 * store does, so there is no retry. */
static int open_file_tier(struct tier_store *t)
{
	if (t->file)
		return 0;
	return store_open_kind(&usm_store_file_ops, t->path ? t->path : t->tmpdir, "file:",
			       t->base.block_size, 0, &t->file);
}

static int tier_open(const struct usm_store_ops *mem_ops, const char *path, size_t block_size,
		     struct usm_store **out)
{
	struct tier_store *t = usm_rawmem_alloc(sizeof(*t));
	const char *tmpdir = getenv("TMPDIR");
	int err;

	if (!t)
		return -ENOMEM;
	t->base.block_size = block_size;
	if (!tmpdir || !*tmpdir)
		tmpdir = "/var/tmp";
	t->tmpdir = store_string_join(tmpdir, "/", &t->tmpdir_size);
	if (path)
		t->path = store_string_join(path, NULL, &t->path_size);
	err = !t->tmpdir || (path && !t->path) ? -ENOMEM
		: store_open_kind(mem_ops, NULL, "mem", block_size, 0, &t->mem);
	/* a named file is made now, so a bad path is an error before any run */
	if (!err && path)
		err = open_file_tier(t);
	if (err) {
		tier_close(&t->base);
		return err;
	}
	*out = &t->base;
	return 0;
}

static int tier_open_lz4(const char *path, size_t block_size, struct usm_store **out)
{
	return tier_open(&usm_store_mem_lz4_ops, path, block_size, out);
}

static int tier_open_zstd(const char *path, size_t block_size, struct usm_store **out)
{
	return tier_open(&usm_store_mem_zstd_ops, path, block_size, out);
}

/* What a drop frees in sub, from its statistics. */
static int64_t drop_cost(struct usm_store *sub, uint64_t handle)
{
	uint64_t before = sub->stats.bytes_stored, drops = sub->stats.drops;

	usm_store_drop(sub, handle);
	return sub->stats.drops == drops ? -EINVAL : (int64_t)(before - sub->stats.bytes_stored);
}

static int tier_put(struct usm_store *s, const void *data, size_t len, uint64_t room,
		    uint64_t *handle, uint64_t *cost)
{
	struct tier_store *t = (struct tier_store *)s;
	struct usm_store *sub = t->mem;
	uint64_t sub_handle, before;
	int err;

	if (s->block_size > room)
		return -ENOSPC; /* either tier may cost up to a block */
	before = sub->stats.bytes_stored;
	/* a full memory tier is known without compressing the block first */
	if (sub->max_bytes && before + s->block_size > sub->max_bytes)
		err = -ENOSPC;
	else
		err = usm_store_put(sub, data, len, &sub_handle);
	if (err == -ENOSPC) {
		err = open_file_tier(t);
		if (err)
			return err;
		sub = t->file;
		before = sub->stats.bytes_stored;
		err = usm_store_put(sub, data, len, &sub_handle);
	}
	if (err)
		return err;
	*handle = sub_handle | (sub == t->file ? ON_DISK : 0);
	*cost = sub->stats.bytes_stored - before;
	return 0;
}

static struct usm_store *tier_of(struct tier_store *t, uint64_t handle)
{
	return handle & ON_DISK ? t->file : t->mem;
}

static int tier_get(struct usm_store *s, uint64_t handle, void *data, size_t len)
{
	struct usm_store *sub = tier_of((struct tier_store *)s, handle);

	return sub ? usm_store_get(sub, handle & ~ON_DISK, data, len) : -EINVAL;
}

static int64_t tier_drop(struct usm_store *s, uint64_t handle)
{
	struct usm_store *sub = tier_of((struct tier_store *)s, handle);

	return sub ? drop_cost(sub, handle & ~ON_DISK) : -EINVAL;
}

static void tier_split(const struct usm_store *s, struct usm_store_stats *st)
{
	const struct tier_store *t = (const struct tier_store *)s;

	st->bytes_in_memory = t->mem->stats.bytes_stored;
	st->bytes_on_disk = t->file ? t->file->stats.bytes_stored : 0;
	st->blocks_on_disk = t->file ? t->file->stats.blocks_stored : 0;
	st->puts_to_disk = t->file ? t->file->stats.puts : 0;
}

static void tier_set_memory_cap(struct usm_store *s, uint64_t bytes)
{
	((struct tier_store *)s)->mem->max_bytes = bytes;
}

#define TIER_OPS(codec)                                   \
	const struct usm_store_ops usm_store_tier_##codec##_ops = { \
		.open = tier_open_##codec,                \
		.put = tier_put,                          \
		.get = tier_get,                          \
		.drop = tier_drop,                        \
		.close = tier_close,                      \
		.split = tier_split,                      \
		.set_memory_cap = tier_set_memory_cap,    \
	};
TIER_OPS(lz4)
TIER_OPS(zstd)
