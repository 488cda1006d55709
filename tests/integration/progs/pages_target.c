/* A process whose pages are known, for usm pages' tests: it maps regions,
 * touches chosen pages of them, prints "NAME START END" per region and
 * then sleeps until its stdin closes, so that its page table holds still
 * while the test reads it.
 *   anon    64 private anonymous pages: pages 0-7 and every 5th written,
 *           pages 40-47 only read (the zero page), the rest untouched
 *   shared  16 pages of shared anonymous memory (shmem), 0-3 written
 *   file    16 pages of a private file mapping, all read, 8-11 written
 *           (copied on write: anonymous)
 *   huge    4 MiB with MADV_HUGEPAGE, aligned to 2 MiB, all written */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define HUGE (2UL << 20)

static void *map(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED) {
		perror("pages_target: mmap");
		exit(1);
	}
	return p;
}

static void show(const char *name, const void *p, size_t len)
{
	printf("%s %lx %lx\n", name, (unsigned long)p, (unsigned long)p + len);
}

int main(int argc, char **argv)
{
	volatile char *anon, *shared, *file, *huge;
	char path[] = "/tmp/usm-pages-XXXXXX", byte;
	unsigned long sum = 0;
	int fd;

	(void)argc;
	(void)argv;
	anon = map(64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	for (int i = 0; i < 64; i++)
		if (i < 8 || i % 5 == 0)
			anon[i * PAGE] = 1;
	for (int i = 40; i < 48; i++)
		sum += anon[i * PAGE];

	shared = map(16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	for (int i = 0; i < 4; i++)
		shared[i * PAGE] = 1;

	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 16 * PAGE) || unlink(path)) {
		perror("pages_target: file");
		return 1;
	}
	file = map(16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
	for (int i = 0; i < 16; i++)
		sum += file[i * PAGE];
	for (int i = 8; i < 12; i++)
		file[i * PAGE] = 1;

	/* 2 MiB alignment within a larger mapping, so a THP can back it */
	huge = map(4 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	huge = (volatile char *)(((uintptr_t)huge + HUGE - 1) & ~(HUGE - 1));
	madvise((void *)huge, 2 * HUGE, MADV_HUGEPAGE);
	for (size_t off = 0; off < 2 * HUGE; off += PAGE)
		huge[off] = 1;

	show("anon", (void *)anon, 64 * PAGE);
	show("shared", (void *)shared, 16 * PAGE);
	show("file", (void *)file, 16 * PAGE);
	show("huge", (void *)huge, 2 * HUGE);
	printf("ready %lu\n", sum);
	fflush(stdout);
	while (read(0, &byte, 1) > 0)
		;
	return 0;
}
