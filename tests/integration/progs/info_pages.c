/* A process with pages of known contents for the usm info tests and bench.
 *
 *   info_pages wait        prints "ready", then on SIGUSR1 adds the layout
 *                          regions below and prints "layout untouched=ADDR"
 *   info_pages bench MIB   adds MIB MiB resident: a quarter one content, a
 *                          quarter pairs, half unique pages; prints "ready"
 *
 * Then it sleeps until killed. The test compares one process before and
 * after SIGUSR1, so everything else must stay as it was: the binary's
 * pages and a deep stack are made present up front, and every content is
 * tagged with an id so that it can equal nothing else in the process.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

enum content { ZERO = 0, SAME = 1, PAIR_A = 2, PAIR_B = 3, UNIQUE_1 = 4, HIDDEN = 7 };

/* Page contents that only `id` produces (id 0: zeros). */
static void fill(unsigned char *page, uint64_t id)
{
	uint64_t x = id * 0x9e3779b97f4a7c15ULL + 1;

	if (id == ZERO) {
		memset(page, 0, PAGE);
		return;
	}
	for (size_t i = 0; i < PAGE; i += 8) {
		/* splitmix64 */
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(page + i, &z, 8);
	}
	memcpy(page, &id, sizeof(id));
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static unsigned char *map(size_t pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		die("info_pages: mmap");
	return p;
}

/* `pages` pages of content `id`, in a mapping of their own. */
static unsigned char *region(size_t pages, uint64_t id, int prot)
{
	unsigned char *p = map(pages);

	for (size_t i = 0; i < pages; i++)
		fill(p + i * PAGE, id);
	if (mprotect(p, pages * PAGE, prot))
		die("info_pages: mprotect");
	return p;
}

/* Read faults only: the shared zero page, present and all zeros. */
static void zero_pages(size_t pages)
{
	unsigned char *p = map(pages);
	volatile unsigned char sink = 0;

	for (size_t i = 0; i < pages; i++)
		sink += p[i * PAGE];
	(void)sink;
}

/* What the layout adds (tests/integration/info.sh counts on it). */
static unsigned char *layout(void)
{
	unsigned char *pairs, *never;

	region(8, SAME, PROT_READ);              /* 8 alike, read-only */
	region(1, SAME, PROT_READ | PROT_WRITE); /* a 9th, in another mapping */
	pairs = map(4);
	fill(pairs, PAIR_A);
	fill(pairs + PAGE, PAIR_A);
	fill(pairs + 2 * PAGE, PAIR_B);
	fill(pairs + 3 * PAGE, PAIR_B);
	for (uint64_t id = UNIQUE_1; id < UNIQUE_1 + 3; id++)
		region(1, id, PROT_READ | PROT_WRITE);
	region(4, HIDDEN, PROT_NONE); /* present, alike, not readable */
	zero_pages(8);
	never = map(16);
	return never;
}

static void bench(size_t pages)
{
	unsigned char *p = map(pages);
	size_t quarter = pages / 4;

	for (size_t i = 0; i < pages; i++) {
		uint64_t id;

		if (i < quarter)
			id = 1000; /* one content */
		else if (i < 2 * quarter)
			id = 2000 + (i - quarter) / 2; /* pairs */
		else
			id = 1ULL << 40 | i; /* unique */
		fill(p + i * PAGE, id);
	}
}

/* Every page of the binary's file mappings, so that code run later finds
 * them present (fault-around would map a varying number). */
static void touch_binary(void)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];

	if (!maps)
		die("info_pages: /proc/self/maps");
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, inode;
		volatile unsigned char sink;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &start, &end, &inode) != 3 || !inode)
			continue;
		if (!strstr(line, " r"))
			continue;
		for (unsigned long a = start; a < end; a += PAGE)
			sink = *(volatile unsigned char *)a;
		(void)sink;
	}
	fclose(maps);
}

/* 64 KiB of stack, each word its own address: unique pages, present, so
 * that later calls and the signal frame touch no new page. */
static __attribute__((noinline)) void touch_stack(void)
{
	volatile uintptr_t words[64 * 1024 / sizeof(uintptr_t)];

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		words[i] = (uintptr_t)&words[i];
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void say(const char *line)
{
	size_t len = strlen(line);

	if (write(1, line, len) != (ssize_t)len)
		exit(1);
}

int main(int argc, char **argv)
{
	size_t bench_pages = argc > 2 && !strcmp(argv[1], "bench") ? strtoul(argv[2], NULL, 10) * 256 : 0;
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t usr1, old;
	char line[96];

	if (argc < 2 || (!bench_pages && strcmp(argv[1], "wait"))) {
		fprintf(stderr, "usage: info_pages wait | bench MIB\n");
		return 2;
	}
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	sigaction(SIGUSR1, &sa, NULL);

	touch_binary();
	touch_stack();
	zero_pages(2); /* a zero group from the start, so layout's zeros join it */
	if (bench_pages)
		bench(bench_pages);
	say("ready\n");
	if (bench_pages)
		for (;;)
			pause();

	while (!go)
		sigsuspend(&old);
	snprintf(line, sizeof(line), "layout untouched=0x%lx pages=16\n", (unsigned long)layout());
	say(line);
	for (;;)
		pause();
}
