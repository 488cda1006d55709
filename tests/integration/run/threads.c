/* Four threads write checksummed 4 KiB blocks across 512 MiB, then each
 * verifies another thread's blocks: under a budget, most blocks are evicted
 * and refaulted between the two, while the other threads keep writing. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define TOTAL (512ULL << 20)
#define BLOCK 4096
#define PER_THREAD (TOTAL / THREADS)

static uint8_t *areas[THREADS];
static uint64_t sums[THREADS];
static int bad[THREADS];

static uint64_t word(uint64_t thread, uint64_t block, uint64_t i)
{
	uint64_t x = (thread << 48) ^ (block << 12) ^ i;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	return x ^ (x >> 29);
}

static void *writer(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg;
	uint64_t *a = (uint64_t *)areas[t];

	for (uint64_t b = 0; b < PER_THREAD / BLOCK; b++) {
		uint64_t *blk = a + b * (BLOCK / 8), sum = 0;
		for (uint64_t i = 0; i < BLOCK / 8 - 1; i++) {
			blk[i] = word(t, b, i);
			sum += blk[i];
		}
		blk[BLOCK / 8 - 1] = sum; /* the checksum */
	}
	return NULL;
}

static void *verifier(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg, owner = (t + 1) % THREADS;
	uint64_t *a = (uint64_t *)areas[owner], total = 0;

	for (uint64_t b = 0; b < PER_THREAD / BLOCK; b++) {
		uint64_t *blk = a + b * (BLOCK / 8), sum = 0;
		for (uint64_t i = 0; i < BLOCK / 8 - 1; i++) {
			if (blk[i] != word(owner, b, i))
				bad[t]++;
			sum += blk[i];
		}
		if (sum != blk[BLOCK / 8 - 1])
			bad[t]++;
		total += sum;
	}
	sums[t] = total;
	return NULL;
}

static void run(void *(*fn)(void *))
{
	pthread_t th[THREADS];
	for (uintptr_t t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, fn, (void *)t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
}

int main(void)
{
	for (int t = 0; t < THREADS; t++)
		if (!(areas[t] = malloc(PER_THREAD)))
			return 2;
	run(writer);
	run(verifier);
	for (int t = 0; t < THREADS; t++)
		printf("thread %d verified thread %d: %s, sum %016llx\n", t, (t + 1) % THREADS,
		       bad[t] ? "CORRUPT" : "intact", (unsigned long long)sums[t]);
	return bad[0] + bad[1] + bad[2] + bad[3] ? 1 : 0;
}
