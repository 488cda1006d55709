#include "os/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int usm_os_uffd_open(enum usm_uffd_source source)
{
	const int flags = O_CLOEXEC | O_NONBLOCK;
	int fd;

	switch (source) {
	case USM_UFFD_SYSCALL:
		fd = (int)syscall(SYS_userfaultfd, flags);
		break;
	case USM_UFFD_SYSCALL_USER_ONLY:
		fd = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
		break;
	case USM_UFFD_DEVICE: {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			return -errno;
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
		int saved = errno;
		close(dev);
		errno = saved;
		break;
	}
	default:
		return -EINVAL;
	}
	return fd < 0 ? -errno : fd;
}

int usm_os_uffd_api(int fd, uint64_t want, uint64_t *features, uint64_t *ioctls)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };

	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	if (features)
		*features = api.features;
	if (ioctls)
		*ioctls = api.ioctls;
	return 0;
}

int usm_os_uffd_offered(enum usm_uffd_source source, uint64_t *features)
{
	int fd = usm_os_uffd_open(source);

	if (fd < 0)
		return fd;
	int rc = usm_os_uffd_api(fd, 0, features, NULL);
	close(fd);
	return rc;
}

int usm_os_uffd_register(int fd, uint64_t start, uint64_t len, bool wp, uint64_t *ioctls)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | (wp ? UFFDIO_REGISTER_MODE_WP : 0),
	};

	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if (ioctls)
		*ioctls = reg.ioctls;
	return 0;
}

int usm_os_uffd_unregister(int fd, uint64_t start, uint64_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	return ioctl(fd, UFFDIO_UNREGISTER, &range) < 0 ? -errno : 0;
}

int usm_os_uffd_copy(int fd, uint64_t dst, const void *src, uint64_t len, bool wp, uint64_t *done)
{
	struct uffdio_copy copy = {
		.dst = dst, .src = (uint64_t)(uintptr_t)src, .len = len,
		.mode = wp ? UFFDIO_COPY_MODE_WP : 0,
	};
	int rc = ioctl(fd, UFFDIO_COPY, &copy) < 0 ? -errno : 0;

	if (done)
		*done = copy.copy > 0 ? (uint64_t)copy.copy : 0;
	return rc;
}

int usm_os_uffd_zeropage(int fd, uint64_t dst, uint64_t len, uint64_t *done)
{
	struct uffdio_zeropage zp = { .range = { .start = dst, .len = len } };
	int rc = ioctl(fd, UFFDIO_ZEROPAGE, &zp) < 0 ? -errno : 0;

	if (done)
		*done = zp.zeropage > 0 ? (uint64_t)zp.zeropage : 0;
	return rc;
}

int usm_os_uffd_writeprotect(int fd, uint64_t start, uint64_t len, bool protect, bool wake)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = start, .len = len },
		/* the kernel takes DONTWAKE only when lifting protection */
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP
				: (wake ? 0 : UFFDIO_WRITEPROTECT_MODE_DONTWAKE),
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}

int usm_os_uffd_wake(int fd, uint64_t start, uint64_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	return ioctl(fd, UFFDIO_WAKE, &range) < 0 ? -errno : 0;
}

/* The 6.6 uapi, absent from the 6.1 headers Debian 12 ships */
struct usm_uffdio_poison {
	struct uffdio_range range;
	uint64_t mode;
	int64_t updated;
};
#define USM_UFFDIO_POISON _IOWR(UFFDIO, 0x08, struct usm_uffdio_poison)

int usm_os_uffd_poison(int fd, uint64_t start, uint64_t len)
{
	struct usm_uffdio_poison poison = { .range = { .start = start, .len = len } };

	return ioctl(fd, USM_UFFDIO_POISON, &poison) < 0 ? -errno : 0;
}

int usm_os_uffd_register_wp_only(int fd, uint64_t start, uint64_t len, uint64_t *ioctls)
{
	/* Without MODE_MISSING a first touch is an ordinary kernel fault:
	 * what dirty tracking wants, which never fills pages itself. */
	struct uffdio_register reg = {
		.range = { .start = start, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if (ioctls)
		*ioctls = reg.ioctls;
	return 0;
}

static void decode(const struct uffd_msg *m, struct usm_uffd_event *e)
{
	*e = (struct usm_uffd_event){ .kind = USM_UFFD_OTHER };
	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		e->kind = USM_UFFD_FAULT;
		e->addr = m->arg.pagefault.address;
		e->write = m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE;
		e->wp = m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP;
		break;
	case UFFD_EVENT_REMAP:
		e->kind = USM_UFFD_REMAP;
		e->addr = m->arg.remap.from;
		e->to = m->arg.remap.to;
		e->len = m->arg.remap.len;
		break;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		e->kind = m->event == UFFD_EVENT_REMOVE ? USM_UFFD_REMOVE : USM_UFFD_UNMAP;
		e->addr = m->arg.remove.start;
		e->len = m->arg.remove.end - m->arg.remove.start;
		break;
	default:
		break;
	}
}

int usm_os_uffd_read_events(int fd, struct usm_uffd_event *ev, size_t max)
{
	/* on the reader's stack: the pager thread never allocates */
	struct uffd_msg msgs[64];
	size_t want = max < 64 ? max : 64;
	ssize_t n;

	do
		n = read(fd, msgs, want * sizeof(msgs[0]));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
		decode(&msgs[i], &ev[i]);
	return (int)((size_t)n / sizeof(msgs[0]));
}
