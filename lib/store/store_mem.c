/* The "mem" stores: each block compressed into its own usm_rawmem buffer of
 * exactly its compressed size, with LZ4 (fastest; the default) or zstd
 * (smaller, slower to compress). Both codecs run on state allocated from
 * usm_rawmem, since malloc'd memory may itself be evicted. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem: the allocator hook */
#include "store/store_impl.h"

#include <errno.h>
#include <lz4.h>
#include <string.h>
#include <zstd.h>

#include "base/rawmem.h"

/* zram's choice: a clear gain in size over level 1 for page-sized blocks,
 * at a compression speed still far above a disk's. */
#define ZSTD_LEVEL 3

struct mem_block {
	struct store_slot slot;
	char *data; /* compressed, or the block itself when raw */
	uint32_t stored_len;
	uint32_t len;
	bool raw; /* compression did not shrink it */
};

struct mem_store;

struct codec {
	int (*init)(struct mem_store *m);
	void (*fini)(struct mem_store *m);
	size_t (*bound)(size_t len);
	/* Returns the compressed size, or 0 when the codec failed. */
	size_t (*compress)(struct mem_store *m, const void *src, size_t len, void *dst, size_t cap);
	/* Returns 0 when src decompressed to exactly len bytes. */
	int (*decompress)(struct mem_store *m, const void *src, size_t src_len, void *dst,
			  size_t len);
};

struct mem_store {
	struct usm_store base;
	const struct codec *codec;
	struct store_slots blocks;
	char *scratch; /* one compressed block, before it is sized */
	size_t scratch_size;
	void *lz4_state;
	size_t lz4_state_size;
	ZSTD_CCtx *zstd_c;
	ZSTD_DCtx *zstd_d;
};

static int lz4_init(struct mem_store *m)
{
	m->lz4_state_size = (size_t)LZ4_sizeofState();
	m->lz4_state = usm_rawmem_alloc(m->lz4_state_size);
	return m->lz4_state ? 0 : -ENOMEM;
}

static void lz4_fini(struct mem_store *m)
{
	usm_rawmem_free(m->lz4_state, m->lz4_state_size);
}

static size_t lz4_bound(size_t len)
{
	return (size_t)LZ4_compressBound((int)len);
}

static size_t lz4_compress(struct mem_store *m, const void *src, size_t len, void *dst, size_t cap)
{
	int n = LZ4_compress_fast_extState(m->lz4_state, src, dst, (int)len, (int)cap, 1);

	return n > 0 ? (size_t)n : 0;
}

static int lz4_decompress(struct mem_store *m, const void *src, size_t src_len, void *dst,
			  size_t len)
{
	int n = LZ4_decompress_safe(src, dst, (int)src_len, (int)len);

	return n >= 0 && (size_t)n == len ? 0 : -EIO;
}

/* zstd asks for memory through these, with no size on free */
static void *zstd_alloc(void *opaque, size_t size)
{
	return usm_rawmem_malloc(size);
}

static void zstd_free(void *opaque, void *address)
{
	usm_rawmem_mfree(address);
}

static const ZSTD_customMem zstd_mem = {zstd_alloc, zstd_free, NULL};

static int zstd_init(struct mem_store *m)
{
	m->zstd_c = ZSTD_createCCtx_advanced(zstd_mem);
	m->zstd_d = ZSTD_createDCtx_advanced(zstd_mem);
	return m->zstd_c && m->zstd_d ? 0 : -ENOMEM;
}

static void zstd_fini(struct mem_store *m)
{
	ZSTD_freeCCtx(m->zstd_c);
	ZSTD_freeDCtx(m->zstd_d);
}

static size_t zstd_bound(size_t len)
{
	return ZSTD_compressBound(len);
}

static size_t zstd_compress(struct mem_store *m, const void *src, size_t len, void *dst, size_t cap)
{
	size_t n = ZSTD_compressCCtx(m->zstd_c, dst, cap, src, len, ZSTD_LEVEL);

	return ZSTD_isError(n) ? 0 : n;
}

static int zstd_decompress(struct mem_store *m, const void *src, size_t src_len, void *dst,
			   size_t len)
{
	size_t n = ZSTD_decompressDCtx(m->zstd_d, dst, len, src, src_len);

	return !ZSTD_isError(n) && n == len ? 0 : -EIO;
}

