/* Stores: where the pager keeps the contents of evicted blocks.
 *
 * One small interface, several kinds chosen by a spec string:
 *   "mem"        compressed in memory with LZ4 (same as "mem:lz4"); past
 *                the memory cap (usm_store_set_memory_cap) the blocks go
 *                to an unnamed temporary file in $TMPDIR or /var/tmp
 *   "mem:zstd"   the same with zstd (smaller, slower)
 *   "mem...+file:PATH"  the same with the second tier at PATH
 *   "file:PATH"  a swap file at PATH, created exclusively, removed on close;
 *                "file:DIR/" an unnamed one in DIR
 *   "memcached:HOST:PORT[,HOST:PORT...][,replicas=N][,timeout=MS][,sasl=FILE]"
 *                a memcached cluster through libmemcached (store_memcached.c)
 * A store never hands back a wrong block: a failure to write or read is an
 * error the caller must act on (the pager ends the program with a message).
 * Stores are used from one thread at a time (the pager's) and allocate only
 * from usm_rawmem, never from malloc. */
#ifndef USM_STORE_H
#define USM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct usm_store;

struct usm_store_stats {
	uint64_t puts, gets, drops;
	uint64_t bytes_in;        /* uncompressed bytes put */
	uint64_t bytes_out;       /* uncompressed bytes got back */
	uint64_t bytes_stored;    /* bytes held now (compressed, or file slots in use) */
	uint64_t blocks_stored;   /* blocks held now */
	/* Where bytes_stored is: in this process's memory or in a file. */
	uint64_t bytes_in_memory, bytes_on_disk;
	uint64_t blocks_on_disk, puts_to_disk;
};

/* Opens a store for blocks of at most block_size bytes. max_bytes caps what
 * it holds (0 = no cap: memory or disk are the limit). Returns 0, -EINVAL for
 * an unknown spec, or the negative errno of creating the file. */
int usm_store_open(const char *spec, size_t block_size, uint64_t max_bytes, struct usm_store **out);

/* Saves len (<= block_size) bytes, giving a non-zero handle. Returns 0,
 * -ENOSPC when full (max_bytes, or the disk), -EIO on a write error. */
int usm_store_put(struct usm_store *s, const void *data, size_t len, uint64_t *handle);

/* Reads back exactly the len bytes saved under handle. Returns 0, -EINVAL for
 * an unknown handle or a len that differs from the saved one, -EIO on a read
 * error or data that does not decompress to len bytes. The copy stays
 * stored until dropped. */
int usm_store_get(struct usm_store *s, uint64_t handle, void *data, size_t len);

/* One block of a batch: an eviction run put at once, or the pages of a
 * fill (a fault run, a prefetch) got at once. A network store sends a
 * batch as one pipelined round; the others treat it block by block. */
struct usm_store_io {
	void *data;      /* put: the block; get: where it goes */
	size_t len;
	uint64_t addr;   /* the page's address: names it in keys and messages */
	uint64_t handle; /* put: set on success; get: which copy */
};

/* Saves n blocks, as n usm_store_put would; on an error none of the batch
 * is kept. */
int usm_store_put_batch(struct usm_store *s, struct usm_store_io *io, size_t n);

/* Reads n blocks back, as n usm_store_get would; on an error *failed is
 * the index of the block that could not be read. */
int usm_store_get_batch(struct usm_store *s, struct usm_store_io *io, size_t n, size_t *failed);

/* What the last failed call of s met, in words (which page, which server),
 * or "" when the error code says it all. */
const char *usm_store_error(const struct usm_store *s);

/* Why the last usm_store_open failed, in words, or "" (a bad spec is
 * told by its kind: a server that evicts, a credentials file others can
 * read). Opens happen one at a time, at start. */
const char *usm_store_open_error(void);

/* Sends what a network store still buffers (drops) and waits until its
 * servers applied all of it: before a process ends, so that nothing of it
 * reaches a server after usm run purged the run's keys. */
void usm_store_sync(struct usm_store *s);

/* The process ends: a store whose blocks outlive it (memcached) deletes
 * every block it holds and waits until its servers applied that. Returns
 * 0 when nothing of the process is left in the store (always for the
 * others), -EIO when a server that held some is out. The store serves
 * nothing after. */
int usm_store_end(struct usm_store *s);

/* Whether the blocks of a store opened from spec outlive its process (a
 * memcached cluster), so that a process that ends without usm_store_end
 * leaves them behind. */
bool usm_store_outlives_process(const char *spec);

/* Forgets a handle (0 is ignored). */
void usm_store_drop(struct usm_store *s, uint64_t handle);

void usm_store_stats(const struct usm_store *s, struct usm_store_stats *out);

/* The part of bytes_stored held in this process's memory. */
uint64_t usm_store_memory_bytes(const struct usm_store *s);

/* Caps what the store keeps in memory (0 = no cap); blocks past it go to its
 * second tier. No effect on a kind without one (file). */
void usm_store_set_memory_cap(struct usm_store *s, uint64_t bytes);

/* The normalised spec, e.g. "mem:lz4" or "file:/var/tmp/usm.swap". */
const char *usm_store_describe(const struct usm_store *s);

/* The start of every key s writes when its blocks outlive the process (a
 * memcached cluster: "usm:HOST:RUN:PID.START:"), or NULL for a store that
 * dies with its process. Fixed once open, so any thread may read it. */
const char *usm_store_key_prefix(const struct usm_store *s);

void usm_store_close(struct usm_store *s);

/* True when spec names a kind of store (it may still fail to open: a file
 * that exists, a directory that does not). For checking options early. */
bool usm_store_spec_valid(const char *spec);

/* The reason spec is not valid ("" when it is), for one clear line. */
const char *usm_store_spec_problem(const char *spec);

/* What opening spec will need of this user, checked without connecting:
 * a memcached cluster's SASL credentials file (its mode, owner and form).
 * Returns 0, or a negative errno with why. Not for a managed process. */
int usm_store_check_access(const char *spec, char *why, size_t why_size);

/* After a run: deletes what the run's processes left in a shared store
 * (a memcached cluster: every key of run, however its processes ended).
 * Returns the number of blocks deleted (0 for stores that die with their
 * process), or a negative errno with why: -ENOTSUP for a cluster with SASL,
 * whose keys cannot be listed. Not for a managed process. */
long usm_store_purge_run(const char *spec, const char *run, char *why, size_t why_size);

/* The PID in a process's key prefix as usm_store_key_prefix gives it, or
 * -EINVAL for any other text (a shorter prefix, which would name the keys
 * of other processes too). */
long usm_store_prefix_pid(const char *prefix);

/* After one process: deletes its keys (prefix, as above) from a shared
 * store (usmd, for a client that ended without BYE). Returns the number
 * deleted, or a negative errno with why: -EINVAL for a spec that is not
 * a memcached one or a prefix that is not one process's. Not for a
 * managed process. */
long usm_store_purge_process(const char *spec, const char *prefix, char *why, size_t why_size);

/* One line listing the accepted specs, for --help and error messages. */
const char *usm_store_kinds(void);

#endif
