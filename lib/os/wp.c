/* Kernel write protection: mprotect(2) and write-protect-only userfaultfd
 * registration (the userfaultfd ioctls themselves are in uffd.c). */
#include "os/wp.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int usm_os_mprotect(void *addr, size_t len, int prot)
{
	return syscall(SYS_mprotect, addr, len, prot) < 0 ? -errno : 0;
}

int usm_os_uffd_register_wp(int fd, uint64_t start, uint64_t len, uint64_t *ioctls)
{
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
