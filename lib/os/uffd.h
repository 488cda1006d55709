/* The raw userfaultfd interface. Everything above lib/os/ goes through
 * these functions and never issues a userfaultfd ioctl itself. */
#ifndef USM_OS_UFFD_H
#define USM_OS_UFFD_H

#include <stdbool.h>
#include <stddef.h>
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
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14) /* Linux 6.6: UFFDIO_POISON */
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)   /* Linux 6.8: UFFDIO_MOVE */
#endif

enum usm_uffd_source {
	USM_UFFD_SYSCALL,           /* userfaultfd(2), all faults */
	USM_UFFD_SYSCALL_USER_ONLY, /* userfaultfd(2) with UFFD_USER_MODE_ONLY */
	USM_UFFD_DEVICE,            /* /dev/userfaultfd, all faults */
};

/* Opens a non-blocking, close-on-exec userfaultfd from the given source.
 * Returns the descriptor or a negative errno. */
int usm_os_uffd_open(enum usm_uffd_source source);

/* The feature bits a descriptor from `source` offers, from the handshake
 * of a throwaway one: a descriptor takes one handshake, so a caller that
 * asks for a newer feature only where it exists learns first here.
 * Returns 0 or a negative errno. */
int usm_os_uffd_offered(enum usm_uffd_source source, uint64_t *features);

/* Completes the UFFDIO_API handshake asking for `want` (0 = none) and
 * reports what the kernel offers. Returns 0 or a negative errno. */
int usm_os_uffd_api(int fd, uint64_t want, uint64_t *features, uint64_t *ioctls);

/* Thin wrappers over the userfaultfd ioctls the pager uses. Each returns 0
 * or a negative errno; copy/zeropage report in *done how many bytes were
 * filled before an error (-EEXIST when part of the range was present). */
int usm_os_uffd_register(int fd, uint64_t start, uint64_t len, bool wp, uint64_t *ioctls);
int usm_os_uffd_unregister(int fd, uint64_t start, uint64_t len);
int usm_os_uffd_copy(int fd, uint64_t dst, const void *src, uint64_t len, bool wp, uint64_t *done);
int usm_os_uffd_zeropage(int fd, uint64_t dst, uint64_t len, uint64_t *done);
int usm_os_uffd_writeprotect(int fd, uint64_t start, uint64_t len, bool protect, bool wake);
int usm_os_uffd_wake(int fd, uint64_t start, uint64_t len);
/* UFFDIO_POISON (needs UFFD_FEATURE_POISON from the handshake): marks the
 * missing pages of [start, start+len) so that touching them is a SIGBUS
 * (-EFAULT inside a system call), and wakes the threads waiting there.
 * -EEXIST when a page is present; -EINVAL from a kernel without it. */
int usm_os_uffd_poison(int fd, uint64_t start, uint64_t len);
/* Registers [start, start+len) for write-protect faults only (no missing
 * faults). Returns 0 or a negative errno. */
int usm_os_uffd_register_wp_only(int fd, uint64_t start, uint64_t len, uint64_t *ioctls);

/* The events read from a userfaultfd, decoded from struct uffd_msg. */
enum usm_uffd_event_kind {
	USM_UFFD_FAULT,  /* a page fault: addr, write, wp */
	USM_UFFD_REMAP,  /* mremap moved [addr, addr+len) to `to` */
	USM_UFFD_REMOVE, /* madvise dropped [addr, addr+len) */
	USM_UFFD_UNMAP,  /* munmap removed [addr, addr+len) */
	USM_UFFD_OTHER,  /* fork and anything newer: nothing to decode */
};

struct usm_uffd_event {
	enum usm_uffd_event_kind kind;
	uint64_t addr, len, to;
	bool write;      /* FAULT: a write access */
	bool wp;         /* FAULT: on a write-protected page */
};

/* Reads up to `max` events without blocking. Returns how many, 0 when there
 * is none, or a negative errno. */
int usm_os_uffd_read_events(int fd, struct usm_uffd_event *ev, size_t max);

#endif
