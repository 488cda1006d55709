/* Inside stores: the ops table each kind fills in, the common header every
 * kind's state starts with, and the slot table that turns handles into
 * per-block records. store.c owns the spec, the cap and the statistics;
 * a kind only moves bytes. */
#ifndef USM_STORE_IMPL_H
#define USM_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct usm_store_ops {
	/* Makes the kind's state (whose first member is struct usm_store) for
	 * arg, the text after "kind:" (NULL when the spec had none). */
	int (*open)(const char *arg, size_t block_size, struct usm_store **out);
	/* Saves a block if it needs at most room bytes (-ENOSPC otherwise);
	 * *cost is what it now counts in bytes_stored. */
	int (*put)(struct usm_store *s, const void *data, size_t len, uint64_t room,
		   uint64_t *handle, uint64_t *cost);
	int (*get)(struct usm_store *s, uint64_t handle, void *data, size_t len);
	/* Forgets handle; returns its cost, or -EINVAL when it is not held. */
	int64_t (*drop)(struct usm_store *s, uint64_t handle);
	void (*close)(struct usm_store *s);
	/* Where the kind keeps its bytes: all in this process's memory, or
	 * (split != NULL) partly, split filling bytes_in_memory, bytes_on_disk
	 * and blocks_on_disk of st. */
	bool in_memory;
	void (*split)(const struct usm_store *s, struct usm_store_stats *st);
	/* The most the kind may keep in memory before it uses its second tier
	 * (NULL: the kind has no second tier). */
	void (*set_memory_cap)(struct usm_store *s, uint64_t bytes);
	/* Optional: whole batches in one round (NULL: block by block).
	 * put_batch keeps all of the batch or none; *cost is their sum. */
	int (*put_batch)(struct usm_store *s, struct usm_store_io *io, size_t n, uint64_t room,
			 uint64_t *cost);
	int (*get_batch)(struct usm_store *s, struct usm_store_io *io, size_t n, size_t *failed);
	/* Optional: sends what is buffered and waits until every server has
	 * applied it. */
	void (*sync)(struct usm_store *s);
	/* Optional, for a kind whose blocks outlive the process: deletes every
	 * block it holds and waits until that is applied; 0 when nothing of
	 * the process is left there. */
	int (*end)(struct usm_store *s);
	/* Optional: checks arg without opening; writes why into why. */
	int (*check)(const char *arg, char *why, size_t why_size);
	/* Optional, for a kind whose blocks outlive the process: the start of
	 * every key it writes. */
	const char *(*key_prefix)(const struct usm_store *s);
};

struct usm_store {
	const struct usm_store_ops *ops;
	size_t block_size;
	uint64_t max_bytes;
	struct usm_store_stats stats;
	char *spec; /* normalised, from usm_rawmem */
	size_t spec_size;
	char error[320]; /* usm_store_error */
#ifdef USM_FAULT_INJECTION
	uint64_t reads, fail_reads_from; /* store.c: 0 = no failure asked for */
#endif
};

/* Sets the reason usm_store_open_error reports, printf-style. */
void store_set_open_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern const struct usm_store_ops usm_store_mem_lz4_ops;
extern const struct usm_store_ops usm_store_mem_zstd_ops;
extern const struct usm_store_ops usm_store_file_ops;
extern const struct usm_store_ops usm_store_tier_lz4_ops;
extern const struct usm_store_ops usm_store_tier_zstd_ops;

/* Opens a store of kind ops for arg (what usm_store_open does once it has
 * parsed a spec), described as normalised followed by arg. */
int store_open_kind(const struct usm_store_ops *ops, const char *arg, const char *normalised,
		    size_t block_size, uint64_t max_bytes, struct usm_store **out);
extern const struct usm_store_ops usm_store_memcached_ops;

/* Every slot record starts with this; the rest is the kind's. */
struct store_slot {
	uint64_t next_free; /* handle of the next free slot, 0 = none */
	bool used;
};

/* A growable array of fixed-size slot records in usm_rawmem, addressed by
 * handle = index + 1 so that 0 is never a handle; freed slots are reused
 * first, which keeps a file store's file from growing needlessly. */
struct store_slots {
	char *records;
	size_t record_size;
	size_t capacity; /* records allocated */
	size_t high;     /* records ever handed out */
	uint64_t free_head;
};

void store_slots_init(struct store_slots *t, size_t record_size);
void store_slots_fini(struct store_slots *t);
/* A zeroed, used record and its handle; -ENOMEM when the table cannot grow. */
int store_slots_take(struct store_slots *t, uint64_t *handle, void **record);
/* The used record of handle, or NULL for 0, a free or an unknown handle. */
void *store_slots_find(const struct store_slots *t, uint64_t handle);
void store_slots_give(struct store_slots *t, uint64_t handle);

/* prefix followed by text, as a usm_rawmem string of *size bytes; NULL when
 * out of memory. */
char *store_string_join(const char *prefix, const char *text, size_t *size);

#endif