static const struct codec lz4 = {lz4_init, lz4_fini, lz4_bound, lz4_compress, lz4_decompress};
static const struct codec zstd = {zstd_init, zstd_fini, zstd_bound, zstd_compress, zstd_decompress};

static void mem_close(struct usm_store *s)
{
	struct mem_store *m = (struct mem_store *)s;

	for (uint64_t h = 1; h <= m->blocks.high; h++) {
		struct mem_block *b = store_slots_find(&m->blocks, h);
		if (b)
			usm_rawmem_free(b->data, b->stored_len);
	}
	store_slots_fini(&m->blocks);
	m->codec->fini(m);
	usm_rawmem_free(m->scratch, m->scratch_size);
	usm_rawmem_free(m, sizeof(*m));
}

static int mem_open(const struct codec *codec, size_t block_size, struct usm_store **out)
{
	struct mem_store *m = usm_rawmem_alloc(sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	m->codec = codec;
	store_slots_init(&m->blocks, sizeof(struct mem_block));
	m->scratch_size = codec->bound(block_size);
	m->scratch = usm_rawmem_alloc(m->scratch_size);
	err = m->scratch ? codec->init(m) : -ENOMEM;
	if (err) {
		mem_close(&m->base);
		return err;
	}
	*out = &m->base;
	return 0;
}

static int mem_open_lz4(const char *arg, size_t block_size, struct usm_store **out)
{
	return mem_open(&lz4, block_size, out);
}

static int mem_open_zstd(const char *arg, size_t block_size, struct usm_store **out)
{
	return mem_open(&zstd, block_size, out);
}

static int mem_put(struct usm_store *s, const void *data, size_t len, uint64_t room,
		   uint64_t *handle, uint64_t *cost)
{
	struct mem_store *m = (struct mem_store *)s;
	size_t packed = m->codec->compress(m, data, len, m->scratch, m->scratch_size);
	bool raw = packed == 0 || packed >= len; /* raw is always correct */
	size_t stored_len = raw ? len : packed;
	struct mem_block *b;
	char *copy;
	int err;

	if (usm_rawmem_footprint(stored_len) > room)
		return -ENOSPC;
	copy = usm_rawmem_alloc(stored_len);
	if (!copy)
		return -ENOMEM;
	err = store_slots_take(&m->blocks, handle, (void **)&b);
	if (err) {
		usm_rawmem_free(copy, stored_len);
		return err;
	}
	memcpy(copy, raw ? data : m->scratch, stored_len);
	b->data = copy;
	b->stored_len = (uint32_t)stored_len;
	b->len = (uint32_t)len;
	b->raw = raw;
	*cost = usm_rawmem_footprint(stored_len); /* what memory it takes, not its length */
	return 0;
}

static int mem_get(struct usm_store *s, uint64_t handle, void *data, size_t len)
{
	struct mem_store *m = (struct mem_store *)s;
	struct mem_block *b = store_slots_find(&m->blocks, handle);

	if (!b || b->len != len)
		return -EINVAL;
	if (b->raw) {
		memcpy(data, b->data, len);
		return 0;
	}
	return m->codec->decompress(m, b->data, b->stored_len, data, len);
}

static int64_t mem_drop(struct usm_store *s, uint64_t handle)
{
	struct mem_store *m = (struct mem_store *)s;
	struct mem_block *b = store_slots_find(&m->blocks, handle);
	uint32_t stored_len;

	if (!b)
		return -EINVAL;
	stored_len = b->stored_len;
	usm_rawmem_free(b->data, stored_len);
	stored_len = (uint32_t)usm_rawmem_footprint(stored_len);
	store_slots_give(&m->blocks, handle);
	return stored_len;
}

const struct usm_store_ops usm_store_mem_lz4_ops = {
	.open = mem_open_lz4,
	.put = mem_put,
	.get = mem_get,
	.drop = mem_drop,
	.close = mem_close,
	.in_memory = true,
};

const struct usm_store_ops usm_store_mem_zstd_ops = {
	.open = mem_open_zstd,
	.put = mem_put,
	.get = mem_get,
	.drop = mem_drop,
	.close = mem_close,
	.in_memory = true,
};
