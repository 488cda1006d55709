#include "os/uffd.h"

#include <errno.h>
#include <fcntl.h>
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
