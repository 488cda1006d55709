/*
 * Test program for /proc/memory_info with exact page counts.
 *
 *   mi_pages tester   the course's tester: 10000 private anonymous pages
 *                     filled with 0xFF, then made read-only
 *   mi_pages SPEC     one read-only page per character of SPEC: equal
 *                     letters give equal pages, different letters different
 *                     ones; 'Z' maps the shared zero page (read-only, only
 *                     read); '-' gives no page. "RRB" and "---" have argv
 *                     of the same length, so runs with and without the
 *                     pages differ only by the pages.
 *   mi_pages thp      one 2 MiB-aligned read-only region of 512 pages (a
 *                     transparent huge page when the kernel gives one),
 *                     its 4 KiB parts alternately of two contents
 *   mi_pages th-      the same process without that region
 *
 * Prints "ready" on stdout once set up, then sleeps until killed.
 * The comm is the name it is executed under: copy or link it to get
 * another name.
 *
 * Counts are made deterministic: the address space is not randomised (the
 * program re-executes itself with ADDR_NO_RANDOMIZE), mlockall() faults in
 * every mapping whatever code path runs, and the stack below main is first
 * filled with words unique to this process, so the little stack the two
 * modes use differently never makes or breaks a group of equal pages.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <unistd.h>

#define PAGE 4096UL
#define TESTER_PAGES 10000UL
#define STACK_FILL (64 * 1024)
#define HUGE (2UL << 20)

static void die(const char *what)
{
	fprintf(stderr, "mi_pages: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static __attribute__((noinline)) void fill_stack(void)
{
	volatile uint64_t buf[STACK_FILL / sizeof(uint64_t)];
	uint64_t seed = mix((uint64_t)getpid() << 20 ^ 0x737461636bULL);
	size_t i;

	for (i = 0; i < sizeof(buf) / sizeof(buf[0]); i++)
		buf[i] = mix(seed + i);
}

/* Contents of the page for letter @c: "mi_pages" pattern, letter, index. */
static void fill_page(uint64_t *p, unsigned char c)
{
	size_t i;

	for (i = 0; i < PAGE / sizeof(*p); i++)
		p[i] = mix(0x6d695f7061676573ULL ^ ((uint64_t)c << 48) ^ i);
}

static void *map_pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* 512 pages in one 2 MiB-aligned vma, THP if possible, contents a b a b... */
static void map_huge(void)
{
	char *raw, *mem;
	size_t i;

	raw = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap");
	mem = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	if (mem > raw && munmap(raw, mem - raw))
		die("munmap");
	if (munmap(mem + HUGE, raw + 2 * HUGE - (mem + HUGE)))
		die("munmap");
	madvise(mem, HUGE, MADV_HUGEPAGE);	/* best effort */
	for (i = 0; i < HUGE / PAGE; i++)
		fill_page((uint64_t *)(mem + i * PAGE), 'a' + (i & 1));
	if (mprotect(mem, HUGE, PROT_READ))
		die("mprotect");
}

/* Read-only private anonymous pages, only read: the shared zero page. */
static void map_zero(size_t n)
{
	volatile char *p = mmap(NULL, n * PAGE, PROT_READ,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		die("mmap");
	for (i = 0; i < n; i++)
		(void)p[i * PAGE];
}

int main(int argc, char **argv)
{
	const char *spec;
	size_t n = 0, z = 0, i, k;
	int pers, huge;
	char *mem;

	if (argc != 2) {
		fprintf(stderr, "usage: mi_pages tester|SPEC\n");
		return 2;
	}
	spec = argv[1];

	pers = personality(0xffffffff);
	if (pers != -1 && !(pers & ADDR_NO_RANDOMIZE)) {
		personality(pers | ADDR_NO_RANDOMIZE);
		execvp(argv[0], argv);
		die("execvp");
	}
	/*
	 * Fault in every mapping now. The huge region must be faulted by its
	 * first write, after madvise, not populated at mmap: no MCL_FUTURE.
	 */
	huge = !strcmp(spec, "thp") || !strcmp(spec, "th-");
	if (mlockall(huge ? MCL_CURRENT : MCL_CURRENT | MCL_FUTURE))
		die("mlockall");
	fill_stack();

	if (huge) {
		if (!strcmp(spec, "thp"))
			map_huge();
	} else if (!strcmp(spec, "tester")) {
		mem = map_pages(TESTER_PAGES);
		memset(mem, 0xFF, TESTER_PAGES * PAGE);
		if (mprotect(mem, TESTER_PAGES * PAGE, PROT_READ))
			die("mprotect");
	} else {
		for (i = 0; spec[i]; i++) {
			z += spec[i] == 'Z';
			n += spec[i] != '-' && spec[i] != 'Z';
		}
		if (z)
			map_zero(z);
		if (n) {
			mem = map_pages(n);
			for (i = 0, k = 0; spec[i]; i++)
				if (spec[i] != '-' && spec[i] != 'Z')
					fill_page((uint64_t *)(mem + PAGE * k++),
						  (unsigned char)spec[i]);
			if (mprotect(mem, n * PAGE, PROT_READ))
				die("mprotect");
		}
	}
	if (write(1, "ready\n", 6) != 6)
		die("write");
	for (;;)
		pause();
}
