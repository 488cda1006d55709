/* The memcached store against libmemcached alone, for bench/run.sh:
 *   mc_bench SPEC latency   p50 and p99 of a bare memcached_get of one
 *                           4 KiB value, then of usm's store get of one
 *                           4 KiB block (key, checksum, record), in ns
 *   mc_bench SPEC rate      4 KiB blocks per second stored and loaded in
 *                           the pager's batches (256 per put batch, 80 per
 *                           get batch: a 64 KiB block and 4 prefetched)
 * SPEC is a memcached: store spec. Built by bench/run.sh against the build's
 * libusm-internal.a. */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#define PAGE      4096
#define SAMPLES   2000
#define PUT_BATCH 256
#define GET_BATCH 80
#define BLOCKS    8192

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_pcts(const char *what, uint64_t *t, size_t n)
{
	qsort(t, n, sizeof(*t), cmp);
	printf("%s %llu %llu\n", what, (unsigned long long)t[n / 2],
	       (unsigned long long)t[n * 99 / 100]);
}

static int open_store(const char *spec, struct usm_store **s)
{
	int rc = usm_store_open(spec, PAGE, 0, s);

	if (rc < 0)
		fprintf(stderr, "mc_bench: %s: %s\n", spec, usm_store_open_error());
	return rc;
}

static int latency(const char *spec)
{
	static char page[PAGE], back[PAGE];
	static uint64_t t[SAMPLES];
	char host[128];
	unsigned port;
	memcached_st *m = memcached_create(NULL);
	memcached_return_t rc;
	struct usm_store *s;

	/* the first server of the spec, with libmemcached's defaults */
	if (sscanf(spec, "memcached:%127[^:]:%u", host, &port) != 2)
		return 2;
	memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	memcached_server_add(m, host, (in_port_t)port);
	memset(page, 7, sizeof(page));
	rc = memcached_set(m, "mc_bench", 8, page, PAGE, 0, 0);
	if (rc != MEMCACHED_SUCCESS) {
		fprintf(stderr, "mc_bench: set: %s\n", memcached_strerror(m, rc));
		return 1;
	}
	for (int i = 0; i < SAMPLES; i++) {
		size_t len;
		uint32_t flags;
		uint64_t t0 = now_ns();
		char *v = memcached_get(m, "mc_bench", 8, &len, &flags, &rc);
		t[i] = now_ns() - t0;
		free(v);
	}
	print_pcts("bare-get", t, SAMPLES);
	memcached_delete(m, "mc_bench", 8, 0);
	memcached_free(m);

	if (open_store(spec, &s) < 0)
		return 1;
	uint64_t h;
	if (usm_store_put(s, page, PAGE, &h) < 0)
		return 1;
	for (int i = 0; i < SAMPLES; i++) {
		uint64_t t0 = now_ns();
		if (usm_store_get(s, h, back, PAGE) < 0) {
			fprintf(stderr, "mc_bench: get: %s\n", usm_store_error(s));
			return 1;
		}
		t[i] = now_ns() - t0;
	}
	print_pcts("store-get", t, SAMPLES);
	usm_store_close(s);
	return 0;
}

static int rate(const char *spec)
{
	static char pages[PUT_BATCH][PAGE];
	static struct usm_store_io io[BLOCKS];
	struct usm_store *s;
	size_t failed;

	if (open_store(spec, &s) < 0)
		return 1;
	for (size_t i = 0; i < PUT_BATCH; i++)
		memset(pages[i], (int)i, PAGE);
	uint64_t t0 = now_ns();
	for (size_t b = 0; b < BLOCKS; b += PUT_BATCH) {
		for (size_t i = 0; i < PUT_BATCH; i++)
			io[b + i] = (struct usm_store_io){
			        .data = pages[i], .len = PAGE, .addr = (b + i) * PAGE};
		if (usm_store_put_batch(s, io + b, PUT_BATCH) < 0) {
			fprintf(stderr, "mc_bench: put: %s\n", usm_store_error(s));
			return 1;
		}
	}
	uint64_t t1 = now_ns();
	for (size_t b = 0; b + GET_BATCH <= BLOCKS; b += GET_BATCH) {
		for (size_t i = 0; i < GET_BATCH; i++)
			io[b + i].data = pages[i % PUT_BATCH];
		if (usm_store_get_batch(s, io + b, GET_BATCH, &failed) < 0) {
			fprintf(stderr, "mc_bench: get: %s\n", usm_store_error(s));
			return 1;
		}
	}
	uint64_t t2 = now_ns();
	printf("put-rate %.0f\nget-rate %.0f\n", BLOCKS * 1e9 / (double)(t1 - t0),
	       (BLOCKS / GET_BATCH * GET_BATCH) * 1e9 / (double)(t2 - t1));
	for (size_t i = 0; i < BLOCKS; i++)
		usm_store_drop(s, io[i].handle);
	usm_store_sync(s);
	usm_store_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mc_bench memcached:HOST:PORT[,...] latency|rate\n");
		return 2;
	}
	if (!strcmp(argv[2], "latency"))
		return latency(argv[1]);
	if (!strcmp(argv[2], "rate"))
		return rate(argv[1]);
	fprintf(stderr, "mc_bench: unknown mode '%s'\n", argv[2]);
	return 2;
}
