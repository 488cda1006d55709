/* The raw userfaultfd interface. Everything above lib/os/ goes through
 * these functions and never issues a userfaultfd ioctl itself. */
#ifndef USM_OS_UFFD_H
#define USM_OS_UFFD_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/userfaultfd.h>

/* Features newer than the 6.1 uapi headers Debian 12 ships; values are
 * the kernel's ABI and never change. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

enum usm_uffd_source {
	USM_UFFD_SYSCALL,           /* userfaultfd(2), all faults */
	USM_UFFD_SYSCALL_USER_ONLY, /* userfaultfd(2) with UFFD_USER_MODE_ONLY */
	USM_UFFD_DEVICE,            /* /dev/userfaultfd, all faults */
};

/* Opens a non-blocking, close-on-exec userfaultfd from the given source.
 * Returns the descriptor or a negative errno. */
int usm_os_uffd_open(enum usm_uffd_source source);

/* Completes the UFFDIO_API handshake asking for `want` (0 = none) and
 * reports what the kernel offers. Returns 0 or a negative errno. */
int usm_os_uffd_api(int fd, uint64_t want, uint64_t *features, uint64_t *ioctls);

#endif
