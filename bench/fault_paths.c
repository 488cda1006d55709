/* What a userfaultfd fault costs by the path that serves it, with the
 * service itself the same and minimal (one UFFDIO_COPY of a 4 KiB page
 * from a buffer): the kernel's own first touch of anonymous memory, a
 * serving thread that sleeps in poll(2), one that polls without sleeping
 * (as usm's pager does after an event: lib/pager/wait.c), and the
 * faulting thread serving itself from its SIGBUS handler
 * (UFFD_FEATURE_SIGBUS, the self-paging ExtMem does). The pages are
 * touched in a shuffled order, each once. Prints one line per path: name,
 * ns per page. Needs userfaultfd for this user (vm.unprivileged_userfaultfd
 * or root).
 *
 * usage: fault_paths [PAGES] */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shuffle.h"

#define PAGE 4096UL

static int uffd = -1;
static uint8_t *src;
static atomic_bool stop;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "fault_paths: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void copy_page(uint64_t addr)
{
	struct uffdio_copy c = { .dst = addr & ~(PAGE - 1), .src = (uint64_t)(uintptr_t)src,
				 .len = PAGE };
	if (ioctl(uffd, UFFDIO_COPY, &c) < 0 && errno != EEXIST)
		die("UFFDIO_COPY");
}

static void open_uffd(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		die("userfaultfd");
	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		die("UFFDIO_API");
}

static uint8_t *managed(size_t pages)
{
	uint8_t *a = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		die("mmap");
	madvise(a, pages * PAGE, MADV_NOHUGEPAGE);
	if (uffd >= 0) {
		struct uffdio_register r = {
			.range = { .start = (uint64_t)(uintptr_t)a, .len = pages * PAGE },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		if (ioctl(uffd, UFFDIO_REGISTER, &r) < 0)
			die("UFFDIO_REGISTER");
	}
	return a;
}

static void *serve(void *arg)
{
	bool spin = arg != NULL;
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg m;

	while (!atomic_load(&stop)) {
		if (poll(&pfd, 1, spin ? 0 : 100) <= 0)
			continue;
		while (read(uffd, &m, sizeof(m)) == sizeof(m))
			if (m.event == UFFD_EVENT_PAGEFAULT)
				copy_page(m.arg.pagefault.address);
	}
	return NULL;
}

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	copy_page((uint64_t)(uintptr_t)si->si_addr);
}

static double touch_all(uint8_t *a, const size_t *order, size_t pages)
{
	volatile uint64_t sink = 0;
	double t = now();

	for (size_t i = 0; i < pages; i++)
		sink += a[order[i] * PAGE + 64];
	(void)sink;
	return (now() - t) * 1e9 / (double)pages;
}

static void run_thread_path(const char *name, bool spin, const size_t *order, size_t pages)
{
	pthread_t t;

	open_uffd(0);
	uint8_t *a = managed(pages);
	atomic_store(&stop, false);
	pthread_create(&t, NULL, serve, spin ? (void *)1 : NULL);
	printf("%-28s %8.0f\n", name, touch_all(a, order, pages));
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	munmap(a, pages * PAGE);
	close(uffd);
	uffd = -1;
}

int main(int argc, char **argv)
{
	size_t pages = argc > 1 ? strtoul(argv[1], NULL, 10) : 32768;
	size_t *order = malloc(pages * sizeof(*order));

	src = aligned_alloc(PAGE, PAGE);
	if (!order || !src || pages == 0)
		return 1;
	memset(src, 0x5a, PAGE);
	shuffled_order(order, pages);

	uint8_t *a = managed(pages);
	printf("%-28s %8.0f\n", "kernel first touch", touch_all(a, order, pages));
	munmap(a, pages * PAGE);

	run_thread_path("thread, sleeping in poll", false, order, pages);
	run_thread_path("thread, polling", true, order, pages);

	struct sigaction sa = { .sa_sigaction = on_bus, .sa_flags = SA_SIGINFO };
	sigaction(SIGBUS, &sa, NULL);
	open_uffd(UFFD_FEATURE_SIGBUS);
	a = managed(pages);
	printf("%-28s %8.0f\n", "SIGBUS, in the faulting thread", touch_all(a, order, pages));
	return 0;
}
