/* A program for usm syscalls' test (tests/integration/syscalls.sh): two hot
 * sites, a pread loop over a file in /dev/shm and a write loop to
 * /dev/null, each in its own function, and a cold one, a getppid every
 * 10 ms. Built -O2 -g without frame pointers, as distributions build.
 * usage: syscalls_hot SECONDS [threads]
 * "threads" runs each hot loop and the cold one in a thread of its own;
 * "pread", "write" or "null" (syscall -1: entry and exit alone) runs that
 * loop alone and prints its calls per second (bench/syscalls.sh,
 * docs/syscalls.md). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double seconds;
static int shm_fd, null_fd;
static volatile long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* the vDSO: no syscall */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void pread_loop(int n)
{
	char buf[64];

	for (int i = 0; i < n; i++)
		sink += pread(shm_fd, buf, sizeof(buf), (i & 63) * 64);
}

__attribute__((noinline)) static void write_loop(int n)
{
	static const char buf[64];

	for (int i = 0; i < n; i++)
		sink += write(null_fd, buf, sizeof(buf));
}

__attribute__((noinline)) static void null_loop(int n)
{
	for (int i = 0; i < n; i++)
		sink += syscall(-1L);
}

__attribute__((noinline)) static void cold_call(void)
{
	sink += getppid();
}

static void *pread_thread(void *arg)
{
	(void)arg;
	for (double end = now() + seconds; now() < end;)
		pread_loop(1000);
	return NULL;
}

static void *write_thread(void *arg)
{
	(void)arg;
	for (double end = now() + seconds; now() < end;)
		write_loop(1000);
	return NULL;
}

static void *cold_thread(void *arg)
{
	struct timespec ten_ms = { 0, 10 * 1000 * 1000 };

	(void)arg;
	for (double end = now() + seconds; now() < end;) {
		cold_call();
		nanosleep(&ten_ms, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	char path[64], block[4096];

	if (argc < 2)
		return 2;
	seconds = atof(argv[1]);
	snprintf(path, sizeof(path), "/dev/shm/usm-syscalls-hot.%d", (int)getpid());
	shm_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	null_fd = open("/dev/null", O_WRONLY);
	if (shm_fd < 0 || null_fd < 0)
		return 1;
	unlink(path);
	memset(block, 'x', sizeof(block));
	if (write(shm_fd, block, sizeof(block)) != sizeof(block))
		return 1;
	/* on stderr: under usm syscalls -- prog, stdout is usm's output */
	fprintf(stderr, "ready %d\n", (int)getpid());
	if (argc > 2 && (!strcmp(argv[2], "pread") || !strcmp(argv[2], "write") ||
			 !strcmp(argv[2], "null"))) {
		void (*loop)(int) = argv[2][0] == 'p' ? pread_loop : argv[2][0] == 'w' ? write_loop
											 : null_loop;
		double start = now(), end = start + seconds, t;
		long calls = 0;

		while ((t = now()) < end) {
			loop(1000);
			calls += 1000;
		}
		fprintf(stderr, "%.0f calls/s\n", (double)calls / (t - start));
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "threads")) {
		pthread_t t[3];

		pthread_create(&t[0], NULL, pread_thread, NULL);
		pthread_create(&t[1], NULL, write_thread, NULL);
		pthread_create(&t[2], NULL, cold_thread, NULL);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
		return 0;
	}
	/* one thread: 10 ms of hot loops, then the cold call */
	for (double end = now() + seconds; now() < end;) {
		double slice = now() + 0.01;

		while (now() < slice) {
			pread_loop(500);
			write_loop(500);
		}
		cold_call();
	}
	return 0;
}
