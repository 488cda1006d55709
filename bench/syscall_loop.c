/* The syscall microbenchmark of bench/memorizer_guest.sh, built static and
 * run in the guest: getppid() in batches until MS milliseconds have passed,
 * then one-byte read()s of /dev/null the same way, one line per loop:
 * "NAME NS_PER_CALL". getppid is the kernel's shortest path in and out;
 * read of /dev/null adds the file lookup and its refcounts. Timed by
 * duration, not by count: the test kernel's clock may tick only every few
 * milliseconds (tinyconfig), so a loop must last far longer than a tick. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { BATCH = 1000 };

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void call_getppid(int fd)
{
	(void)fd;
	syscall(SYS_getppid); /* not the libc wrapper: always a syscall */
}

static void call_read(int fd)
{
	char byte;
	if (read(fd, &byte, 1) != 0) {
		fprintf(stderr, "syscall_loop: read of /dev/null did not return 0\n");
		exit(1);
	}
}

/* ns per call of CALL, in batches until at least MS ms have passed. */
static double ns_per_call(void (*call)(int), int fd, long ms)
{
	double t0 = now_ns(), t;
	long calls = 0;
	do {
		for (int i = 0; i < BATCH; i++)
			call(fd);
		calls += BATCH;
		t = now_ns();
	} while (t - t0 < (double)ms * 1e6);
	return (t - t0) / (double)calls;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	if (argc != 2 || ms <= 0) {
		fprintf(stderr, "usage: syscall_loop MS\n");
		return 2;
	}
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0) {
		perror("syscall_loop: /dev/null");
		return 1;
	}
	printf("getppid %.0f\n", ns_per_call(call_getppid, fd, ms));
	printf("read %.0f\n", ns_per_call(call_read, fd, ms));
	close(fd);
	return 0;
}
