/* The workload of bench/run.sh: a first-touch pass over an array, then
 * scans of it in three orders. Prints one line per phase: name, pages,
 * seconds, nanoseconds per page.
 *
 * usage: scan MiB [passes] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "shuffle.h"

#define PAGE 4096

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *phase, size_t pages, double secs)
{
	printf("%-12s %8zu pages %8.3f s %8.0f ns/page\n", phase, pages, secs, secs * 1e9 / (double)pages);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int passes = argc > 2 ? atoi(argv[2]) : 2;
	size_t pages = mib << 8;
	volatile uint64_t sink = 0;
	uint8_t *a = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t *order = malloc(pages * sizeof(*order));

	if (a == MAP_FAILED || !order)
		return 1;
	double t = now();
	for (size_t i = 0; i < pages; i++)
		a[i * PAGE] = (uint8_t)i;
	report("first-touch", pages, now() - t);

	/* fill every page with data, so evictions have something to write */
	for (size_t i = 0; i < pages; i++)
		for (size_t k = 0; k < PAGE; k += 512)
			a[i * PAGE + k] = (uint8_t)(i + k);

	t = now();
	for (int p = 0; p < passes; p++)
		for (size_t i = 0; i < pages; i++)
			sink += a[i * PAGE + 64];
	report("sequential", pages * (size_t)passes, now() - t);

	t = now();
	const size_t stride = 16; /* 64 KiB */
	for (int p = 0; p < passes; p++)
		for (size_t s = 0; s < stride; s++)
			for (size_t i = s; i < pages; i += stride)
				sink += a[i * PAGE + 128];
	report("strided", pages * (size_t)passes, now() - t);

	shuffled_order(order, pages);
	t = now();
	for (int p = 0; p < passes; p++)
		for (size_t i = 0; i < pages; i++)
			sink += a[order[i] * PAGE + 256];
	report("random", pages * (size_t)passes, now() - t);
	return (int)(sink & 0);
}
