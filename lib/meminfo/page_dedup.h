/* Identical-page detection as KSM does it: a 64-bit hash of every page,
 * sort by hash, then byte-for-byte comparison inside each run of equal
 * hashes. Pages are named by where they are (source, address), never by
 * frame, so one page mapped twice is a group of two. Contents are read
 * back through a callback: the store holds no page contents. Internal to
 * libusm (reached by the unit tests and the benches). */
#ifndef USM_PAGE_DEDUP_H
#define USM_PAGE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "base/page.h" /* a page here is the base page, USM_PAGE_SIZE */


/* One page: its hash and where to read it again. */
struct usm_page_ref {
	uint64_t hash;
	uint64_t addr;   /* page-aligned address in the source */
	uint32_t source; /* index chosen by the caller, e.g. one per process */
};

/* A growable array of refs. Zero-initialise it; free with
 * usm_dedup_store_free. */
struct usm_dedup_store {
	struct usm_page_ref *refs;
	size_t len, cap;
};

/* XXH3-64 of one page. */
uint64_t usm_dedup_hash(const void *page);

/* Appends a ref. Returns 0 or -ENOMEM. */
int usm_dedup_add(struct usm_dedup_store *s, uint64_t hash, uint32_t source, uint64_t addr);

/* Forgets every ref of `source` (a process that vanished). */
void usm_dedup_drop_source(struct usm_dedup_store *s, uint32_t source);

void usm_dedup_store_free(struct usm_dedup_store *s);

/* Reads `count` pages at consecutive addresses from `addr` of `source`
 * into buf. Returns how many were read from the start (fewer when the page
 * after them cannot be read: that page is then left out of every group),
 * or a negative errno that stops usm_dedup_count and is returned by it. */
typedef int (*usm_dedup_read_fn)(void *ctx, uint32_t source, uint64_t addr, void *buf,
				 size_t count);

struct usm_dedup_counts {
	uint64_t may_be_shared; /* pages whose contents occur at least twice */
	uint64_t nb_group;      /* distinct such contents */
};

/* Sorts the store by hash (stable: add refs in place order, source then
 * address, so that equal hashes stay in that order), splits each run of
 * equal hashes into classes of identical contents read back through
 * `read`, and counts the classes of two or more pages. Pages are read in
 * batches of consecutive addresses. Returns 0 or a negative errno (from
 * `read`, or -ENOMEM); the store keeps its refs, permuted, either way. */
int usm_dedup_count(struct usm_dedup_store *s, usm_dedup_read_fn read, void *ctx,
		    struct usm_dedup_counts *out);

#endif
