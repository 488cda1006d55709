/* Writes racing evictions: four threads keep incrementing counters in a
 * small set of pages of their own, while a fifth streams through a large
 * array so that the budget keeps evicting, the hot pages among others (run
 * under fifo, which ignores use). Every increment must survive: a write that
 * landed on a page between its copy and its drop would be lost. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define WRITERS 4
#define HOT_PAGES 64             /* per writer */
#define STREAM (64 * MB)
#define PASSES 6                 /* of the streamer: the writers run meanwhile */

static uint64_t (*hot)[512];     /* a 4 KiB page as 512 counters */
static uint64_t done[WRITERS];   /* increments each writer made */
static atomic_int streaming = 1;

static void *writer(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg, i = 0;

	for (; atomic_load_explicit(&streaming, memory_order_relaxed) || i < 100000; i++)
		hot[t * HOT_PAGES + (i * 7) % HOT_PAGES][i % 8 * 64] += 1;
	done[t] = i;
	return NULL;
}

static void *streamer(void *arg)
{
	char *s = mmap(NULL, STREAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)arg;
	for (int pass = 0; pass < PASSES; pass++)
		for (size_t i = 0; i < STREAM; i += 4096)
			s[i]++;
	atomic_store(&streaming, 0);
	return NULL;
}

int main(void)
{
	pthread_t th[WRITERS + 1];
	uint64_t total = 0, made = 0;

	hot = mmap(NULL, WRITERS * HOT_PAGES * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hot == MAP_FAILED)
		return 2;
	pthread_create(&th[WRITERS], NULL, streamer, NULL);
	for (uintptr_t t = 0; t < WRITERS; t++)
		pthread_create(&th[t], NULL, writer, (void *)t);
	for (int t = 0; t <= WRITERS; t++)
		pthread_join(th[t], NULL);
	for (uint64_t p = 0; p < WRITERS * HOT_PAGES; p++)
		for (int k = 0; k < 8; k++)
			total += hot[p][k * 64];
	for (int t = 0; t < WRITERS; t++)
		made += done[t];
	/* how many were made depends on timing; only whether all were kept is printed */
	printf("%d writers: %s\n", WRITERS, total == made ? "every increment kept" : "INCREMENTS LOST");
	if (total != made)
		fprintf(stderr, "kept %llu of %llu\n", (unsigned long long)total, (unsigned long long)made);
	return total == made ? 0 : 1;
}
