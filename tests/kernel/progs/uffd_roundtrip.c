/* Guest proof that the booted kernel's userfaultfd serves what usm needs:
 * missing faults filled by UFFDIO_COPY (from user mode and from inside a
 * syscall), and write-protect faults resolved by un-protecting. Prints one
 * "ok - ..." / "not ok - ..." line per check; exits 1 if any failed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096
#define NPAGES 4

static int failures;
static int uffd;
static char *area;
static char fill[PAGE];

static void report(int ok, const char *what)
{
	printf("%sok - uffd: %s\n", ok ? "" : "not ", what);
	if (!ok) {
		printf("#   errno %d (%s)\n", errno, strerror(errno));
		failures++;
	}
	fflush(stdout);
}

/* Serves exactly `count` faults: missing ones by copying `fill`, WP ones
 * by removing the protection. */
static void *handler(void *arg)
{
	long count = (long)arg;

	while (count > 0) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;

		if (poll(&p, 1, 10000) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			return (void *)1;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		unsigned long addr = msg.arg.pagefault.address & ~(unsigned long)(PAGE - 1);
		if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
			struct uffdio_writeprotect wp = { .range = { addr, PAGE }, .mode = 0 };
			if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
				return (void *)1;
		} else {
			struct uffdio_copy copy = { .dst = addr, .src = (unsigned long)fill, .len = PAGE };
			if (ioctl(uffd, UFFDIO_COPY, &copy))
				return (void *)1;
		}
		count--;
	}
	return NULL;
}

static int serve(long faults, void (*action)(void))
{
	pthread_t t;
	void *rc;

	pthread_create(&t, NULL, handler, (void *)faults);
	action();
	pthread_join(t, &rc);
	return rc == NULL;
}

static void touch_page0(void) { (void)*(volatile char *)area; }

static void read_into_page1(void)
{
	int fds[2];
	if (pipe(fds) || write(fds[1], "kernel", 6) != 6 || read(fds[0], area + PAGE, 6) != 6)
		abort();
	close(fds[0]);
	close(fds[1]);
}

static void write_page0(void) { area[0] = 'W'; }

int main(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	struct uffdio_register reg;

	memset(fill, 'U', sizeof(fill));
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	report(uffd >= 0, "userfaultfd(2) gives root a descriptor");
	if (uffd < 0)
		return 1;
	report(ioctl(uffd, UFFDIO_API, &api) == 0, "UFFDIO_API handshake");
	report((api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) != 0, "kernel offers write-protect faults");

	area = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg = (struct uffdio_register){
		.range = { (unsigned long)area, NPAGES * PAGE },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};
	report(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0, "register anonymous memory for missing+wp faults");
	report((reg.ioctls & (1ULL << _UFFDIO_COPY)) && (reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT)),
	       "registered range offers UFFDIO_COPY and UFFDIO_WRITEPROTECT");

	report(serve(1, touch_page0) && area[0] == 'U' && area[PAGE - 1] == 'U',
	       "a user-mode fault is filled by UFFDIO_COPY");
	report(serve(1, read_into_page1) && !memcmp(area + PAGE, "kernel", 6) && area[2 * PAGE - 1] == 'U',
	       "a fault taken inside read(2) is filled and the syscall completes");

	struct uffdio_writeprotect wp = { .range = { (unsigned long)area, PAGE },
					  .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	report(ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0, "write-protect a filled page");
	report(serve(1, write_page0) && area[0] == 'W', "a write to it faults and lands once un-protected");

	close(uffd);
	return failures ? 1 : 0;
}
