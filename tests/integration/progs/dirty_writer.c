/* A process that writes a known number of fresh pages at a steady pace,
 * for usm dirty's tests: each page of its region is written exactly once,
 * so the pages usm dirty reports in the region, summed over its intervals,
 * must be exactly the pages written, whatever the timing.
 *   dirty_writer PAGES_PER_TICK TICKS TICK_MS
 * prints "region START END" and "ready", waits for a line on stdin, writes
 * PAGES_PER_TICK pages every TICK_MS ms (sleeping in nanosleep between
 * ticks, where usm may interrupt it) for TICKS ticks, prints "done N",
 * checks that every page still holds what it wrote ("verified") and waits
 * for stdin to close. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

int main(int argc, char **argv)
{
	unsigned long per_tick, ticks, tick_ms, pages, bad = 0;
	struct timespec next;
	uint64_t *region;
	char line[64];

	if (argc != 4) {
		fprintf(stderr, "usage: dirty_writer PAGES_PER_TICK TICKS TICK_MS\n");
		return 2;
	}
	per_tick = strtoul(argv[1], NULL, 10);
	ticks = strtoul(argv[2], NULL, 10);
	tick_ms = strtoul(argv[3], NULL, 10);
	pages = per_tick * ticks;
	region = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	              0);
	if (region == MAP_FAILED) {
		perror("dirty_writer: mmap");
		return 1;
	}
	printf("region %lx %lx\nready\n", (unsigned long)region,
	       (unsigned long)region + pages * PAGE);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned long t = 0; t < ticks; t++) {
		for (unsigned long i = 0; i < per_tick; i++) {
			unsigned long p = t * per_tick + i;

			region[p * PAGE / sizeof(uint64_t)] = p + 1;
		}
		next.tv_nsec += (long)(tick_ms * 1000000);
		next.tv_sec += next.tv_nsec / 1000000000;
		next.tv_nsec %= 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL))
			;
	}
	printf("done %lu\n", pages);
	fflush(stdout);
	for (unsigned long p = 0; p < pages; p++)
		bad += region[p * PAGE / sizeof(uint64_t)] != p + 1;
	if (bad)
		printf("corrupt %lu\n", bad);
	else
		printf("verified\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
