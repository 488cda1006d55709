/* Identical-page detection: hash, sort, then memcmp inside equal hashes. */
#include "meminfo/page_dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* Consecutive pages read back in one call: 256 KiB. */
#define BATCH_PAGES 64

uint64_t usm_dedup_hash(const void *page)
{
	return XXH3_64bits(page, USM_PAGE_SIZE);
}

int usm_dedup_add(struct usm_dedup_store *s, uint64_t hash, uint32_t source, uint64_t addr)
{
	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		struct usm_page_ref *grown = realloc(s->refs, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		s->refs = grown;
		s->cap = cap;
	}
	s->refs[s->len++] = (struct usm_page_ref){ .hash = hash, .addr = addr, .source = source };
	return 0;
}

void usm_dedup_drop_source(struct usm_dedup_store *s, uint32_t source)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->len; i++)
		if (s->refs[i].source != source)
			s->refs[kept++] = s->refs[i];
	s->len = kept;
}

void usm_dedup_store_free(struct usm_dedup_store *s)
{
	free(s->refs);
	*s = (struct usm_dedup_store){ 0 };
}

/*
 * Stable LSD radix sort by hash, a byte at a time: linear where qsort's
 * comparisons cost a tenth of the whole scan. Refs are added in place
 * order (source, then address), and stability keeps that order inside
 * each hash, so that pages read back together sit together.
 */
static int sort_by_hash(struct usm_page_ref *refs, size_t n)
{
	struct usm_page_ref *tmp = malloc(n * sizeof(*tmp)), *src = refs, *dst = tmp;
	size_t (*count)[256] = calloc(8, sizeof(*count));

	if (!tmp || !count) {
		free(tmp);
		free(count);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < 8; d++)
			count[d][(refs[i].hash >> (8 * d)) & 0xff]++;
	for (int d = 0; d < 8; d++) {
		size_t pos = 0;

		if (count[d][(refs[0].hash >> (8 * d)) & 0xff] == n)
			continue; /* every hash has this byte: nothing moves */
		for (int b = 0; b < 256; b++) {
			size_t c = count[d][b];

			count[d][b] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[d][(src[i].hash >> (8 * d)) & 0xff]++] = src[i];
		src = dst;
		dst = src == refs ? tmp : refs;
	}
	if (src != refs)
		memcpy(refs, src, n * sizeof(*refs));
	free(tmp);
	free(count);
	return 0;
}

struct reader {
	usm_dedup_read_fn read;
	void *ctx;
	unsigned char *rep;   /* the contents of the class being gathered */
	unsigned char *batch; /* BATCH_PAGES pages read back */
};

/* How many refs from r[0] are consecutive pages of one source, at most max. */
static size_t consecutive(const struct usm_page_ref *r, size_t n, size_t max)
{
	size_t k = 1;

	while (k < n && k < max && r[k].source == r[0].source &&
	       r[k].addr == r[0].addr + k * USM_PAGE_SIZE)
		k++;
	return k;
}

static void swap_refs(struct usm_page_ref *a, struct usm_page_ref *b)
{
	struct usm_page_ref t = *a;

	*a = *b;
	*b = t;
}

/*
 * One run of equal hashes, sorted by place. Each round takes the first
 * readable page as the class representative, compares every other page of
 * the run with it, and moves the pages that differ to the front, in order,
 * as the next round's run. Unreadable pages are left behind in no class.
 * Refs are only permuted, never lost.
 */
static int split_run(struct usm_page_ref *refs, size_t n, struct reader *rd,
		     struct usm_dedup_counts *out)
{
	while (n >= 2) {
		size_t kept = 0, same = 0, q = 0;

		while (q < n) {
			size_t want = consecutive(refs + q, n - q, BATCH_PAGES);
			int got = rd->read(rd->ctx, refs[q].source, refs[q].addr, rd->batch, want);

			if (got < 0)
				return got;
			if ((size_t)got > want)
				got = (int)want;
			for (size_t k = 0; k < (size_t)got; k++) {
				const unsigned char *page = rd->batch + k * USM_PAGE_SIZE;

				if (!same) {
					/* the representative comes in the first batch */
					memcpy(rd->rep, page, USM_PAGE_SIZE);
					same = 1;
				} else if (!memcmp(rd->rep, page, USM_PAGE_SIZE)) {
					same++;
				} else {
					swap_refs(&refs[kept++], &refs[q + k]);
				}
			}
			q += (size_t)got;
			if ((size_t)got < want)
				q++; /* the page that could not be read */
		}
		if (same >= 2) {
			out->may_be_shared += same;
			out->nb_group++;
		}
		n = kept;
	}
	return 0;
}

int usm_dedup_count(struct usm_dedup_store *s, usm_dedup_read_fn read, void *ctx,
		    struct usm_dedup_counts *out)
{
	struct reader rd = { .read = read, .ctx = ctx };
	int err = 0;

	*out = (struct usm_dedup_counts){ 0 };
	if (s->len < 2)
		return 0;
	err = sort_by_hash(s->refs, s->len);
	if (err)
		return err;
	rd.rep = malloc(USM_PAGE_SIZE);
	rd.batch = malloc(BATCH_PAGES * USM_PAGE_SIZE);
	if (!rd.rep || !rd.batch)
		err = -ENOMEM;
	for (size_t i = 0, j; i < s->len && !err; i = j) {
		for (j = i + 1; j < s->len && s->refs[j].hash == s->refs[i].hash; j++)
			;
		if (j - i >= 2)
			err = split_run(s->refs + i, j - i, &rd, out);
	}
	free(rd.rep);
	free(rd.batch);
	return err;
}
